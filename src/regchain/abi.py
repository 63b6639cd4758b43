"""The suite's ABI, and reads of its views over JSON-RPC: what every part of regchain that
talks to the register without ape uses (the migration, ops, the writer, the test backends).

    abi = SuiteAbi.from_suite()              # the merged ABI of Register and its desks, by name
    data = abi["transfer"].encode(args)      # calldata, encoded once with eth-abi
    reader = SuiteReader(rpc, address, abi, multicall_address=...)
    reader.read([("holding", (sid, acct)), ...])   # many views, one request
    reader.call("today")

* calldata is encoded with eth-abi from the suite's merged ABI (selectors computed from it), and
  results decoded the same way, with codecs built once per function;
* `decode_revert` turns a revert's data into its reason (Error(string), Panic(uint256));
* many views go in one `eth_call` to a multicall (`MULTICALL_ASM`, london opcodes only): either
  deployed once (`MULTICALL_CREATION`, its address in the deployment record) or put in place by
  the call's state override, where the node takes one.
"""

from __future__ import annotations

import functools
from typing import Iterable, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from regchain.rpc import Rpc, RpcError

_checksum = functools.lru_cache(maxsize=4096)(to_checksum_address)
ERROR_SELECTOR = keccak(text="Error(string)")[:4]
PANIC_SELECTOR = keccak(text="Panic(uint256)")[:4]


# Many views in one eth_call (AnvilBackend with multicall=True): code put at
# MULTICALL_ADDRESS by the call's state override (nothing is deployed). Its
# calldata is a run of (target: 20 bytes, length: 2 bytes, calldata); for each
# it STATICCALLs the target with all gas left and appends one word (success
# << 255 | size of the returned data) and the returned (or revert) data;
# returns all of it. London opcodes only:
MULTICALL_ASM = """
    PUSH1=0 PUSH1=0                                 # in, out
  loop: JUMPDEST
    DUP1 CALLDATASIZE GT ISZERO PUSH2=end JUMPI     # no more entries: end
    DUP1 CALLDATALOAD PUSH1=96 SHR                  # target
    DUP2 PUSH1=20 ADD CALLDATALOAD PUSH1=240 SHR    # length
    DUP1 DUP4 PUSH1=22 ADD DUP6 PUSH1=32 ADD CALLDATACOPY  # calldata to out+32
    PUSH1=0 PUSH1=0 DUP3 DUP7 PUSH1=32 ADD DUP6 GAS STATICCALL
    RETURNDATASIZE SWAP1 PUSH1=255 SHL OR DUP5 MSTORE      # the word at out
    RETURNDATASIZE PUSH1=0 DUP6 PUSH1=32 ADD RETURNDATACOPY  # the data after it
    SWAP1 POP ADD PUSH1=22 ADD                      # in += 22 + length
    SWAP1 RETURNDATASIZE ADD PUSH1=32 ADD SWAP1     # out += 32 + size
    PUSH2=loop JUMP
  end: JUMPDEST
    POP PUSH1=0 RETURN                              # memory[0:out]
"""
_OPCODES = {"ADD": 0x01, "GT": 0x11, "ISZERO": 0x15, "OR": 0x17, "SHL": 0x1b, "SHR": 0x1c, "CALLDATALOAD": 0x35,
            "CALLDATASIZE": 0x36, "CALLDATACOPY": 0x37, "RETURNDATASIZE": 0x3d, "RETURNDATACOPY": 0x3e,
            "POP": 0x50, "MSTORE": 0x52, "JUMP": 0x56, "JUMPI": 0x57, "GAS": 0x5a, "JUMPDEST": 0x5b,
            "RETURN": 0xf3, "STATICCALL": 0xfa, "DUP1": 0x80, "DUP2": 0x81, "DUP3": 0x82, "DUP4": 0x83,
            "DUP5": 0x84, "DUP6": 0x85, "DUP7": 0x86, "SWAP1": 0x90}


def _assemble(source: str) -> bytes:
    """Bytecode of `source`: opcodes, PUSHn=value (a number or a label), label: (comments after #)."""
    tokens = [t for line in source.splitlines() for t in line.split("#")[0].split()]
    labels, pc = {}, 0
    for t in tokens:
        if t.endswith(":"):
            labels[t[:-1]] = pc
        else:
            pc += 1 + (int(t[4:].split("=")[0]) if t.startswith("PUSH") else 0)
    code = bytearray()
    for t in tokens:
        if t.startswith("PUSH"):
            n, value = t[4:].split("=")
            code += bytes([0x5f + int(n)]) + (labels[value] if value in labels else int(value, 0)).to_bytes(int(n), "big")
        elif not t.endswith(":"):
            code.append(_OPCODES[t])
    return bytes(code)


