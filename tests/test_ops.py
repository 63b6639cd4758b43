"""The operator commands (scripts/ops.py) and the audit command (scripts/audit.py), run through
click's CliRunner in the test process (they reuse its connected provider)."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from click.testing import CliRunner
from eth_utils import keccak

from regchain import calendar as cal
from regchain import migrate
from regchain.constants import Kind

from conftest import script_cli, script_module

SECRET = "ops-test-operator-secret-0123456789"


def _script(name):
    return script_cli(name, "ops")


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    """ops(register, signer or None, *args); the indexer's checkpoint goes to a temporary file."""
    import os

    os.environ["REGCHAIN_INDEXER_CHECKPOINT"] = str(tmp_path_factory.mktemp("idx") / "indexer.json")
    os.environ["REGCHAIN_OPERATOR_SECRET"] = SECRET
    cli = _script("ops")

    def _run(register, account, *args, yes=True):
        base = ["--register", register.address] + (["--account", account.address] if account else [])
        return CliRunner().invoke(cli, base + (["--yes"] if yes else []) + [str(a) for a in args],
                                  catch_exceptions=False)

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
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"will send suspend_account(wallet={alice.address}, doc=0x")
    assert lines[1:] == ["Error: refused: roles: caller is not account manager"]


def test_commands__open_register_transfer_pledge_freeze__and_show(ops, register, registrar, court, alice, bob,
                                                                   carol, tmp_path):
    for who, passport in ((alice, "E1234567A"), (bob, "E7654321B")):
        opened = ops(register, registrar, "account", "open", who.address, "--id-type", "PASSPORT",
                     "--id-number", passport)
        assert opened.exit_code == 0, opened.output
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
    accepted = ops(register, bob, "pledge", "accept", pid)
    assert accepted.exit_code == 0, accepted.output
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


# ---------------------------------------------------------------- identifiers, units, confirmation, --json


def test_account_open__identity__the_migrations_keyed_hash_of_the_cleaned_id(ops, register, registrar, alice):
    result = ops(register, registrar, "account", "open", alice.address, "--id-type", "passport",
                 "--id-number", " e1234567a ")

    assert result.exit_code == 0, result.output
    want = migrate.Identities(SECRET.encode()).identity_hash("PASSPORT:E1234567A")
    assert register.account_of(alice).identity == want
    assert "AccountOpened" in result.output  # the decoded event


@pytest.mark.parametrize("args,message", [
    (["--identity", "id-a"], "--identity 'id-a' is not a hash (0x and 64 hex digits); give --id-type and "
                             "--id-number to have it computed"),
    (["--id-type", "RESIDENT_ID", "--id-number", "110105194912310021"],
     "resident id '110105194912310021': check character should be"),
    ([], "give --id-type and --id-number (or --identity 0x...)"),
], ids=["bare-text", "bad-check-char", "none"])
def test_account_open__bad_identity__one_line_nothing_sent(ops, register, registrar, alice, args, message):
    result = ops(register, registrar, "account", "open", alice.address, *args)

    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert message in result.output
    assert register.account_of(alice).status == 0


def test_write__no_yes_and_no_terminal__not_sent(ops, register, registrar, alice):
    result = ops(register, registrar, "account", "open", alice.address, "--id-type", "PASSPORT",
                 "--id-number", "E1234567A", yes=False)

    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "Error: not sent: confirm with --yes (no terminal to ask on)"
    assert register.account_of(alice).status == 0


def test_json__transactions_and_decoded_events(ops, register, registrar, alice):
    result = ops(register, registrar, "--json", "account", "open", alice.address, "--id-type", "PASSPORT",
                 "--id-number", "E1234567A")

    assert result.exit_code == 0, result.output
    doc_ = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc_["ok"] is True and len(doc_["transactions"]) == 1
    events = doc_["transactions"][0]["events"]
    assert [e["event"] for e in events] == ["AccountOpened"]
    assert events[0]["wallet"] == alice.address and events[0]["qualified"] is True


def test_transfer__by_code_and_decimal_amount_in_the_securitys_unit(ops, register, registrar, alice, bob,
                                                                    open_account, tmp_path):
    open_account(alice)
    open_account(bob)
    holdings = tmp_path / "h.csv"
    holdings.write_text(f"holder,units,acquired\n{alice.address},1000,2020-01-02\n")
    made = ops(register, registrar, "security", "register", "OPS-DEC", "--kind", "jsc", "--scale", 2,
               "--holdings", holdings)
    assert made.exit_code == 0, made.output
    sid = register.security_count()

    result = ops(register, alice, "transfer", bob.address, "ops-dec", "1.50")

    assert result.exit_code == 0, result.output
    assert register.balanceOf(bob, sid) == 150
    too_fine = ops(register, alice, "transfer", bob.address, "OPS-DEC", "0.001")
    assert too_fine.exit_code == 1
    assert too_fine.output.strip() == "Error: amount: amount '0.001' has more decimals than unit_scale 2"


