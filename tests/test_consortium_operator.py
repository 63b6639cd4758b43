"""The operator's path on the `consortium` network, as an operator runs it, against nodes
that behave like FISCO BCOS 3 and Besu QBFT (regchain/testing/consortium_node.py): an ape keystore
account (unlocked unattended with APE_ACCOUNTS_<alias>_PASSPHRASE, in an ape data folder
of the test's own) holding the registrar role, REGCHAIN_RPC_URI / REGCHAIN_CHAIN_ID /
REGCHAIN_TIME_UNIT_MS / REGCHAIN_PROFILE set.

`ape run migrate` without a deployment record stops with one line saying how to deploy;
`ape run deploy` refuses to deploy a new suite without --new; with --new and a roles file
it deploys, grants the registrar role and deploys the multicall; the calendar is
published (`ape run ops calendar publish`, through regchain.writer); `ape run migrate --account <alias>` migrates the
sample and reconciles; run again, it sends nothing."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest
from eth_account import Account

from regchain import calendar as cal
from regchain.abi import SuiteAbi
from regchain.testing.backends import AnvilBackend
from regchain.legacy import synth
from regchain.networks import profile as get_profile
from regchain.rpc import Rpc

from regchain.testing.consortium_node import ConsortiumNode

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "deployments" / "consortium.json"
SECRET = "consortium-operator-secret-0123456789"
ALIAS = "operator"


@pytest.fixture(scope="module", params=["fisco-bcos-3", "besu-qbft"])
def operator(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"operator-{request.param}")
    if RECORD.exists():
        pytest.skip(f"{RECORD} exists (someone's consortium record): not overwriting it")
    node = ConsortiumNode(request.param).start()
    key = "0x" + secrets.token_hex(32)
    (tmp / "ape" / "accounts").mkdir(parents=True)
    (tmp / "ape" / "accounts" / f"{ALIAS}.json").write_text(json.dumps(Account.encrypt(key, "pass-phrase")))
    address = Account.from_key(key).address
    roles = tmp / "roles.yaml"
    roles.write_text(f"registrar: {address}\n")
    env = {**os.environ, "APE_DATA_FOLDER": str(tmp / "ape"), f"APE_ACCOUNTS_{ALIAS}_PASSPHRASE": "pass-phrase",
           "REGCHAIN_RPC_URI": node.uri, "REGCHAIN_CHAIN_ID": str(node.chain_id),
           "REGCHAIN_TIME_UNIT_MS": "1" if node.ms else "0", "REGCHAIN_PROFILE": request.param,
           "REGCHAIN_OPERATOR_SECRET": SECRET, "PYTHONPATH": str(ROOT / "src")}
    yield node, key, roles, env, tmp
    node.stop()
    RECORD.unlink(missing_ok=True)


def _ape(env, *args):
    return subprocess.run(["ape", "run", *args, "--network", "ethereum:consortium:node"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def _ops(env, *args):
    return subprocess.run(["ape", "run", "ops", "--network", "ethereum:consortium:node", "--account", ALIAS, "--yes",
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def _last_line(done) -> str:
    lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.startswith(("Error:", "ERROR:"))]
    return lines[-1] if lines else ""


def test_operator_path__deploy_with_roles__calendar__migrate__rerun_sends_nothing(operator):
    node, key, roles, env, tmp = operator
    export = tmp / "export"
    rpc = Rpc(node.anvil_uri)
    today_guess = int(rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
    today_guess = (today_guess // (1000 if node.ms else 1) + 8 * 3600) // 86400
    synth.write_export(synth.generate(seed=5, securities=4, dirty=0.2, as_of=cal.date_of(today_guess),
                                      encoding="gbk", headers="zh"), export, encoding="gbk", headers="zh")

    # without a record, migrate stops with one line saying how to deploy
    done = _ape(env, "migrate", "--account", ALIAS, "--source", str(export), "--report", str(tmp / "r.json"))
    assert done.returncode != 0
    assert _last_line(done) == (
        "Error: no suite recorded for 'consortium' (deployments/consortium.json): deploy it first with "
        "`ape run deploy --network ethereum:consortium:node --account <alias> --roles <roles file> --new`")
    assert not RECORD.exists() and node.calls.get("eth_sendRawTransaction", 0) == 0

    # deploy refuses to make a new suite unless told
    done = _ape(env, "deploy", "--account", ALIAS, "--roles", str(roles))
    assert done.returncode != 0 and "pass --new to do so" in _last_line(done)
    done = _ape(env, "deploy", "--account", ALIAS, "--roles", str(roles), "--new")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads(RECORD.read_text())
    assert record["time_unit_ms"] is node.ms and record["multicall"]
    register = record["register"]

    # the calendar, as the operator publishes it (ops: regchain.provision.ensure_calendar, through the writer)
    done = subprocess.run(["ape", "run", "ops", "--network", "ethereum:consortium:node", "--account", ALIAS,
                           "--yes", "calendar", "publish", "--provisional"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "calendar published" in done.stdout
    prof = get_profile(node.profile)
    reader = AnvilBackend(node.uri, register, SuiteAbi.from_suite(), gas_price=0)
    reader.rpc.batches = prof.batches
    assert reader.call("horizon_day") >= reader.call("today") + 366

    report = tmp / "report.json"
    done = _ape(env, "migrate", "--account", ALIAS, "--source", str(export), "--report", str(report))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert ", 0 mismatches" in done.stdout
    data = json.loads(report.read_text())
    assert data["reconciliation"]["mismatches"] == [] and data["reconciliation"]["checked"] > 0
    sent = node.calls["eth_sendRawTransaction"]
    again = _ape(env, "migrate", "--account", ALIAS, "--source", str(export), "--report", str(report))
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "in 0 transactions" in again.stdout
    assert node.calls["eth_sendRawTransaction"] == sent

    # ops writes as the operator signs them: accounts, a security, a transfer and a pledge offer
    before = dict(node.calls)
    operator = Account.from_key(key).address
    receiver = Account.create().address
    for who in (operator, receiver):
        done = _ops(env, "account", "open", who, "--identity", "0x" + secrets.token_hex(32))
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    holdings = tmp / "ops-holdings.csv"
    holdings.write_text(f"holder,units,acquired\n{operator},1000,2020-01-02\n")
    done = _ops(env, "security", "register", "OPS-C1", "--kind", "jsc", "--holdings", str(holdings))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    done = _ops(env, "--json", "transfer", receiver, "OPS-C1", "10")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    sent = json.loads(done.stdout)["transactions"]
    assert [t["function"] for t in sent] == ["transfer"]
    assert [(e["event"], e["sender"], e["receiver"], e["amount"]) for e in sent[0]["events"]
            if e["event"] == "Transfer"] == [("Transfer", operator, receiver, 10)]
    done = _ops(env, "pledge", "offer", "OPS-C1", receiver, "5")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "PledgeOffered" in done.stdout
    refused = _ops(env, "transfer", receiver, "OPS-C1", "10000")  # more than the operator holds
    assert refused.returncode != 0 and _last_line(refused).startswith("Error: refused: ")
    ops_calls = {m: n - before.get(m, 0) for m, n in node.calls.items() if n != before.get(m, 0)}
    assert ops_calls.get("eth_sendRawTransaction") == 7, ops_calls  # 2 accounts, 3 for the security, transfer, pledge
    assert {m: ops_calls.get(m, 0) for m in ("eth_gasPrice", "eth_estimateGas", "eth_sendTransaction")} == \
        {"eth_gasPrice": 0, "eth_estimateGas": 0, "eth_sendTransaction": 0}

    assert [m for m in node.calls if m.startswith(("anvil_", "evm_", "txpool_"))] == []
    # deploy, the grants, the migration and ops all went through regchain.writer
    assert node.calls.get("eth_estimateGas", 0) == 0 and node.calls.get("eth_gasPrice", 0) == 0
    assert node.calls.get("eth_sendTransaction", 0) == 0
