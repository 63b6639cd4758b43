"""No way round the rules (issue 12): every path that moves units keeps the transfer
rules it must keep (docs/paths-and-rules.md), and the legal limits the register claims
are enforced. Each test here failed on the code before issue 12:

* a pledgee is a registered, active account of another holder (self-pledge);
* a pledgee's enforcement is a transfer: the receiver's rules, an LLC's first refusal
  (an outsider is refused: the court sells with notice), a fund's minimum and the
  manager's consent (consent_enforcement);
* a queued freeze claims free units at once: the holder can neither move nor pledge
  them while it waits;
* recovery into an address that holds anything of the security is refused;
* LLC pre-emption on capital increases (art 227), institutional-only subscribers;
* a former insider transfers nothing for six months (art 160);
* a freeze term and a renewal are at most three years; 64 freezes register on a holding;
* a fund cannot be sealed without a minimum holding (RMB 1 million by default).
"""

import ape
import pytest
from conftest import FREE, doc, events, freeze, pledge, wallet

from regchain.constants import MAX_FREEZES, InvestorClass, Kind, SecurityRole
from regchain.testing.model import months_later

NEW_KEY = "0x000000000000000000000000000000000000bEEF"
NOTICE = "ledger: transfer to an outsider needs notice"


@pytest.fixture(scope="module")
def llc(register, sid, alice, bob, new_security):
    """A sealed LLC (first refusal): alice 600 (paid 300), bob 400 (paid 100)."""
    return new_security([(alice, 600, 300), (bob, 400, 100)], kind=Kind.LLC)


@pytest.fixture(scope="module")
def institutions(register, registrar, accounts, sid):
    """Two qualified institutional accounts (addresses)."""
    who = [accounts[8].address, accounts[9].address]
    register.open_accounts([(w, doc(f"inst {w}"), int(InvestorClass.INSTITUTION), True) for w in who],
                           doc("open"), sender=registrar)
    return who


@pytest.fixture(scope="module")
def fund(register, governance, registrar, institutions, new_security):
    """A sealed LP fund with its default terms (institutions only, 1,000,000 units minimum):
    the two institutions hold 3,000,000 each."""
    return new_security([(institutions[0], 3_000_000), (institutions[1], 3_000_000)], kind=Kind.LP_FUND)


@pytest.fixture(scope="module", autouse=True)
def _module_state(sid, llc, fund):
    """Set the module fixtures up before the first test, so ape snapshots them once."""


# ---------------------------------------------------------------- self-pledge, then enforce


def test_offer_pledge__pledgee_without_account__reverts(register, alice, sid):
    with ape.reverts("pledges: pledgee account not active"):
        register.offer_pledge(sid, wallet(7, 0x12A1), 100, doc("pledge contract"), sender=alice)


def test_offer_pledge__pledgee_closed_account__reverts(register, registrar, alice, bank, sid):
    register.close_account(bank, doc("closing"), sender=registrar)
    with ape.reverts("pledges: pledgee account not active"):
        register.offer_pledge(sid, bank, 100, doc("pledge contract"), sender=alice)


def test_offer_pledge__pledgee_is_the_holders_other_address__reverts(register, registrar, alice, bob, sid):
    """Two addresses opened with one identity hash are one holder: a pledge between them
    is a self-pledge."""
    register.open_account(NEW_KEY, doc(f"id:{alice.address}"), 1, True, doc("open"), sender=registrar)
    with ape.reverts("pledges: pledgee is the pledgor"):
        register.offer_pledge(sid, NEW_KEY, 100, doc("pledge contract"), sender=alice)


def test_accept_pledge__pledgee_suspended_meanwhile__reverts(register, registrar, alice, bank, sid):
    register.offer_pledge(sid, bank, 100, doc("pledge contract"), sender=alice)
    pid = register.pledge_count()
    register.suspend_account(bank, doc("suspension"), sender=registrar)
    with ape.reverts("pledges: pledgee account not active"):
        register.accept_pledge(pid, doc("acceptance"), sender=bank)


def test_enforce_pledge__by_pledgee_to_llc_outsider__reverts(register, alice, bank, llc):
    """First refusal (art 84): an outsider gets LLC shares only after the other holders'
    notice, which a court sale gives; the pledgee alone cannot skip it."""
    pid = pledge(register, alice, bank, llc, 100)
    with ape.reverts(NOTICE):
        register.enforce_pledge(pid, bank, 100, doc("default"), sender=bank)
    assert register.pledged_balance_of(alice, llc) == 100


