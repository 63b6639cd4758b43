"""What the pause stops (issue 12; docs/pause-and-escrow.md): every state change of the
suite except governance's own (the switch, roles, the hand-over, the cash-token list) and
handing back money already owed (claim_refund, reclaim_lapsed).

The decision table names every state-changing function of the suite's ABI, so a function
added without a pause decision fails the first test. Each stopped function is called, with
arguments that work, while paused (it reverts "<module>: paused") and again after unpause
(it goes through: the pause, not the arguments, stopped it). Each function that runs
while paused is called while paused and goes through."""

from __future__ import annotations

import ape
import pytest

from conftest import doc
from regchain.constants import NOTICE_DAYS, InvestorClass, Kind, Role, SecurityRole, holding_words

FRESH = "0x00000000000000000000000000000000000F4E52"  # an address with no account
ZERO = "0x0000000000000000000000000000000000000000"
PRICE = 1_000
D = doc("pause table")

# function -> the revert while paused, or RUNS (it runs while paused)
RUNS = None
DECISION = {
    # governance's own
    "transfer_governance": RUNS, "accept_governance": RUNS, "grant_role": RUNS, "revoke_role": RUNS,
    "grant_security_role": RUNS, "revoke_security_role": RUNS, "unpause": RUNS, "set_cash_token": RUNS,
    "pause": "calendar: already paused",
    # money already owed, handed back
    "claim_refund": RUNS, "reclaim_lapsed": RUNS,
    # everything else stops
    "transfer": "ledger: paused", "transferFrom": "ledger: paused", "approve": "ledger: paused",
    "setOperator": "ledger: paused",
    "publish_calendar": "calendar: paused", "amend_calendar": "calendar: paused",
    "open_account": "accounts: paused", "open_accounts": "accounts: paused", "suspend_account": "accounts: paused",
    "reactivate_account": "accounts: paused", "close_account": "accounts: paused", "set_qualified": "accounts: paused",
    "register_security": "registration: paused", "register_holdings": "registration: paused",
    "register_holdings_many": "registration: paused", "seal_security": "registration: paused",
    "set_security_status": "corporate_actions: paused", "increase_capital": "corporate_actions: paused",
    "increase_capital_waived": "corporate_actions: paused", "consent_enforcement": "pledges: paused",
    "decrease_capital": "corporate_actions: paused", "record_paid_in": "corporate_actions: paused", "set_lockup": "corporate_actions: paused",
    "set_insider": "corporate_actions: paused", "set_register_closure": "corporate_actions: paused",
    "set_transfer_terms": "corporate_actions: paused", "recover": "recovery: paused",
    "offer_pledge": "pledges: paused", "register_pledge": "pledges: paused",
    "cancel_pledge_offer": "pledges: paused", "accept_pledge": "pledges: paused",
    "release_pledge": "pledges: paused", "enforce_pledge": "ledger: paused",
    "consent_pledged_transfer": "pledges: paused", "transfer_pledged": "ledger: paused",
    "import_pledges": "pledges: paused",
    "freeze": "freezes: paused", "lift_freeze": "freezes: paused", "renew_freeze": "freezes: paused",
    "tidy_freezes": "freezes: paused", "court_transfer": "ledger: paused", "import_freezes": "freezes: paused",
    "propose_transfer": "instructions: paused", "propose_court_sale": "instructions: paused",
    "accept_transfer": "instructions: paused", "consent_transfer": "instructions: paused",
    "reject_transfer": "instructions: paused", "withdraw_transfer": "instructions: paused",
    "exercise_first_refusal": "instructions: paused", "settle_transfer": "instructions: paused",
    "list_units": "auctions: paused", "consent_listing": "auctions: paused", "bid": "auctions: paused",
    "close_listing": "auctions: paused", "withdraw_listing": "auctions: paused",
}


@pytest.fixture(scope="module")
def world(register, governance, registrar, court, issuer_agent, alice, bob, carol, dave, outsider,
          open_account, new_security, project, today):
    """alice and bob hold a JSC and an LLC; a fund with its manager; two PENDING
    securities (one empty, one holding its declared total); carol is a bank; dave and
    outsider hold nothing; a cash token everyone holds and has approved."""
    for who in (alice, bob, carol, dave):
        open_account(who, investor_class=InvestorClass.INSTITUTION)
    open_account(outsider)
    w = {
        "jsc": new_security([(alice, 1_000), (bob, 1_000)]),
        "llc": new_security([(alice, 600, 300), (bob, 300)], kind=Kind.LLC),
        "fund": new_security([(alice, 5_000), (bob, 5_000)], kind=Kind.LP_FUND),
        "empty": new_security([], seal=False, declared_total=10),
        "full": new_security([(bob, 10)], seal=False),
        "today": today,
    }
    register.set_transfer_terms(w["fund"], False, True, 1_000, D, sender=registrar)
    register.grant_security_role(w["fund"], issuer_agent, SecurityRole.FUND_MANAGER, D, sender=governance)
    cash = governance.deploy(project.CashToken)
    register.set_cash_token(cash, True, D, sender=governance)
    for who in (alice, bob, carol, dave, outsider):
        cash.mint(who, 10 * PRICE, sender=who)
        cash.approve(register, 2**256 - 1, sender=who)
    w["cash"] = cash
    return w


