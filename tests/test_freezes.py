"""Judicial freezes (司法冻结, 轮候冻结; design rule 9, issues 4 and 12): freezing by the court
agent, in force at once or queued (a queued freeze claims the free units at once and the
rest as they free up), lifting that promotes queued freezes in registration order,
expiry that takes effect with nobody acting, tidying, renewal that keeps the rank, and
court-ordered transfers (司法划转) that override the holding period and lock-up but take
neither pledged units nor units of an earlier-ranking freeze."""

import ape
import pytest
from conftest import FREE, assert_encumbrances_fit, block_time, doc, events, freeze, pledge

from regchain.constants import MAX_FREEZES, FreezeStatus



@pytest.fixture(scope="module", autouse=True)
def _security(sid):
    """Every test here starts from the module's JSC (conftest's sid)."""
    return sid


def in_force(register, receipt) -> bool:
    """The in_force flag of the Frozen event (ape decodes the bool as an int)."""
    (event,) = events(receipt, register.Frozen)
    return bool(event["in_force"])


def queue(register, owner, sid):
    ids, flags = register.freeze_queue_of(owner, sid)
    return list(zip(ids, flags))


# ---------------------------------------------------------------- freezing


def test_freeze__in_force_at_once_when_it_fits(register, chain, court, alice, bob, sid):
    expiry = register.today() + 30
    count = register.freeze_count()
    receipt = register.freeze(alice, sid, 600, doc("case A"), expiry, doc("ruling"), sender=court)
    fid = register.freeze_count()
    assert fid == count + 1
    assert events(receipt, register.Frozen) == [{
        "freeze_id": fid, "owner": alice.address, "id": sid, "units": 600, "case_hash": doc("case A"),
        "expiry_day": expiry, "in_force": True, "actor": court.address, "doc": doc("ruling")}]
    f = register.freeze_of(fid)
    assert (f.owner, f.id, f.units, f.case_hash, f.agent, f.registered_at, f.expiry_day, f.status) == (
        alice.address, sid, 600, doc("case A"), court.address, block_time(chain, receipt), expiry,
        FreezeStatus.OPEN)
    assert register.frozen_balance_of(alice, sid) == 600
    assert queue(register, alice, sid) == [(fid, True)]
    # a freeze locks units, not the address
    assert register.can_transfer(alice, bob, sid, 400) == (True, "")
    assert register.can_transfer(alice, bob, sid, 401) == (False, FREE)
    with ape.reverts(FREE):
        register.transfer(bob, sid, 401, sender=alice)
    register.transfer(bob, sid, 400, sender=alice)
    assert register.frozen_balance_of(alice, sid) == 600
    assert_encumbrances_fit(register, alice, sid)


def test_freeze__queued_when_it_does_not_fit__claims_what_is_free(register, court, alice, sid):
    f1, _ = freeze(register, court, alice, sid, 600, case="case A")
    f2, receipt = freeze(register, court, alice, sid, 600, case="case B")
    assert in_force(register, receipt) is False
    assert register.freeze_of(f2).status == FreezeStatus.OPEN
    # f2 waits for 200 more, and holds the 400 that were free
    assert register.frozen_balance_of(alice, sid) == 1000
    assert queue(register, alice, sid) == [(f1, True), (f2, False)]
    assert_encumbrances_fit(register, alice, sid)


def test_freeze__several_in_force_until_the_holding_is_full(register, court, alice, bob, sid):
    f1, _ = freeze(register, court, alice, sid, 600)
    f2, r2 = freeze(register, court, alice, sid, 400)
    f3, r3 = freeze(register, court, alice, sid, 1)
    assert in_force(register, r2) is True
    assert in_force(register, r3) is False
    assert queue(register, alice, sid) == [(f1, True), (f2, True), (f3, False)]
    assert register.frozen_balance_of(alice, sid) == 1000
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)


def test_freeze__of_pledged_units__waits_behind_the_pledge(register, court, alice, bob, bank, sid):
    """The pledge ranks first: the freeze holds the 400 free units and waits for the 600."""
    pledge(register, alice, bank, sid, 600)
    fid, receipt = freeze(register, court, alice, sid, 1000)
    assert in_force(register, receipt) is False
    assert register.frozen_balance_of(alice, sid) == 400
    assert register.pledged_balance_of(alice, sid) == 600
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)
    assert_encumbrances_fit(register, alice, sid)


