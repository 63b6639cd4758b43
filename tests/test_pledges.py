"""Pledges (股权/份额质押, design rule 8, issue 4): offer or registration, acceptance by the
pledgee (the pledge exists and ranks from then), the lock on pledged units on every path
(transfer, transferFrom, re-pledge, capital decrease), release, enforcement (past the
holding period and lock-up, not past account, qualification and cap rules; through the
court agent once a later freeze is in force), the pledgee-consented sale of pledged units,
and recovery carrying pledges with the holding."""

import ape
import pytest
from conftest import FREE, assert_encumbrances_fit, block_time, doc, events, pledge, wallet

from regchain.constants import MAX_PLEDGES, MAX_RECOVER_ENCUMBERED, AccountStatus, Kind, PledgeStatus

ZERO = "0x0000000000000000000000000000000000000000"
NEW_KEY = "0x000000000000000000000000000000000000bEEF"  # a recovery target with no account


@pytest.fixture(scope="module")
def full_llc(register, registrar, sid, alice, new_security):
    """An LLC at its cap of 50 holders: alice 100 and 49 custody accounts 10 each."""
    crowd = [wallet(i, 0x91ED) for i in range(49)]
    register.open_accounts([(w, doc(f"crowd-{w}"), 1, True) for w in crowd], doc("crowd"), sender=registrar)
    return new_security([(alice, 100)] + [(w, 10) for w in crowd], kind=Kind.LLC)


@pytest.fixture(scope="module")
def pledged_ids(register, registrar, alice, bank, sid, today):
    """MAX_RECOVER_ENCUMBERED + 1 sealed JSCs of which alice holds all 100 units, each
    with one pledge of 10 to the bank (imported before sealing)."""
    ids = []
    for k in range(MAX_RECOVER_ENCUMBERED + 1):
        code = doc(f"pledged {k}")
        register.register_security(code, Kind.JSC, 0, 100, doc("registration"), sender=registrar)
        i = register.security_id(code)
        register.register_holdings(i, [(alice.address, 100, 100, today - 60, 0, False)], doc("holdings"),
                                   sender=registrar)
        register.import_pledges(i, [(alice.address, bank.address, 10, 1_600_000_000)], doc("old book"),
                                sender=registrar)
        register.seal_security(i, doc("seal"), sender=registrar)
        ids.append(i)
    return ids


@pytest.fixture(scope="module", autouse=True)
def _module_state(sid, full_llc, pledged_ids):
    """Set the module fixtures up before the first test, so ape snapshots them once."""


def offer(register, pledgor, pledgee, sid, units, label="pledge contract"):
    receipt = register.offer_pledge(sid, pledgee, units, doc(label), sender=pledgor)
    return register.pledge_count(), receipt


# ---------------------------------------------------------------- offer and registration


def test_offer_pledge__logs_the_offer_and_locks_nothing(register, alice, bank, sid):
    count = register.pledge_count()
    pid, receipt = offer(register, alice, bank, sid, 300)
    assert pid == count + 1
    assert events(receipt, register.PledgeOffered) == [{
        "pledge_id": pid, "pledgor": alice.address, "pledgee": bank.address, "id": sid,
        "units": 300, "actor": alice.address, "doc": doc("pledge contract"),
    }]
    p = register.pledge_of(pid)
    assert (p.pledgor, p.pledgee, p.id, p.units, p.registered_at, p.status) == (
        alice.address, bank.address, sid, 300, 0, PledgeStatus.OFFERED)
    # an offer does not exist as a pledge: nothing is locked yet
    assert register.pledged_balance_of(alice, sid) == 0
    assert list(register.pledges_of(alice, sid)) == []
    assert register.can_transfer(alice, bank, sid, 1000) == (True, "")


def test_register_pledge__by_registrar_logs_the_offer(register, registrar, alice, bank, sid):
    receipt = register.register_pledge(alice, bank, sid, 250, doc("written instruction"), sender=registrar)
    pid = register.pledge_count()
    assert events(receipt, register.PledgeOffered) == [{
        "pledge_id": pid, "pledgor": alice.address, "pledgee": bank.address, "id": sid,
        "units": 250, "actor": registrar.address, "doc": doc("written instruction"),
    }]
    assert register.pledge_of(pid).status == PledgeStatus.OFFERED
    # the pledgee still accepts on chain
    register.accept_pledge(pid, doc("acceptance"), sender=bank)
    assert register.pledged_balance_of(alice, sid) == 250


@pytest.mark.parametrize("caller", ["alice", "bank", "court"])
def test_register_pledge__not_registrar__reverts(register, alice, bank, court, sid, caller):
    signer = {"alice": alice, "bank": bank, "court": court}[caller]
    with ape.reverts("roles: caller is not security manager"):
        register.register_pledge(alice, bank, sid, 250, doc("instruction"), sender=signer)