def test_enforce_pledge__by_pledgee_to_llc_shareholder(register, alice, bob, bank, llc):
    pid = pledge(register, alice, bank, llc, 100)
    register.enforce_pledge(pid, bob, 100, doc("default"), sender=bank)
    assert register.balanceOf(bob, llc) == 500


def test_enforce_pledge__by_pledgee_of_fund_without_manager_consent__reverts(register, institutions, fund):
    a, b = institutions
    pid = pledge(register, a, b, fund, 1_000_000)
    with ape.reverts("ledger: fund transfer needs the manager's consent"):
        register.enforce_pledge(pid, b, 1_000_000, doc("default"), sender=b)


def test_enforce_pledge__by_pledgee_of_fund_with_manager_consent(
    register, governance, issuer_agent, institutions, fund
):
    a, b = institutions
    register.grant_security_role(fund, issuer_agent, SecurityRole.FUND_MANAGER, doc("manager"), sender=governance)
    pid = pledge(register, a, b, fund, 1_000_000)
    receipt = register.consent_enforcement(pid, b, 1_000_000, doc("consent"), sender=issuer_agent)
    assert events(receipt, register.EnforcementConsented) == [{
        "pledge_id": pid, "receiver": b, "units": 1_000_000, "actor": issuer_agent.address, "doc": doc("consent")}]
    register.enforce_pledge(pid, b, 1_000_000, doc("default"), sender=b)
    assert register.balanceOf(b, fund) == 4_000_000


def test_consent_enforcement__not_fund_manager__reverts(register, institutions, fund):
    a, b = institutions
    pid = pledge(register, a, b, fund, 1_000_000)
    with ape.reverts("roles: caller is not fund manager"):
        register.consent_enforcement(pid, b, 1_000_000, doc("consent"), sender=b)


@pytest.mark.parametrize("case, reason", [
    ("pledgor left below the minimum", "ledger: below the fund's minimum holding"),
    ("individual receiver", "ledger: receiver not an institutional investor"),
])
def test_enforce_pledge__by_court__fund_receiver_rules__revert(register, court, institutions, alice, fund, case, reason):
    """Never overridden, not even by a court: a would keep 500,000 units, below the
    fund's 1,000,000 minimum; an individual into an institutional-only fund."""
    a, b = institutions
    units, receiver = (2_500_000, b) if case.startswith("pledgor") else (1_000_000, alice.address)
    pid = pledge(register, a, b, fund, units)
    with ape.reverts(reason):
        register.enforce_pledge(pid, receiver, units, doc("ruling"), sender=court)


def test_court_transfer__register_closed__reverts(register, court, issuer_agent, alice, buyer, sid):
    fid = freeze(register, court, alice, sid, 100)[0]
    register.set_register_closure(sid, register.today() + 3, 0, doc("meeting"), sender=issuer_agent)
    with ape.reverts("ledger: register closed"):
        register.court_transfer(fid, buyer, 100, doc("ruling"), sender=court)


def test_court_transfer__logs_a_forced_transfer(register, court, alice, buyer, sid):
    fid = freeze(register, court, alice, sid, 100)[0]
    receipt = register.court_transfer(fid, buyer, 100, doc("ruling"), sender=court)
    assert events(receipt, register.ForcedTransfer) == [{
        "sender": alice.address, "receiver": buyer.address, "id": sid, "amount": 100, "path": 1, "ref": fid,
        "actor": court.address, "doc": doc("ruling")}]


# ---------------------------------------------------------------- queued freezes claim free units


def test_freeze__queued_freeze_claims_free_units_at_once(register, court, alice, bob, bank, sid):
    """The second freeze does not fit whole: it claims the 400 free units now, so the
    holder can neither transfer nor pledge them while it waits."""
    f1 = freeze(register, court, alice, sid, 600, case="A")[0]
    f2 = freeze(register, court, alice, sid, 600, case="B")[0]
    assert register.frozen_balance_of(alice, sid) == 1000
    assert list(zip(*register.freeze_queue_of(alice, sid))) == [(f1, True), (f2, False)]
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)
    register.offer_pledge(sid, bank, 1, doc("pledge contract"), sender=alice)
    with ape.reverts("pledges: amount exceeds free balance"):
        register.accept_pledge(register.pledge_count(), doc("acceptance"), sender=bank)
    # the court can take what its queued freeze holds already
    register.court_transfer(f2, bank, 400, doc("ruling"), sender=court)
    assert register.balanceOf(bank, sid) == 400


