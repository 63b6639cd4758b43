"""The write path on nodes that behave like the consortium targets (regchain/testing/consortium_node.py:
an anvil mining 1-second blocks behind a proxy speaking like FISCO BCOS 3 or Besu QBFT, or
passing everything on for the anvil profile, whose writer then lets the node mine too),
with keys held here (regchain.writer.LocalSigner), and the same against a real node where
REGCHAIN_RPC_URI names one (skipped otherwise; faults need the proxy and are skipped there).

Per profile: the suite is deployed through the writer (time_unit_ms on the FISCO-like
node), the registrar role granted, the calendar published, a multicall deployed; then the
migration of a sample export runs as the benchmark runs it (`python -m regchain.migrate`,
the key from a file, the profile from REGCHAIN_PROFILE). The clean run reconciles, a
second run sends nothing, and the proxy saw no batch array (FISCO), no anvil_/evm_/txpool_
method (the anvil profile: only anvil_getAutomine and txpool_content), no eth_gasPrice and
no eth_estimateGas. Faults: the signer killed mid-window then run again; the signer killed
and the first transaction of its window then dropped, the rest waiting behind that nonce
(resumed from the writer's journal); the node's pool emptied (a restart without its pool); a transaction dropped by
the pool; the node unreachable for a while. Each ends in the clean run's exact register
state and report, and one more run sends nothing. The chain goes back to the state before
the migration (evm_snapshot on the anvil behind the proxy) between cases.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regchain import calendar as cal
from regchain.legacy import synth
from regchain.rpc import Rpc
from regchain.writer import LocalSigner

from regchain.testing.consortium_node import ConsortiumNode, provision
from migration_support import register_state

ROOT = Path(__file__).resolve().parents[1]
SECRET = "signed-writes-secret-0123456789"
RUN_TIMEOUT_S = 180
EXTERNAL = os.environ.get("REGCHAIN_RPC_URI", "").strip()
PROFILES = ["fisco-bcos-3", "besu-qbft", "anvil"] + (["external"] if EXTERNAL else [])


class World:
    """A node (or REGCHAIN_RPC_URI), the suite deployed on it, the export, the keys."""

    def __init__(self, name: str, tmp: Path):
        self.name = name
        self.tmp = tmp
        if name == "external":
            self.node = None
            self.uri = self.state_uri = EXTERNAL
            self.profile = os.environ.get("REGCHAIN_PROFILE", "besu-qbft")
            governance = Path(os.environ["REGCHAIN_SIGNER_KEY_FILE"]).read_text().strip()
        else:
            self.node = ConsortiumNode(name).start()
            self.uri, self.state_uri = self.node.uri, self.node.anvil_uri
            self.profile = name
            governance = None
        made = provision(self.uri, self.profile, governance)
        self.register, self.multicall = made["register"], made["multicall"]
        self.registrar = LocalSigner(made["registrar_key"])
        self.key_file = tmp / "registrar.key"
        self.key_file.write_text(made["registrar_key"] + "\n")
        self.abi_path = tmp / "abi.json"
        self.abi_path.write_text(json.dumps(made["abi"]))
        today = made["today"]
        self.export = tmp / "export"
        synth.write_export(synth.generate(seed=11, securities=6, dirty=0.2, as_of=cal.date_of(today),
                                          encoding="gbk", headers="zh"), self.export, encoding="gbk", headers="zh")
        self.base = self.snapshot()

    def snapshot(self):
        return self.node.anvil("evm_snapshot") if self.node else None

    def back_to_base(self):
        assert self.node is not None
        assert self.node.anvil("evm_revert", [self.base]) is True
        self.node.anvil("anvil_dropAllTransactions")
        self.base = self.snapshot()

    def command(self, report: Path) -> list[str]:
        return [sys.executable, "-m", "regchain.migrate", str(self.export), self.uri, self.register,
                self.registrar.address, str(self.abi_path), str(report)]

    def env(self, **extra) -> dict:
        # on the anvil profile the node mines its 1-second blocks as the others do (no evm_mine)
        mine = {"REGCHAIN_MIGRATION_MINE": "0"} if self.profile == "anvil" else {}
        return {**os.environ, **mine, "REGCHAIN_OPERATOR_SECRET": SECRET, "REGCHAIN_PROFILE": self.profile,
                "REGCHAIN_SIGNER_KEY_FILE": str(self.key_file), "REGCHAIN_MULTICALL_ADDRESS": self.multicall,
                "PYTHONPATH": str(ROOT / "src"), **extra}

    def run(self, report: Path, **extra) -> dict:
        done = subprocess.run(self.command(report), cwd=ROOT, env=self.env(**extra), capture_output=True,
                              text=True, timeout=RUN_TIMEOUT_S)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def start(self, report: Path, **extra) -> subprocess.Popen:
        return subprocess.Popen(self.command(report), cwd=ROOT, env=self.env(**extra), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)

    def nonce(self, tag="latest") -> int:
        rpc = Rpc(self.state_uri, retry_s=0)
        try:
            return int(rpc.call("eth_getTransactionCount", [self.registrar.address, tag]), 16)
        finally:
            rpc.close()

    def state(self, report: Path) -> dict:
        return register_state(self.state_uri, self.register, report)

    def close(self):
        if self.node is not None:
            self.node.stop()


@pytest.fixture(scope="module", params=PROFILES)
def world(request, tmp_path_factory):
    w = World(request.param, tmp_path_factory.mktemp(f"signed-{request.param}"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def clean(world, tmp_path_factory):
    """The uninterrupted migration: its output, report and register state."""
    report = tmp_path_factory.mktemp("clean") / "report.json"
    out = world.run(report)
    state = world.state(report)
    text = report.read_text(encoding="utf-8")
    again = world.run(report)
    if world.node is not None:
        world.back_to_base()
    return out, text, state, again


def test_migrate__signed_through_the_profile__reconciles_and_a_second_run_sends_nothing(world, clean):
    out, _, state, again = clean
    assert out["mismatches"] == 0 and out["checked"] > 0
    assert out["transactions"] > 0 and out["securities"] > 0
    assert again["transactions"] == 0 and again["mismatches"] == 0
    assert state["security_count"] == out["securities"]


def test_migrate__speaks_only_what_the_target_answers(world, clean):
    if world.node is None:
        pytest.skip("the proxy counts requests; a real node does not")
    calls = world.node.calls
    if world.profile != "anvil":  # a devnet may be asked anvil_getAutomine and txpool_content
        assert [m for m in calls if m.startswith(("anvil_", "evm_", "txpool_"))] == []
    else:
        assert [m for m in calls if m.startswith(("anvil_", "evm_", "txpool_"))
                and m not in ("anvil_getAutomine", "txpool_content")] == []
    assert calls.get("eth_gasPrice", 0) == 0 and calls.get("eth_estimateGas", 0) == 0
    assert calls.get("eth_sendTransaction", 0) == 0 and calls["eth_sendRawTransaction"] > 0
    assert world.node.refused_batches == 0  # no batch array sent where none is taken


def _pending(world) -> bool:
    return world.nonce("pending") > world.nonce("latest")


def _wait(predicate, proc, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the migration ended before {what}: {proc.stdout.read()[-500:]} {proc.stderr.read()[-800:]}")
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.005)


def _killed_mid_window(world, report):
    proc = world.start(report, REGCHAIN_MIGRATION_WINDOW="3")
    start = world.nonce()
    _wait(lambda: world.nonce() >= start + 4 and _pending(world), proc, "a window in flight after 4 transactions")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return world.run(report)


def _killed_behind_a_gap(world, report):
    """The signer killed with a window in the pool, and the first transaction of it then
    lost by the pool (dropped): the node holds the rest behind a nonce gap, which nothing
    of the killed run can fill and no pool view of the node's shows (the proxy answers no
    txpool_). The next run sends the window again from its journal
    (regchain.writer.Writer.resume), so it is mined in the order it was signed, and then
    writes what is missing. The node's mining is paused (on the anvil behind the proxy,
    which the tests own) while the fault is set up, so no block mines the window first."""
    proc = world.start(report, REGCHAIN_MIGRATION_WINDOW="3")
    while True:
        _wait(lambda: world.nonce("pending") >= world.nonce() + 2, proc, "a window of 2 or more in the pool")
        world.node.anvil("evm_setIntervalMining", [0])
        if world.nonce("pending") >= world.nonce() + 2:
            break
        world.node.anvil("evm_setIntervalMining", [1])
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    latest = world.nonce()
    pool = world.node.anvil("txpool_content")["pending"][world.registrar.address.lower()]
    assert len(pool) >= 2
    world.node.anvil("anvil_dropTransaction", [pool[str(latest)]["hash"]])
    world.node.anvil("evm_setIntervalMining", [1])
    time.sleep(2.5)
    assert world.nonce() == latest  # two blocks later: nothing of it can be mined
    return world.run(report)


def _pool_lost(world, report):
    proc = world.start(report)
    _wait(lambda: _pending(world), proc, "transactions in the pool")
    world.node.anvil("anvil_dropAllTransactions")  # as a node restarted without its pool
    out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, out[-1000:] + err[-1500:]
    return json.loads(out.strip().splitlines()[-1])


def _dropped(world, report):
    world.node.drop(1)
    out = world.run(report)
    assert len(world.node.dropped) == 1
    return out


def _unreachable(world, report):
    proc = world.start(report)
    _wait(lambda: world.nonce() >= 1 + world.nonce_at_base, proc, "a first transaction mined")
    world.node.unreachable(5.0)
    out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, out[-1000:] + err[-1500:]
    return json.loads(out.strip().splitlines()[-1])


FAULTS = {"signer_killed_mid_window": _killed_mid_window, "signer_killed_behind_a_gap": _killed_behind_a_gap,
          "pool_lost": _pool_lost,
          "transaction_dropped": _dropped, "node_unreachable_5s": _unreachable}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_migrate__fault__ends_in_the_clean_state_and_one_more_run_sends_nothing(world, clean, fault, tmp_path):
    if world.node is None:
        pytest.skip("faults need the proxy in front of the node")
    _, clean_report, clean_state, _ = clean
    world.node.dropped.clear()
    world.nonce_at_base = world.nonce()
    report = tmp_path / "report.json"
    try:
        FAULTS[fault](world, report)
        assert report.read_text(encoding="utf-8") == clean_report
        assert world.state(report) == clean_state
        assert world.run(report)["transactions"] == 0
    finally:
        world.back_to_base()