def _last(register, counter: str) -> int:
    return int(getattr(register, counter)())


def _prepare(fn, r, w, a, advance_days):
    """(caller, args) of a call to `fn` that succeeds when the register is not paused;
    sets up the state it needs first."""
    jsc, llc, fund, cash, today = w["jsc"], w["llc"], w["fund"], w["cash"], w["today"]
    alice, bob, bank, dave, outsider = a["alice"], a["bob"], a["carol"], a["dave"], a["outsider"]
    gov, registrar, court, agent = a["governance"], a["registrar"], a["court"], a["issuer_agent"]

    def offer(accept=False):
        r.offer_pledge(jsc, bank, 10, D, sender=alice)
        pid = _last(r, "pledge_count")
        if accept:
            r.accept_pledge(pid, D, sender=bank)
        return pid

    def frozen():
        r.freeze(alice, jsc, 100, D, today + 30, D, sender=court)
        return _last(r, "freeze_count")

    def proposed(sid=jsc, buyer=dave, token=cash, accept=False):
        r.propose_transfer(buyer, sid, 5 if sid != fund else 2_000, PRICE, token, D, sender=alice)
        iid = _last(r, "instruction_count")
        if accept:
            r.accept_transfer(iid, D, sender=buyer)
        return iid

    def listed(sid=jsc, end=today + 2):
        r.list_units(sid, 10 if sid != fund else 2_000, 100, cash, end, D, sender=alice)
        return _last(r, "listing_count")

    if fn in ("transfer", "approve"):
        return alice, (bob, jsc, 1)
    if fn == "transferFrom":
        return alice, (alice, bob, jsc, 1)
    if fn == "setOperator":
        return alice, (bob, True)
    if fn == "transfer_governance":
        return gov, (alice, D)
    if fn == "accept_governance":
        r.transfer_governance(alice, D, sender=gov)
        return alice, (D,)
    if fn == "grant_role":
        return gov, (dave, Role.ACCOUNT_MANAGER, D)
    if fn == "revoke_role":
        return gov, (registrar, Role.ACCOUNT_MANAGER, D)
    if fn == "grant_security_role":
        return gov, (jsc, dave, SecurityRole.ISSUER_AGENT, D)
    if fn == "revoke_security_role":
        return gov, (jsc, agent, SecurityRole.ISSUER_AGENT, D)
    if fn in ("pause", "unpause"):
        return gov, (D,)
    if fn == "set_cash_token":
        return gov, (cash, False, D)
    if fn == "publish_calendar":
        return registrar, (r.horizon_day() + 1, r.horizon_day() + 1, [], D)
    if fn == "amend_calendar":
        return registrar, (today + 3, not r.is_trading_day(today + 3), D)
    if fn == "open_account":
        return registrar, (FRESH, D, int(InvestorClass.INDIVIDUAL), True, D)
    if fn == "open_accounts":
        return registrar, ([(FRESH, D, int(InvestorClass.INDIVIDUAL), True)], D)
    if fn == "suspend_account":
        return registrar, (alice, D)
    if fn == "reactivate_account":
        r.suspend_account(alice, D, sender=registrar)
        return registrar, (alice, D)
    if fn == "close_account":
        return registrar, (dave, D)
    if fn == "set_qualified":
        return registrar, (alice, False, D)
    if fn == "register_security":
        return registrar, (doc("pause table code"), int(Kind.JSC), 0, 10, D)
    if fn == "register_holdings":
        return registrar, (w["empty"], [(alice.address, 10, 10, today, 0, False)], D)
    if fn == "register_holdings_many":
        return registrar, ([holding_words(w["empty"], alice.address, 10, 10, today)], D)
    if fn == "seal_security":
        return registrar, (w["full"], D)
    if fn == "set_security_status":
        return registrar, (jsc, 3, D)
    if fn == "increase_capital":
        return registrar, (jsc, [(alice.address, 10, 10)], D)
    if fn == "increase_capital_waived":
        return registrar, (llc, [(dave.address, 10, 10)], doc("waiver"), D)
    if fn == "decrease_capital":
        return registrar, (jsc, [(alice.address, 10)], D)
    if fn == "record_paid_in":
        return registrar, (alice, llc, 400, D)
    if fn == "set_lockup":
        return registrar, (alice, jsc, today + 5, D)
    if fn == "set_insider":
        return agent, (alice, jsc, True, D)
    if fn == "set_register_closure":
        return agent, (jsc, today + 30, today + 40, D)
    if fn == "set_transfer_terms":
        return registrar, (llc, False, False, 0, D)
    if fn == "recover":
        return registrar, (alice, FRESH, [jsc, llc], D)
    if fn == "offer_pledge":
        return alice, (jsc, bank, 10, D)
    if fn == "register_pledge":
        return registrar, (alice, bank, jsc, 10, D)
    if fn == "cancel_pledge_offer":
        return alice, (offer(), D)
    if fn == "accept_pledge":
        return bank, (offer(), D)
    if fn == "release_pledge":
        return bank, (offer(accept=True), 10, D)
    if fn == "enforce_pledge":
        return bank, (offer(accept=True), bob, 10, D)
    if fn == "consent_pledged_transfer":
        return bank, (offer(accept=True), bob, 10, D)
    if fn == "consent_enforcement":  # the fund manager's consent to a pledge of fund units
        r.offer_pledge(fund, bank, 2_000, D, sender=alice)
        pid = _last(r, "pledge_count")
        r.accept_pledge(pid, D, sender=bank)
        return agent, (pid, bank, 2_000, D)
    if fn == "transfer_pledged":
        pid = offer(accept=True)
        r.consent_pledged_transfer(pid, bob, 10, D, sender=bank)
        return alice, (pid, D)
    if fn == "import_pledges":
        return registrar, (w["full"], [(bob.address, bank.address, 5, 1_600_000_000)], D)
    if fn == "freeze":
        return court, (alice, jsc, 100, D, today + 30, D)
    if fn == "lift_freeze":
        return court, (frozen(), D)
    if fn == "renew_freeze":
        return court, (frozen(), today + 60, D)
    if fn == "tidy_freezes":  # a freeze that has lapsed
        r.freeze(alice, jsc, 100, D, today + 1, D, sender=court)
        advance_days(2)
        return outsider, (alice, jsc)
    if fn == "court_transfer":
        return court, (frozen(), bob, 10, D)
    if fn == "import_freezes":
        return registrar, (w["full"], [(bob.address, 5, D, 1_600_000_000, today + 30)], D)
    if fn == "propose_transfer":
        return alice, (dave, jsc, 5, PRICE, cash, D)
    if fn == "propose_court_sale":
        return court, (alice, dave, jsc, 5, PRICE, ZERO, D)
    if fn == "accept_transfer":
        return dave, (proposed(), D)
    if fn in ("consent_transfer", "reject_transfer"):
        return agent, (proposed(sid=fund), D)
    if fn == "withdraw_transfer":
        return alice, (proposed(), D)
    if fn == "exercise_first_refusal":
        return bob, (proposed(sid=llc), D)
    if fn == "settle_transfer":
        return alice, (proposed(accept=True), D)
    if fn == "claim_refund":
        iid = proposed(accept=True)
        r.withdraw_transfer(iid, D, sender=alice)
        return dave, (cash, D)
    if fn == "reclaim_lapsed":
        iid = proposed(accept=True)
        advance_days(r.instruction_of(iid).expiry_day - r.today() + 1)
        return outsider, (iid, D)
    if fn == "list_units":
        return alice, (jsc, 10, 100, cash, today + 2, D)
    if fn == "consent_listing":
        return agent, (listed(sid=fund), D)
    if fn == "bid":
        return dave, (listed(), 150, D)
    if fn == "close_listing":
        lid = listed()
        r.bid(lid, 150, D, sender=dave)
        advance_days(3)
        return outsider, (lid, D)
    if fn == "withdraw_listing":
        return alice, (listed(), D)
    raise AssertionError(f"no call prepared for {fn}")