@pytest.mark.parametrize("caller", ["registrar", "alice", "governance"])
def test_freeze__not_court_agent__reverts(register, registrar, alice, governance, sid, caller):
    signer = {"registrar": registrar, "alice": alice, "governance": governance}[caller]
    with ape.reverts("roles: caller is not court agent"):
        register.freeze(alice, sid, 100, doc("case"), register.today() + 30, doc("ruling"), sender=signer)


@pytest.mark.parametrize("case, reason", [
    ("expiry_yesterday", "freezes: expiry in the past"),
    ("zero_units", "freezes: zero amount"),
    ("exceeds_holding", "freezes: amount exceeds holding"),
    ("no_holding", "freezes: amount exceeds holding"),
    ("unknown_security", "freezes: unknown security"),
    ("zero_owner", "freezes: zero address"),
])
def test_freeze__invalid__reverts(register, court, alice, bank, sid, case, reason):
    owner, id_, units, expiry = alice.address, sid, 100, register.today() + 30
    if case == "expiry_yesterday":
        expiry = register.today() - 1
    elif case == "zero_units":
        units = 0
    elif case == "exceeds_holding":
        units = 1001
    elif case == "no_holding":
        owner = bank.address
    elif case == "unknown_security":
        id_ = register.security_count() + 1000
    elif case == "zero_owner":
        owner = "0x0000000000000000000000000000000000000000"
    with ape.reverts(reason):
        register.freeze(owner, id_, units, doc("case"), expiry, doc("ruling"), sender=court)


def test_freeze__expiring_today_is_accepted(register, court, alice, sid):
    fid, _ = freeze(register, court, alice, sid, 100, days=0)
    assert register.frozen_balance_of(alice, sid) == 100


def test_freeze__more_than_max_freezes__reverts(register, court, alice, sid):
    ids = [freeze(register, court, alice, sid, 10)[0] for _ in range(MAX_FREEZES)]
    assert [f for f, _ in queue(register, alice, sid)] == ids
    with ape.reverts("freezes: too many freezes on holding"):
        freeze(register, court, alice, sid, 10)
    register.lift_freeze(ids[3], doc("lifted"), sender=court)
    fid, _ = freeze(register, court, alice, sid, 10)
    assert [f for f, _ in queue(register, alice, sid)] == ids[:3] + ids[4:] + [fid]


# ---------------------------------------------------------------- lifting and the queue


def test_lift_freeze__promotes_queued_freezes_in_order_as_far_as_they_fit(register, court, alice, sid):
    f1, _ = freeze(register, court, alice, sid, 700)
    f2, _ = freeze(register, court, alice, sid, 500)
    f3, _ = freeze(register, court, alice, sid, 400)
    f4, _ = freeze(register, court, alice, sid, 200)
    assert queue(register, alice, sid) == [(f1, True), (f2, False), (f3, False), (f4, False)]
    assert register.frozen_balance_of(alice, sid) == 1000  # f2 holds the 300 left
    receipt = register.lift_freeze(f1, doc("lifted"), sender=court)
    assert events(receipt, register.FreezeLifted) == [
        {"freeze_id": f1, "actor": court.address, "doc": doc("lifted")}]
    # f2 and f3 fit together (900); f4 takes the 100 left and waits for the rest
    assert events(receipt, register.FreezeTookEffect) == [{"freeze_id": f2}, {"freeze_id": f3}]
    assert register.freeze_of(f1).status == FreezeStatus.LIFTED
    assert queue(register, alice, sid) == [(f2, True), (f3, True), (f4, False)]
    assert register.frozen_balance_of(alice, sid) == 1000
    assert_encumbrances_fit(register, alice, sid)


def test_lift_freeze__a_later_smaller_freeze_never_jumps_an_earlier_one(register, court, alice, bob, sid):
    f1, _ = freeze(register, court, alice, sid, 800)
    f2, _ = freeze(register, court, alice, sid, 500)
    f3, receipt = freeze(register, court, alice, sid, 100)  # would fit beside f1, but f2 waits first
    assert in_force(register, receipt) is False
    assert queue(register, alice, sid) == [(f1, True), (f2, False), (f3, False)]
    # f2 holds the 200 f1 leaves, f3 nothing yet; the holder moves nothing
    assert register.frozen_balance_of(alice, sid) == 1000
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)
    # lifting f2 (still waiting) lets f3 take effect
    receipt = register.lift_freeze(f2, doc("lifted"), sender=court)
    assert events(receipt, register.FreezeTookEffect) == [{"freeze_id": f3}]
    assert queue(register, alice, sid) == [(f1, True), (f3, True)]
    assert register.frozen_balance_of(alice, sid) == 900