@pytest.mark.parametrize("case, reason", [
    ("pledgee_is_pledgor", "pledges: pledgee is the pledgor"),
    ("zero_units", "pledges: zero amount"),
    ("zero_pledgee", "pledges: zero address"),
    ("unknown_security", "pledges: unknown security"),
    ("exceeds_holding", "pledges: amount exceeds holding"),
    ("no_holding", "pledges: amount exceeds holding"),
])
def test_offer_pledge__invalid__reverts(register, alice, bank, sid, case, reason):
    pledgor, pledgee, id_, units = alice, bank.address, sid, 100
    if case == "pledgee_is_pledgor":
        pledgee = alice.address
    elif case == "zero_units":
        units = 0
    elif case == "zero_pledgee":
        pledgee = ZERO
    elif case == "unknown_security":
        id_ = register.security_count() + 1000
    elif case == "exceeds_holding":
        units = 1001
    elif case == "no_holding":
        pledgor = bank  # holds nothing
        pledgee = alice.address
    with ape.reverts(reason):
        register.offer_pledge(id_, pledgee, units, doc("pledge contract"), sender=pledgor)


def test_register_pledge__invalid__reverts(register, registrar, alice, sid):
    with ape.reverts("pledges: pledgee is the pledgor"):
        register.register_pledge(alice, alice, sid, 100, doc("instruction"), sender=registrar)


# ---------------------------------------------------------------- acceptance and rank


def test_accept_pledge__registers_at_block_time(register, chain, alice, bank, sid):
    pid, _ = offer(register, alice, bank, sid, 300)
    receipt = register.accept_pledge(pid, doc("acceptance"), sender=bank)
    at = block_time(chain, receipt)
    assert events(receipt, register.PledgeRegistered) == [{
        "pledge_id": pid, "pledgor": alice.address, "pledgee": bank.address, "id": sid,
        "units": 300, "registered_at": at, "doc": doc("acceptance"),
    }]
    p = register.pledge_of(pid)
    assert (p.units, p.registered_at, p.status) == (300, at, PledgeStatus.PLEDGED)
    assert register.pledged_balance_of(alice, sid) == 300
    assert list(register.pledges_of(alice, sid)) == [pid]
    assert_encumbrances_fit(register, alice, sid)


@pytest.mark.parametrize("caller", ["alice", "bob", "registrar", "court"])
def test_accept_pledge__not_pledgee__reverts(register, alice, bob, bank, registrar, court, sid, caller):
    signer = {"alice": alice, "bob": bob, "registrar": registrar, "court": court}[caller]
    pid, _ = offer(register, alice, bank, sid, 300)
    with ape.reverts("pledges: caller is not the pledgee"):
        register.accept_pledge(pid, doc("acceptance"), sender=signer)
    assert register.pledge_of(pid).status == PledgeStatus.OFFERED


def test_accept_pledge__twice__reverts(register, alice, bank, sid):
    pid = pledge(register, alice, bank, sid, 300)
    with ape.reverts("pledges: not an open offer"):
        register.accept_pledge(pid, doc("acceptance"), sender=bank)


def test_pledges_of__rank_by_acceptance_not_offer(register, chain, alice, bank, bob, sid):
    # bob is a second creditor here; offers are made 1, 2, 3 and accepted 2, 3, 1
    p1, _ = offer(register, alice, bank, sid, 100)
    p2, _ = offer(register, alice, bob, sid, 200)
    p3, _ = offer(register, alice, bank, sid, 300)
    times = []
    for pid, pledgee in ((p2, bob), (p3, bank), (p1, bank)):
        chain.pending_timestamp += 10
        times.append(block_time(chain, register.accept_pledge(pid, doc("acceptance"), sender=pledgee)))
    assert list(register.pledges_of(alice, sid)) == [p2, p3, p1]
    assert [register.pledge_of(p).registered_at for p in (p2, p3, p1)] == times
    assert times == sorted(times) and len(set(times)) == 3
    assert register.pledged_balance_of(alice, sid) == 600


def test_accept_pledge__exceeds_free_balance__reverts(register, alice, bank, bob, sid):
    first, _ = offer(register, alice, bank, sid, 600)
    second, _ = offer(register, alice, bob, sid, 600)  # each fits the holding on its own
    register.accept_pledge(first, doc("acceptance"), sender=bank)
    with ape.reverts("pledges: amount exceeds free balance"):
        register.accept_pledge(second, doc("acceptance"), sender=bob)
    assert register.pledge_of(second).status == PledgeStatus.OFFERED
    assert register.pledged_balance_of(alice, sid) == 600


