"""Transfer instructions end to end: consent, notice and first refusal, settlement
free of payment and against cash."""

import ape
import pytest

from conftest import doc
from regchain.constants import InstructionStage, InvestorClass, Kind, SecurityRole


def test_llc_to_outsider__plain_transfer_refused__instruction_with_first_refusal_settles_pro_rata(
    register, registrar, alice, bob, carol, dave, open_account, new_security, advance_days, cash
):
    for who in (alice, bob, carol, dave):
        open_account(who)
    sid = new_security([(alice, 600), (bob, 300), (carol, 100)], kind=Kind.LLC)
    assert register.can_transfer(alice, dave, sid, 100) == (False, "ledger: transfer to an outsider needs notice")
    register.transfer(bob, sid, 10, sender=alice)  # between shareholders: no notice
    register.propose_transfer(dave, sid, 200, 2_000, cash, doc("spa"), sender=alice)
    iid = register.instruction_count()
    cash.mint(dave, 2_000, sender=dave); cash.approve(register, 2_000, sender=dave)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    for who in (bob, carol):
        cash.mint(who, 2_000, sender=who); cash.approve(register, 2_000, sender=who)
        register.exercise_first_refusal(iid, doc("rofr"), sender=who)
    with ape.reverts("instructions: notice period not over"):
        register.settle_transfer(iid, doc("settle"), sender=alice)
    advance_days(31)
    register.settle_transfer(iid, doc("settle"), sender=alice)
    # bob 310, carol 100: bob gets 200*310//410 = 151, carol the rest 49
    assert register.balanceOf(bob, sid) == 310 + 151
    assert register.balanceOf(carol, sid) == 100 + 49
    assert register.balanceOf(dave, sid) == 0
    assert cash.balanceOf(alice) == 2_000
    assert register.escrowed(cash) == cash.balanceOf(register)
    assert register.refunds(cash, dave) == 2_000
    register.claim_refund(cash, sender=dave)
    assert cash.balanceOf(dave) == 2_000
    assert register.stage_of(iid) == InstructionStage.SETTLED


def test_fund__needs_manager_consent__settles_free_of_payment_by_registrar(
    register, registrar, governance, alice, bob, dave, open_account, new_security, advance_days
):
    for who in (alice, bob):
        open_account(who, investor_class=InvestorClass.INSTITUTION)
    open_account(dave, investor_class=InvestorClass.INSTITUTION)
    sid = new_security([(alice, 5_000), (bob, 5_000)], kind=Kind.LP_FUND)
    register.set_transfer_terms(sid, False, True, 1_000, doc("agreement"), sender=registrar)
    register.grant_security_role(sid, governance, SecurityRole.FUND_MANAGER, sender=governance)
    assert register.can_transfer(alice, dave, sid, 2_000) == (False, "ledger: fund transfer needs the manager's consent")
    assert register.can_transfer(alice, dave, sid, 500) == (False, "ledger: below the fund's minimum holding")
    register.propose_transfer(dave, sid, 2_000, 0, "0x0000000000000000000000000000000000000000", doc("lpa"), sender=alice)
    iid = register.instruction_count()
    register.accept_transfer(iid, doc("accept"), sender=dave)
    with ape.reverts("instructions: manager has not consented"):
        register.settle_transfer(iid, doc("paid"), sender=registrar)
    register.consent_transfer(iid, doc("consent"), sender=governance)
    register.settle_transfer(iid, doc("paid"), sender=registrar)
    assert register.balanceOf(dave, sid) == 2_000


def test_bidding__best_bid_wins_at_close__beaten_bid_refunded_by_pull(
    register, alice, bob, carol, dave, open_account, new_security, advance_days, cash
):
    for who in (alice, bob, carol, dave):
        open_account(who)
    sid = new_security([(alice, 1_000), (bob, 1_000)])
    end = register.today() + 3
    register.list_units(sid, 400, 1_000, cash, end, doc("listing"), sender=alice)
    lid = register.listing_count()
    for who, amount in ((carol, 5_000), (dave, 5_000)):
        cash.mint(who, amount, sender=who)
        cash.approve(register, amount, sender=who)
    with ape.reverts("auctions: bid below reserve"):
        register.bid(lid, 999, doc("bid"), sender=carol)
    register.bid(lid, 1_200, doc("bid"), sender=carol)
    with ape.reverts("auctions: bid does not beat the best"):
        register.bid(lid, 1_200, doc("bid"), sender=dave)  # ties go to the earlier bid
    register.bid(lid, 1_500, doc("bid"), sender=dave)
    assert register.refunds(cash, carol) == 1_200
    with ape.reverts("auctions: bidding not over"):
        register.close_listing(lid, doc("close"), sender=bob)
    advance_days(4)
    register.close_listing(lid, doc("close"), sender=bob)
    assert register.balanceOf(dave, sid) == 400
    assert cash.balanceOf(alice) == 1_500
    register.claim_refund(cash, sender=carol)
    assert cash.balanceOf(carol) == 5_000
    assert register.escrowed(cash) == cash.balanceOf(register) == 0
