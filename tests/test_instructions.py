"""Transfer instructions (issue 6; design rules 2–6), function by function: proposal
(negotiated and court-ordered), acceptance with escrow, the manager's consent and
refusal, notice and first refusal (silence waives, several exercisers pro rata to their
holdings at settlement), settlement free of payment and against cash with every
transfer rule re-checked at that moment, withdrawal, lapse with nobody acting, pull
refunds. Every cash-moving step is followed by the escrow invariant
``escrowed(token) == token.balanceOf(register)``."""

import ape
import pytest
from conftest import doc, events

from regchain.constants import (
    COURT_NOTICE_DAYS,
    NOTICE_DAYS,
    SETTLEMENT_DAYS,
    InstructionStage,
    InvestorClass,
    Kind,
    SecurityRole,
)

ZERO = "0x0000000000000000000000000000000000000000"
PRICE = 1_000


# ------------------------------------------------------------------ actors and fixtures


@pytest.fixture(scope="module")
def manager(issuer_agent):
    """The fund manager (GP) of the fund security."""
    return issuer_agent


@pytest.fixture(scope="module")
def unqualified(accounts):
    """An institution whose account is open but not qualified."""
    return accounts[9]


@pytest.fixture(scope="module", autouse=True)
def _accounts(register, alice, bob, carol, dave, outsider, unqualified, open_account):
    """alice, bob, carol, dave: qualified institutions; outsider: a qualified individual."""
    for who in (alice, bob, carol, dave):
        open_account(who, investor_class=InvestorClass.INSTITUTION)
    open_account(outsider)
    open_account(unqualified, qualified=False, investor_class=InvestorClass.INSTITUTION)


@pytest.fixture(scope="module")
def llc(new_security, alice, bob, carol):
    """An LLC (first refusal on by default): alice 600, bob 300, carol 100."""
    return new_security([(alice, 600), (bob, 300), (carol, 100)], kind=Kind.LLC)


@pytest.fixture(scope="module")
def fund(register, registrar, governance, manager, new_security, alice, bob):
    """An LP fund, institutions only, minimum holding 1000, no first refusal:
    alice 5000, bob 5000; `manager` is its fund manager."""
    sid = new_security([(alice, 5_000), (bob, 5_000)], kind=Kind.LP_FUND)
    register.set_transfer_terms(sid, False, True, 1_000, doc("fund agreement"), sender=registrar)
    register.grant_security_role(sid, manager, SecurityRole.FUND_MANAGER, doc("grant"), sender=governance)
    return sid


@pytest.fixture(scope="module")
def cash(cash, register, alice, bob, carol, dave, outsider):
    """conftest's accepted cash token; the buyers hold and have approved plenty of it."""
    token = cash
    for who in (alice, bob, carol, dave, outsider):
        token.mint(who, 10 * PRICE, sender=who)
        token.approve(register, 2**256 - 1, sender=who)
    return token


@pytest.fixture(scope="module", autouse=True)
def _securities(llc, fund, cash, advance_days):
    """Create the module's securities and token before the per-test isolation starts."""


# ------------------------------------------------------------------ helpers


def one(receipt, event):
    (found,) = events(receipt, event)
    return found


def assert_escrow(register, cash):
    """The invariant: the register holds exactly what it records as escrowed."""
    assert register.escrowed(cash) == cash.balanceOf(register)


def propose(register, seller, buyer, sid, units, price=PRICE, cash=ZERO, text="spa"):
    receipt = register.propose_transfer(buyer, sid, units, price, cash, doc(text), sender=seller)
    return register.instruction_count(), receipt


def ins(register, iid):
    return register.instruction_of(iid)


# ------------------------------------------------------------------ set_cash_token


def test_set_cash_token__governance__accepts_and_stops_accepting(register, governance, project):
    token = governance.deploy(project.CashToken)
    assert not register.cash_tokens(token)
    receipt = register.set_cash_token(token, True, doc("bank deposit token"), sender=governance)
    assert one(receipt, register.CashTokenSet) == {
        "token": token.address, "accepted": True, "actor": governance.address, "doc": doc("bank deposit token"),
    }
    assert register.cash_tokens(token)
    receipt = register.set_cash_token(token, False, doc("withdrawn"), sender=governance)
    assert not one(receipt, register.CashTokenSet)["accepted"]
    assert not register.cash_tokens(token)


def test_set_cash_token__not_governance__reverts(register, registrar, cash):
    with ape.reverts("roles: caller is not governance"):
        register.set_cash_token(cash, True, doc("cash"), sender=registrar)


def test_set_cash_token__not_a_contract__reverts(register, governance, alice):
    with ape.reverts("instructions: cash token is not a contract"):
        register.set_cash_token(alice, True, doc("cash"), sender=governance)


# ------------------------------------------------------------------ propose_transfer