def test_accept_pledge__frozen_units__reverts(register, alice, bank, court, sid):
    pid, _ = offer(register, alice, bank, sid, 600)
    register.freeze(alice, sid, 500, doc("case"), register.today() + 30, doc("ruling"), sender=court)
    with ape.reverts("pledges: amount exceeds free balance"):
        register.accept_pledge(pid, doc("acceptance"), sender=bank)


def test_accept_pledge__exactly_the_free_balance(register, alice, bank, bob, sid):
    pledge(register, alice, bank, sid, 600)
    pid = pledge(register, alice, bob, sid, 400)
    assert register.pledge_of(pid).status == PledgeStatus.PLEDGED
    assert register.pledged_balance_of(alice, sid) == 1000
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)


def test_accept_pledge__more_than_max_pledges__reverts(register, alice, bank, sid):
    ids = [pledge(register, alice, bank, sid, 10) for _ in range(MAX_PLEDGES)]
    assert list(register.pledges_of(alice, sid)) == ids
    extra, _ = offer(register, alice, bank, sid, 10)
    with ape.reverts("pledges: too many pledges on holding"):
        register.accept_pledge(extra, doc("acceptance"), sender=bank)
    # releasing one frees a slot
    register.release_pledge(ids[0], 10, doc("release"), sender=bank)
    register.accept_pledge(extra, doc("acceptance"), sender=bank)
    assert list(register.pledges_of(alice, sid)) == ids[1:] + [extra]


# ---------------------------------------------------------------- cancelling an offer


@pytest.mark.parametrize("caller", ["pledgor", "pledgee", "registrar"])
def test_cancel_pledge_offer__by_a_party_or_registrar(register, alice, bank, registrar, sid, caller):
    signer = {"pledgor": alice, "pledgee": bank, "registrar": registrar}[caller]
    pid, _ = offer(register, alice, bank, sid, 300)
    receipt = register.cancel_pledge_offer(pid, doc("withdrawn"), sender=signer)
    assert events(receipt, register.PledgeOfferCancelled) == [
        {"pledge_id": pid, "actor": signer.address, "doc": doc("withdrawn")}]
    assert register.pledge_of(pid).status == PledgeStatus.CANCELLED
    with ape.reverts("pledges: not an open offer"):
        register.accept_pledge(pid, doc("acceptance"), sender=bank)


@pytest.mark.parametrize("caller", ["bob", "court"])
def test_cancel_pledge_offer__by_anyone_else__reverts(register, alice, bob, bank, court, sid, caller):
    signer = {"bob": bob, "court": court}[caller]
    pid, _ = offer(register, alice, bank, sid, 300)
    with ape.reverts("roles: caller is not security manager"):
        register.cancel_pledge_offer(pid, doc("withdrawn"), sender=signer)
    assert register.pledge_of(pid).status == PledgeStatus.OFFERED


def test_cancel_pledge_offer__accepted_pledge__reverts(register, alice, bank, sid):
    pid = pledge(register, alice, bank, sid, 300)
    with ape.reverts("pledges: not an open offer"):
        register.cancel_pledge_offer(pid, doc("withdrawn"), sender=alice)
    assert register.pledged_balance_of(alice, sid) == 300


# ---------------------------------------------------------------- release


def test_release_pledge__partly_then_wholly(register, alice, bank, bob, sid):
    pid = pledge(register, alice, bank, sid, 300)
    receipt = register.release_pledge(pid, 100, doc("partial release"), sender=bank)
    assert events(receipt, register.PledgeReleased) == [{
        "pledge_id": pid, "units": 100, "remaining": 200, "actor": bank.address, "doc": doc("partial release")}]
    assert register.pledge_of(pid).units == 200
    assert register.pledge_of(pid).status == PledgeStatus.PLEDGED
    assert register.pledged_balance_of(alice, sid) == 200
    assert register.can_transfer(alice, bob, sid, 800) == (True, "")
    assert register.can_transfer(alice, bob, sid, 801) == (False, FREE)

    receipt = register.release_pledge(pid, 200, doc("release"), sender=bank)
    assert events(receipt, register.PledgeReleased) == [{
        "pledge_id": pid, "units": 200, "remaining": 0, "actor": bank.address, "doc": doc("release")}]
    assert register.pledge_of(pid).status == PledgeStatus.RELEASED
    assert register.pledged_balance_of(alice, sid) == 0
    assert list(register.pledges_of(alice, sid)) == []
    assert register.can_transfer(alice, bob, sid, 1000) == (True, "")