MULTICALL_CODE = "0x" + _assemble(MULTICALL_ASM).hex()
# creation code that deploys MULTICALL_CODE (codecopy the runtime after this prefix, return it)
_RUNTIME = _assemble(MULTICALL_ASM)
MULTICALL_CREATION = bytes([0x61]) + len(_RUNTIME).to_bytes(2, "big") + bytes(
    [0x80, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3]) + _RUNTIME
MULTICALL_GAS = 300_000
MULTICALL_ADDRESS = to_checksum_address(keccak(text="regchain.abi multicall")[-20:])
# views per multicall eth_call
MULTICALL_MAX = 256


def _split_multicall(out: bytes) -> list[tuple[bool, bytes]]:
    """(success, returned data) of each call of a multicall's result."""
    parts, i = [], 0
    while i < len(out):
        word = int.from_bytes(out[i:i + 32], "big")
        size = word & ((1 << 255) - 1)
        parts.append((bool(word >> 255), out[i + 32:i + 32 + size]))
        i += 32 + size
    return parts


def decode_revert(data: bytes) -> str:
    """The reason a revert gives: the Error(string) message as the contract
    wrote it, "Panic(0x..)" for a panic, "" for a bare revert."""
    data = bytes(data or b"")
    if data[:4] == ERROR_SELECTOR:
        return abi_decode(["string"], data[4:])[0]
    if data[:4] == PANIC_SELECTOR:
        return f"Panic({abi_decode(['uint256'], data[4:])[0]:#x})"
    return "" if not data else "0x" + data.hex()