def test_lift_freeze__nothing_to_promote_logs_no_effect(register, court, alice, sid):
    f1, _ = freeze(register, court, alice, sid, 300)
    receipt = register.lift_freeze(f1, doc("lifted"), sender=court)
    assert events(receipt, register.FreezeTookEffect) == []
    assert queue(register, alice, sid) == []
    assert register.frozen_balance_of(alice, sid) == 0


def test_lift_freeze__not_court_agent__reverts(register, registrar, alice, court, sid):
    fid, _ = freeze(register, court, alice, sid, 300)
    with ape.reverts("roles: caller is not court agent"):
        register.lift_freeze(fid, doc("lifted"), sender=registrar)


def test_lift_freeze__unknown_or_not_open__reverts(register, court, alice, sid):
    with ape.reverts("freezes: unknown freeze"):
        register.lift_freeze(register.freeze_count() + 1, doc("lifted"), sender=court)
    fid, _ = freeze(register, court, alice, sid, 300)
    register.lift_freeze(fid, doc("lifted"), sender=court)
    with ape.reverts("freezes: freeze not open"):
        register.lift_freeze(fid, doc("lifted"), sender=court)
    with ape.reverts("freezes: freeze not open"):
        register.renew_freeze(fid, register.today() + 60, doc("renewal"), sender=court)
    with ape.reverts("freezes: freeze not open"):
        register.court_transfer(fid, alice, 1, doc("ruling"), sender=court)


# ---------------------------------------------------------------- expiry, tidying, renewal


def test_freeze__expiry_takes_effect_with_nobody_acting(register, court, alice, bob, advance_days, sid):
    f1, _ = freeze(register, court, alice, sid, 600, days=2)
    f2, _ = freeze(register, court, alice, sid, 700, days=30)
    assert register.can_transfer(alice, bob, sid, 1) == (False, FREE)
    advance_days(2)  # the expiry day itself: still in force
    assert queue(register, alice, sid) == [(f1, True), (f2, False)]
    assert register.frozen_balance_of(alice, sid) == 1000
    advance_days(1)  # past it: lapsed, and f2 takes effect on its own
    assert register.frozen_balance_of(alice, sid) == 700
    assert queue(register, alice, sid) == [(f1, False), (f2, True)]
    assert register.can_transfer(alice, bob, sid, 300) == (True, "")
    assert register.can_transfer(alice, bob, sid, 301) == (False, FREE)
    with ape.reverts(FREE):
        register.transfer(bob, sid, 301, sender=alice)
    register.transfer(bob, sid, 300, sender=alice)
    assert_encumbrances_fit(register, alice, sid)


def test_freeze__all_lapsed_frees_the_holding(register, court, alice, bob, advance_days, sid):
    freeze(register, court, alice, sid, 1000, days=1)
    advance_days(2)
    assert register.frozen_balance_of(alice, sid) == 0
    register.transfer(bob, sid, 1000, sender=alice)
    assert register.balanceOf(alice, sid) == 0


def test_tidy_freezes__by_anyone_clears_lapsed_freezes(register, court, alice, outsider, advance_days, sid):
    f1, _ = freeze(register, court, alice, sid, 600, days=1)
    f2, _ = freeze(register, court, alice, sid, 700, days=30)
    f3, _ = freeze(register, court, alice, sid, 100, days=2)
    advance_days(5)
    receipt = register.tidy_freezes(alice, sid, sender=outsider)
    assert events(receipt, register.FreezeLapsed) == [{"freeze_id": f1}, {"freeze_id": f3}]
    assert register.freeze_of(f1).status == FreezeStatus.LAPSED
    assert register.freeze_of(f3).status == FreezeStatus.LAPSED
    assert queue(register, alice, sid) == [(f2, True)]
    assert register.frozen_balance_of(alice, sid) == 700
    with ape.reverts("freezes: nothing to tidy"):
        register.tidy_freezes(alice, sid, sender=outsider)


def test_tidy_freezes__nothing_lapsed__reverts(register, court, alice, outsider, sid):
    with ape.reverts("freezes: nothing to tidy"):
        register.tidy_freezes(alice, sid, sender=outsider)
    freeze(register, court, alice, sid, 100)
    with ape.reverts("freezes: nothing to tidy"):
        register.tidy_freezes(alice, sid, sender=outsider)