def test_release_pledge__keeps_the_rank_of_the_others(register, alice, bank, bob, sid):
    p1 = pledge(register, alice, bank, sid, 100)
    p2 = pledge(register, alice, bob, sid, 100)
    p3 = pledge(register, alice, bank, sid, 100)
    register.release_pledge(p2, 100, doc("release"), sender=bob)
    assert list(register.pledges_of(alice, sid)) == [p1, p3]


@pytest.mark.parametrize("caller", ["pledgor", "registrar", "court", "bob"])
def test_release_pledge__not_pledgee__reverts(register, alice, bank, bob, registrar, court, sid, caller):
    signer = {"pledgor": alice, "registrar": registrar, "court": court, "bob": bob}[caller]
    pid = pledge(register, alice, bank, sid, 300)
    with ape.reverts("pledges: caller is not the pledgee"):
        register.release_pledge(pid, 300, doc("release"), sender=signer)
    assert register.pledged_balance_of(alice, sid) == 300


@pytest.mark.parametrize("units, reason", [(0, "pledges: zero amount"), (301, "pledges: amount exceeds pledge")])
def test_release_pledge__bad_amount__reverts(register, alice, bank, sid, units, reason):
    pid = pledge(register, alice, bank, sid, 300)
    with ape.reverts(reason):
        register.release_pledge(pid, units, doc("release"), sender=bank)


def test_release_pledge__not_in_force__reverts(register, alice, bank, sid):
    pid, _ = offer(register, alice, bank, sid, 300)
    with ape.reverts("pledges: pledge not in force"):
        register.release_pledge(pid, 300, doc("release"), sender=bank)
    with ape.reverts("pledges: pledge not in force"):
        register.release_pledge(register.pledge_count() + 1, 1, doc("release"), sender=bank)


# ---------------------------------------------------------------- the lock


def test_transfer__pledged_units__reverts(register, alice, bob, bank, sid):
    pledge(register, alice, bank, sid, 700)
    assert register.can_transfer(alice, bob, sid, 301) == (False, FREE)
    with ape.reverts(FREE):
        register.transfer(bob, sid, 301, sender=alice)
    register.transfer(bob, sid, 300, sender=alice)  # the free part moves
    assert register.balanceOf(alice, sid) == 700
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)
    assert_encumbrances_fit(register, alice, sid)


def test_transferFrom__pledged_units__reverts(register, alice, bob, bank, buyer, sid):
    pledge(register, alice, bank, sid, 700)
    register.approve(buyer, sid, 1000, sender=alice)
    with ape.reverts(FREE):
        register.transferFrom(alice, bob, sid, 301, sender=buyer)
    # the pledgee has no power over the pledgor's holding as an operator
    register.setOperator(bank, True, sender=alice)
    with ape.reverts(FREE):
        register.transferFrom(alice, bank, sid, 700, sender=bank)
    register.transferFrom(alice, bob, sid, 300, sender=buyer)
    assert register.balanceOf(alice, sid) == 700


def test_offer_pledge__pledged_units_cannot_be_pledged_again__reverts(register, alice, bank, bob, sid):
    pledge(register, alice, bank, sid, 800)
    pid, _ = offer(register, alice, bob, sid, 300)  # an offer checks only the holding
    with ape.reverts("pledges: amount exceeds free balance"):
        register.accept_pledge(pid, doc("acceptance"), sender=bob)
    # the same pledgee cannot double its security either
    again, _ = offer(register, alice, bank, sid, 201)
    with ape.reverts("pledges: amount exceeds free balance"):
        register.accept_pledge(again, doc("acceptance"), sender=bank)
    assert register.pledged_balance_of(alice, sid) == 800


def test_decrease_capital__pledged_units__reverts(register, registrar, alice, bank, sid):
    pledge(register, alice, bank, sid, 700)
    with ape.reverts("corporate_actions: amount exceeds free balance"):
        register.decrease_capital(sid, [(alice.address, 301)], doc("reduction"), sender=registrar)
    register.decrease_capital(sid, [(alice.address, 300)], doc("reduction"), sender=registrar)
    assert register.balanceOf(alice, sid) == 700
    assert register.pledged_balance_of(alice, sid) == 700


# ---------------------------------------------------------------- enforcement


def lock_and_refresh(register, registrar, alice, bob, sid, today):
    """A lock-up on alice's holding and a fresh acquisition (holding period not met)."""
    register.set_lockup(alice, sid, today + 100, doc("lock-up"), sender=registrar)
    register.transfer(alice, sid, 10, sender=bob)
    assert register.can_transfer(alice, bob, sid, 1) == (False, "ledger: holding locked up")
    register.set_lockup(alice, sid, 0, doc("lock-up lifted"), sender=registrar)
    assert register.can_transfer(alice, bob, sid, 1) == (False, "ledger: holding period not met")
    register.set_lockup(alice, sid, today + 100, doc("lock-up"), sender=registrar)


