"""Drivers of the register for property tests: the same operations as
ape's contract calls, at the node's speed.

What makes it fast, and what it keeps honest:

* calldata is encoded once per call with eth-abi from the suite's merged ABI
  (`SuiteAbi`; selectors computed from it), results decoded the same way;
* one kept-alive HTTP connection to the node's JSON-RPC (regchain.rpc's `Rpc`,
  the one transport; for the property machine a plain socket, `RawHttpConnection`), and JSON-RPC
  batches for reads (`Backend.read`); a step's check reads are pinned to its
  block and ride with the next request (`read_later`), so a step costs one
  round trip;
* for the property machine (`AnvilBackend(pipeline=True, multicall=True)`):
  a transaction's request is written and the caller goes on while the node
  mines, its outcome checked when the next request goes out; all of a step's
  views go in one eth_call to a multicall put in place by a state override
  (`MULTICALL_ASM`);
* `LocalAnvil` starts a plain anvil of the harness's own (london, gas price
  0, no --steps-tracing, which ape-foundry always adds and which slows every
  transaction) on ports 8565-8569 and deploys the compiled suite to it;
* transactions are sent from anvil's unlocked dev accounts with
  `eth_sendTransactionSync` and a fixed gas limit (no estimate round trip): it
  answers with the receipt once the auto-mined block is in (plain
  `eth_sendTransaction` answers before mining, so reads right after it may
  see the old state);
* every outcome is checked: a transaction predicted to pass must have receipt
  status 1; a transaction predicted to revert is run with `eth_call` (its
  revert reason decoded from Error(string) and compared with the model's) and
  sent, both in one batch (see `AnvilBackend.transact` for why the order does
  not matter), and its receipt must say status 0;
* `evm_snapshot`/`evm_revert` for isolation, `evm_increaseTime` /
  `evm_setNextBlockTimestamp` + `evm_mine` for the clock.

`BoaBackend` offers the same interface on py-evm (titanoboa), with the same
sources compiled for cancun, so the same state machine can run on a second,
independent EVM implementation. `ApeBackend` offers it through ape's ordinary
contract calls (the benchmark baseline).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address

from regchain.abi import CASH_TOKEN_ABI, SuiteAbi, SuiteReader, _abi_type, decode_revert
from regchain.rpc import WRITE_METHODS, Rpc, RpcError

_checksum = functools.lru_cache(maxsize=4096)(to_checksum_address)
# Enough for the largest batch the tests send (a 56-holding register_holdings);
# gas price is 0 on the test node, so the limit costs nothing.
TX_GAS = 15_000_000


# ------------------------------------------------------------------ outcomes


class OutcomeMismatch(AssertionError):
    """The chain did not do what the model predicted."""


def _describe(name, args, expected) -> str:
    want = "pass" if expected is None else f"revert {expected!r}"
    return f"{name}{tuple(args)!r}: model predicts {want}"


# ------------------------------------------------------------------ backends


class Backend(SuiteReader):
    """What the state machine needs of a chain. `transact` checks the outcome
    against the model's prediction (`expected`: None = passes, else the exact
    revert string) and raises OutcomeMismatch if the chain disagrees; `read`
    runs views (one batch where the backend can)."""

    name = "?"
    abi: SuiteAbi
    address: str
    # other contracts the machine calls (a cash token): address (lower-case) -> abi
    others: dict

    def transact(self, sender: str, fn: str, args: Sequence, expected: str | None, to: str | None = None) -> None:
        raise NotImplementedError

    def read(self, calls: Sequence[tuple]) -> list:
        """Views: each call is (fn, args) on the suite, or (fn, args, address) on another contract."""
        raise NotImplementedError

    def read_later(self, calls: Sequence[tuple], check) -> None:
        """Run views on the state as it is now and hand their results to
        `check`, now or later: a backend may send them with its next request
        (pinned to the current block, so they still see this state), and runs
        `check` at the latest when that request returns or at `flush`."""
        check(self.read(calls))

    def flush(self) -> None:
        """Run every deferred read (see `read_later`) and its check now."""

    def snapshot(self):
        raise NotImplementedError

    def revert(self, snapshot) -> None:
        raise NotImplementedError

    def timestamp(self) -> int:
        """block.timestamp the next transaction will see (within a second or so)."""
        raise NotImplementedError

    def set_timestamp(self, timestamp: int) -> None:
        """Move the clock forward to `timestamp`."""
        raise NotImplementedError

    def increase_time(self, seconds: int) -> None:
        raise NotImplementedError


class AnvilBackend(Backend):
    """The suite at `address` on an anvil node at `uri`, driven by raw JSON-RPC.

    One HTTP request a step: the reads that check a step (`read_later`) are
    pinned to the block the step ended with and ride along with the next
    request (the next transaction, the clock, a read or `flush`), so a step
    costs one round trip instead of two; each deferred check runs as soon as
    its results are back, before the outcome of the transaction that carried
    them is looked at. anvil runs the requests of a batch concurrently, and a
    read pinned to the head block can then see the block a transaction or
    evm_mine of the same batch makes: so reads ride along in a request of their
    own, written just before the one that mines on the same connection, which
    the node serves in order (`_write_batches`).

    With `pipeline=True` a transaction (and a clock move) does not wait for
    its reply either: the request is written and `transact` returns, so the
    node executes and mines while the caller works out its next step; the
    reply is read, and the transaction's outcome checked exactly as without
    (receipt status, the eth_call's revert reason), at the start of the next
    request of any kind (or `flush`). The block it will be mined in is known
    before (anvil auto-mines one block per transaction, nothing else mines
    meanwhile) and the receipt must say so, so reads pinned to it see its
    state. Only for a node no one else sends to; a mismatch is then raised
    by the next request rather than by `transact` itself."""

    name = "anvil"

    def __init__(self, uri: str, address: str, abi: SuiteAbi, gas_price: int | None = None,
                 pipeline: bool = False, multicall: bool = False, multicall_address: str | None = None):
        """`gas_price`: sent with every transaction (type 0) if given, else the node's default.
        `multicall`: reads go as one eth_call per MULTICALL_MAX views (MULTICALL_CODE put
        in place by a state override), not one each (the node must take state overrides);
        `multicall_address`: a multicall deployed there (MULTICALL_CREATION), no override."""
        super().__init__(Rpc(uri, raw=pipeline), address, abi, multicall, multicall_address)
        self.gas_price = gas_price
        self.sync = True  # eth_sendTransactionSync available
        self.pipeline = pipeline
        self.synced = False  # a transaction was mined by eth_sendTransactionSync (pipelining may start)
        self.transactions = 0
        self.block: int | None = None  # the latest block's number, None: ask the node
        self.deferred: list = []  # (eth_call requests, decode, check) for read_later
        # a request written, its reply not yet read: (batch_send token, deferred checks it carries, after)
        self.inflight: tuple | None = None

    def _tx(self, sender: str, data: bytes, to: str | None = None) -> dict:
        tx = {"from": sender, "to": to or self.address, "data": "0x" + data.hex(), "gas": hex(TX_GAS)}
        if self.gas_price is not None:
            tx["gasPrice"] = hex(self.gas_price)
        return tx

    def _call(self, method: str, params: list | None = None):
        """One JSON-RPC call now (after the request in flight, if any)."""
        self._land()
        return self.rpc.call(method, params)

    def _block(self) -> int:
        if self.block is None:
            self.block = int(self._call("eth_blockNumber"), 16)
        return self.block

    def _land(self) -> None:
        """Read the reply to the request in flight and run its checks: the
        deferred reads it carried, then `after` on the rest of its results."""
        if self.inflight is None:
            return
        sent, pending, after = self.inflight
        self.inflight = None
        results = self._read_batches(sent)
        results = self._check_deferred(pending, results)
        after(results)

    def _write_batches(self, head: list, calls: list, wait: bool = False) -> list:
        """Write the deferred reads `head` and `calls`; what `_read_batches` takes
        (`wait`: a read-only request is answered at once, with `Rpc.batch`'s retries).

        One batch, unless `calls` makes a block: anvil runs a batch's requests
        concurrently, and a read pinned to the head block that is still waiting for
        the state when a block of the same batch is mined gets the new block's state
        and clock (measured: 15 in 2,000 batches of 40 such reads with
        evm_increaseTime + evm_mine). Then the reads go first, in a request of their
        own, and the node serves the two in order: over a plain socket both are
        written at once (no extra round trip), else one after the other."""
        if not head or not any(method in WRITE_METHODS for method, _ in calls):
            return [self.rpc.batch(head + calls) if wait else self.rpc.batch_send(head + calls)]
        if self.rpc.raw:
            return [self.rpc.batch_send(head), self.rpc.batch_send(calls)]
        return [self.rpc.batch(head), self.rpc.batch_send(calls)]

    def _read_batches(self, sent: list) -> list:
        results, error = [], None
        for token in sent:  # every reply read before any is looked at
            try:
                results += token if isinstance(token, list) else self.rpc.batch_receive(token)
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error
        return results

    def _check_deferred(self, pending: list, results: list) -> list:
        i = 0
        for requests, decode, check in pending:
            check(decode(results[i:i + len(requests)]))
            i += len(requests)
        return results[i:]

    def _with_deferred(self, calls: list) -> list:
        """Send the deferred reads and `calls` (one round trip), run the
        deferred checks, return the results of `calls`."""
        self._land()
        pending, self.deferred = self.deferred, []
        if not pending:
            return self.rpc.batch(calls) if calls else []
        head = [c for requests, _, _ in pending for c in requests]
        return self._check_deferred(pending, self._read_batches(self._write_batches(head, calls, wait=True)))

    def _launch(self, calls: list, after) -> None:
        """As `_with_deferred`, but return once the request is written: the
        reply is read, its deferred checks and `after(results of calls)` run,
        by the next request (`_land`)."""
        self._land()
        pending, self.deferred = self.deferred, []
        head = [c for requests, _, _ in pending for c in requests]
        self.inflight = (self._write_batches(head, calls), pending, after)

    def _revert_reason(self, sender: str, data: bytes, to: str | None = None) -> str | None:
        """What eth_call says the transaction would do now: None (passes) or its revert reason."""
        try:
            self._call("eth_call", [self._tx(sender, data, to), "latest"])
        except RpcError as e:
            rd = e.revert_data
            if rd is None:
                raise
            return decode_revert(rd)
        return None

    def _send(self, sender: str, data: bytes, to: str | None = None) -> dict:
        """Send one transaction and return its receipt once mined (the deferred
        reads ride along). eth_sendTransactionSync (anvil >= 1.4) answers with
        the receipt in one round trip; elsewhere, send and poll."""
        tx = self._tx(sender, data, to)
        method = "eth_sendTransactionSync" if self.sync else "eth_sendTransaction"
        receipt = self._with_deferred([(method, [tx])])[0]
        if isinstance(receipt, RpcError) and self.sync and receipt.error.get("code") == -32601:
            self.sync = False
            receipt = self.rpc.call("eth_sendTransaction", [tx])
        if isinstance(receipt, RpcError):
            raise receipt
        if not self.sync:
            receipt = self._poll_receipt(receipt)
        self.block = int(receipt["blockNumber"], 16)
        return receipt

    def _poll_receipt(self, tx_hash) -> dict:
        while (receipt := self._call("eth_getTransactionReceipt", [tx_hash])) is None:
            pass
        return receipt

    def transact(self, sender, fn, args, expected, to=None):
        to, abi = self._target(to)
        data = abi[fn].encode(args)
        tx = self._tx(sender, data, to)
        # a predicted refusal: eth_call and the transaction itself in one
        # batch: whichever runs first, a transaction that reverts leaves the
        # state as it was, so the call sees the state the transaction ran on
        # (and one that passes is caught by its receipt status)
        calls = [("eth_call", [tx, "latest"])] if expected is not None else []
        self.transactions += 1
        if self.pipeline and self.synced:
            block = self._block() + 1  # auto-mined alone in the next block
            self._launch(calls + [("eth_sendTransactionSync", [tx])],
                         lambda results: self._outcome(results, sender, fn, args, expected, data, to, block))
            self.block = block
            return
        method = "eth_sendTransactionSync" if self.sync else "eth_sendTransaction"
        results = self._with_deferred(calls + [(method, [tx])])
        receipt = results[-1]
        if isinstance(receipt, RpcError) and self.sync and receipt.error.get("code") == -32601:
            self.sync = False  # no eth_sendTransactionSync (anvil < 1.4): send, then poll
            receipt = self.rpc.call("eth_sendTransaction", [tx])
        if isinstance(receipt, RpcError):
            raise receipt
        if not self.sync:
            results[-1] = self._poll_receipt(receipt)
        else:
            self.synced = True
        self._outcome(results, sender, fn, args, expected, data, to, None)

    def _outcome(self, results, sender, fn, args, expected, data, to, block):
        """Check a transaction's results ([eth_call,] receipt) against the
        model's prediction; `block`: the block it had to be mined in (None: any)."""
        receipt = results[-1]
        if isinstance(receipt, RpcError):
            raise receipt
        mined = int(receipt["blockNumber"], 16)
        if block is not None and mined != block:
            raise OutcomeMismatch(f"{_describe(fn, args, expected)}; mined in block {mined}, not {block} "
                                  "(does someone else send to this node?)")
        self.block = mined if block is None else self.block
        if expected is not None:
            call = results[0]
            reason = None
            if isinstance(call, RpcError):
                if call.revert_data is None:
                    raise call
                reason = decode_revert(call.revert_data)
            if reason != expected:
                raise OutcomeMismatch(f"{_describe(fn, args, expected)}; eth_call says "
                                      f"{'pass' if reason is None else repr(reason)}")
        status = int(receipt["status"], 16)
        if status != (expected is None):
            detail = ""
            if status == 0:  # say why: the state is as it was before the transaction
                detail = f" ({self._revert_reason(sender, data, to)!r} by eth_call after it)"
            raise OutcomeMismatch(f"{_describe(fn, args, expected)}; receipt status {status}{detail}")

    def read(self, calls):
        requests, decode = self.encode_reads(calls, "latest")
        return decode(self._with_deferred(requests))

    def read_later(self, calls, check):
        requests, decode = self.encode_reads(calls, hex(self._block()))
        self.deferred.append((requests, decode, check))

    def flush(self):
        self._land()
        if self.deferred:
            self._with_deferred([])

    def snapshot(self):
        self.flush()
        snap, block = self.rpc.batch([("evm_snapshot", []), ("eth_blockNumber", [])])
        if isinstance(snap, RpcError):
            raise snap
        self._snapshot_blocks = getattr(self, "_snapshot_blocks", {})
        self._snapshot_blocks[snap] = None if isinstance(block, RpcError) else int(block, 16)
        return snap

    def revert(self, snapshot):
        try:
            self.flush()  # their blocks are about to go
        finally:
            self.deferred = []
            self.block = None
            assert self.rpc.call("evm_revert", [snapshot]), f"evm_revert {snapshot} failed"
            # the head is the snapshot's block again (anvil drops the snapshot: no second revert to it)
            self.block = getattr(self, "_snapshot_blocks", {}).pop(snapshot, None)

    def timestamp(self):
        return int(self._call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def _mine_after(self, first: tuple) -> None:
        """`first` (a clock setting that answers at once) and evm_mine, one batch."""
        def after(results):
            for r in results:
                if isinstance(r, RpcError):
                    raise r

        if self.pipeline and self.block is not None:
            self._launch([first, ("evm_mine", [])], after)
        else:
            after(self._with_deferred([first, ("evm_mine", [])]))
        if self.block is not None:
            self.block += 1  # evm_mine answers once its block is in

    def set_timestamp(self, timestamp):
        self._mine_after(("evm_setNextBlockTimestamp", [hex(timestamp)]))

    def increase_time(self, seconds):
        self._mine_after(("evm_increaseTime", [hex(seconds)]))

    @classmethod
    def connect(cls, address: str, abi: SuiteAbi | None = None) -> "AnvilBackend":
        """The suite at `address` on the node ape is connected to (ape-foundry's anvil)."""
        from ape import chain

        return cls(chain.provider.uri, address, abi or SuiteAbi.from_suite())


class ApeBackend(Backend):
    """The same interface through ape's ordinary contract calls: one call per
    transaction and per view, `ape.reverts` for refusals (the benchmark baseline)."""

    name = "ape"

    def __init__(self, register, accounts_by_address: dict):
        from ape import chain

        self.chain = chain
        self.register = register
        self.address = str(register.address)
        self.signers = {a.lower(): s for a, s in accounts_by_address.items()}
        self.abi = SuiteAbi.from_suite()
        self.transactions = 0
        self.others: dict[str, SuiteAbi] = {}

    def transact(self, sender, fn, args, expected, to=None):
        import ape

        assert to is None, "ApeBackend drives the suite only"
        method = getattr(self.register, fn)
        signer = self.signers[sender.lower()]
        if expected is None:
            method(*args, sender=signer)
        else:
            with ape.reverts(expected):
                method(*args, sender=signer)
        self.transactions += 1

    def read(self, calls):
        out = []
        for call in calls:
            assert len(call) == 2, "ApeBackend drives the suite only"
            fn, args = call
            value = getattr(self.register, fn)(*args)
            out.append(_plain_ape(value))
        return out

    def snapshot(self):
        return self.chain.snapshot()

    def revert(self, snapshot):
        self.chain.restore(snapshot)

    def timestamp(self):
        return self.chain.pending_timestamp

    def set_timestamp(self, timestamp):
        self.chain.pending_timestamp = timestamp
        self.chain.mine()

    def increase_time(self, seconds):
        self.chain.pending_timestamp += seconds
        self.chain.mine()


def _plain_ape(value):
    if isinstance(value, (str, bytes, int, bool)) or value is None:
        if isinstance(value, bytes):
            return bytes(value)
        return value
    if hasattr(value, "__iter__"):
        return tuple(_plain_ape(v) for v in value)
    return value


# ------------------------------------------------------------------ py-evm


# The fork the second EVM's bytecode is compiled for. py-evm (titanoboa) runs
# prague rules; cancun bytecode (PUSH0, MCOPY, transient storage available) is
# valid there, unlike the london bytecode being a subset that proves less.
SECOND_EVM_VERSION = "cancun"


class BoaBackend(Backend):
    """The suite deployed on py-evm through titanoboa, the sources compiled
    for `SECOND_EVM_VERSION`; calls are message calls with pre-encoded
    calldata (no signatures, nonces or blocks)."""

    name = "py-evm"

    def __init__(self, address: str, abi: SuiteAbi):
        import boa

        self.env = boa.env
        self.evm = boa.env.evm
        self.address = to_checksum_address(address)
        self.abi = abi
        self.transactions = 0
        self.others: dict[str, SuiteAbi] = {}

    def _execute(self, sender, data: bytes, modifying: bool, to: str | None = None):
        return self.env.execute_code(to_address=to or self.address, sender=sender, gas=TX_GAS, data=data,
                                     is_modifying=modifying)

    def transact(self, sender, fn, args, expected, to=None):
        to, abi = self._target(to)
        c = self._execute(sender, abi[fn].encode(args), True, to)
        self.transactions += 1
        reason = decode_revert(c.output) if c.is_error else None
        if reason != expected:
            raise OutcomeMismatch(f"{_describe(fn, args, expected)}; py-evm says "
                                  f"{'pass' if reason is None else repr(reason)}")

    def read(self, calls):
        out = []
        for call in calls:
            fn, args = call[0], call[1]
            to, abi = self._target(call[2] if len(call) > 2 else None)
            f = abi[fn]
            c = self._execute(self.address, f.encode(args), False, to)
            if c.is_error:
                raise OutcomeMismatch(f"view {fn}{tuple(args)} reverted: {decode_revert(c.output)!r}")
            out.append(f.decode(c.output))
        return out

    def snapshot(self):
        return (self.evm.snapshot(), self.evm.patch.timestamp, self.evm.patch.block_number)

    def revert(self, snapshot):
        snap, self.evm.patch.timestamp, self.evm.patch.block_number = snapshot
        self.evm.revert(snap)

    def timestamp(self):
        return self.evm.patch.timestamp

    def set_timestamp(self, timestamp):
        assert timestamp >= self.evm.patch.timestamp
        self.evm.patch.timestamp = timestamp
        self.evm.patch.block_number += 1

    def increase_time(self, seconds):
        self.set_timestamp(self.evm.patch.timestamp + seconds)

    def deploy_cash_token(self, deployer: str, contracts_dir: str | Path | None = None) -> str:
        """Deploy contracts/test/CashToken.vy (cancun) and return its address."""
        import boa

        contracts_dir = Path(contracts_dir or Path(__file__).resolve().parents[3] / "contracts")
        token = boa.load_partial(str(contracts_dir / "test" / "CashToken.vy"),
                                 compiler_args={"evm_version": SECOND_EVM_VERSION})
        with boa.env.prank(to_checksum_address(deployer)):
            address = str(token.deploy().address)
        self.add_contract(address, SuiteAbi(CASH_TOKEN_ABI))
        return address

    @classmethod
    def deploy(cls, governance: str, abi: SuiteAbi, *, time_unit_ms: bool = False,
               utc_offset_s: int = 8 * 3600, contracts_dir: str | Path | None = None) -> "BoaBackend":
        """Compile the suite for SECOND_EVM_VERSION and deploy it as regchain.suite.deploy does."""
        import boa
        import boa.interpret

        from regchain.suite import deploy_each

        contracts_dir = Path(contracts_dir or Path(__file__).resolve().parents[3] / "contracts")
        boa.interpret.set_search_paths([str(contracts_dir)])
        boa.env.eoa = to_checksum_address(governance)

        def deploy_one(name, args):
            deployer = boa.load_partial(str(contracts_dir / f"{name}.vy"),
                                        compiler_args={"evm_version": SECOND_EVM_VERSION})
            return str(deployer.deploy(*args).address)

        return cls(deploy_each(deploy_one, governance, time_unit_ms=time_unit_ms, utc_offset_s=utc_offset_s), abi)


# ------------------------------------------------------------------ a node of our own


# Ports the harness may start its own anvil on (first free one), "LOW-HIGH" or a
# comma-separated list; REGCHAIN_ANVIL_PORTS overrides.
DEFAULT_ANVIL_PORTS = "8565-8569"
# The node the consortium chains are: london, no gas market. No --steps-tracing
# (ape-foundry always adds it; it records every opcode of every transaction).
# --prune-history 64: keep only the last 64 blocks' states in memory (reads pinned to a
# block look at most a few back; snapshots are kept apart): every block is cheaper to mine.
ANVIL_ARGS = ("--hardfork", "london", "--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee",
              "--prune-history", "64")


def anvil_ports(spec: str | None = None) -> list[int]:
    import os

    spec = spec or os.environ.get("REGCHAIN_ANVIL_PORTS") or DEFAULT_ANVIL_PORTS
    ports: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-")
            ports += range(int(low), int(high) + 1)
        elif part:
            ports.append(int(part))
    return ports


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as anvil's listener does: a port whose last connections linger in TIME_WAIT is free
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalAnvil:
    """A plain anvil (ANVIL_ARGS) the harness starts on the first free port of
    `anvil_ports()` and stops itself (use as a context manager, or start/stop):
    anvil's default mnemonic, so its dev accounts are ape's test accounts."""

    def __init__(self, ports: Sequence[int] | None = None, args: Sequence[str] = (), gas_limit: int = 30_000_000):
        self.ports = list(ports) if ports is not None else anvil_ports()
        self.args = ["--gas-limit", str(gas_limit), *args]
        self.proc = None
        self.port = None
        self.rpc: Rpc | None = None
        self.accounts: list[str] = []

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "LocalAnvil":
        import shutil
        import subprocess
        import time

        exe = shutil.which("anvil")
        if exe is None:
            raise RuntimeError("anvil not found on PATH")
        last = None
        for port in self.ports:
            if not _port_free(port):
                continue
            proc = subprocess.Popen([exe, "--host", "127.0.0.1", "--port", str(port), *ANVIL_ARGS, *self.args],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            rpc = Rpc(f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    self.accounts = [to_checksum_address(a) for a in rpc.call("eth_accounts")]
                    self.proc, self.port, self.rpc = proc, port, rpc
                    return self
                except OSError:
                    rpc.close()
                    time.sleep(0.05)
            last = proc.stderr.read().decode(errors="replace")[-300:] if proc.poll() is not None else "timeout"
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        raise RuntimeError(f"no anvil started on ports {self.ports} (busy or failed: {last})")

    def stop(self) -> None:
        if self.rpc is not None:
            self.rpc.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> "LocalAnvil":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def deploy(self, sender: str, bytecode: bytes | str, ctor_types: Sequence[str] = (), args: Sequence = ()) -> str:
        """Deploy creation code (with its constructor arguments) from an unlocked account."""
        code = bytes.fromhex(bytecode[2:] if bytecode.startswith("0x") else bytecode) \
            if isinstance(bytecode, str) else bytes(bytecode)
        data = code + (abi_encode(list(ctor_types), list(args)) if ctor_types else b"")
        receipt = self.rpc.call("eth_sendTransactionSync",
                                [{"from": sender, "data": "0x" + data.hex(), "gas": hex(TX_GAS), "gasPrice": "0x0"}])
        assert int(receipt["status"], 16) == 1, f"deployment from {sender} failed"
        return to_checksum_address(receipt["contractAddress"])

    def deploy_project(self, sender: str, name: str, args: Sequence = ()) -> str:
        """Deploy the ape project's compiled contract `name` (london, as `ape compile` built it)."""
        from ape import project

        ct = getattr(project, name).contract_type
        types = [_abi_type(i.model_dump(mode="json")) for i in ct.constructor.inputs] if args else []
        return self.deploy(sender, ct.deployment_bytecode.bytecode, types, args)

    def deploy_suite(self, governance: str, *, time_unit_ms: bool = False, utc_offset_s: int = 8 * 3600) -> str:
        """Deploy the suite as regchain.suite.deploy does; return Register's address."""
        from regchain.suite import deploy_each

        return deploy_each(lambda name, args: self.deploy_project(governance, name, args), governance,
                           time_unit_ms=time_unit_ms, utc_offset_s=utc_offset_s)
