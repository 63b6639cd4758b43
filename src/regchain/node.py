"""Persistent local devnet: one anvil process per checkout, state kept in .node/.

Stdlib only, so the Makefile can run it before the virtualenv exists:

    python src/regchain/node.py start|stop|status

start is idempotent: if the recorded pid is alive and answers eth_chainId, it does
nothing. stop sends SIGTERM and waits for anvil to exit, so its state is dumped to
.node/state.json and the next start resumes at the same block.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (`python src/regchain/node.py`, before the venv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from regchain.rpc import Rpc, RpcError  # noqa: E402 (stdlib only)

HOST = "127.0.0.1"
PORT = 8547
CHAIN_ID = 20231
HARDFORK = "london"
STATE_INTERVAL_S = 10  # also dump periodically, so a crash loses at most this much

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / ".node"
PID_FILE = NODE_DIR / "anvil.pid"
LOG_FILE = NODE_DIR / "anvil.log"
STATE_FILE = NODE_DIR / "state.json"
URL = f"http://{HOST}:{PORT}"


class NodeError(Exception):
    pass


def rpc(method: str, params: list | None = None, timeout: float = 1.0):
    """One request to the devnet (regchain.rpc's transport; no retries: a node that does
    not answer is what start/status want to know)."""
    client = Rpc(URL, timeout=timeout, retry_s=0)
    try:
        return client.call(method, params)
    except RpcError as exc:
        raise NodeError(f"{method}: {exc.error}") from None
    finally:
        client.close()


def chain_id() -> int | None:
    """Chain id of whatever answers on the port, None if nothing does."""
    try:
        return int(rpc("eth_chainId"), 16)
    except (OSError, ValueError, NodeError):
        return None


def block_number() -> int | None:
    try:
        return int(rpc("eth_blockNumber"), 16)
    except (OSError, ValueError, NodeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie or a recycled pid is not our anvil.
    try:
        out = subprocess.run(["ps", "-o", "stat=,args=", "-p", str(pid)],
                             capture_output=True, text=True, check=False).stdout.strip()
    except FileNotFoundError:
        return True
    return bool(out) and not out.startswith("Z") and "anvil" in out


def recorded_pid() -> int | None:
    try:
        return int(PID_FILE.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def anvil_path() -> str:
    exe = os.environ.get("ANVIL") or shutil.which("anvil")
    if not exe or not os.access(exe, os.X_OK):
        raise NodeError("anvil not found: run `make setup` (or set ANVIL=/path/to/anvil)")
    return exe


def _wait_ready(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cid = chain_id()
        if cid is not None:
            if cid != CHAIN_ID:
                raise NodeError(f"{URL} answers with chain id {cid}, expected {CHAIN_ID}")
            return
        if not _alive(pid):
            raise NodeError(f"anvil exited during start-up; see {LOG_FILE}")
        time.sleep(0.1)
    raise NodeError(f"anvil (pid {pid}) did not answer on {URL} within {timeout:.0f}s; see {LOG_FILE}")


def start(timeout: float = 30.0) -> str:
    pid = recorded_pid()
    if pid is not None:
        if _alive(pid):
            _wait_ready(pid, timeout)
            return f"devnet already running (pid {pid}) at {URL}, block {block_number()}"
        PID_FILE.unlink(missing_ok=True)  # stale: the process is gone

    cid = chain_id()
    if cid is not None:
        raise NodeError(f"port {PORT} is taken by a node not started here (chain id {cid}); stop it first")

    NODE_DIR.mkdir(exist_ok=True)
    cmd = [
        anvil_path(),
        "--host", HOST, "--port", str(PORT),
        "--chain-id", str(CHAIN_ID),
        "--hardfork", HARDFORK,
        "--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee",
        "--state", str(STATE_FILE), "--state-interval", str(STATE_INTERVAL_S),
    ]
    with open(LOG_FILE, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=ROOT, start_new_session=True)  # survives the calling shell
    PID_FILE.write_text(f"{proc.pid}\n")
    try:
        _wait_ready(proc.pid, timeout)
    except NodeError:
        if proc.poll() is None:
            proc.terminate()
        PID_FILE.unlink(missing_ok=True)
        raise
    return f"devnet started (pid {proc.pid}) at {URL}, chain id {CHAIN_ID}, block {block_number()}"


def stop(timeout: float = 30.0) -> str:
    pid = recorded_pid()
    if pid is None:
        return "devnet not running"
    if not _alive(pid):
        PID_FILE.unlink(missing_ok=True)
        return f"devnet not running (removed stale pid file for {pid})"
    os.kill(pid, signal.SIGTERM)  # anvil dumps --state on a graceful exit
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            PID_FILE.unlink(missing_ok=True)
            raise NodeError(f"anvil (pid {pid}) did not exit within {timeout:.0f}s; killed, "
                            f"state may be up to {STATE_INTERVAL_S}s old")
        time.sleep(0.1)
    PID_FILE.unlink(missing_ok=True)
    return f"devnet stopped (pid {pid}); state in {STATE_FILE.relative_to(ROOT)}"


def status() -> str:
    pid = recorded_pid()
    if pid is not None and _alive(pid) and chain_id() == CHAIN_ID:
        return f"devnet running (pid {pid}) at {URL}, block {block_number()}"
    return "devnet not running"


def main(argv: list[str]) -> int:
    commands = {"start": start, "stop": stop, "status": status}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: {Path(sys.argv[0]).name} start|stop|status", file=sys.stderr)
        return 2
    try:
        print(commands[argv[0]]())
    except NodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