def test_enforce_pledge__by_pledgee_under_lockup_or_holding_period__reverts(register, registrar, alice, bob, bank, sid):
    """A pledgee's own enforcement is a transfer: it does not override the lock-up or the
    holding period (only a court-ordered path does)."""
    pid = pledge(register, alice, bank, sid, 400)
    lock_and_refresh(register, registrar, alice, bob, sid, register.today())
    with ape.reverts("ledger: holding locked up"):
        register.enforce_pledge(pid, bank, 250, doc("default"), sender=bank)
    register.set_lockup(alice, sid, 0, doc("lock-up lifted"), sender=registrar)
    with ape.reverts("ledger: holding period not met"):
        register.enforce_pledge(pid, bank, 250, doc("default"), sender=bank)
    assert register.pledged_balance_of(alice, sid) == 400
    assert register.balanceOf(bank, sid) == 0


def test_enforce_pledge__by_pledgee_to_itself(register, alice, bank, sid):
    pid = pledge(register, alice, bank, sid, 400)
    receipt = register.enforce_pledge(pid, bank, 250, doc("default"), sender=bank)
    assert events(receipt, register.PledgeEnforced) == [{
        "pledge_id": pid, "receiver": bank.address, "units": 250, "remaining": 150,
        "actor": bank.address, "doc": doc("default")}]
    assert [(e["sender"], e["receiver"], e["amount"]) for e in events(receipt, register.Transfer)] == [
        (alice.address, bank.address, 250)]
    assert events(receipt, register.ForcedTransfer) == [{
        "sender": alice.address, "receiver": bank.address, "id": sid, "amount": 250, "path": 3, "ref": pid,
        "actor": bank.address, "doc": doc("default")}]
    assert register.balanceOf(alice, sid) == 750
    assert register.balanceOf(bank, sid) == 250
    assert register.pledged_balance_of(alice, sid) == 150
    assert register.pledge_of(pid).status == PledgeStatus.PLEDGED

    register.enforce_pledge(pid, bank, 150, doc("default"), sender=bank)
    assert register.pledge_of(pid).status == PledgeStatus.ENFORCED
    assert register.pledged_balance_of(alice, sid) == 0
    assert list(register.pledges_of(alice, sid)) == []
    assert register.balanceOf(bank, sid) == 400
    assert_encumbrances_fit(register, alice, sid)


def test_enforce_pledge__by_court_agent_past_lockup_and_holding_period__lockup_goes_along(
    register, registrar, court, alice, bob, bank, sid
):
    pid = pledge(register, alice, bank, sid, 400)
    today = register.today()
    lock_and_refresh(register, registrar, alice, bob, sid, today)
    receipt = register.enforce_pledge(pid, bank, 250, doc("ruling"), sender=court)
    assert events(receipt, register.ForcedTransfer) == [{
        "sender": alice.address, "receiver": bank.address, "id": sid, "amount": 250, "path": 2, "ref": pid,
        "actor": court.address, "doc": doc("ruling")}]
    assert register.balanceOf(bank, sid) == 250
    # the units moved under lock-up keep their lock-up day at the receiver
    assert register.holding(bank, sid).lock_until_day == today + 100


@pytest.mark.parametrize("state", ["suspended", "closed"])
def test_enforce_pledge__by_pledgee_from_suspended_or_closed_account__reverts(
    register, registrar, court, alice, bank, sid, state
):
    pid = pledge(register, alice, bank, sid, 400)
    if state == "suspended":
        register.suspend_account(alice, doc("suspension"), sender=registrar)
    else:
        register.close_account(alice, doc("closing"), sender=registrar)
    with ape.reverts("ledger: sender account not active"):
        register.enforce_pledge(pid, bank, 400, doc("default"), sender=bank)
    # a court-ordered enforcement is not stopped by the pledgor's account
    register.enforce_pledge(pid, bank, 400, doc("ruling"), sender=court)
    assert register.balanceOf(bank, sid) == 400


def test_enforce_pledge__by_pledgee_insider_over_annual_limit__reverts(
    register, governance, issuer_agent, alice, bank, sid
):
    register.set_insider(alice, sid, True, doc("appointment"), sender=issuer_agent)
    pid = pledge(register, alice, bank, sid, 400)
    with ape.reverts("ledger: insider annual limit exceeded"):
        register.enforce_pledge(pid, bank, 400, doc("default"), sender=bank)
    register.enforce_pledge(pid, bank, 250, doc("default"), sender=bank)  # 25 % of 1000
    assert register.balanceOf(bank, sid) == 250