def test_propose_transfer__llc_to_outsider__30_day_notice(register, alice, dave, llc, cash):
    today = register.today()
    iid, receipt = propose(register, alice, dave, llc, 200, cash=cash)
    assert iid == 1 or iid == register.instruction_count()
    assert one(receipt, register.InstructionProposed) == {
        "instruction_id": iid, "seller": alice.address, "buyer": dave.address, "id": llc, "units": 200,
        "price": PRICE, "cash": cash.address, "court_ordered": False,
        "notice_end_day": today + NOTICE_DAYS, "expiry_day": today + NOTICE_DAYS + SETTLEMENT_DAYS,
        "actor": alice.address, "doc": doc("spa"),
    }
    i = ins(register, iid)
    assert (i.seller, i.buyer, i.id, i.units, i.price, i.cash) == (alice.address, dave.address, llc, 200, PRICE, cash.address)
    assert (i.stage, i.court_ordered, i.buyer_accepted, i.consented) == (InstructionStage.PROPOSED, False, False, False)
    assert (i.notice_end_day, i.expiry_day) == (today + NOTICE_DAYS, today + NOTICE_DAYS + SETTLEMENT_DAYS)
    assert register.stage_of(iid) == InstructionStage.PROPOSED
    assert register.exercisers_of(iid) == []
    # nothing escrowed and nothing moved by a proposal
    assert register.escrowed(cash) == 0 and register.balanceOf(alice, llc) == 600


def test_propose_transfer__llc_between_shareholders__no_notice_settles_at_once(register, registrar, alice, bob, llc):
    today = register.today()
    assert register.can_transfer(alice, bob, llc, 100) == (True, "")
    iid, receipt = propose(register, alice, bob, llc, 100)
    event = one(receipt, register.InstructionProposed)
    assert (event["notice_end_day"], event["expiry_day"]) == (0, today + SETTLEMENT_DAYS)
    register.accept_transfer(iid, doc("accept"), sender=bob)
    receipt = register.settle_transfer(iid, doc("paid off chain"), sender=registrar)
    # free of payment: `paid` reports the price reference the registrar confirms off chain
    assert one(receipt, register.InstructionSettled) == {
        "instruction_id": iid, "receiver": bob.address, "units": 100, "paid": PRICE,
        "actor": registrar.address, "doc": doc("paid off chain"),
    }
    assert (register.balanceOf(alice, llc), register.balanceOf(bob, llc)) == (500, 400)
    assert register.stage_of(iid) == InstructionStage.SETTLED


def test_set_transfer_terms__articles_switch_first_refusal_off__outsider_needs_no_notice(
    register, registrar, alice, bob, dave, llc
):
    assert register.can_transfer(alice, dave, llc, 100) == (False, "ledger: transfer to an outsider needs notice")
    receipt = register.set_transfer_terms(llc, False, False, 0, doc("articles"), sender=registrar)
    assert one(receipt, register.TransferTermsSet) == {
        "id": llc, "first_refusal": False, "institutional_only": False, "fund_minimum": 0,
        "actor": registrar.address, "doc": doc("articles"),
    }
    assert register.can_transfer(alice, dave, llc, 100) == (True, "")
    iid, receipt = propose(register, alice, dave, llc, 100)
    assert one(receipt, register.InstructionProposed)["notice_end_day"] == 0
    with ape.reverts("instructions: no right of first refusal"):
        register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.settle_transfer(iid, doc("paid"), sender=registrar)
    assert register.balanceOf(dave, llc) == 100


def test_set_transfer_terms__not_security_manager__reverts(register, alice, llc):
    with ape.reverts("roles: caller is not security manager"):
        register.set_transfer_terms(llc, False, False, 0, doc("articles"), sender=alice)


def test_set_transfer_terms__fund_minimum_on_llc__reverts(register, registrar, llc):
    with ape.reverts("corporate_actions: minimum holding is for funds"):
        register.set_transfer_terms(llc, True, False, 1, doc("articles"), sender=registrar)


@pytest.mark.parametrize("case, reason", [
    ("zero buyer", "instructions: zero address"),
    ("buyer is seller", "instructions: buyer is the seller"),
    ("zero units", "instructions: zero amount"),
    ("unknown security", "instructions: unknown security"),
    ("exceeds holding", "instructions: amount exceeds holding"),
    ("cash not accepted", "instructions: cash token not accepted"),
])
def test_propose_transfer__invalid__reverts(register, governance, project, alice, dave, llc, case, reason):
    buyer, sid, units, token = dave.address, llc, 100, ZERO
    if case == "zero buyer":
        buyer = ZERO
    elif case == "buyer is seller":
        buyer = alice.address
    elif case == "zero units":
        units = 0
    elif case == "unknown security":
        sid = register.security_count() + 1
    elif case == "exceeds holding":
        units = 601
    elif case == "cash not accepted":
        token = governance.deploy(project.CashToken).address
    with ape.reverts(reason):
        register.propose_transfer(buyer, sid, units, PRICE, token, doc("spa"), sender=alice)


def test_propose_transfer__cash_token_no_longer_accepted__reverts(register, governance, alice, dave, llc, cash):
    register.set_cash_token(cash, False, doc("stopped"), sender=governance)
    with ape.reverts("instructions: cash token not accepted"):
        register.propose_transfer(dave, llc, 100, PRICE, cash, doc("spa"), sender=alice)


def test_propose_transfer__paused__reverts(register, governance, alice, dave, llc):
    register.pause(doc("pause"), sender=governance)
    with ape.reverts("instructions: paused"):
        register.propose_transfer(dave, llc, 100, PRICE, ZERO, doc("spa"), sender=alice)