def _abi_type(param: dict) -> str:
    t = param["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + t[len("tuple"):]
    return t


def _plain(value):
    """Decoded values as plain Python: tuples for structs and lists, bytes, ints, str."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def _split_tuple(t: str) -> list[str]:
    """The component types of "(a,b,(c,d))"."""
    parts, depth, start = [], 0, 1
    for i, ch in enumerate(t):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 1:
            parts.append(t[start:i])
            start = i + 1
    if len(t) > 2:
        parts.append(t[start:-1])
    return parts


def _static_codec(t: str):
    """(words, decode(words list, i) -> value, encode(value) -> bytes) for a
    static ABI type made of uint/int/bool/address/bytesN and fixed tuples of
    them; None for anything else (eth-abi handles those)."""
    if t.endswith("]"):  # arrays, dynamic or fixed
        return None
    if t.startswith("(") and t.endswith(")"):
        subs = [_static_codec(c) for c in _split_tuple(t)]
        if any(c is None for c in subs):
            return None
        n = sum(c[0] for c in subs)

        def dec(words, i, subs=subs):
            out = []
            for width, d, _ in subs:
                out.append(d(words, i))
                i += width
            return tuple(out)

        def enc(value, subs=subs):
            return b"".join(c[2](v) for c, v in zip(subs, value))

        return n, dec, enc
    if t.startswith("uint"):
        return 1, (lambda w, i: int.from_bytes(w[i], "big")), (lambda v: int(v).to_bytes(32, "big"))
    if t.startswith("int"):
        return 1, (lambda w, i: int.from_bytes(w[i], "big", signed=True)), \
            (lambda v: int(v).to_bytes(32, "big", signed=True))
    if t == "bool":
        return 1, (lambda w, i: w[i][31] == 1), (lambda v: (1 if v else 0).to_bytes(32, "big"))
    if t == "address":
        return 1, (lambda w, i: "0x" + w[i][12:].hex()), \
            (lambda v: bytes.fromhex(str(v)[2:].rjust(64, "0")))
    if t.startswith("bytes") and t[5:].isdigit():
        n = int(t[5:])
        return 1, (lambda w, i: w[i][:n]), (lambda v: bytes(v).ljust(32, b"\0"))
    return None


def _dynamic_decoder(t: str):
    """decode(data, offset) -> value for the dynamic ABI types the suite's
    views return (string, bytes, arrays of one-word static types); None for
    anything else (eth-abi decodes those)."""
    if t in ("string", "bytes"):
        def dec(data, at, text=t == "string"):
            n = int.from_bytes(data[at:at + 32], "big")
            raw = bytes(data[at + 32:at + 32 + n])
            assert len(raw) == n, "ABI: data too short"
            return raw.decode("utf-8") if text else raw
        return dec
    if t.endswith("[]"):
        item = _static_codec(t[:-2])
        if item is None or item[0] != 1:
            return None
        word = item[1]

        def dec(data, at, word=word):
            n = int.from_bytes(data[at:at + 32], "big")
            start = at + 32
            assert len(data) >= start + 32 * n, "ABI: data too short"
            words = [data[i:i + 32] for i in range(start, start + 32 * n, 32)]
            return tuple(word(words, i) for i in range(n))
        return dec
    return None


def _outputs_decoder(types: list[str]):
    """decode(data) -> tuple for results mixing static types and the dynamic
    ones of `_dynamic_decoder` (each dynamic one an offset in the head); None
    if a type is neither."""
    parts = []
    for t in types:
        static = _static_codec(t)
        if static is not None:
            parts.append((static[0], static[1], None))
            continue
        dynamic = _dynamic_decoder(t)
        if dynamic is None:
            return None
        parts.append((1, None, dynamic))

    def dec(data):
        head = sum(width for width, _, _ in parts)
        assert len(data) >= 32 * head, "ABI: data too short"
        words = [data[i:i + 32] for i in range(0, 32 * head, 32)]
        out, i = [], 0
        for width, static, dynamic in parts:
            if dynamic is None:
                out.append(static(words, i))
            else:
                out.append(dynamic(data, int.from_bytes(words[i], "big")))
            i += width
        return tuple(out)
    return dec


# calldata and decoded results each Function keeps (see Function.encode, .decode)
CODEC_CACHE = 4096
_MISSING = object()


class Function:
    """One ABI function: its selector and argument/result codecs. Static
    arguments and results (words, fixed tuples) are coded here directly,
    anything dynamic by eth-abi (the same values either way)."""

    def __init__(self, item: dict):
        self.name = item["name"]
        self.inputs = [_abi_type(p) for p in item.get("inputs", [])]
        self.outputs = [_abi_type(p) for p in item.get("outputs", [])]
        self.selector = keccak(text=f"{self.name}({','.join(self.inputs)})")[:4]
        self.mutates = item.get("stateMutability") not in ("view", "pure")
        self._in = _static_codec("(" + ",".join(self.inputs) + ")")
        self._out = _static_codec("(" + ",".join(self.outputs) + ")") if self.outputs else None
        self._out_dynamic = _outputs_decoder(self.outputs) if self.outputs and self._out is None else None
        # the last CODEC_CACHE calldata of static arguments, by arguments, and values, by
        # returned data: a state machine reads the same views of the same holdings step after step
        self._encoded: dict = {}
        self._decoded: dict = {}

    def encode(self, args: Sequence) -> bytes:
        if self._in is None:
            return self.selector + abi_encode(self.inputs, list(args))
        if type(args) is not tuple:
            return self.selector + self._in[2](args)
        # arguments equal as tuples encode alike here (1, 1.0 and True as a word, an
        # address or bytesN by its text or bytes)
        try:
            return self._encoded[args]
        except KeyError:
            pass
        except TypeError:  # unhashable (a list among them)
            return self.selector + self._in[2](args)
        data = self.selector + self._in[2](args)
        if len(self._encoded) >= CODEC_CACHE:
            self._encoded.clear()
        self._encoded[args] = data
        return data

    def decode(self, data: bytes):
        """A single result unwrapped (a struct as a tuple), several as a tuple (immutable
        values: the same returned data gives the same object)."""
        if not self.outputs:
            return None
        data = bytes(data)
        hit = self._decoded.get(data, _MISSING)
        if hit is not _MISSING:
            return hit
        value = self._decode(data)
        if len(self._decoded) >= CODEC_CACHE:
            self._decoded.clear()
        self._decoded[data] = value
        return value

    def _decode(self, data: bytes):
        if self._out is not None and len(data) >= 32 * self._out[0]:
            words = [data[i:i + 32] for i in range(0, 32 * self._out[0], 32)]
            out = self._out[1](words, 0)
        elif self._out_dynamic is not None:
            out = self._out_dynamic(data)
        else:
            out = _plain(abi_decode(self.outputs, data))
        return out[0] if len(out) == 1 else out


class SuiteAbi:
    """The merged ABI of the register suite (regchain.suite.suite_contract_type), by name."""

    def __init__(self, abi: Iterable[dict]):
        self.functions: dict[str, Function] = {}
        for item in abi:
            if item.get("type") != "function":
                continue
            assert item["name"] not in self.functions, f"overloaded function {item['name']}"
            self.functions[item["name"]] = Function(item)

    @classmethod
    def from_suite(cls) -> "SuiteAbi":
        from regchain import suite

        return cls(item.model_dump(by_alias=True, mode="json") for item in suite.suite_contract_type().abi)

    def __getitem__(self, name: str) -> Function:
        return self.functions[name]


# The ERC-20 functions the machine calls on a cash token (contracts/test/CashToken.vy).
CASH_TOKEN_ABI = [
    {"type": "function", "name": name, "stateMutability": mut,
     "inputs": [{"name": f"a{i}", "type": t} for i, t in enumerate(ins)],
     "outputs": [{"name": "", "type": t} for t in outs]}
    for name, ins, outs, mut in (
        ("mint", ["address", "uint256"], [], "nonpayable"),
        ("transfer", ["address", "uint256"], ["bool"], "nonpayable"),
        ("transferFrom", ["address", "address", "uint256"], ["bool"], "nonpayable"),
        ("approve", ["address", "uint256"], ["bool"], "nonpayable"),
        ("balanceOf", ["address"], ["uint256"], "view"),
        ("allowance", ["address", "address"], ["uint256"], "view"),
        ("totalSupply", [], ["uint256"], "view"),
    )
]


class SuiteReader:
    """Views of the suite at `address` over `rpc` (a regchain.rpc.Rpc): `read` runs many in one
    request (one JSON-RPC batch of eth_calls, or multicall eth_calls), `call` one.

    `multicall`: views go as one eth_call per MULTICALL_MAX (MULTICALL_CODE put in place by a
    state override; the node must take state overrides); `multicall_address`: a multicall
    deployed there (MULTICALL_CREATION), no override needed."""

    def __init__(self, rpc: Rpc, address: str, abi: SuiteAbi, multicall: bool = False,
                 multicall_address: str | None = None):
        self.rpc = rpc
        self.address = to_checksum_address(address)
        self.abi = abi
        self.multicall = multicall or multicall_address is not None
        self.multicall_address = to_checksum_address(multicall_address) if multicall_address else None
        self.others: dict[str, SuiteAbi] = {}

    def add_contract(self, address: str, abi: SuiteAbi) -> None:
        """Let reads `(fn, args, address)` (and a backend's transactions) reach another contract."""
        if getattr(self, "others", None) is None:
            self.others = {}
        self.others[address.lower()] = abi

    def _target(self, to: str | None) -> tuple[str, SuiteAbi]:
        if to is None or to.lower() == self.address.lower():
            return self.address, self.abi
        return _checksum(to), self.others[to.lower()]

    def encode_reads(self, calls: Sequence[tuple], tag: str):
        """(eth_call requests, decode(their results) -> the views' values) for `calls` at block
        `tag`; each call is (fn, args) on the suite, or (fn, args, address) on another contract."""
        fns, targets = [], []
        for call in calls:
            to, abi = self._target(call[2] if len(call) > 2 else None)
            f = abi[call[0]]
            fns.append(f)
            targets.append((to, f.encode(call[1])))
        if not self.multicall:
            requests = [("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag]) for to, data in targets]
            return requests, lambda results: _decoded(fns, results)
        requests = []
        for start in range(0, len(targets), MULTICALL_MAX):
            payload = b"".join(bytes.fromhex(to[2:]) + len(data).to_bytes(2, "big") + data
                               for to, data in targets[start:start + MULTICALL_MAX])
            if self.multicall_address is not None:  # deployed: no state override (not every node takes one)
                requests.append(("eth_call", [{"to": self.multicall_address, "data": "0x" + payload.hex()}, tag]))
            else:
                requests.append(("eth_call", [{"to": MULTICALL_ADDRESS, "data": "0x" + payload.hex()}, tag,
                                              {MULTICALL_ADDRESS: {"code": MULTICALL_CODE}}]))

        def decode(results):
            parts = []
            for result in results:
                if isinstance(result, RpcError):
                    raise result
                parts += _split_multicall(bytes.fromhex(result[2:]))
            assert len(parts) == len(fns), f"multicall: {len(parts)} results for {len(fns)} views"
            out = []
            for f, (to, data), (ok, returned) in zip(fns, targets, parts):
                if not ok:
                    raise RpcError({"message": f"execution reverted: {decode_revert(returned)} "
                                               f"(view {f.name} at {to} by multicall)",
                                    "data": "0x" + returned.hex()})
                out.append(f.decode(returned))
            return out
        return requests, decode

    def read(self, calls: Sequence[tuple]) -> list:
        """Views at the latest block: each call is (fn, args) or (fn, args, address)."""
        requests, decode = self.encode_reads(calls, "latest")
        return decode(self.rpc.batch(requests))

    def call(self, fn: str, *args):
        return self.read([(fn, args)])[0]


def _decoded(fns, results) -> list:
    out = []
    for f, result in zip(fns, results):
        if isinstance(result, RpcError):
            raise result
        out.append(f.decode(bytes.fromhex(result[2:])))
    return out
