"""The chain half of the migration (regchain.migrate): writing a cleaned export,
reconciling it, re-running it, and resuming after the process is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from regchain import calendar as cal
from regchain import migrate
from regchain.legacy import synth
from regchain.legacy.clean import clean_folder
from regchain.writer import Writer

from migration_support import register_state

SECRET = "test-operator-secret-0123456789"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def export(tmp_path_factory, register):
    """A dirty synthetic export dated on the chain's today (GBK, Chinese headers)."""
    folder = tmp_path_factory.mktemp("export")
    as_of = cal.date_of(register.today())
    synth.write_export(synth.generate(seed=7, securities=5, dirty=0.3, as_of=as_of, encoding="gbk",
                                      headers="zh"), folder, encoding="gbk", headers="zh")
    return folder


@pytest.fixture(scope="module")
def cleaned(export, register):
    return clean_folder(export, as_of=register.today())


@pytest.fixture(scope="module")
def plan(cleaned):
    return migrate.Plan.build(cleaned, migrate.Identities(SECRET.encode()))


def test_write__then_reconcile__chain_equals_the_cleaned_source(register, registrar, cleaned, plan):
    chain = migrate.Chain(register, registrar)
    stats = migrate.write(cleaned, plan, chain)
    assert stats.securities_sealed == len(cleaned.securities) > 0
    assert stats.holdings_written == sum(len(s.holdings) for s in cleaned.securities)
    assert stats.pledges_imported == len(cleaned.pledges)
    assert stats.freezes_imported == len(cleaned.freezes)
    rec = migrate.reconcile(cleaned, plan, chain)
    assert rec["mismatches"] == []
    assert rec["checked"] >= len(cleaned.securities) + stats.holdings_written
    for sec in cleaned.securities:
        sid = rec["token_ids"][sec.code]
        assert register.totalSupply(sid) == sec.total
        for h in sec.holdings:
            assert register.balanceOf(plan.of(h.account_no, cleaned), sid) == h.units


def test_write__second_run__sends_nothing_and_reports_the_same(register, registrar, cleaned, plan):
    chain = migrate.Chain(register, registrar)
    migrate.write(cleaned, plan, chain)
    first = json.dumps(migrate.build_report(cleaned, plan.address, migrate.reconcile(cleaned, plan, chain)["token_ids"],
                                           migrate.reconcile(cleaned, plan, chain)), sort_keys=True)
    again = migrate.Chain(register, registrar)
    stats = migrate.write(cleaned, plan, again)
    assert stats.transactions == 0
    rec = migrate.reconcile(cleaned, plan, again)
    assert json.dumps(migrate.build_report(cleaned, plan.address, rec["token_ids"], rec), sort_keys=True) == first


def test_run__export_on_chain__token_ids_read_by_the_writing_only(register, registrar, export, cleaned, plan):
    migrate.write(cleaned, plan, migrate.Chain(register, registrar))  # on chain: the run registers nothing
    chain = migrate.Chain(register, registrar)
    reads, read = [], chain.read
    chain.read = lambda fn, args_list: reads.append(fn) or read(fn, args_list)

    done = migrate.run(export, migrate.Identities(SECRET.encode()), chain, as_of=register.today())

    assert reads.count("security_id") == 1
    assert done.stats.transactions == 0 and done.mismatches == []
    assert done.reconciliation["token_ids"] == done.stats.token_ids == {
        sec.code: register.security_id(migrate.code_hash(sec.code)) for sec in cleaned.securities}
    assert {code: e["token_id"] for code, e in done.report["securities"].items() if e["status"] == "MIGRATED"} == \
        done.stats.token_ids
    assert set(done.seconds) == {"clean_s", "plan_s", "write_s", "reconcile_s"}


def _registration(sec, cleaned, total=None) -> tuple:
    return (migrate.code_hash(sec.code), int(sec.kind), sec.unit_scale, sec.total if total is None else total,
            migrate.source_doc(cleaned))


