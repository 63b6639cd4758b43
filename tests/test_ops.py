"""The operator commands (scripts/ops.py) and the audit command (scripts/audit.py), run through
click's CliRunner in the test process (they reuse its connected provider)."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from regchain.constants import Kind

ROOT = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(f"regchain_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cli


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    """ops(register, signer or None, *args); the indexer's checkpoint goes to a temporary file."""
    import os

    os.environ["REGCHAIN_INDEXER_CHECKPOINT"] = str(tmp_path_factory.mktemp("idx") / "indexer.json")
    cli = _script("ops")

    def _run(register, account, *args):
        base = ["--register", register.address] + (["--account", account.address] if account else [])
        return CliRunner().invoke(cli, base + [str(a) for a in args], catch_exceptions=False)

    return _run


def test_transfer__refused__prints_the_reason_and_exits_nonzero(ops, register, alice, bob, open_account,
                                                                new_security):
    open_account(alice)
    open_account(bob)
    sid = new_security([(alice, 1000)], lock_until_day=register.today() + 10)
    result = ops(register, alice, "transfer", bob.address, sid, 10)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: refused: ledger: holding locked up"]
    assert register.balanceOf(bob, sid) == 0


def test_action__reverted__prints_the_contract_reason(ops, register, alice, open_account):
    open_account(alice)
    result = ops(register, alice, "account", "suspend", alice.address)  # alice is no account manager
    assert result.exit_code == 1
    assert result.output.strip() == "Error: refused: roles: caller is not account manager"


def test_commands__open_register_transfer_pledge_freeze__and_show(ops, register, registrar, court, alice, bob,
                                                                   carol, tmp_path):
    assert ops(register, registrar, "account", "open", alice.address, "--identity", "id-a").exit_code == 0
    assert ops(register, registrar, "account", "open", bob.address, "--identity", "id-b").exit_code == 0
    holdings = tmp_path / "holdings.csv"
    holdings.write_text(f"holder,units,acquired\n{alice.address},700,2020-01-02\n{bob.address},300,2020-01-02\n")
    result = ops(register, registrar, "security", "register", "OPS-1", "--kind", "jsc", "--holdings", holdings)
    assert result.exit_code == 0, result.output
    sid = register.security_count()
    assert register.security(sid).kind == Kind.JSC and register.totalSupply(sid) == 1000

    assert ops(register, alice, "transfer", bob.address, sid, 100).exit_code == 0
    assert register.balanceOf(bob, sid) == 400
    refused = ops(register, alice, "transfer", carol.address, sid, 10)  # carol has no account
    assert refused.exit_code == 1 and "ledger: receiver account not active" in refused.output

    assert ops(register, alice, "pledge", "offer", sid, bob.address, 50).exit_code == 0
    pid = register.pledge_count()
    assert ops(register, bob, "pledge", "accept", pid).exit_code == 0
    assert register.pledged_balance_of(alice, sid) == 50
    expiry = register.today() + 30
    out = ops(register, court, "freeze", "add", alice.address, sid, 100, "--case", "(2026)京01执1号",
              "--expiry", expiry)
    assert out.exit_code == 0 and "in force" in out.output
    fid = register.freeze_count()
    assert ops(register, court, "freeze", "renew", fid, expiry + 10).exit_code == 0
    assert ops(register, court, "freeze", "lift", fid).exit_code == 0

    table = tmp_path / "cap.csv"
    shown = ops(register, None, "show", "cap-table", sid, "--csv", table)
    assert shown.exit_code == 0, shown.output
    rows = list(csv.DictReader(table.open()))
    assert {r["holder"]: int(r["units"]) for r in rows} == {alice.address: 600, bob.address: 400}
    assert {r["holder"]: int(r["pledged"]) for r in rows}[alice.address] == 50
    history = ops(register, None, "show", "history", alice.address, sid)
    assert history.exit_code == 0
    assert "Issued" in history.output and "Transfer" in history.output and "FreezeLifted" in history.output
    holder = ops(register, None, "show", "holder", alice.address)
    assert holder.exit_code == 0 and "pledged 50" in holder.output


def test_audit__clean_register__no_differences(register, tmp_path):
    cli = _script("audit")
    result = CliRunner().invoke(cli, ["--register", register.address, "--checkpoint", tmp_path / "c.json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0 differences" in result.output
    page = tmp_path / "s.html"
    result = CliRunner().invoke(cli, ["html", "--register", register.address, "--id", 1, "--out", page],
                                catch_exceptions=False)
    if register.security_count() >= 1:
        assert result.exit_code == 0, result.output
        assert "<svg" in page.read_text()