# ------------------------------------------------------------------ propose_court_sale


def test_propose_court_sale__court_agent__20_day_notice(register, court, alice, dave, llc, cash):
    today = register.today()
    receipt = register.propose_court_sale(alice, dave, llc, 200, PRICE, cash, doc("ruling"), sender=court)
    iid = register.instruction_count()
    assert one(receipt, register.InstructionProposed) == {
        "instruction_id": iid, "seller": alice.address, "buyer": dave.address, "id": llc, "units": 200,
        "price": PRICE, "cash": cash.address, "court_ordered": True,
        "notice_end_day": today + COURT_NOTICE_DAYS, "expiry_day": today + COURT_NOTICE_DAYS + SETTLEMENT_DAYS,
        "actor": court.address, "doc": doc("ruling"),
    }
    assert ins(register, iid).court_ordered


def test_propose_court_sale__not_court_agent__reverts(register, registrar, alice, dave, llc):
    with ape.reverts("roles: caller is not court agent"):
        register.propose_court_sale(alice, dave, llc, 200, PRICE, ZERO, doc("ruling"), sender=registrar)


def test_court_sale__first_refusal_within_20_days__settles_to_exerciser_on_day_21(
    register, registrar, court, alice, bob, carol, dave, llc, cash, advance_days
):
    register.propose_court_sale(alice, dave, llc, 200, PRICE, cash, doc("ruling"), sender=court)
    iid = register.instruction_count()
    advance_days(COURT_NOTICE_DAYS)  # the last day of the notice
    register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    assert_escrow(register, cash)
    with ape.reverts("instructions: notice period not over"):
        register.settle_transfer(iid, doc("settle"), sender=registrar)
    advance_days(1)
    with ape.reverts("instructions: notice period over"):
        register.exercise_first_refusal(iid, doc("late"), sender=carol)
    receipt = register.settle_transfer(iid, doc("settle"), sender=registrar)
    assert one(receipt, register.InstructionSettled)["receiver"] == bob.address
    assert register.balanceOf(bob, llc) == 500
    assert_escrow(register, cash)


# ------------------------------------------------------------------ accept_transfer


def test_accept_transfer__dvp__escrows_the_price(register, alice, dave, llc, cash):
    iid, _ = propose(register, alice, dave, llc, 200, cash=cash)
    before = cash.balanceOf(dave)
    receipt = register.accept_transfer(iid, doc("accept"), sender=dave)
    assert one(receipt, register.InstructionAccepted) == {
        "instruction_id": iid, "buyer": dave.address, "escrowed": PRICE, "doc": doc("accept"),
    }
    assert cash.balanceOf(dave) == before - PRICE
    assert register.escrowed(cash) == PRICE
    assert ins(register, iid).buyer_accepted
    assert_escrow(register, cash)


def test_accept_transfer__free_of_payment__escrows_nothing(register, alice, dave, llc):
    iid, _ = propose(register, alice, dave, llc, 200)
    receipt = register.accept_transfer(iid, doc("accept"), sender=dave)
    assert one(receipt, register.InstructionAccepted) == {
        "instruction_id": iid, "buyer": dave.address, "escrowed": 0, "doc": doc("accept"),
    }


def test_accept_transfer__not_the_buyer__reverts(register, alice, bob, dave, llc):
    iid, _ = propose(register, alice, dave, llc, 200)
    with ape.reverts("instructions: caller is not the buyer"):
        register.accept_transfer(iid, doc("accept"), sender=bob)


