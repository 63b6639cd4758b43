"""Faults during the migration (issue 8): the node crashes, refuses connections, stops
mining, or another process sends from the migration's account, at several points of
the migration.

The invariant, in every case: the migration either recovers by itself or stops (exit
code not 0) without hanging, and `ape run migrate` stops with one readable line and no
traceback; a re-run then finishes, its report and the register's state (every
security, holding, pledge, freeze and account the report names:
tests/migration_support.register_state) are exactly those of an uninterrupted run,
and one more run sends no transaction.

The migration is a black box here: a child process (`python -m regchain.migrate`, the
benchmark's entry, which starts in ~1 s; `ape run migrate` where its one-line errors
are the point), its exit code and output, and the chain. A fault is placed at a point
by watching the node's block number (one transaction per block on anvil) and stopping
the process (SIGSTOP) once the point is reached; the fault is then set up and the
process continued (SIGCONT), so it meets the fault at that point. Where the fault's
effect depends on the exact block (what a crash loses), a case whose migration got
past its point before it was stopped is tried again; elsewhere the block it stopped
at is recorded.

The node is an anvil of this module on 127.0.0.1:8551 (the `faults` network of
ape-config.yaml: chain id 20233, london, gas price and base fee 0) with `--state FILE
--state-interval 1`: SIGTERM dumps its state on exit, SIGKILL leaves the last periodic
dump, and a restart loads the file. Every case starts from the same dumped base
(suite deployed by `ape run deploy`, calendar published), so the register's address
and the deployment record stay valid.

The cases are merged into bench/robustness.json under "faults": `tried`, `survived`
(every check held; `make bench` reports it as `reliability.faults_survived`),
`exact_state` (the re-run ended in the clean state, whether or not the stop was one
line) and, per scenario and point, what happened. Strict xfails are known bugs, kept
as the specification.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pytest

from regchain import calendar as cal
from regchain.testing import profiles
from regchain.abi import SuiteAbi
from regchain.rpc import Rpc, RpcError
from regchain.testing.backends import AnvilBackend
from regchain.legacy import synth

from migration_support import register_state

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "bench" / "robustness.json"
DEPLOYMENT = ROOT / "deployments" / "faults.json"
PORT = 8551
URI = f"http://127.0.0.1:{PORT}"
CHAIN_ID = 20233
SECRET = "faults-operator-secret-0123456789"
# anvil's first dev account (the public test mnemonic): deployer, governance and registrar
# on the `faults` network, and the migration's sender
SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
SENDER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OTHER = "0x000000000000000000000000000000000000dEaD"

DEEP = profiles.DEEP
# blocks (= transactions) of the migration before the fault; the export below takes 19
# (recorded as "blocks"; the deep points need more than 15)
POINTS = (1, 2, 5, 9, 13) if DEEP else (2, 5, 9)
WINDOW_S = 1.0  # how long the node refuses connections / does not mine
RUN_TIMEOUT_S = 120  # a migration that takes longer hangs
ATTEMPTS = 6  # a case whose migration is stopped past its point (rare) is tried again

# scenario -> point -> what happened; written to bench/robustness.json at the end
RESULTS: dict[str, dict[str, dict]] = {}
CLEAN_BLOCKS: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def record_results():
    """Merge the cases tried into bench/robustness.json under "faults" (other keys kept)."""
    start = time.perf_counter()
    yield
    cases = [case for points in RESULTS.values() for case in points.values()]
    if not cases:
        return
    data = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    data["faults"] = {
        # every check of the case held: recovered or stopped (with one line, for `ape run
        # migrate`), re-run ended in exactly the clean run's report and register, and one
        # more run sent nothing
        "survived": sum(1 for c in cases if c["survived"]),
        "tried": len(cases),
        "exact_state": sum(1 for c in cases if c["exact_state"]),
        "scenarios": RESULTS,
        "seconds": round(time.perf_counter() - start, 1),
        "blocks": CLEAN_BLOCKS.get("blocks"),  # transactions of the uninterrupted migration
        "profile": profiles.NAME,
    }
    RECORD.parent.mkdir(exist_ok=True)
    RECORD.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


# ------------------------------------------------------------------ the node


class FaultsNode:
    """The module's anvil on port 8551, started, killed and restarted from `state`."""

    def __init__(self, state: Path, log: Path):
        self.state = state
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.rpc = Rpc(URI, timeout=10)

    def call(self, method: str, params: list | None = None):
        return self.rpc.call(method, params)

    def block(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def answering(self) -> bool:
        probe = Rpc(URI, timeout=1, retry_s=0)  # a probe: no retrying while the node is down
        try:
            probe.call("eth_chainId")
            return True
        except (OSError, RpcError, ValueError):
            return False
        finally:
            probe.close()

    def start(self, state: Path | None = None) -> "FaultsNode":
        """Start anvil on the state file (`state` replaces it first, if given)."""
        assert self.proc is None, "the faults node is already running"
        if self.answering():
            pytest.fail(f"port {PORT} is taken by another node; the faults tests need it")
        if state is not None:
            shutil.copyfile(state, self.state)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["anvil", "--host", "127.0.0.1", "--port", str(PORT), "--chain-id", str(CHAIN_ID),
                 "--hardfork", "london", "--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee",
                 "--state", str(self.state), "--state-interval", "1"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while not self.answering():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill(signal.SIGKILL)
                pytest.fail(f"anvil did not start on port {PORT}; see {self.log}")
            time.sleep(0.05)
        self.rpc.close()
        return self

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Stop anvil with `sig` and wait for it (SIGTERM: it dumps its state first)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        self.rpc.close()

    def wait_for_state_dump(self) -> float:
        """Return just after anvil's next periodic dump of its state file (once a second),
        with the time.monotonic() of the dump: a SIGKILL within the next ~0.9 s leaves
        exactly that dump, never half a file."""
        before = self.state.stat().st_mtime_ns if self.state.exists() else 0
        deadline = time.monotonic() + 10
        while (self.state.stat().st_mtime_ns if self.state.exists() else 0) == before:
            assert time.monotonic() < deadline, "anvil did not dump its state within 10 s"
            time.sleep(0.01)
        dumped = time.monotonic()
        time.sleep(0.1)  # let the write finish
        return dumped


# ------------------------------------------------------------------ the migration


@dataclass
class Base:
    state: Path  # the node's state file with the suite deployed and the calendar published
    export: Path
    register: str
    abi: Path


def _env() -> dict:
    # one transaction in flight: the migration then mines one block per transaction, so
    # the fault points (blocks) are distinct places in it (the pipelined window of 400
    # would write this export in three blocks)
    # The node mines by itself, as a consortium chain does: the migration does not drive
    # the anvil's mining (REGCHAIN_MIGRATION_MINE=0), so pausing it is a real stall.
    return {**os.environ, "REGCHAIN_OPERATOR_SECRET": SECRET, "REGCHAIN_MIGRATION_WINDOW": "1",
            "REGCHAIN_MIGRATION_MINE": "0"}


def _command(how: str, base: Base, report: Path) -> list[str]:
    if how == "ape":
        return ["ape", "run", "migrate", "--source", str(base.export), "--report", str(report),
                "--network", "ethereum:faults:node"]
    return [sys.executable, "-m", "regchain.migrate", str(base.export), URI, base.register, SENDER,
            str(base.abi), str(report)]


class Missed(Exception):
    """The fault did not hit its exact point (the migration got past it before it was
    stopped, or the node dumped its state once more): the case is tried again."""


class Migration:
    """A migration running in a child process, which the test can stop and continue."""

    def __init__(self, how: str, base: Base, report: Path, logs: Path):
        self.how = how
        self.out = open(logs / "migration.out", "w+", encoding="utf-8")
        self.err = open(logs / "migration.err", "w+", encoding="utf-8")
        self.proc = subprocess.Popen(_command(how, base, report), cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.err, start_new_session=True)

    def pause_at_block(self, node: FaultsNode, block: int, exact: bool = True) -> int:
        """SIGSTOP the migration once the node's block number reaches `block` and return the
        block it stopped at. `exact`: Missed if the migration got its next transaction
        mined first (the case is then tried again), for faults whose effect depends on the
        exact block (what a crash loses)."""
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while node.block() < block:
            if self.proc.poll() is not None:
                pytest.fail(f"the migration ended (exit {self.proc.returncode}) before block {block}, "
                            f"the fault point: {self.output()[-1000:]}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the migration did not reach block {block} within {RUN_TIMEOUT_S} s")
            time.sleep(0.0005)  # leave the CPU to the migration and the node
        os.kill(self.proc.pid, signal.SIGSTOP)
        time.sleep(0.05)  # a transaction already sent is mined by now
        if (got := node.block()) != block and exact:
            raise Missed(f"stopped the migration at block {got}, past {block}")
        return got

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def wait(self) -> int:
        """The exit code; a migration still running after RUN_TIMEOUT_S hangs: killed, failed."""
        try:
            return self.proc.wait(RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the migration hangs: still running after {RUN_TIMEOUT_S} s; {self.output()[-1500:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def output(self) -> str:
        self.out.flush()
        self.err.flush()
        return Path(self.out.name).read_text(encoding="utf-8") + Path(self.err.name).read_text(encoding="utf-8")

    def close(self) -> None:
        self.kill()
        self.out.close()
        self.err.close()


def run_migration(how: str, base: Base, report: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(_command(how, base, report), cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the migration hangs: still running after {RUN_TIMEOUT_S} s; {exc.stdout!s:.1500}")


def stop_line(how: str, output: str) -> str:
    """What a stopped migration said: `ape run migrate`'s error line (ape's `ERROR: ...` or
    click's `Error: ...`, on stdout or stderr), else the last line of the output."""
    errors = [line for line in output.splitlines() if line.startswith(("ERROR:", "Error:"))]
    lines = [line for line in output.splitlines() if line.strip()]
    return errors[-1] if errors else (lines[-1] if lines else "(no output)")


def assert_stopped_with_one_line(output: str) -> None:
    """`ape run migrate` that stops says why in one line, with no traceback (not even the
    few frames ape shows of a project's script)."""
    assert "Traceback" not in output and not re.search(r'^\s*File "', output, re.M), (
        f"a traceback instead of one line:\n{output[-3000:]}")
    errors = [line for line in output.splitlines() if line.startswith(("ERROR:", "Error:"))]
    assert len(errors) == 1, f"expected one error line, got {errors!r}:\n{output[-3000:]}"


def check_finished(entry: dict, base: Base, node: "FaultsNode", clean: "Clean", finished: Path,
                   tmp_path: Path) -> None:
    """`finished` is the report of a run that ended with exit 0: it and the register are a
    clean run's, and one more run sends no transaction and reports the same."""
    before = node.block()
    again = run_migration("module", base, tmp_path / "again.json")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["transactions"] == 0
    assert node.block() == before, "a run after the migration finished sent transactions"

    assert json.loads(finished.read_text(encoding="utf-8")) == clean.report
    assert json.loads((tmp_path / "again.json").read_text(encoding="utf-8")) == clean.report
    assert register_state(URI, base.register, json.loads(finished.read_text(encoding="utf-8"))) == clean.state
    entry["exact_state"] = True


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults-node")
    n = FaultsNode(tmp / "state.json", tmp / "anvil.log")
    yield n
    n.kill(signal.SIGKILL)
    DEPLOYMENT.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def base(node, tmp_path_factory) -> Base:
    """The node's state with the suite deployed (`ape run deploy`, which records it in
    deployments/faults.json) and the calendar published as `ape run migrate` would
    (so neither path sends anything before the migration's own transactions), and a
    small dirty export (GBK, Chinese headers) dated on the chain's today."""
    from regchain import suite

    tmp = tmp_path_factory.mktemp("faults-base")
    DEPLOYMENT.unlink(missing_ok=True)
    node.state.unlink(missing_ok=True)
    node.start()
    done = subprocess.run(["ape", "run", "deploy", "--network", "ethereum:faults:node"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    register = json.loads(DEPLOYMENT.read_text())["register"]
    abi = [item.model_dump(mode="json", by_alias=True) for item in suite.suite_contract_type().abi]
    abi_path = tmp / "abi.json"
    abi_path.write_text(json.dumps(abi))

    from eth_utils import keccak

    chain = AnvilBackend(URI, register, SuiteAbi(abi), gas_price=0)
    today = chain.call("today")
    first, last = today - 400, today + 366  # regchain.provision.ensure_calendar's defaults
    doc = keccak(text=f"calendar {cal.date_of(first)}..{cal.date_of(last)}")
    for a, b in cal.chunks(first, last, 366):
        chain.transact(SENDER, "publish_calendar", (a, b, cal.weekdays(a, b), doc), None)
    chain.rpc.close()

    export = tmp / "export"
    synth.write_export(synth.generate(seed=7, securities=7, dirty=0.3, as_of=cal.date_of(today),
                                      encoding="gbk", headers="zh"), export, encoding="gbk", headers="zh")
    node.kill(signal.SIGTERM)
    state = tmp / "base-state.json"
    shutil.copyfile(node.state, state)
    return Base(state, export, register, abi_path)


@dataclass
class Clean:
    report: dict
    state: dict
    blocks: int  # blocks (transactions) the migration takes
    methods: list[tuple[int, str]]  # (block from the start, function) of each transaction, in order

    def security_blocks(self, k: int) -> tuple[int, int]:
        """First and last block (counted from the migration's start, 1-based) of the k-th
        security the migration writes whole (register_security .. before the next one)."""
        starts = [block for block, fn in self.methods if fn == "register_security"]
        assert k < len(starts), f"the migration writes {len(starts)} securities; need one after the {k}-th"
        if starts[k] - 1 < starts[k - 1] or starts[k] == starts[k - 1]:
            pytest.skip(f"securities {k} and {k + 1} share a block: no crash point between them")
        return starts[k - 1], starts[k] - 1


@pytest.fixture(scope="module")
def clean_run(node, base, tmp_path_factory) -> Clean:
    """Report and register state of an uninterrupted migration from the base state."""
    report = tmp_path_factory.mktemp("faults-clean") / "report.json"
    node.start(base.state)
    try:
        start = node.block()
        done = run_migration("module", base, report)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        blocks = CLEAN_BLOCKS["blocks"] = node.block() - start
        assert blocks > max(POINTS) + 2, f"the export migrates in {blocks} blocks: too few for the points"
        data = json.loads(report.read_text(encoding="utf-8"))
        assert data["reconciliation"]["mismatches"] == []
        abi = SuiteAbi(json.loads(base.abi.read_text()))
        by_selector = {f.selector: name for name, f in abi.functions.items()}
        methods = []  # (block counted from the start, function) of every transaction
        for number in range(start + 1, start + blocks + 1):
            for tx in node.call("eth_getBlockByNumber", [hex(number), True])["transactions"]:
                methods.append((number - start, by_selector[bytes.fromhex(tx["input"][2:10])]))
        return Clean(data, register_state(URI, base.register, data), blocks, methods)
    finally:
        node.kill(signal.SIGTERM)


# ------------------------------------------------------------------ one case


@dataclass
class Case:
    node: FaultsNode
    migration: Migration
    start: int  # block number before the migration
    paused_at: int  # block number when the migration was stopped at the point
    notes: dict = field(default_factory=dict)
    after: object = None  # called once the faulted run has exited


def run_case(scenario: str, point: int, how: str, fault, node: FaultsNode, base: Base, clean: Clean,
             tmp_path: Path, exact: bool = False) -> None:
    """Start the migration (`how`: "module" or "ape"), stop it once `point` blocks are
    mined, let `fault(case)` set up the fault and continue it; then check that it
    recovered or stopped cleanly, re-run it if it stopped, and compare with the clean run."""
    key = f"after {point} blocks"
    entry = RESULTS.setdefault(scenario, {})[key] = {"survived": False, "exact_state": False, "command": how}
    started = time.perf_counter()
    for attempt in range(1, ATTEMPTS + 1):
        node.start(base.state)
        try:
            _run_case(entry, point, how, fault, node, base, clean, tmp_path / f"attempt-{attempt}", exact)
            return
        except Missed as exc:
            entry["missed_points"] = attempt
            missed = exc
        finally:
            node.kill(signal.SIGTERM)
            entry["seconds"] = round(time.perf_counter() - started, 1)
    pytest.fail(f"{missed} in {ATTEMPTS} attempts: the fault point could not be hit exactly")


def _run_case(entry, point, how, fault, node, base, clean, tmp_path, exact):
    tmp_path.mkdir()
    migration = Migration(how, base, tmp_path / "faulted.json", tmp_path)
    try:
        start = node.block()
        case = Case(node, migration, start, migration.pause_at_block(node, start + point, exact))
        entry["paused_at_block"] = case.paused_at - start
        fault(case)
        code = migration.wait()
        if case.after is not None:
            case.after(case)
        entry.update(case.notes)
        output = migration.output()
    finally:
        migration.close()
    finish(entry, how, code, output, base, node, clean, tmp_path / "faulted.json", tmp_path)


def finish(entry: dict, how: str, code: int, output: str, base: Base, node: FaultsNode, clean: Clean,
           report: Path, tmp_path: Path) -> None:
    """After the faulted run (exit `code`, `output`, its report at `report`): re-run it if
    it stopped, check the finished state (check_finished), then that `ape run migrate`
    stopped with one line; `entry` records each."""
    if code == 0:
        entry["outcome"] = "recovered"
        finished = report
    else:
        line = stop_line(how, output)
        if how == "module" and code == 1 and line.startswith("{"):
            # python -m regchain.migrate finished writing and reconciling, with differences
            run = json.loads(line)
            line = f"{run['mismatches']} mismatches, first: {run['first_mismatches'][:1]}"
        entry["outcome"] = f"stopped (exit {code}): {line}"
        finished = tmp_path / "rerun.json"
        rerun = run_migration("module", base, finished)
        assert rerun.returncode == 0, "the re-run failed:\n" + rerun.stdout[-2000:] + rerun.stderr[-2000:]
    check_finished(entry, base, node, clean, finished, tmp_path)
    if how == "ape" and code != 0:
        entry["one_line"] = False
        assert_stopped_with_one_line(output)
        entry["one_line"] = True
    entry["survived"] = True


def _ids(points):
    return [f"after {p} blocks" for p in points]


# ------------------------------------------------------------------ scenarios


def _crash_node_losing_blocks(case: Case, lost: int) -> None:
    """The node is SIGKILLed `lost` blocks after its last state dump and restarted from its
    state file while the migration is stopped; the migration continues on a chain that
    lost the last `lost` blocks it wrote (a crash between two dumps)."""
    dumped = case.node.wait_for_state_dump()  # the dump holds the chain up to the point
    case.migration.resume()
    crashed_at = case.migration.pause_at_block(case.node, case.paused_at + lost)
    if time.monotonic() - dumped > 0.7:  # (a loaded machine) the next dump may be under way
        raise Missed("the crash point came too long after the state dump")
    case.node.kill(signal.SIGKILL)
    case.node.start()
    case.notes["blocks_lost"] = crashed_at - case.node.block()
    if case.node.block() != case.paused_at:
        raise Missed(f"the restarted node is at block {case.node.block()}, not at the dump's {case.paused_at}")
    case.migration.resume()


@pytest.mark.parametrize("point", POINTS, ids=_ids(POINTS))
def test_migration__node_killed_and_restarted_from_its_state_file__rerun_ends_in_the_clean_state(
    node, base, clean_run, tmp_path, point
):
    run_case("node_killed_restarted_from_state", point, "module", partial(_crash_node_losing_blocks, lost=2),
             node, base, clean_run, tmp_path, exact=True)


WHOLE = (1, 2, 3) if DEEP else (1,)


@pytest.mark.parametrize("k", WHOLE, ids=[f"security {k}" for k in WHOLE])
def test_migration__node_restarted_from_a_state_file_without_a_whole_written_security__rerun_ends_in_the_clean_state(
    node, base, clean_run, tmp_path, k
):
    first, last = clean_run.security_blocks(k)
    run_case("node_killed_losing_a_whole_security", first - 1, "module",
             partial(_crash_node_losing_blocks, lost=last - first + 1), node, base, clean_run, tmp_path, exact=True)


def _refuse_connections_for_a_window(case: Case) -> None:
    """The node shuts down (SIGTERM: its state is dumped), the migration continues into a
    closed port for WINDOW_S, then the node comes back from its state file."""
    case.node.kill(signal.SIGTERM)
    case.migration.resume()
    time.sleep(WINDOW_S)
    case.node.start()


@pytest.mark.parametrize("point", POINTS, ids=_ids(POINTS))
def test_migration__node_refusing_connections_for_a_while__waits_or_stops_with_one_line_and_rerun_ends_in_the_clean_state(
    node, base, clean_run, tmp_path, point
):
    run_case("node_refusing_connections", point, "ape", _refuse_connections_for_a_window,
             node, base, clean_run, tmp_path)


def test_migration__node_refusing_connections_when_it_starts__stops_with_one_line_and_rerun_ends_in_the_clean_state(
    node, base, clean_run, tmp_path
):
    entry = RESULTS.setdefault("node_refusing_connections", {})["at the start"] = {
        "survived": False, "exact_state": False, "command": "ape"}
    assert not node.answering()
    done = run_migration("ape", base, tmp_path / "faulted.json")  # the node stays down meanwhile
    node.start(base.state)
    try:
        finish(entry, "ape", done.returncode, done.stdout + done.stderr, base, node, clean_run,
               tmp_path / "faulted.json", tmp_path)
    finally:
        node.kill(signal.SIGTERM)


def _pause_mining_for_a_window(case: Case, window: float = WINDOW_S) -> None:
    """Automine off for `window` seconds while the migration goes on (its transaction waits
    in the pool), then on again: the pending transactions are mined."""
    case.node.call("evm_setAutomine", [False])
    case.migration.resume()
    time.sleep(window)
    assert case.node.block() == case.paused_at, "a block was mined with mining paused"
    status = case.node.call("txpool_status")
    case.notes["pending_when_mining_resumed"] = int(status["pending"], 16) + int(status["queued"], 16)
    case.node.call("evm_setAutomine", [True])


@pytest.mark.parametrize("point", POINTS, ids=_ids(POINTS))
def test_migration__mining_paused_for_a_while__neither_hangs_nor_writes_twice_and_ends_in_the_clean_state(
    node, base, clean_run, tmp_path, point
):
    run_case("mining_paused", point, "module", _pause_mining_for_a_window, node, base, clean_run, tmp_path)


# anvil answers eth_sendTransactionSync with "Transaction confirmation timeout" after 30 s
LONG_PAUSE_S = 35


@pytest.mark.skipif(not DEEP, reason=f"takes {LONG_PAUSE_S} s: HYPOTHESIS_PROFILE=deep")
def test_migration__mining_paused_longer_than_the_node_waits__stops_with_one_line_or_waits_and_rerun_ends_in_the_clean_state(
    node, base, clean_run, tmp_path
):
    run_case(f"mining_paused_{LONG_PAUSE_S}s", 5, "ape", partial(_pause_mining_for_a_window, window=LONG_PAUSE_S),
             node, base, clean_run, tmp_path)


class Contender(threading.Thread):
    """Another process's wallet on the migration's account: it signs transactions itself
    with the account's next nonce (`pending`) and also has the node fill them in
    (`eth_sendTransaction`), as fast as it can, until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.sent = 0
        self.refused = 0

    def run(self):
        from eth_account import Account

        rpc = Rpc(URI, timeout=10)
        try:
            while not self.stop.is_set():
                try:
                    nonce = int(rpc.call("eth_getTransactionCount", [SENDER, "pending"]), 16)
                    raw = Account.sign_transaction(
                        {"nonce": nonce, "to": OTHER, "value": 1, "gas": 21000, "gasPrice": 0, "chainId": CHAIN_ID},
                        SENDER_KEY).raw_transaction
                    rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])
                    rpc.call("eth_sendTransaction", [{"from": SENDER, "to": OTHER, "value": "0x1", "gasPrice": "0x0"}])
                    self.sent += 2
                except RpcError:
                    self.refused += 1  # nonce taken meanwhile: the other sender's problem
                time.sleep(0.002)
        finally:
            rpc.close()


def _another_sender_on_the_same_account(case: Case) -> None:
    contender = Contender()
    contender.start()
    case.migration.resume()

    def stop(case: Case) -> None:
        contender.stop.set()
        contender.join(10)
        case.notes["other_sender_transactions"] = contender.sent
        case.notes["other_sender_refused"] = contender.refused
        deadline = time.monotonic() + 10  # what it left in the pool is mined before the checks
        while True:
            status = case.node.call("txpool_status")
            if int(status["pending"], 16) + int(status["queued"], 16) == 0:
                break
            assert time.monotonic() < deadline, f"the other sender's transactions stay in the pool: {status}"
            time.sleep(0.05)

    case.after = stop


@pytest.mark.parametrize("point", POINTS, ids=_ids(POINTS))
def test_migration__another_sender_uses_the_same_account__ends_in_the_clean_state(
    node, base, clean_run, tmp_path, point
):
    run_case("other_sender_same_account", point, "module", _another_sender_on_the_same_account,
             node, base, clean_run, tmp_path)
