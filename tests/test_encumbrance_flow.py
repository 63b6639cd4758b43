import ape
from conftest import doc

def test_pledge_then_freezes__queue_lift_court_transfer_and_enforcement(register, alice, bob, carol, court, registrar, open_account, new_security, today, chain):
    open_account(alice); open_account(bob); open_account(carol)
    sid = new_security([(alice, 1000), (bob, 1000)])
    register.offer_pledge(sid, bob, 300, doc("p"), sender=alice)
    pid = register.pledge_count()
    r = register.accept_pledge(pid, doc("a"), sender=bob)
    assert register.pledged_balance_of(alice, sid) == 300
    assert list(register.pledges_of(alice, sid)) == [pid]
    r = register.freeze(alice, sid, 600, doc("case1"), today + 30, doc("f"), sender=court)
    f1 = register.freeze_count()
    r = register.freeze(alice, sid, 600, doc("case2"), today + 30, doc("f"), sender=court)
    f2 = register.freeze_count()
    ids, flags = register.freeze_queue_of(alice, sid)
    assert list(flags) == [True, False]
    # the queued freeze claims the 100 units neither pledged nor held by f1 (issue 12):
    # while it waits the holder can neither move nor pledge them
    assert register.frozen_balance_of(alice, sid) == 700
    assert register.can_transfer(alice, carol, sid, 1) == (False, "ledger: amount exceeds free balance")
    r = register.lift_freeze(f1, doc("l"), sender=court)
    ids, flags = register.freeze_queue_of(alice, sid)
    assert list(flags) == [True]
    r = register.court_transfer(f2, carol, 500, doc("ct"), sender=court)
    assert register.balanceOf(alice, sid) == 500
    with ape.reverts("freezes: amount exceeds units the freeze holds"):
        register.court_transfer(f2, carol, 101, doc("ct"), sender=court)
    register.enforce_pledge(pid, bob, 300, doc("e"), sender=court)
    assert register.balanceOf(bob, sid) == 1300
    assert register.pledged_balance_of(alice, sid) == 0
    assert register.frozen_balance_of(alice, sid) == 100