def test_renew_freeze__before_expiry_keeps_rank(register, court, alice, advance_days, sid):
    f1, _ = freeze(register, court, alice, sid, 600, days=2)
    f2, _ = freeze(register, court, alice, sid, 700, days=30)
    new_expiry = register.today() + 60
    receipt = register.renew_freeze(f1, new_expiry, doc("renewal"), sender=court)
    assert events(receipt, register.FreezeRenewed) == [
        {"freeze_id": f1, "expiry_day": new_expiry, "actor": court.address, "doc": doc("renewal")}]
    assert register.freeze_of(f1).expiry_day == new_expiry
    advance_days(10)
    # f1 is still first and in force; f2 still waits behind it, holding the 400 left
    assert queue(register, alice, sid) == [(f1, True), (f2, False)]
    assert register.frozen_balance_of(alice, sid) == 1000


def test_renew_freeze__not_extending__reverts(register, court, alice, sid):
    fid, _ = freeze(register, court, alice, sid, 600, days=10)
    expiry = register.freeze_of(fid).expiry_day
    for day in (expiry, expiry - 1):
        with ape.reverts("freezes: renewal must extend the expiry"):
            register.renew_freeze(fid, day, doc("renewal"), sender=court)


def test_renew_freeze__lapsed__reverts(register, court, alice, advance_days, sid):
    fid, _ = freeze(register, court, alice, sid, 600, days=1)
    advance_days(2)
    with ape.reverts("freezes: freeze lapsed"):
        register.renew_freeze(fid, register.today() + 30, doc("renewal"), sender=court)
    with ape.reverts("freezes: freeze lapsed"):
        register.lift_freeze(fid, doc("lifted"), sender=court)


def test_renew_freeze__not_court_agent__reverts(register, registrar, court, alice, sid):
    fid, _ = freeze(register, court, alice, sid, 600, days=10)
    with ape.reverts("roles: caller is not court agent"):
        register.renew_freeze(fid, register.today() + 30, doc("renewal"), sender=registrar)


# ---------------------------------------------------------------- court-ordered transfer


def test_court_transfer__overrides_lockup_and_holding_period(register, registrar, court, alice, bob, buyer, sid):
    fid, _ = freeze(register, court, alice, sid, 600)
    register.set_lockup(alice, sid, register.today() + 100, doc("lock-up"), sender=registrar)
    register.transfer(alice, sid, 10, sender=bob)  # a fresh acquisition
    assert register.can_transfer(alice, bob, sid, 1) == (False, "ledger: holding locked up")
    receipt = register.court_transfer(fid, buyer, 250, doc("auction"), sender=court)
    assert events(receipt, register.CourtTransferred) == [{
        "freeze_id": fid, "receiver": buyer.address, "units": 250, "remaining": 350,
        "actor": court.address, "doc": doc("auction")}]
    assert [(e["sender"], e["receiver"], e["amount"]) for e in events(receipt, register.Transfer)] == [
        (alice.address, buyer.address, 250)]
    assert register.balanceOf(buyer, sid) == 250
    assert register.balanceOf(alice, sid) == 760
    assert register.freeze_of(fid).units == 350
    assert register.freeze_of(fid).status == FreezeStatus.OPEN
    assert register.frozen_balance_of(alice, sid) == 350

    register.court_transfer(fid, buyer, 350, doc("auction"), sender=court)
    assert register.freeze_of(fid).units == 0
    assert register.freeze_of(fid).status == FreezeStatus.EXECUTED
    assert queue(register, alice, sid) == []
    assert register.balanceOf(buyer, sid) == 600
    assert register.frozen_balance_of(alice, sid) == 0
    with ape.reverts("freezes: freeze not open"):
        register.court_transfer(fid, buyer, 1, doc("auction"), sender=court)


def test_court_transfer__queued_freeze__only_what_it_holds(register, court, alice, buyer, sid):
    freeze(register, court, alice, sid, 1000)
    f2, _ = freeze(register, court, alice, sid, 600)
    with ape.reverts("freezes: freeze holds no units"):
        register.court_transfer(f2, buyer, 100, doc("auction"), sender=court)


def test_court_transfer__lapsed_freeze__reverts(register, court, alice, buyer, advance_days, sid):
    fid, _ = freeze(register, court, alice, sid, 600, days=1)
    advance_days(2)
    with ape.reverts("freezes: freeze lapsed"):
        register.court_transfer(fid, buyer, 100, doc("auction"), sender=court)


def test_court_transfer__exceeds_freeze__reverts(register, court, alice, buyer, sid):
    fid, _ = freeze(register, court, alice, sid, 600)
    with ape.reverts("freezes: amount exceeds units the freeze holds"):
        register.court_transfer(fid, buyer, 601, doc("auction"), sender=court)
    with ape.reverts("freezes: zero amount"):
        register.court_transfer(fid, buyer, 0, doc("auction"), sender=court)