def test_accept_transfer__twice__reverts(register, alice, dave, llc, cash):
    iid, _ = propose(register, alice, dave, llc, 200, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    with ape.reverts("instructions: already accepted"):
        register.accept_transfer(iid, doc("accept"), sender=dave)
    assert_escrow(register, cash)


def test_accept_transfer__unknown_instruction__reverts(register, dave):
    with ape.reverts("instructions: unknown instruction"):
        register.accept_transfer(register.instruction_count() + 1, doc("accept"), sender=dave)


# ------------------------------------------------------------------ notice and first refusal


def test_silence_waives__no_exerciser__buyer_gets_the_units_after_the_notice(register, alice, dave, llc, cash, advance_days):
    iid, _ = propose(register, alice, dave, llc, 200, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    seller_cash = cash.balanceOf(alice)
    advance_days(NOTICE_DAYS)
    with ape.reverts("instructions: notice period not over"):
        register.settle_transfer(iid, doc("settle"), sender=dave)
    advance_days(1)
    receipt = register.settle_transfer(iid, doc("settle"), sender=dave)
    assert one(receipt, register.InstructionSettled) == {
        "instruction_id": iid, "receiver": dave.address, "units": 200, "paid": PRICE,
        "actor": dave.address, "doc": doc("settle"),
    }
    assert events(receipt, register.RefundCredited) == []
    assert (register.balanceOf(alice, llc), register.balanceOf(dave, llc)) == (400, 200)
    assert cash.balanceOf(alice) == seller_cash + PRICE
    assert register.escrowed(cash) == 0
    assert_escrow(register, cash)
    assert register.stage_of(iid) == InstructionStage.SETTLED
    advance_days(SETTLEMENT_DAYS + 1)  # past the expiry day: a settled instruction stays settled
    assert register.stage_of(iid) == InstructionStage.SETTLED


def test_exercise_first_refusal__dvp__escrows_the_full_price(register, alice, bob, dave, llc, cash):
    iid, _ = propose(register, alice, dave, llc, 200, cash=cash)
    receipt = register.exercise_first_refusal(iid, doc("rofr bob"), sender=bob)
    assert one(receipt, register.FirstRefusalExercised) == {
        "instruction_id": iid, "holder": bob.address, "escrowed": PRICE, "doc": doc("rofr bob"),
    }
    assert register.exercisers_of(iid) == [bob.address]
    assert register.escrowed(cash) == PRICE
    assert_escrow(register, cash)


@pytest.mark.parametrize("who, reason", [
    ("alice", "instructions: not another holder"),      # the seller
    ("dave", "instructions: not another holder"),       # the buyer
    ("outsider", "instructions: not another holder"),   # holds none
])
def test_exercise_first_refusal__not_another_holder__reverts(register, alice, dave, outsider, llc, who, reason):
    iid, _ = propose(register, alice, dave, llc, 200)
    with ape.reverts(reason):
        register.exercise_first_refusal(iid, doc("rofr"), sender={"alice": alice, "dave": dave, "outsider": outsider}[who])


def test_exercise_first_refusal__twice__reverts(register, alice, bob, dave, llc):
    iid, _ = propose(register, alice, dave, llc, 200)
    register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    with ape.reverts("instructions: already exercised"):
        register.exercise_first_refusal(iid, doc("rofr"), sender=bob)


def test_exercise_first_refusal__after_the_notice__reverts(register, alice, bob, dave, llc, advance_days):
    iid, _ = propose(register, alice, dave, llc, 200)
    advance_days(NOTICE_DAYS + 1)
    with ape.reverts("instructions: notice period over"):
        register.exercise_first_refusal(iid, doc("rofr"), sender=bob)


def test_exercise_first_refusal__between_shareholders__no_right(register, alice, bob, carol, llc):
    iid, _ = propose(register, alice, bob, llc, 200)
    with ape.reverts("instructions: no right of first refusal"):
        register.exercise_first_refusal(iid, doc("rofr"), sender=carol)


def test_several_exercisers__split_pro_rata_to_holdings_at_settlement__excess_refunded(
    register, alice, bob, carol, dave, llc, cash, advance_days
):
    """bob 300 and carol 100 exercise on 199 units for 1000; bob then moves 100 to carol,
    so at settlement they hold 200 each: bob 199*200//400 = 99 units for 1000*99//199 = 497,
    carol (the last) the remaining 100 units for 503. Each escrowed 1000; the outsider
    accepted and escrowed 1000 too."""
    iid, _ = propose(register, alice, dave, llc, 199, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    register.exercise_first_refusal(iid, doc("rofr"), sender=carol)
    assert register.exercisers_of(iid) == [bob.address, carol.address]
    assert register.escrowed(cash) == 3 * PRICE
    assert_escrow(register, cash)
    register.transfer(carol, llc, 100, sender=bob)  # between shareholders: allowed
    advance_days(NOTICE_DAYS + 1)
    seller_cash = cash.balanceOf(alice)
    receipt = register.settle_transfer(iid, doc("settle"), sender=alice)
    settled = events(receipt, register.InstructionSettled)
    assert settled == [
        {"instruction_id": iid, "receiver": bob.address, "units": 99, "paid": 497, "actor": alice.address, "doc": doc("settle")},
        {"instruction_id": iid, "receiver": carol.address, "units": 100, "paid": 503, "actor": alice.address, "doc": doc("settle")},
    ]
    assert events(receipt, register.RefundCredited) == [
        {"token": cash.address, "holder": dave.address, "amount": PRICE, "doc": doc("settle")},
        {"token": cash.address, "holder": bob.address, "amount": PRICE - 497, "doc": doc("settle")},
        {"token": cash.address, "holder": carol.address, "amount": PRICE - 503, "doc": doc("settle")},
    ]
    assert register.balanceOf(bob, llc) == 200 + 99
    assert register.balanceOf(carol, llc) == 200 + 100
    assert register.balanceOf(dave, llc) == 0
    assert register.balanceOf(alice, llc) == 600 - 199
    assert cash.balanceOf(alice) == seller_cash + PRICE
    assert (register.refunds(cash, dave), register.refunds(cash, bob), register.refunds(cash, carol)) == (PRICE, 503, 497)
    assert register.escrowed(cash) == PRICE + 503 + 497
    assert_escrow(register, cash)
    for who, amount in ((dave, PRICE), (bob, 503), (carol, 497)):
        before = cash.balanceOf(who)
        receipt = register.claim_refund(cash, doc("claim"), sender=who)
        assert one(receipt, register.RefundClaimed) == {
            "token": cash.address, "holder": who.address, "amount": amount, "doc": doc("claim"),
        }
        assert cash.balanceOf(who) == before + amount
        assert register.refunds(cash, who) == 0
        assert_escrow(register, cash)
    assert register.escrowed(cash) == 0


def test_single_exerciser__takes_everything__outsider_never_accepted(register, registrar, alice, carol, dave, llc, advance_days):
    iid, _ = propose(register, alice, dave, llc, 200)
    register.exercise_first_refusal(iid, doc("rofr"), sender=carol)
    advance_days(NOTICE_DAYS + 1)
    receipt = register.settle_transfer(iid, doc("paid"), sender=registrar)
    assert one(receipt, register.InstructionSettled)["receiver"] == carol.address
    assert register.balanceOf(carol, llc) == 300 and register.balanceOf(dave, llc) == 0


# ------------------------------------------------------------------ settle_transfer: who and when


def test_settle_transfer__free_of_payment__needs_the_registrar(register, alice, dave, llc):
    iid, _ = propose(register, alice, dave, llc, 100, text="fop")
    register.accept_transfer(iid, doc("accept"), sender=dave)
    for who in (alice, dave):
        with ape.reverts("roles: caller is not security manager"):
            register.settle_transfer(iid, doc("paid"), sender=who)


@pytest.mark.parametrize("who", ["seller", "buyer", "registrar"])
def test_settle_transfer__dvp__by_seller_buyer_or_registrar(register, registrar, alice, bob, llc, cash, who):
    iid, _ = propose(register, alice, bob, llc, 100, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=bob)
    actor = {"seller": alice, "buyer": bob, "registrar": registrar}[who]
    receipt = register.settle_transfer(iid, doc("settle"), sender=actor)
    assert one(receipt, register.InstructionSettled)["actor"] == actor.address
    assert register.balanceOf(bob, llc) == 400
    assert_escrow(register, cash)


def test_settle_transfer__dvp__anyone_else__reverts(register, alice, bob, carol, court, llc, cash):
    iid, _ = propose(register, alice, bob, llc, 100, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=bob)
    for who in (carol, court):
        with ape.reverts("instructions: caller may not settle"):
            register.settle_transfer(iid, doc("settle"), sender=who)


def test_settle_transfer__buyer_has_not_accepted__reverts(register, registrar, alice, bob, llc):
    iid, _ = propose(register, alice, bob, llc, 100)
    with ape.reverts("instructions: buyer has not accepted"):
        register.settle_transfer(iid, doc("paid"), sender=registrar)


def test_settle_transfer__twice__reverts(register, registrar, alice, bob, llc):
    iid, _ = propose(register, alice, bob, llc, 100)
    register.accept_transfer(iid, doc("accept"), sender=bob)
    register.settle_transfer(iid, doc("paid"), sender=registrar)
    with ape.reverts("instructions: instruction closed"):
        register.settle_transfer(iid, doc("paid"), sender=registrar)


def test_settle_transfer__paused__reverts(register, registrar, governance, alice, bob, llc):
    iid, _ = propose(register, alice, bob, llc, 100)
    register.accept_transfer(iid, doc("accept"), sender=bob)
    register.pause(doc("pause"), sender=governance)
    with ape.reverts("instructions: paused"):
        register.settle_transfer(iid, doc("paid"), sender=registrar)


# ------------------------------------------------------------------ settlement re-checks every rule


def _accepted_dvp(register, alice, bob, llc, cash, units=200):
    """alice sells `units` of the LLC to bob (a shareholder: no notice) against cash, accepted."""
    iid, _ = propose(register, alice, bob, llc, units, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=bob)
    return iid


def _assert_nothing_moved(register, cash, iid, alice, bob, llc, escrowed=PRICE):
    assert register.stage_of(iid) == InstructionStage.PROPOSED
    assert (register.balanceOf(alice, llc), register.balanceOf(bob, llc)) == (600, 300)
    assert register.escrowed(cash) == escrowed
    assert_escrow(register, cash)


def test_settle__freeze_arrived_meanwhile__blocks_then_settles_after_the_lift(
    register, court, alice, bob, llc, cash
):
    iid = _accepted_dvp(register, alice, bob, llc, cash)
    register.freeze(alice, llc, 500, doc("case"), register.today() + 30, doc("ruling"), sender=court)
    with ape.reverts("ledger: amount exceeds free balance"):
        register.settle_transfer(iid, doc("settle"), sender=bob)
    _assert_nothing_moved(register, cash, iid, alice, bob, llc)
    register.lift_freeze(register.freeze_count(), doc("lifted"), sender=court)
    register.settle_transfer(iid, doc("settle"), sender=bob)
    assert register.balanceOf(bob, llc) == 500
    assert_escrow(register, cash)


def test_settle__pledge_arrived_meanwhile__blocks(register, alice, bob, carol, llc, cash):
    iid = _accepted_dvp(register, alice, bob, llc, cash)
    register.offer_pledge(llc, carol, 450, doc("pledge contract"), sender=alice)
    register.accept_pledge(register.pledge_count(), doc("acceptance"), sender=carol)
    with ape.reverts("ledger: amount exceeds free balance"):
        register.settle_transfer(iid, doc("settle"), sender=bob)
    _assert_nothing_moved(register, cash, iid, alice, bob, llc)


@pytest.mark.parametrize("who, reason", [
    ("seller", "ledger: sender account not active"),
    ("buyer", "ledger: receiver account not active"),
])
def test_settle__account_suspended_meanwhile__blocks(register, registrar, alice, bob, llc, cash, who, reason):
    iid = _accepted_dvp(register, alice, bob, llc, cash)
    register.suspend_account({"seller": alice, "buyer": bob}[who], doc("suspended"), sender=registrar)
    with ape.reverts(reason):
        register.settle_transfer(iid, doc("settle"), sender=registrar)
    _assert_nothing_moved(register, cash, iid, alice, bob, llc)


def test_settle__lockup_set_meanwhile__blocks(register, registrar, alice, bob, llc, cash):
    iid = _accepted_dvp(register, alice, bob, llc, cash)
    register.set_lockup(alice, llc, register.today() + 10, doc("lock-up"), sender=registrar)
    with ape.reverts("ledger: holding locked up"):
        register.settle_transfer(iid, doc("settle"), sender=bob)
    _assert_nothing_moved(register, cash, iid, alice, bob, llc)


def test_settle__security_suspended_meanwhile__blocks(register, registrar, alice, bob, llc, cash):
    iid = _accepted_dvp(register, alice, bob, llc, cash)
    register.set_security_status(llc, 3, doc("suspended"), sender=registrar)
    with ape.reverts("ledger: security suspended"):
        register.settle_transfer(iid, doc("settle"), sender=bob)
    _assert_nothing_moved(register, cash, iid, alice, bob, llc)


def test_settle__register_closed_meanwhile__blocks(register, issuer_agent, alice, bob, llc, cash):
    iid = _accepted_dvp(register, alice, bob, llc, cash)
    register.set_register_closure(llc, register.today() + 10, 0, doc("meeting notice"), sender=issuer_agent)
    with ape.reverts("ledger: register closed"):
        register.settle_transfer(iid, doc("settle"), sender=bob)
    _assert_nothing_moved(register, cash, iid, alice, bob, llc)


def test_settle__second_exerciser_refused__whole_settlement_reverts_escrow_intact(
    register, registrar, alice, bob, carol, dave, llc, cash, advance_days
):
    iid, _ = propose(register, alice, dave, llc, 200, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    register.exercise_first_refusal(iid, doc("rofr"), sender=carol)
    register.suspend_account(carol, doc("suspended"), sender=registrar)
    advance_days(NOTICE_DAYS + 1)
    with ape.reverts("ledger: receiver account not active"):
        register.settle_transfer(iid, doc("settle"), sender=alice)
    assert register.balanceOf(bob, llc) == 300 and register.balanceOf(alice, llc) == 600
    assert register.refunds(cash, dave) == 0 and register.refunds(cash, bob) == 0
    assert register.escrowed(cash) == 3 * PRICE
    assert_escrow(register, cash)
    register.reactivate_account(carol, doc("reactivated"), sender=registrar)
    register.settle_transfer(iid, doc("settle"), sender=alice)
    assert register.balanceOf(bob, llc) == 300 + 150 and register.balanceOf(carol, llc) == 100 + 50
    assert_escrow(register, cash)


def test_settle__buyer_left_the_register_after_proposal__needs_notice(
    register, registrar, alice, bob, carol, llc
):
    """bob is a shareholder when alice proposes (no notice, no first refusal), then sells
    all his shares: at settlement he is an outsider who was never notified to the others,
    so art 84 applies and the settlement must be refused."""
    iid, receipt = propose(register, alice, bob, llc, 100)
    assert one(receipt, register.InstructionProposed)["notice_end_day"] == 0
    register.accept_transfer(iid, doc("accept"), sender=bob)
    register.transfer(carol, llc, 300, sender=bob)
    assert register.balanceOf(bob, llc) == 0
    assert register.can_transfer(alice, bob, llc, 100) == (False, "ledger: transfer to an outsider needs notice")
    with ape.reverts("ledger: transfer to an outsider needs notice"):
        register.settle_transfer(iid, doc("paid"), sender=registrar)


# ------------------------------------------------------------------ withdraw_transfer


def test_withdraw_transfer__seller__closes_and_refunds_buyer_and_exercisers(
    register, alice, bob, dave, llc, cash
):
    iid, _ = propose(register, alice, dave, llc, 200, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    receipt = register.withdraw_transfer(iid, doc("withdrawn"), sender=alice)
    assert one(receipt, register.InstructionWithdrawn) == {"instruction_id": iid, "actor": alice.address, "doc": doc("withdrawn")}
    assert events(receipt, register.RefundCredited) == [
        {"token": cash.address, "holder": dave.address, "amount": PRICE, "doc": doc("withdrawn")},
        {"token": cash.address, "holder": bob.address, "amount": PRICE, "doc": doc("withdrawn")},
    ]
    assert register.stage_of(iid) == InstructionStage.WITHDRAWN
    assert_escrow(register, cash)
    for call in (lambda: register.accept_transfer(iid, doc("a"), sender=dave),
                 lambda: register.settle_transfer(iid, doc("s"), sender=alice),
                 lambda: register.withdraw_transfer(iid, doc("w"), sender=alice)):
        with ape.reverts("instructions: instruction closed"):
            call()
    register.claim_refund(cash, doc("claim"), sender=bob)
    assert_escrow(register, cash)


def test_withdraw_transfer__not_the_seller__reverts(register, alice, dave, court, llc):
    iid, _ = propose(register, alice, dave, llc, 200)
    for who in (dave, court):
        with ape.reverts("instructions: caller is not the seller"):
            register.withdraw_transfer(iid, doc("withdrawn"), sender=who)


def test_withdraw_transfer__court_sale__court_agent_only(register, court, alice, dave, llc):
    register.propose_court_sale(alice, dave, llc, 200, PRICE, ZERO, doc("ruling"), sender=court)
    iid = register.instruction_count()
    with ape.reverts("roles: caller is not court agent"):
        register.withdraw_transfer(iid, doc("withdrawn"), sender=alice)
    receipt = register.withdraw_transfer(iid, doc("ruling set aside"), sender=court)
    assert one(receipt, register.InstructionWithdrawn)["actor"] == court.address
    assert register.stage_of(iid) == InstructionStage.WITHDRAWN


# ------------------------------------------------------------------ lapse and refunds


def test_lapse__nobody_acts__stage_5_after_expiry_then_reclaim_credits_refunds(
    register, alice, bob, carol, dave, llc, cash, advance_days
):
    iid, _ = propose(register, alice, dave, llc, 200, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.exercise_first_refusal(iid, doc("rofr"), sender=carol)
    expiry = ins(register, iid).expiry_day
    with ape.reverts("instructions: not lapsed"):
        register.reclaim_lapsed(iid, doc("reclaim"), sender=bob)
    advance_days(expiry - register.today())  # the expiry day itself: still open
    assert register.stage_of(iid) == InstructionStage.PROPOSED
    advance_days(1)
    assert register.stage_of(iid) == InstructionStage.LAPSED
    assert ins(register, iid).stage == InstructionStage.PROPOSED  # nobody acted
    with ape.reverts("instructions: instruction lapsed"):
        register.settle_transfer(iid, doc("settle"), sender=alice)
    with ape.reverts("instructions: instruction lapsed"):
        register.withdraw_transfer(iid, doc("withdraw"), sender=alice)
    receipt = register.reclaim_lapsed(iid, doc("reclaim"), sender=bob)  # anyone
    assert events(receipt, register.RefundCredited) == [
        {"token": cash.address, "holder": dave.address, "amount": PRICE, "doc": doc("reclaim")},
        {"token": cash.address, "holder": carol.address, "amount": PRICE, "doc": doc("reclaim")},
    ]
    assert one(receipt, register.InstructionLapsed) == {
        "instruction_id": iid, "actor": bob.address, "doc": doc("reclaim"),
    }
    assert ins(register, iid).stage == InstructionStage.LAPSED
    assert register.stage_of(iid) == InstructionStage.LAPSED
    assert_escrow(register, cash)
    with ape.reverts("instructions: not lapsed"):
        register.reclaim_lapsed(iid, doc("reclaim"), sender=bob)
    register.claim_refund(cash, doc("claim"), sender=dave)
    register.claim_refund(cash, doc("claim"), sender=carol)
    assert register.escrowed(cash) == 0
    assert_escrow(register, cash)
    assert register.balanceOf(alice, llc) == 600


def test_reclaim_lapsed__unknown_instruction__reverts(register, bob):
    with ape.reverts("instructions: not lapsed"):
        register.reclaim_lapsed(register.instruction_count() + 1, doc("reclaim"), sender=bob)


def test_claim_refund__nothing__reverts(register, dave, cash):
    with ape.reverts("instructions: nothing to refund"):
        register.claim_refund(cash, doc("claim"), sender=dave)


# ------------------------------------------------------------------ funds


def test_fund__manager_consent_required__then_settles_free_of_payment(
    register, registrar, manager, alice, dave, fund
):
    assert register.can_transfer(alice, dave, fund, 2_000) == (False, "ledger: fund transfer needs the manager's consent")
    iid, receipt = propose(register, alice, dave, fund, 2_000, text="lpa")
    assert one(receipt, register.InstructionProposed)["notice_end_day"] == 0  # the agreement grants no first refusal
    register.accept_transfer(iid, doc("accept"), sender=dave)
    with ape.reverts("instructions: manager has not consented"):
        register.settle_transfer(iid, doc("paid"), sender=registrar)
    with ape.reverts("roles: caller is not fund manager"):
        register.consent_transfer(iid, doc("consent"), sender=registrar)
    receipt = register.consent_transfer(iid, doc("gp consent"), sender=manager)
    assert one(receipt, register.InstructionConsented) == {"instruction_id": iid, "manager": manager.address, "doc": doc("gp consent")}
    assert ins(register, iid).consented
    with ape.reverts("instructions: already consented"):
        register.consent_transfer(iid, doc("gp consent"), sender=manager)
    register.settle_transfer(iid, doc("paid"), sender=registrar)
    assert (register.balanceOf(alice, fund), register.balanceOf(dave, fund)) == (3_000, 2_000)


def test_fund__manager_rejects__closed_and_escrow_refunded(register, registrar, manager, alice, dave, fund, cash):
    iid, _ = propose(register, alice, dave, fund, 2_000, cash=cash)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    with ape.reverts("roles: caller is not fund manager"):
        register.reject_transfer(iid, doc("refused"), sender=alice)
    receipt = register.reject_transfer(iid, doc("refused"), sender=manager)
    assert one(receipt, register.InstructionRejected) == {"instruction_id": iid, "actor": manager.address, "doc": doc("refused")}
    assert one(receipt, register.RefundCredited) == {
        "token": cash.address, "holder": dave.address, "amount": PRICE, "doc": doc("refused"),
    }
    assert register.stage_of(iid) == InstructionStage.REJECTED
    assert_escrow(register, cash)
    with ape.reverts("instructions: instruction closed"):
        register.consent_transfer(iid, doc("consent"), sender=manager)
    with ape.reverts("instructions: instruction closed"):
        register.settle_transfer(iid, doc("paid"), sender=registrar)
    register.claim_refund(cash, doc("claim"), sender=dave)
    assert_escrow(register, cash)
    assert register.escrowed(cash) == 0


@pytest.mark.parametrize("units, reason", [
    (500, "ledger: below the fund's minimum holding"),    # the receiver would hold 500
    (4_500, "ledger: below the fund's minimum holding"),  # the seller would keep 500
    (1_000, None),                                        # both sides at or above the minimum
    (5_000, None),                                        # the seller keeps nothing
])
def test_fund__minimum_holding_each_side__checked_at_settlement(
    register, registrar, manager, alice, dave, fund, units, reason
):
    iid, _ = propose(register, alice, dave, fund, units)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.consent_transfer(iid, doc("consent"), sender=manager)
    if reason:
        with ape.reverts(reason):
            register.settle_transfer(iid, doc("paid"), sender=registrar)
        assert register.balanceOf(dave, fund) == 0
    else:
        register.settle_transfer(iid, doc("paid"), sender=registrar)
        assert register.balanceOf(dave, fund) == units
        assert register.balanceOf(alice, fund) == 5_000 - units


@pytest.mark.parametrize("who, reason", [
    ("outsider", "ledger: receiver not an institutional investor"),
    ("unqualified", "ledger: receiver not qualified"),
])
def test_fund__receiver_must_be_qualified_institution(
    register, registrar, manager, alice, outsider, unqualified, fund, who, reason
):
    buyer = {"outsider": outsider, "unqualified": unqualified}[who]
    iid, _ = propose(register, alice, buyer, fund, 2_000)
    register.accept_transfer(iid, doc("accept"), sender=buyer)
    register.consent_transfer(iid, doc("consent"), sender=manager)
    with ape.reverts(reason):
        register.settle_transfer(iid, doc("paid"), sender=registrar)


def test_fund__holding_period_of_5_trading_days_rechecked_at_settlement(
    register, registrar, manager, alice, bob, dave, fund, advance_days
):
    iid, _ = propose(register, alice, dave, fund, 2_000)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.consent_transfer(iid, doc("consent"), sender=manager)
    register.settle_transfer(iid, doc("paid"), sender=registrar)
    # dave resells what he acquired today to bob
    iid, _ = propose(register, dave, bob, fund, 2_000)
    register.accept_transfer(iid, doc("accept"), sender=bob)
    register.consent_transfer(iid, doc("consent"), sender=manager)
    with ape.reverts("ledger: holding period not met"):
        register.settle_transfer(iid, doc("paid"), sender=registrar)
    advance_days(7)  # any 7 consecutive days of the weekday calendar hold 5 trading days
    register.settle_transfer(iid, doc("paid"), sender=registrar)
    assert register.balanceOf(bob, fund) == 7_000 and register.balanceOf(dave, fund) == 0


def test_fund__agreement_grants_first_refusal__consent_and_notice(
    register, registrar, manager, alice, bob, dave, fund, cash, advance_days
):
    register.set_transfer_terms(fund, True, True, 1_000, doc("agreement with rofr"), sender=registrar)
    today = register.today()
    iid, receipt = propose(register, alice, dave, fund, 2_000, cash=cash)
    assert one(receipt, register.InstructionProposed)["notice_end_day"] == today + NOTICE_DAYS
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    register.consent_transfer(iid, doc("consent"), sender=manager)
    advance_days(NOTICE_DAYS + 1)
    receipt = register.settle_transfer(iid, doc("settle"), sender=alice)
    assert one(receipt, register.InstructionSettled)["receiver"] == bob.address
    assert register.balanceOf(bob, fund) == 7_000 and register.balanceOf(dave, fund) == 0
    assert register.refunds(cash, dave) == PRICE and register.refunds(cash, bob) == 0
    assert_escrow(register, cash)


def test_fund__consent_and_reject__unknown_or_closed(register, manager):
    with ape.reverts("instructions: unknown instruction"):
        register.consent_transfer(register.instruction_count() + 1, doc("consent"), sender=manager)
    with ape.reverts("instructions: unknown instruction"):
        register.reject_transfer(register.instruction_count() + 1, doc("refused"), sender=manager)