def test_lift_freeze__earlier_freeze_lifted__the_queued_one_takes_its_units(register, court, alice, bank, bob, sid):
    f1 = freeze(register, court, alice, sid, 600, case="A")[0]
    f2 = freeze(register, court, alice, sid, 600, case="B")[0]
    register.lift_freeze(f1, doc("lifted"), sender=court)
    assert list(zip(*register.freeze_queue_of(alice, sid))) == [(f2, True)]
    assert register.frozen_balance_of(alice, sid) == 600
    assert register.can_transfer(alice, bob, sid, 401) == (False, FREE)
    assert register.can_transfer(alice, bob, sid, 400) == (True, "")


def test_freeze__pledge_registered_before_keeps_priority(register, court, alice, bank, sid):
    pid = pledge(register, alice, bank, sid, 700)
    fid = freeze(register, court, alice, sid, 1000)[0]
    assert register.frozen_balance_of(alice, sid) == 300
    # the pledge's release frees units the freeze then claims
    register.release_pledge(pid, 200, doc("release"), sender=bank)
    assert register.frozen_balance_of(alice, sid) == 500
    with ape.reverts("freezes: amount exceeds units the freeze holds"):
        register.court_transfer(fid, bank, 501, doc("ruling"), sender=court)


# ---------------------------------------------------------------- recovery


def test_recover__target_with_a_queued_freeze_on_no_units__reverts(
    register, registrar, court, alice, bob, buyer, sid, new_security
):
    """A recovery continued into the key alice already recovered to: that key's holding of
    `other` was emptied by a court transfer while a second freeze still waits on it, and
    recovering alice's holding of `other` into it would lose that freeze's hold."""
    other = new_security([(alice, 100), (bob, 100)])
    register.recover(alice, NEW_KEY, [sid], doc("recovery 1/2"), sender=registrar)
    register.transfer(NEW_KEY, other, 50, sender=bob)
    f1 = freeze(register, court, NEW_KEY, other, 50, case="A")[0]
    freeze(register, court, NEW_KEY, other, 50, case="B")
    register.court_transfer(f1, buyer, 50, doc("ruling"), sender=court)
    assert register.balanceOf(NEW_KEY, other) == 0
    with ape.reverts("recovery: recovery target already holds"):
        register.recover.call(alice, NEW_KEY, [other], doc("recovery 2/2"), sender=registrar)


def test_recover__target_with_a_lockup_on_no_units__reverts(register, registrar, alice, sid, today):
    register.set_lockup(NEW_KEY, sid, today + 100, doc("lock-up"), sender=registrar)
    with ape.reverts("recovery: recovery target already holds"):
        register.recover.call(alice, NEW_KEY, [sid], doc("recovery"), sender=registrar)


def test_recover__target_that_sold_out_takes_the_holding(register, registrar, alice, bob, new_security):
    """NEW_KEY is another address of alice's (same identity); its own holding of `other`
    was cancelled, so only a stale acquisition day is left there: nothing to merge, the
    recovery goes through."""
    register.open_account(NEW_KEY, doc(f"id:{alice.address}"), 1, True, doc("open"), sender=registrar)
    other = new_security([(alice, 100), (NEW_KEY, 100), (bob, 100)])
    register.decrease_capital(other, [(NEW_KEY, 100)], doc("decrease"), sender=registrar)
    assert register.balanceOf(NEW_KEY, other) == 0
    receipt = register.recover(alice, NEW_KEY, [other], doc("recovery"), sender=registrar)
    assert register.balanceOf(NEW_KEY, other) == 100
    assert events(receipt, register.ForcedTransfer) == [{
        "sender": alice.address, "receiver": NEW_KEY, "id": other, "amount": 100, "path": 4, "ref": 0,
        "actor": registrar.address, "doc": doc("recovery")}]


# ---------------------------------------------------------------- legal limits


def test_increase_capital__llc_outsider_without_waiver__reverts(register, registrar, alice, bob, buyer, llc):
    with ape.reverts("corporate_actions: pre-emption: every shareholder must be offered"):
        register.increase_capital(llc, [(buyer.address, 100, 100)], doc("resolution"),
                                  sender=registrar)
    batch = sorted([(alice.address, 60, 60), (buyer.address, 40, 40)], key=lambda t: int(t[0], 16))
    with ape.reverts("corporate_actions: pre-emption: outsider needs a waiver"):
        register.increase_capital(llc, batch, doc("resolution"), sender=registrar)


