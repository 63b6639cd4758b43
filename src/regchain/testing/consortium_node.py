"""A node that behaves like the consortium targets, for the tests: an anvil mining 1-second
blocks by itself (no automine, 30 M gas a block, its dev keys unused) behind a small proxy
the tests own that answers like the target (regchain.networks):

* fisco-bcos-3 (chain id 20200, block.timestamp in milliseconds): a JSON-RPC batch array
  is refused as FISCO BCOS 3's Web3JsonRpcImpl refuses it (its request validator reads
  the array's first element as a field without a name: -32600 "Invalid field: ", id
  null); anvil_*/evm_*/txpool_* are "Method not found" (-32601); eth_accounts is empty;
  eth_gasPrice says 20 gwei (the writer must not take it); eth_estimateGas answers the
  plain gasUsed of the call (no search for the limit that succeeds).
* besu-qbft (chain id 1337): batches taken; anvil_*/evm_*/txpool_* "Method not found";
  eth_accounts empty; a sender's transaction more than POOL_LIMIT nonces ahead of its
  mined nonce is refused as Besu's layered pool refuses it (-32000 "Transaction nonce is
  too distant from current sender nonce").

* anvil (chain id 31337): the proxy passes everything on (anvil_/evm_/txpool_ answered,
  batches, the dev accounts listed): the devnet profile on a node mining 1-second blocks,
  with the same faults.

Faults the tests set on the proxy: `drop(n)` (the next n transactions are accepted, then
dropped from the pool), `unreachable(seconds)` (connections are closed without a reply).
`node.anvil(method, params)` talks to the anvil itself (behind the proxy), e.g. to empty
its pool as a restart would. Nodes start on free ports they pick.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading
import time

from regchain.rpc import Rpc, RpcError

POOL_LIMIT = 64  # the besu-like proxy's per-sender limit
FISCO_GAS_PRICE = hex(20 * 10**9)
TARGETS = {"fisco-bcos-3": {"chain_id": 20200, "ms": True}, "besu-qbft": {"chain_id": 1337, "ms": False},
           "anvil": {"chain_id": 31337, "ms": False}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _error(request_id, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


class ConsortiumNode:
    def __init__(self, profile: str, log=None):
        self.profile = profile
        self.chain_id = TARGETS[profile]["chain_id"]
        self.ms = TARGETS[profile]["ms"]
        self.anvil_port = free_port()
        self.anvil_uri = f"http://127.0.0.1:{self.anvil_port}"
        self.proc = None
        self.log = log
        self.server = None
        self.lock = threading.Lock()
        self._drop = 0
        self.dropped: list[str] = []
        self._down_until = 0.0
        self.calls: dict[str, int] = {}  # method -> requests the proxy saw
        self.refused_batches = 0

    # ------------------------------------------------------------ the anvil

    def start(self) -> "ConsortiumNode":
        cmd = [shutil.which("anvil") or "anvil", "--host", "127.0.0.1", "--port", str(self.anvil_port),
               "--chain-id", str(self.chain_id), "--hardfork", "london", "--gas-price", "0", "--base-fee", "0",
               "--disable-min-priority-fee", "--gas-limit", "30000000", "--block-time", "1"]
        if self.ms:  # FISCO BCOS: block.timestamp in milliseconds from genesis on
            cmd += ["--timestamp", str(int(time.time() * 1000))]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        rpc = Rpc(self.anvil_uri, timeout=2, retry_s=0)
        deadline = time.monotonic() + 30
        while True:
            try:
                rpc.call("eth_chainId")
                break
            except OSError:
                rpc.close()
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the consortium-like anvil did not start")
                time.sleep(0.05)
        rpc.close()
        self._anvil = Rpc(self.anvil_uri, timeout=30, retry_s=0)
        self._serve()
        return self

    def anvil(self, method: str, params: list | None = None):
        with self.lock:
            return self._anvil.call(method, params)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    # ------------------------------------------------------------ faults

    def drop(self, n: int = 1) -> None:
        """The next `n` transactions are accepted (their hash answered) and then dropped
        from the node's pool, as a pool that evicts them does."""
        self._drop = n

    def unreachable(self, seconds: float) -> None:
        """For `seconds`, every connection is closed without a reply."""
        self._down_until = time.monotonic() + seconds

    # ------------------------------------------------------------ the proxy

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _answer(self, request: dict, upstream: Rpc) -> dict:
        method = request.get("method", "")
        rid = request.get("id")
        self.calls[method] = self.calls.get(method, 0) + 1
        if self.profile == "anvil":
            pass  # a devnet: every method answered as anvil answers it
        elif method.startswith(("anvil_", "evm_", "txpool_", "hardhat_")):
            return _error(rid, -32601, "Method not found")
        elif method == "eth_accounts":
            return {"jsonrpc": "2.0", "id": rid, "result": []}
        elif method == "eth_gasPrice" and self.profile == "fisco-bcos-3":
            return {"jsonrpc": "2.0", "id": rid, "result": FISCO_GAS_PRICE}
        elif method == "eth_sendTransaction":  # no node-held keys on these chains
            return _error(rid, -32601, "Method not found")
        params = request.get("params") or []
        try:
            if method == "eth_estimateGas" and self.profile == "fisco-bcos-3":
                used = upstream.call("eth_createAccessList", params[:1] + ["latest"])["gasUsed"]
                return {"jsonrpc": "2.0", "id": rid, "result": used}
            if method == "eth_sendRawTransaction":
                return self._send_raw(rid, params, upstream)
            return {"jsonrpc": "2.0", "id": rid, "result": upstream.call(method, params)}
        except RpcError as exc:
            return {"jsonrpc": "2.0", "id": rid, "error": exc.error}

    def _send_raw(self, rid, params, upstream: Rpc) -> dict:
        if self.profile == "besu-qbft":
            from eth_account import Account

            raw = params[0]
            sender = Account.recover_transaction(raw)
            nonce = _nonce_of(bytes.fromhex(raw[2:]))
            mined = int(upstream.call("eth_getTransactionCount", [sender, "latest"]), 16)
            if nonce >= mined + POOL_LIMIT:
                return _error(rid, -32000, "Transaction nonce is too distant from current sender nonce")
        tx_hash = upstream.call("eth_sendRawTransaction", params)
        if self._drop > 0:
            self._drop -= 1
            upstream.call("anvil_dropTransaction", [tx_hash])
            self.dropped.append(tx_hash)
        return {"jsonrpc": "2.0", "id": rid, "result": tx_hash}

    def _serve(self) -> None:
        node = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.upstream = Rpc(node.anvil_uri, timeout=60, retry_s=0)

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if time.monotonic() < node._down_until:
                    self.close_connection = True
                    return  # no reply: the client sees the connection end
                request = json.loads(body)
                if isinstance(request, list):
                    if node.profile == "fisco-bcos-3":
                        node.refused_batches += 1
                        reply = _error(None, -32600, "Invalid field: ")
                    else:
                        reply = [node._answer(r, self.upstream) for r in request]
                else:
                    reply = node._answer(request, self.upstream)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def finish(self):
                super().finish()
                self.upstream.close()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _nonce_of(raw: bytes) -> int:
    """The nonce of a legacy RLP transaction (the first item of its list)."""
    i = 1 if raw[0] < 0xF8 else 1 + (raw[0] - 0xF7)
    head = raw[i]
    if head < 0x80:
        return head
    n = head - 0x80
    return int.from_bytes(raw[i + 1:i + 1 + n], "big") if n else 0