@pytest.fixture
def actors(request):
    names = ("governance", "registrar", "court", "issuer_agent", "alice", "bob", "carol", "dave", "outsider")
    return {n: request.getfixturevalue(n) for n in names}


def test_pause__decision_table_names_every_state_changing_function(register):
    mutating = {
        item.name for item in register.contract_type.abi
        if item.type == "function" and item.stateMutability not in ("view", "pure")
    }
    assert mutating == set(DECISION)


STOPPED = sorted(f for f, reason in DECISION.items() if reason is not RUNS and f != "pause")
RUNNING = sorted(f for f, reason in DECISION.items() if reason is RUNS)


@pytest.mark.parametrize("fn", STOPPED)
def test_pause__stops(register, governance, world, actors, advance_days, fn):
    caller, args = _prepare(fn, register, world, actors, advance_days)
    register.pause(doc("halt"), sender=governance)

    with ape.reverts(DECISION[fn]):
        getattr(register, fn)(*args, sender=caller)

    register.unpause(doc("resume"), sender=governance)
    assert not getattr(register, fn)(*args, sender=caller).failed


@pytest.mark.parametrize("fn", RUNNING)
def test_pause__runs(register, governance, world, actors, advance_days, fn):
    caller, args = _prepare(fn, register, world, actors, advance_days)
    if not register.paused():
        register.pause(doc("halt"), sender=governance)

    assert not getattr(register, fn)(*args, sender=caller).failed


def test_pause__while_paused__reverts(register, governance):
    register.pause(doc("halt"), sender=governance)

    with ape.reverts(DECISION["pause"]):
        register.pause(doc("halt"), sender=governance)