def test_increase_capital__llc_pro_rata_to_paid_in(register, registrar, alice, bob, llc):
    """Paid-in 300 : 100, so of 100 new units alice may take 75 and bob 25."""
    over = sorted([(alice.address, 76, 76), (bob.address, 24, 24)], key=lambda t: int(t[0], 16))
    with ape.reverts("corporate_actions: pre-emption: subscription above pro-rata share"):
        register.increase_capital(llc, over, doc("resolution"), sender=registrar)
    register.increase_capital(llc, sorted([(alice.address, 75, 75), (bob.address, 25, 25)], key=lambda t: int(t[0], 16)),
                              doc("resolution"), sender=registrar)
    assert (register.balanceOf(alice, llc), register.balanceOf(bob, llc)) == (675, 425)


def test_increase_capital__llc_waiver_lets_an_outsider_subscribe(register, registrar, buyer, llc):
    receipt = register.increase_capital_waived(llc, [(buyer.address, 100, 100)], doc("waiver"), doc("resolution"),
                                        sender=registrar)
    assert events(receipt, register.PreemptionWaived) == [{
        "id": llc, "waiver": doc("waiver"), "actor": registrar.address}]
    assert register.balanceOf(buyer, llc) == 100


def test_increase_capital__individual_into_institutional_fund__reverts(register, registrar, alice, fund):
    with ape.reverts("corporate_actions: subscriber not an institutional investor"):
        register.increase_capital(fund, [(alice.address, 1_000_000, 1_000_000)],
                                  doc("subscription"), sender=registrar)


def test_transfer__former_insider_within_six_months__reverts(register, issuer_agent, alice, bob, sid, advance_days):
    register.set_insider(alice, sid, True, doc("appointment"), sender=issuer_agent)
    register.set_insider(alice, sid, False, doc("resignation"), sender=issuer_agent)
    reason = "ledger: former insider within six months of leaving"
    assert register.can_transfer(alice, bob, sid, 1) == (False, reason)
    with ape.reverts(reason):
        register.transfer(bob, sid, 1, sender=alice)


def test_freeze__term_longer_than_three_years__reverts(register, court, alice, sid):
    today = register.today()
    limit = months_later(today, 36)
    with ape.reverts("freezes: term longer than three years"):
        register.freeze(alice, sid, 1, doc("case"), limit + 1, doc("ruling"), sender=court)
    register.freeze(alice, sid, 1, doc("case"), limit, doc("ruling"), sender=court)


def test_renew_freeze__longer_than_three_years_after_expiry__reverts(register, court, alice, sid):
    fid = freeze(register, court, alice, sid, 1, days=30)[0]
    expiry = register.freeze_of(fid).expiry_day
    with ape.reverts("freezes: renewal longer than three years"):
        register.renew_freeze(fid, months_later(expiry, 36) + 1, doc("renewal"), sender=court)
    register.renew_freeze(fid, months_later(expiry, 36), doc("renewal"), sender=court)


def test_freeze__dozens_on_one_holding_all_register(register, court, alice, sid):
    """A court's freeze is not refused for the number on a holding below MAX_FREEZES (64)."""
    assert MAX_FREEZES == 64
    for k in range(20):
        freeze(register, court, alice, sid, 1, case=f"case {k}")
    assert len(register.freeze_queue_of(alice, sid)[0]) == 20
    assert register.frozen_balance_of(alice, sid) == 20


def test_seal_security__fund_without_minimum_holding__reverts(register, registrar):
    code = doc("fund without terms")
    register.register_security(code, Kind.LP_FUND, 2, 100, doc("registration"), sender=registrar)
    fid = register.security_id(code)
    # the default minimum is RMB 1 million in units: 10**6 units of 10**2 smallest units
    assert register.security(fid).kind == Kind.LP_FUND
    with ape.reverts("corporate_actions: fund has no minimum holding"):
        register.set_transfer_terms(fid, False, True, 0, doc("agreement"), sender=registrar)


def test_register_security__fund_defaults_to_institutions_and_one_million(register, institutions, alice, fund):
    a, _ = institutions
    assert register.can_transfer(a, alice, fund, 1_000_000) == (False, "ledger: receiver not an institutional investor")
    # a would keep 500,000 units (RMB 500,000), below the minimum
    assert register.can_transfer(a, institutions[1], fund, 2_500_000) == (
        False, "ledger: below the fund's minimum holding")