def test_court_transfer__pledged_units__reverts(register, court, alice, bank, buyer, sid):
    pledge(register, alice, bank, sid, 600)
    fid, _ = freeze(register, court, alice, sid, 1000)
    with ape.reverts("freezes: amount exceeds units the freeze holds"):
        register.court_transfer(fid, buyer, 401, doc("auction"), sender=court)
    register.court_transfer(fid, buyer, 400, doc("auction"), sender=court)
    assert register.balanceOf(alice, sid) == 600
    assert register.pledged_balance_of(alice, sid) == 600
    assert_encumbrances_fit(register, alice, sid)


def test_court_transfer__units_of_an_earlier_freeze__reverts(register, court, alice, bank, buyer, sid):
    """Freeze A (600) ranks first; then a pledge takes the other 400; freeze B (300) holds
    nothing: every unit it could cover belongs to A or the pledge. B's court-ordered
    transfer must not take any of them (design rule 9)."""
    fa, _ = freeze(register, court, alice, sid, 600, case="case A")
    pledge(register, alice, bank, sid, 400)
    fb, _ = freeze(register, court, alice, sid, 300, case="case B")
    with ape.reverts("freezes: freeze holds no units"):
        register.court_transfer(fb, buyer, 300, doc("auction B"), sender=court)
    # A's court can still take all of A's units
    register.court_transfer(fa, buyer, 600, doc("auction A"), sender=court)
    assert register.balanceOf(buyer, sid) == 600
    assert register.pledged_balance_of(alice, sid) == 400


def test_court_transfer__receiver_not_qualified__reverts(register, court, alice, outsider, open_account, sid):
    open_account(outsider, qualified=False)
    fid, _ = freeze(register, court, alice, sid, 600)
    with ape.reverts("ledger: receiver not qualified"):
        register.court_transfer(fid, outsider, 100, doc("auction"), sender=court)
    assert register.freeze_of(fid).units == 600


def test_court_transfer__not_court_agent__reverts(register, registrar, court, alice, buyer, sid):
    fid, _ = freeze(register, court, alice, sid, 600)
    with ape.reverts("roles: caller is not court agent"):
        register.court_transfer(fid, buyer, 100, doc("auction"), sender=registrar)


def test_court_transfer__unknown_freeze__reverts(register, court, buyer):
    with ape.reverts("freezes: unknown freeze"):
        register.court_transfer(register.freeze_count() + 1, buyer, 100, doc("auction"), sender=court)


# ---------------------------------------------------------------- other paths


def test_decrease_capital__frozen_units__reverts(register, registrar, court, alice, sid):
    freeze(register, court, alice, sid, 700)
    with ape.reverts("corporate_actions: amount exceeds free balance"):
        register.decrease_capital(sid, [(alice.address, 301)], doc("reduction"), sender=registrar)
    register.decrease_capital(sid, [(alice.address, 300)], doc("reduction"), sender=registrar)
    assert register.frozen_balance_of(alice, sid) == 700


def test_recover__freezes_move_with_the_holding(register, registrar, court, alice, bob, sid):
    new_key = "0x000000000000000000000000000000000000bEEF"
    f1, _ = freeze(register, court, alice, sid, 600)
    f2, _ = freeze(register, court, alice, sid, 600)
    register.recover(alice, new_key, [sid], doc("recovery"), sender=registrar)
    assert register.freeze_of(f1).owner == new_key
    assert queue(register, new_key, sid) == [(f1, True), (f2, False)]
    assert queue(register, alice, sid) == []
    assert register.frozen_balance_of(new_key, sid) == 1000
    assert register.can_transfer(new_key, bob, sid, 1) == (False, FREE)
    receipt = register.lift_freeze(f1, doc("lifted"), sender=court)
    assert events(receipt, register.FreezeTookEffect) == [{"freeze_id": f2}]


def test_court_transfer__more_than_left_after_earlier_freezes__reverts(register, court, alice, buyer, sid):
    """A (700) ranks first; B (300) is in force beside it; once A's court has taken 500,
    B keeps holding its 300 (it took effect) and A the 200 left of its own."""
    fa, _ = freeze(register, court, alice, sid, 700, case="case A")
    fb, _ = freeze(register, court, alice, sid, 300, case="case B")
    register.court_transfer(fa, buyer, 500, doc("auction A"), sender=court)
    assert register.frozen_balance_of(alice, sid) == 500
    with ape.reverts("freezes: amount exceeds units the freeze holds"):
        register.court_transfer(fb, buyer, 301, doc("auction B"), sender=court)
    register.court_transfer(fb, buyer, 300, doc("auction B"), sender=court)
    assert register.frozen_balance_of(alice, sid) == 200