def _send_behind_a_gap(chain: migrate.Chain, args: tuple, gap: int) -> tuple[str, int]:
    """register_security(*args) sent by `chain`'s sender with a nonce `gap` past the node's
    pending one (as a run leaves it when the node lost the nonces between): (hash, nonce)."""
    rpc = chain.reader.rpc
    nonce = chain.writer.nonce("pending") + gap
    tx = {"from": chain.sender_address, "to": chain.reader.address, "gas": hex(1_000_000), "gasPrice": "0x0",
          "data": "0x" + chain.reader.abi["register_security"].encode(args).hex(), "nonce": hex(nonce)}
    return rpc.call("eth_sendTransaction", [tx]), nonce


def test_write__a_killed_runs_transaction_left_in_the_pool__is_mined_not_sent_again(
    register, registrar, cleaned, plan
):
    """A run killed while it drove the mining leaves automining off and its window in the
    pool; the next run sees that window on chain before it reads (once seen in CI: the
    re-run registered a security again and reverted)."""
    import dataclasses

    # the killed run had opened every account (so nothing the re-run sends precedes its reads
    # of the securities) and sent its first registration
    migrate.write(dataclasses.replace(cleaned, securities=[]), plan, migrate.Chain(register, registrar))
    left = migrate.Chain(register, registrar)
    rpc = left.reader.rpc
    sec = cleaned.securities[0]
    left.post("register_security", *_registration(sec, cleaned))
    rpc.call("evm_setAutomine", [False])
    try:
        left.writer._submit(left.writer.queue, left.writer.nonce())  # sent, not mined: then the process dies
        assert register.security_id(migrate.code_hash(sec.code)) == 0
        stats = migrate.write(cleaned, plan, migrate.Chain(register, registrar))
        assert rpc.call("anvil_getAutomine") is True
    finally:
        rpc.call("evm_setAutomine", [True])
    assert stats.securities_registered == len(cleaned.securities) - 1
    assert migrate.reconcile(cleaned, plan, migrate.Chain(register, registrar))["mismatches"] == []


@pytest.fixture
def pool_cleared(chain, registrar):
    """The registrar's transactions that a failed test left in the node's pool are removed."""
    yield
    chain.provider.make_request("anvil_removePoolTransactions", [registrar.address])


@pytest.mark.parametrize("mine", ["1", "0"], ids=["the migration mines", "the node mines"])
def test_flush__node_restarted_from_an_older_state_between_reading_the_nonce_and_sending__stops_as_lost_and_clears_the_pool(
    register, registrar, cleaned, monkeypatch, mine, pool_cleared
):
    """Once seen in CI (the faults tests): the node restarted from an older state just after
    the migration read the sender's nonce; the transaction it then sent waited in the pool
    behind the nonce the node had lost, and the migration waited for it until killed."""
    monkeypatch.setenv("REGCHAIN_MIGRATION_MINE", mine)
    chain = migrate.Chain(register, registrar)
    rpc = chain.reader.rpc
    first, second = cleaned.securities[:2]
    older = rpc.call("evm_snapshot")
    chain.post("register_security", *_registration(first, cleaned))
    chain.flush()  # mined; the node then goes back to `older` and loses it

    read_nonce = Writer._first_nonce

    def restart_after_reading(self):
        nonce = read_nonce(self)
        monkeypatch.setattr(Writer, "_first_nonce", read_nonce)  # once
        assert rpc.call("evm_revert", [older]) is True
        return nonce

    monkeypatch.setattr(Writer, "_first_nonce", restart_after_reading)
    chain.post("register_security", *_registration(second, cleaned))
    started = time.monotonic()
    with pytest.raises(migrate.MigrationError) as exc:
        chain.flush()
    assert str(exc.value) == ("the node lost 1 accepted transactions (restarted from an older state?); "
                              "run the migration again")
    assert time.monotonic() - started < migrate.LOST_AFTER_S + 5
    assert rpc.call("txpool_status") == {"pending": "0x0", "queued": "0x0"}
    assert rpc.call("anvil_getAutomine") is True
    assert register.security_id(migrate.code_hash(first.code)) == 0
    assert register.security_id(migrate.code_hash(second.code)) == 0