def test_enforce_pledge__by_pledgee_register_closed__reverts(register, issuer_agent, alice, bank, sid):
    pid = pledge(register, alice, bank, sid, 400)
    register.set_register_closure(sid, register.today() + 3, 0, doc("meeting"), sender=issuer_agent)
    with ape.reverts("ledger: register closed"):
        register.enforce_pledge(pid, bank, 400, doc("default"), sender=bank)


def test_enforce_pledge__to_a_qualified_buyer(register, registrar, alice, bob, bank, buyer, sid):
    pid = pledge(register, alice, bank, sid, 400)
    holders = register.holder_count(sid)
    receipt = register.enforce_pledge(pid, buyer, 400, doc("auction"), sender=bank)
    assert events(receipt, register.PledgeEnforced)[0]["receiver"] == buyer.address
    assert register.balanceOf(buyer, sid) == 400
    assert register.balanceOf(bank, sid) == 0
    assert register.holder_count(sid) == holders + 1
    assert register.pledge_of(pid).status == PledgeStatus.ENFORCED


def test_enforce_pledge__receiver_not_qualified__reverts(register, alice, bank, outsider, open_account, sid):
    open_account(outsider, qualified=False)
    pid = pledge(register, alice, bank, sid, 400)
    with ape.reverts("ledger: receiver not qualified"):
        register.enforce_pledge(pid, outsider, 400, doc("auction"), sender=bank)
    assert register.pledged_balance_of(alice, sid) == 400
    assert register.pledge_of(pid).status == PledgeStatus.PLEDGED


def test_enforce_pledge__receiver_without_account__reverts(register, alice, bank, outsider, sid):
    pid = pledge(register, alice, bank, sid, 400)
    with ape.reverts("ledger: receiver account not active"):
        register.enforce_pledge(pid, outsider, 400, doc("auction"), sender=bank)
    assert register.pledged_balance_of(alice, sid) == 400


def test_enforce_pledge__holder_cap__reverts(register, alice, bank, full_llc):
    pid = pledge(register, alice, bank, full_llc, 60)
    with ape.reverts("ledger: holder cap reached"):
        register.enforce_pledge(pid, bank, 60, doc("default"), sender=bank)
    assert register.pledged_balance_of(alice, full_llc) == 60


@pytest.mark.parametrize("caller", ["pledgor", "registrar", "bob"])
def test_enforce_pledge__not_pledgee_or_court__reverts(register, alice, bank, bob, registrar, sid, caller):
    signer = {"pledgor": alice, "registrar": registrar, "bob": bob}[caller]
    pid = pledge(register, alice, bank, sid, 400)
    with ape.reverts("pledges: caller is not the pledgee or court agent"):
        register.enforce_pledge(pid, bank, 400, doc("default"), sender=signer)


def test_enforce_pledge__frozen_after_pledge__pledgee_reverts(register, alice, bank, court, sid):
    pid = pledge(register, alice, bank, sid, 400)
    register.freeze(alice, sid, 300, doc("case"), register.today() + 30, doc("ruling"), sender=court)
    with ape.reverts("pledges: frozen, enforce through the court agent"):
        register.enforce_pledge(pid, bank, 400, doc("default"), sender=bank)
    # the court agent enforces it; the pledgee keeps its priority
    receipt = register.enforce_pledge(pid, bank, 400, doc("court enforcement"), sender=court)
    assert events(receipt, register.PledgeEnforced) == [{
        "pledge_id": pid, "receiver": bank.address, "units": 400, "remaining": 0,
        "actor": court.address, "doc": doc("court enforcement")}]
    assert register.balanceOf(bank, sid) == 400
    assert register.frozen_balance_of(alice, sid) == 300
    assert_encumbrances_fit(register, alice, sid)


def test_enforce_pledge__freeze_before_pledge_does_not_block(register, alice, bank, court, sid):
    """The freeze is registered in an earlier transaction than the pledge; on a chain with
    one-second timestamps both may carry the same block.timestamp, and rank must still
    follow registration order."""
    register.freeze(alice, sid, 300, doc("case"), register.today() + 30, doc("ruling"), sender=court)
    pid = pledge(register, alice, bank, sid, 400)
    register.enforce_pledge(pid, bank, 400, doc("default"), sender=bank)
    assert register.balanceOf(bank, sid) == 400
    assert register.frozen_balance_of(alice, sid) == 300


def test_enforce_pledge__later_freeze_lifted_no_longer_blocks(register, alice, bank, court, sid):
    pid = pledge(register, alice, bank, sid, 400)
    register.freeze(alice, sid, 300, doc("case"), register.today() + 30, doc("ruling"), sender=court)
    register.lift_freeze(register.freeze_count(), doc("lifted"), sender=court)
    register.enforce_pledge(pid, bank, 400, doc("default"), sender=bank)
    assert register.balanceOf(bank, sid) == 400