def test_freeze_add__bad_expiry__one_line_before_connecting(ops, register, court, alice):
    result = ops(register, court, "freeze", "add", alice.address, "#1", "10", "--case", "(2026)京01执1号",
                 "--expiry", "2026-02-30")

    assert result.exit_code == 1
    assert result.output.strip() == "Error: '2026-02-30' is neither a date (YYYY-MM-DD) nor a day number"


def test_security_arg__unknown_code__one_line(ops, register, alice, bob):
    result = ops(register, alice, "transfer", bob.address, "NO-SUCH-CODE", "1")

    assert result.exit_code == 1
    assert result.output.strip() == "Error: no security 'NO-SUCH-CODE' on this register (a code, or #id)"


# ---------------------------------------------------------------- the business commands (from the ABI)

ZERO = "0x0000000000000000000000000000000000000000"


def test_business_commands__seal_capital_lockup_instruction_pause__through_ops(ops, register, registrar, governance,
                                                                               alice, bob, open_account, tmp_path):
    open_account(alice)
    open_account(bob)
    holdings = tmp_path / "h.csv"
    holdings.write_text(f"holder,units,acquired\n{alice.address},100.5,2020-01-02\n")
    made = ops(register, registrar, "security", "register", "BIZ-1", "--kind", "jsc", "--scale", 1,
               "--holdings", holdings, "--no-seal")
    assert made.exit_code == 0, made.output
    sid = register.security_count()
    assert register.security(sid).status == 1  # PENDING

    sealed = ops(register, registrar, "security", "seal", "BIZ-1", "--doc", "seal minutes")
    assert sealed.exit_code == 0, sealed.output
    assert register.security(sid).status == 2 and "SecuritySealed" in sealed.output

    batch = tmp_path / "increase.csv"
    batch.write_text(f"holder,units,paid\n{bob.address},20,20\n")
    inc = ops(register, registrar, "capital", "increase", "BIZ-1", batch, "--doc", "shareholders' resolution")
    assert inc.exit_code == 0, inc.output
    assert register.balanceOf(bob, sid) == 200 and register.totalSupply(sid) == 1205

    lock = ops(register, registrar, "security", "lockup", alice.address, "BIZ-1", "2030-01-01")
    assert lock.exit_code == 0, lock.output
    assert register.holding(alice, sid).lock_until_day == cal.day_number(dt.date(2030, 1, 1))
    assert ops(register, registrar, "security", "lockup", alice.address, "BIZ-1", "0").exit_code == 0

    proposed = ops(register, alice, "instruction", "propose", bob.address, "BIZ-1", "1.5", 0, ZERO,
                   "--doc", "share transfer agreement")
    assert proposed.exit_code == 0, proposed.output
    iid = register.instruction_count()
    assert "InstructionProposed" in proposed.output
    assert ops(register, bob, "instruction", "accept", iid).exit_code == 0
    settled = ops(register, registrar, "instruction", "settle", iid, "--doc", "settled")
    assert settled.exit_code == 0, settled.output
    assert register.balanceOf(bob, sid) == 215

    paused = ops(register, governance, "governance", "pause", "--doc", "board decision")
    assert paused.exit_code == 0 and register.paused()
    refused = ops(register, alice, "holder", "approve", bob.address, "BIZ-1", "1")
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines()[-1].startswith("Error: refused: ")
    assert ops(register, governance, "governance", "unpause").exit_code == 0


def test_business_commands__bad_input__one_line_before_connecting(ops, register, registrar, alice):
    bad_day = ops(register, registrar, "security", "lockup", alice.address, "#1", "2030-02-30")
    bad_addr = ops(register, registrar, "security", "lockup", "0x123", "#1", "2030-01-01")
    bad_role = ops(register, registrar, "security", "role-grant", "#1", alice.address, "CEO")

    assert bad_day.output.strip() == "Error: '2030-02-30' is neither a date (YYYY-MM-DD) nor a day number"
    assert bad_addr.output.strip() == "Error: '0x123' is not an address"
    assert bad_role.output.strip() == "Error: unknown security role 'CEO'; one of ISSUER_AGENT, FUND_MANAGER"
    assert {r.exit_code for r in (bad_day, bad_addr, bad_role)} == {1}