def test_write__a_stopped_runs_transaction_waiting_behind_a_nonce_gap__is_removed_not_mined_inside_the_run(
    register, registrar, cleaned, plan, pool_cleared
):
    """A run stopped when the node lost transactions can leave one in the pool behind the
    lost nonce; the next run's own transactions would fill the gap and let it be mined in
    their sequence (here: the first security registered with another total)."""
    left = migrate.Chain(register, registrar)
    rpc = left.reader.rpc
    sec = cleaned.securities[0]
    stale_hash, _ = _send_behind_a_gap(left, _registration(sec, cleaned, sec.total + 1), 1)
    assert int(rpc.call("txpool_status")["queued"], 16) == 1

    stats = migrate.write(cleaned, plan, migrate.Chain(register, registrar))
    assert stats.securities_registered == len(cleaned.securities)
    assert rpc.call("eth_getTransactionReceipt", [stale_hash]) is None
    assert rpc.call("txpool_status") == {"pending": "0x0", "queued": "0x0"}
    assert migrate.reconcile(cleaned, plan, migrate.Chain(register, registrar))["mismatches"] == []


class NotAnAnvil:
    """A JSON-RPC proxy to the test node that answers anvil's own methods (anvil_*, evm_*)
    as a consortium node does: method not found."""

    def __init__(self, upstream: str):
        import http.server
        import threading

        def answer(request: dict) -> dict:
            if request["method"].startswith(("anvil_", "evm_")):
                return {"jsonrpc": "2.0", "id": request["id"],
                        "error": {"code": -32601, "message": f"the method {request['method']} does not exist"}}
            return requests.post(upstream, json=request, timeout=10).json()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = json.dumps([answer(r) for r in body] if isinstance(body, list) else answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_settle__stranded_transaction_on_a_node_that_is_not_an_anvil__refuses_with_the_nonces(
    chain, register, registrar, cleaned, pool_cleared
):
    """Where the migration cannot remove a transaction stranded behind a nonce gap, it stops
    before it reads the chain and says which: it would be mined inside the run."""
    left = migrate.Chain(register, registrar)
    rpc = left.reader.rpc
    sec = cleaned.securities[0]
    _, gap = _send_behind_a_gap(left, _registration(sec, cleaned), 2)

    node = NotAnAnvil(chain.provider.http_uri)
    try:
        abi = [item.model_dump(mode="json", by_alias=True) for item in register.contract_type.abi]
        other = migrate.Chain.over_json_rpc(node.uri, register.address, registrar.address, abi)
        with pytest.raises(migrate.MigrationError) as exc:
            other.settle()
    finally:
        node.close()
    assert str(exc.value) == (f"1 transactions of {registrar.address} wait in the node's pool behind a nonce gap "
                              f"(nonces {gap}); this run would let them be mined in its own sequence: "
                              "remove them from the node's pool first")
    assert int(rpc.call("txpool_status")["queued"], 16) == 1  # left alone


def test_plan__merged_duplicate_identity__gets_one_address(cleaned, plan):
    merged = [a for a in cleaned.accounts if a.merged]
    assert merged, "the generator mixes in duplicate persons"
    for a in merged:
        for other in a.merged:
            assert plan.of(other, cleaned) == plan.address[a.account_no]


def test_identities__custody_address__deterministic_and_secret_bound():
    a = migrate.Identities(b"secret-one-0123456789")
    b = migrate.Identities(b"secret-two-0123456789")
    ident = "RESIDENT_ID:11010519491231002X"
    assert a.custody_address(ident) == migrate.Identities(b"secret-one-0123456789").custody_address(ident)
    assert a.custody_address(ident) != b.custody_address(ident)
    assert a.identity_hash(ident) != b.identity_hash(ident)


def test_identities__custody_address__is_the_address_of_the_custody_key():
    from eth_account import Account

    ids = migrate.Identities(b"secret-one-0123456789")
    for i in range(100):
        ident = f"RESIDENT_ID:{110105194912310000 + i}"
        assert ids.custody_address(ident) == Account.from_key(ids.custody_key(ident)).address


@pytest.mark.parametrize("ident,address", [
    # derived before coincurve replaced the hand-written point multiplication: the
    # addresses of an operator's custody accounts must never change
    ("RESIDENT_ID:11010519491231002X", "0x536b602Ba23BCd0f83De95Cf2101753aE01C216b"),
    ("USCC:91110000600037341L", "0xA0D6308159C4F136795AEdBb8A2F664e63e3A4f8"),
    ("PASSPORT:E12345678", "0xdab06aceE9330d45847A2b57dF56e89D4C523086"),
])
def test_identities__custody_address__same_address_as_every_earlier_run(ident, address):
    assert migrate.Identities(b"secret-one-0123456789").custody_address(ident) == address


@pytest.mark.parametrize("sizes,want", [
    # whole securities while they fit; a batch 3/4 full leaves a security that would not
    # fit it to the next batch; one that does not fit any batch is split
    ([50, 50, 50, 60], [[50, 50, 50], [60]]),
    ([50, 50, 40, 70], [[50, 50, 40, 60], [10]]),
    ([150, 30, 30], [[150, 30], [30]]),
    ([160, 50], [[160], [50]]),
    ([120, 250, 5], [[120, 80], [170, 5]]),
    ([200, 1], [[200], [1]]),
])
def test_holding_batches__whole_securities_where_a_batch_is_three_quarters_full(sizes, want):
    groups = [[(k, i) for i in range(n)] for k, n in enumerate(sizes)]
    batches = list(migrate._holding_batches(groups, 200))
    assert [[sum(1 for item in b if item[0] == k) for k in dict.fromkeys(item[0] for item in b)]
            for b in batches] == want
    assert [item for b in batches for item in b] == [item for g in groups for item in g]


def test_holding_words__packs_the_terms_and_refuses_what_does_not_fit():
    holder = "0x00000000000000000000000000000000000000aB"
    assert migrate.holding_words(7, holder, 10, 4, 20_000, 20_100, True) == (
        (0xAB << 96) | 7, 10 | (4 << 96) | (20_000 << 192) | (20_100 << 216) | (1 << 240))
    for bad in (dict(units=2**96), dict(paid=2**96), dict(acquired_day=2**24), dict(lock_until_day=2**24),
                dict(units=-1)):
        terms = dict(units=10, paid=4, acquired_day=20_000, lock_until_day=0) | bad
        with pytest.raises(ValueError, match=next(iter(bad))):
            migrate.holding_words(7, holder, insider=False, **terms)
    with pytest.raises(ValueError, match="security id"):
        migrate.holding_words(2**96, holder, 10, 4, 20_000)


def test_chain__unlocked_test_account__writes_over_the_fast_path(register, registrar, outsider):
    chain = migrate.Chain(register, registrar)
    assert chain.fast
    assert not migrate.Chain(register, registrar, fast=False).fast
    chain.send("open_accounts", [(outsider.address, b"\x01" * 32, 1, True)], b"\x02" * 32)
    assert chain.read("account_of", [(outsider.address,)])[0][0] != 0
    assert chain.gas["open_accounts"] > 0


def test_chain__failed_transaction__raises_with_the_revert_reason(register, registrar):
    chain = migrate.Chain(register, registrar)
    with pytest.raises(migrate.MigrationError, match=r"seal_security (reverted|failed): \w+: "):
        chain.send("seal_security", 999_999, b"\x00" * 32)


def test_identities__secret_missing__refuses():
    with pytest.raises(migrate.MigrationError, match="REGCHAIN_OPERATOR_SECRET"):
        migrate.Identities.from_env({})


# ------------------------------------------------------------ kill and resume

SCRATCH_PORT = 8549
SCRATCH = f"http://127.0.0.1:{SCRATCH_PORT}"


def _rpc(method, params=()):
    return requests.post(SCRATCH, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                         timeout=5).json()["result"]


class ScratchNode:
    """An anvil shaped like the devnet on the `scratch` network's port."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.proc = None

    def start(self):
        (ROOT / "deployments" / "scratch.json").unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            ["anvil", "--host", "127.0.0.1", "--port", str(SCRATCH_PORT), "--chain-id", "20232",
             "--hardfork", "london", "--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                _rpc("eth_chainId")
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("scratch anvil did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        (ROOT / "deployments" / "scratch.json").unlink(missing_ok=True)


def _migrate_cmd(source: Path, report: Path):
    return ["ape", "run", "migrate", "--source", str(source), "--report", str(report),
            "--network", "ethereum:scratch:node"]


def _env(**extra):
    return {**os.environ, "REGCHAIN_OPERATOR_SECRET": SECRET, **extra}


def _run(source, report):
    done = subprocess.run(_migrate_cmd(source, report), cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


def _chain_state(report: Path) -> dict:
    """Every record of the register the report's securities and accounts have on chain."""
    deployment = json.loads((ROOT / "deployments" / "scratch.json").read_text())
    return register_state(SCRATCH, deployment["register"], report)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    node = ScratchNode(tmp_path_factory.mktemp("scratch"))
    yield node
    node.stop()


@pytest.fixture(scope="module")
def clean_run(scratch, export, tmp_path_factory):
    """Report and chain state of an uninterrupted migration on a fresh node."""
    scratch.start()
    report = tmp_path_factory.mktemp("clean") / "report.json"
    _run(export, report)
    state = _chain_state(report)
    scratch.stop()
    return report.read_text(encoding="utf-8"), state


@pytest.mark.parametrize("kill_after_blocks", [2, 5, 9, 14])
def test_migrate__killed_by_signal__rerun_finishes_with_the_clean_state(
    scratch, export, clean_run, tmp_path, kill_after_blocks
):
    clean_report, clean_state = clean_run
    scratch.start()
    report = tmp_path / "report.json"
    # one transaction in flight: a block per transaction, so the kill points are distinct
    # places in the migration (the default window writes this export in a few blocks)
    proc = subprocess.Popen(_migrate_cmd(export, report), cwd=ROOT, env=_env(REGCHAIN_MIGRATION_WINDOW="1"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = int(_rpc("eth_blockNumber"), 16)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if int(_rpc("eth_blockNumber"), 16) >= start + kill_after_blocks:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, "the migration finished before the kill point"
    assert not report.exists()
    _run(export, report)
    assert report.read_text(encoding="utf-8") == clean_report
    assert _chain_state(report) == clean_state
    scratch.stop()


def _migrate_child(*args, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
           "REGCHAIN_OPERATOR_SECRET": "child-secret-0123456789abcdef"}
    return subprocess.run([sys.executable, "-m", "regchain.migrate", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_migrate_module__wrong_number_of_arguments__usage_line_exit_2(tmp_path):
    done = _migrate_child("only-a-folder", tmp_path=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == migrate.USAGE


def test_migrate_module__missing_abi_file__one_error_line_no_traceback_exit_2(tmp_path):
    done = _migrate_child(str(tmp_path / "export"), "http://127.0.0.1:9", "0x" + "11" * 20, "0x" + "22" * 20,
                          str(tmp_path / "nowhere.json"), str(tmp_path / "report.json"), tmp_path=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "nowhere.json" in lines[0], done.stderr
    assert not (tmp_path / "report.json").exists()