def test_enforce_pledge__court_enforcement_keeps_the_rest_frozen(register, alice, bank, bob, court, sid):
    """A court froze the whole holding after the pledge; once the pledgee's units are
    enforced (through the court agent), the freeze must still hold what is left: the
    holder must not be able to move the remaining 600 units."""
    pid = pledge(register, alice, bank, sid, 400)
    register.freeze(alice, sid, 1000, doc("case"), register.today() + 30, doc("ruling"), sender=court)
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)
    register.enforce_pledge(pid, bank, 400, doc("court enforcement"), sender=court)
    assert register.balanceOf(alice, sid) == 600
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)
    assert register.frozen_balance_of(alice, sid) == 600


# ---------------------------------------------------------------- consented sale of pledged units


def test_transfer_pledged__released_and_transferred_in_one_transaction(register, alice, bank, buyer, sid):
    pid = pledge(register, alice, bank, sid, 1000)
    assert register.can_transfer(alice, buyer, sid, 1) == (False, FREE)
    receipt = register.consent_pledged_transfer(pid, buyer, 300, doc("consent"), sender=bank)
    assert events(receipt, register.PledgedTransferConsented) == [{
        "pledge_id": pid, "receiver": buyer.address, "units": 300, "actor": bank.address, "doc": doc("consent")}]
    receipt = register.transfer_pledged(pid, doc("sale"), sender=alice)
    assert events(receipt, register.PledgeReleased) == [{
        "pledge_id": pid, "units": 300, "remaining": 700, "actor": alice.address, "doc": doc("sale")}]
    assert [(e["sender"], e["receiver"], e["amount"]) for e in events(receipt, register.Transfer)] == [
        (alice.address, buyer.address, 300)]
    assert register.balanceOf(buyer, sid) == 300
    assert register.balanceOf(alice, sid) == 700
    assert register.pledged_balance_of(alice, sid) == 700
    p = register.pledge_of(pid)
    assert (p.units, p.status, p.consent_units, p.consent_receiver) == (700, PledgeStatus.PLEDGED, 0, ZERO)
    # the consent is used up
    with ape.reverts("pledges: no consent from the pledgee"):
        register.transfer_pledged(pid, doc("sale"), sender=alice)


def test_transfer_pledged__whole_pledge_releases_it(register, alice, bank, buyer, sid):
    pid = pledge(register, alice, bank, sid, 400)
    register.consent_pledged_transfer(pid, buyer, 400, doc("consent"), sender=bank)
    register.transfer_pledged(pid, doc("sale"), sender=alice)
    assert register.pledge_of(pid).status == PledgeStatus.RELEASED
    assert list(register.pledges_of(alice, sid)) == []
    assert register.balanceOf(buyer, sid) == 400


@pytest.mark.parametrize("rule", ["lock-up", "unqualified receiver"])
def test_transfer_pledged__ordinary_rule_fails__reverts_and_pledge_stays(
        register, registrar, alice, bank, buyer, open_account, outsider, sid, rule):
    pid = pledge(register, alice, bank, sid, 400)
    receiver = buyer
    if rule == "lock-up":
        register.set_lockup(alice, sid, register.today() + 100, doc("lock-up"), sender=registrar)
        reason = "ledger: holding locked up"
    else:
        open_account(outsider, qualified=False)
        receiver = outsider
        reason = "ledger: receiver not qualified"
    register.consent_pledged_transfer(pid, receiver, 400, doc("consent"), sender=bank)
    with ape.reverts(reason):
        register.transfer_pledged(pid, doc("sale"), sender=alice)
    p = register.pledge_of(pid)
    assert (p.units, p.status, p.consent_units, p.consent_receiver) == (
        400, PledgeStatus.PLEDGED, 400, receiver.address)
    assert register.pledged_balance_of(alice, sid) == 400
    assert register.balanceOf(alice, sid) == 1000


def test_transfer_pledged__not_pledgor__reverts(register, alice, bank, buyer, sid):
    pid = pledge(register, alice, bank, sid, 400)
    register.consent_pledged_transfer(pid, buyer, 400, doc("consent"), sender=bank)
    for signer in (bank, buyer):
        with ape.reverts("pledges: caller is not the pledgor"):
            register.transfer_pledged(pid, doc("sale"), sender=signer)