def test_business_commands__every_state_changing_function_has_a_command():
    """Every function that changes state has a command, except the migration's bulk imports."""
    ops_module = script_module("ops", "ops_all")
    from regchain.suite import suite_contract_type

    covered = {fn for _, _, fn, _ in ops_module.BUSINESS} | {
        "transfer", "grant_role", "revoke_role", "publish_calendar", "amend_calendar", "open_account",
        "suspend_account", "reactivate_account", "close_account", "set_qualified", "register_security",
        "register_holdings", "set_security_status", "offer_pledge", "accept_pledge", "release_pledge",
        "enforce_pledge", "freeze", "lift_freeze", "renew_freeze", "court_transfer"}
    bulk = {"open_accounts", "register_holdings_many", "import_pledges", "import_freezes"}  # the migration's
    functions = {m.name for m in suite_contract_type().mutable_methods}
    assert functions - covered - bulk == set()


def test_business_commands__dvp_settlement__cash_to_the_seller_units_to_the_buyer(ops, register, governance,
                                                                                  registrar, alice, bob,
                                                                                  open_account, new_security,
                                                                                  project):
    open_account(alice)
    open_account(bob)
    sid = new_security([(alice, 1_000)])
    token = governance.deploy(project.CashToken)
    accepted = ops(register, governance, "cash", "token", token.address, "yes", "--doc", "cash token approved")
    assert accepted.exit_code == 0, accepted.output
    token.mint(bob, 5_000, sender=bob)
    token.approve(register, 5_000, sender=bob)  # the buyer's approval is on the cash token, not the register

    proposed = ops(register, alice, "instruction", "propose", bob.address, f"#{sid}", "100", "5000", token.address)
    assert proposed.exit_code == 0, proposed.output
    iid = register.instruction_count()
    assert ops(register, bob, "instruction", "accept", iid).exit_code == 0
    assert token.balanceOf(register) == 5_000
    settled = ops(register, registrar, "--json", "instruction", "settle", iid)

    assert settled.exit_code == 0, settled.output
    assert register.balanceOf(bob, sid) == 100 and token.balanceOf(alice) == 5_000
    events = json.loads(settled.stdout.strip().splitlines()[-1])["transactions"][0]["events"]
    settled_events = [e for e in events if e["event"] == "InstructionSettled"]
    assert len(settled_events) == 1
    assert (settled_events[0]["receiver"], settled_events[0]["units"], settled_events[0]["paid"]) == \
        (bob.address, 100, 5_000)


def test_for_custody_holder__operator_signs_with_the_written_instruction_as_document(ops, register, registrar, bank,
                                                                                      open_account, new_security):
    identity = "PASSPORT:E7777777"
    custody = migrate.Identities(SECRET.encode()).custody_address(identity)
    opened = ops(register, registrar, "account", "open", custody, "--id-type", "PASSPORT", "--id-number", "E7777777")
    assert opened.exit_code == 0, opened.output
    open_account(bank)
    sid = new_security([(custody, 1_000)])

    result = ops(register, None, "--for", "passport:e7777777", "--instruction", "holder's letter of 2026-12-01",
                 "pledge", "offer", f"#{sid}", bank.address, "300", "--doc", "ignored")

    assert result.exit_code == 0, result.output
    pid = register.pledge_count()
    p = register.pledge_of(pid)
    assert (p.pledgor, p.pledgee, p.units) == (custody, bank.address, 300)
    assert p.doc == keccak(text="holder's letter of 2026-12-01")


def test_for_custody_holder__function_without_document__refused(ops, register, registrar, bob, open_account,
                                                                 new_security):
    identity = "PASSPORT:E7777777"
    custody = migrate.Identities(SECRET.encode()).custody_address(identity)
    open_account(custody)
    open_account(bob)
    sid = new_security([(custody, 1_000)])

    result = ops(register, None, "--for", identity, "--instruction", "letter", "transfer", bob.address, f"#{sid}", "1")

    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: transfer records no document: for a custody holder use a command that does (a transfer: "
        "`instruction propose`)")
    assert register.balanceOf(bob, sid) == 0


def test_for_custody_holder__without_instruction__refused():
    cli = _script("ops")

    result = CliRunner().invoke(cli, ["--for", "PASSPORT:E7777777", "--yes", "pledge", "accept", "1"])

    assert result.exit_code == 1
    assert result.output.strip() == "Error: --for needs --instruction: the holder's written instruction"