def provision(uri: str, profile_name: str, governance_key: str | None = None) -> dict:
    """A register to migrate into, on the node at `uri`, through regchain.writer with keys
    held here: the suite deployed (its clock as the profile says), a multicall deployed,
    a fresh registrar key granted the registrar role, the calendar published (400 days
    back, 366 ahead). Returns register, multicall, registrar, registrar_key, abi, today."""
    import secrets

    from eth_utils import keccak

    from regchain import calendar as cal
    from regchain import deployments, suite
    from regchain.constants import Role
    from regchain.abi import SuiteAbi
    from regchain.testing.backends import AnvilBackend
    from regchain.networks import profile as get_profile
    from regchain.writer import LocalSigner, Writer

    prof = get_profile(profile_name)
    governance = LocalSigner(governance_key or "0x" + secrets.token_hex(32))
    registrar_key = "0x" + secrets.token_hex(32)
    registrar = LocalSigner(registrar_key)
    gov = Writer(Rpc(uri), governance, prof, drive=False)  # the node mines at its pace (anvil too)
    register = deployments.deploy_suite_signed(gov, governance.address, time_unit_ms=prof.time_unit_ms,
                                               utc_offset_s=8 * 3600)
    multicall = deployments.deploy_multicall(gov)
    abi = [item.model_dump(mode="json", by_alias=True) for item in suite.suite_contract_type().abi]
    sabi = SuiteAbi(abi)
    gov.transact(register, sabi["grant_role"].encode((registrar.address, int(Role.REGISTRAR),
                                                       keccak(text="registrar"))), 300_000, "grant_role")
    reader = AnvilBackend(uri, register, sabi, gas_price=0)
    reader.rpc.batches = prof.batches
    today = reader.call("today")
    writer = Writer(Rpc(uri), registrar, prof, drive=False)
    first, last = today - 400, today + 366
    doc = keccak(text=f"calendar {cal.date_of(first)}..{cal.date_of(last)}")
    for a, b in cal.chunks(first, last, 366):
        writer.send(register, sabi["publish_calendar"].encode((a, b, cal.weekdays(a, b), doc)), 3_000_000,
                    "publish_calendar")
    writer.flush()
    return {"register": register, "multicall": multicall, "registrar": registrar.address,
            "registrar_key": registrar_key, "abi": abi, "today": today}