def test_transfer_pledged__without_consent__reverts(register, alice, bank, buyer, sid):
    pid = pledge(register, alice, bank, sid, 400)
    with ape.reverts("pledges: no consent from the pledgee"):
        register.transfer_pledged(pid, doc("sale"), sender=alice)
    # 0 units withdraws a consent
    register.consent_pledged_transfer(pid, buyer, 400, doc("consent"), sender=bank)
    register.consent_pledged_transfer(pid, buyer, 0, doc("withdrawn"), sender=bank)
    with ape.reverts("pledges: no consent from the pledgee"):
        register.transfer_pledged(pid, doc("sale"), sender=alice)


def test_consent_pledged_transfer__invalid__reverts(register, alice, bank, buyer, sid):
    pid = pledge(register, alice, bank, sid, 400)
    with ape.reverts("pledges: caller is not the pledgee"):
        register.consent_pledged_transfer(pid, buyer, 400, doc("consent"), sender=alice)
    with ape.reverts("pledges: amount exceeds pledge"):
        register.consent_pledged_transfer(pid, buyer, 401, doc("consent"), sender=bank)


# ---------------------------------------------------------------- recovery


def test_recover__pledges_move_with_the_holding(register, registrar, alice, bank, bob, sid):
    p1 = pledge(register, alice, bank, sid, 300)
    p2 = pledge(register, alice, bob, sid, 200)
    register.recover(alice, NEW_KEY, [sid], doc("recovery"), sender=registrar)
    assert register.balanceOf(NEW_KEY, sid) == 1000
    assert register.pledged_balance_of(NEW_KEY, sid) == 500
    assert list(register.pledges_of(NEW_KEY, sid)) == [p1, p2]
    assert register.pledged_balance_of(alice, sid) == 0
    assert list(register.pledges_of(alice, sid)) == []
    assert register.pledge_of(p1).pledgor == NEW_KEY
    assert register.pledge_of(p2).pledgor == NEW_KEY
    # still locked at the new address, and still the pledgee's to release or enforce
    assert register.can_transfer(NEW_KEY, bob, sid, 501) == (False, FREE)
    register.release_pledge(p2, 200, doc("release"), sender=bob)
    register.enforce_pledge(p1, bank, 300, doc("default"), sender=bank)
    assert register.balanceOf(NEW_KEY, sid) == 700
    assert register.pledged_balance_of(NEW_KEY, sid) == 0


TOO_MANY = "recovery: too many encumbered holdings in one recovery"


def test_recover__encumbered_holdings_up_to_the_limit__move_in_one_call(
    register, registrar, alice, bank, sid, pledged_ids
):
    """MAX_RECOVER_ENCUMBERED holdings with pledges, and a plain one, which does not count."""
    ids = pledged_ids[:MAX_RECOVER_ENCUMBERED]
    register.recover(alice, NEW_KEY, ids + [sid], doc("recovery"), sender=registrar)

    assert [register.balanceOf(NEW_KEY, i) for i in ids + [sid]] == [100] * len(ids) + [1000]
    assert [register.pledged_balance_of(NEW_KEY, i) for i in ids] == [10] * len(ids)
    assert register.balanceOf(alice, pledged_ids[-1]) == 100  # not listed: still at the lost key


def test_recover__one_encumbered_holding_over_the_limit__reverts(register, registrar, alice, pledged_ids):
    assert len(pledged_ids) == MAX_RECOVER_ENCUMBERED + 1
    with ape.reverts(TOO_MANY):
        # .call: the same execution as an eth_call, without ape tracing a failed transaction
        register.recover.call(alice, NEW_KEY, pledged_ids, doc("recovery"), sender=registrar)


def test_recover__more_encumbered_holdings__take_a_second_call_to_the_same_key(
    register, registrar, alice, bank, sid, pledged_ids
):
    first, rest = pledged_ids[:MAX_RECOVER_ENCUMBERED], pledged_ids[MAX_RECOVER_ENCUMBERED:]
    register.recover(alice, NEW_KEY, [sid] + first, doc("recovery 1/2"), sender=registrar)
    receipt = register.recover(alice, NEW_KEY, rest, doc("recovery 2/2"), sender=registrar)

    assert [e["id"] for e in events(receipt, register.HoldingRecovered)] == rest
    for i in pledged_ids:
        assert (register.balanceOf(NEW_KEY, i), register.balanceOf(alice, i)) == (100, 0)
        assert register.pledged_balance_of(NEW_KEY, i) == 10
        (pid,) = register.pledges_of(NEW_KEY, i)
        assert register.pledge_of(pid).pledgor == NEW_KEY
    assert register.balanceOf(NEW_KEY, sid) == 1000
    assert (register.account_of(NEW_KEY).status, register.account_of(alice).status) == (
        AccountStatus.ACTIVE, AccountStatus.CLOSED)
