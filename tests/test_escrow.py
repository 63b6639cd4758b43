"""Escrow and cash (issue 12, "Escrow and cash"): every unit of escrow is paid, refunded
(claimable by a named party) or still owed to a named party on every settlement, lapse,
withdrawal and close; cash tokens that misbehave (fee on transfer, `false` for an answer,
a callback into the register) are refused or cannot re-enter; a token that returns nothing
(USDT's shape) works.

`owed` below is stated from the register's own records, not from how the code moves
cash: the price of every open instruction's accepted buyer and of each exerciser, the best
bid of every open listing, and every credited refund. After every step the register's
`escrowed(token)` equals it and equals the token balance the register holds."""

import ape
import pytest
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from conftest import doc, events
from regchain.constants import NOTICE_DAYS, InstructionStage, InvestorClass, Kind

ZERO = "0x0000000000000000000000000000000000000000"
PRICE = 1_000
WRONG_AMOUNT = "instructions: cash token moved a wrong amount"
FAILED = "instructions: cash transfer failed"
OPEN_LISTING = 1


# ------------------------------------------------------------------ world


@pytest.fixture(scope="module", autouse=True)
def _accounts(alice, bob, carol, dave, outsider, open_account):
    """Qualified institutions; outsider a qualified individual."""
    for who in (alice, bob, carol, dave):
        open_account(who, investor_class=InvestorClass.INSTITUTION)
    open_account(outsider)


@pytest.fixture(scope="module")
def llc(new_security, alice, bob, carol, dave):
    """An LLC with first refusal: alice 600, bob 200, carol 200, dave 100."""
    return new_security([(alice, 600), (bob, 200), (carol, 200), (dave, 100)], kind=Kind.LLC)


@pytest.fixture(scope="module")
def jsc(new_security, alice, bob):
    """A JSC (no first refusal): alice 1000, bob 1000."""
    return new_security([(alice, 1_000), (bob, 1_000)])


def _token(register, governance, project, name, holders):
    token = governance.deploy(getattr(project, name))
    register.set_cash_token(token, True, doc(f"accept {name}"), sender=governance)
    for who in holders:
        token.mint(who, 10 * PRICE, sender=who)
        token.approve(register, 2**256 - 1, sender=who)
    return token


@pytest.fixture(scope="module")
def parties(alice, bob, carol, dave, outsider):
    return (alice, bob, carol, dave, outsider)


@pytest.fixture(scope="module")
def cash(register, governance, project, parties):
    return _token(register, governance, project, "CashToken", parties)


@pytest.fixture(scope="module", autouse=True)
def _world(llc, jsc, cash):
    """Create the module's securities and token before the per-test isolation starts."""


def owed(register, token, parties) -> int:
    """What the register owes in `token`, from its records: open escrows and refunds."""
    total = 0
    for iid in range(1, register.instruction_count() + 1):
        ins = register.instruction_of(iid)
        if ins.cash != token.address or ins.stage != InstructionStage.PROPOSED:
            continue
        total += ins.price * (int(ins.buyer_accepted) + len(register.exercisers_of(iid)))
    for lid in range(1, register.listing_count() + 1):
        listing = register.listing_of(lid)
        if listing.cash == token.address and listing.status == OPEN_LISTING:
            total += listing.best_amount
    return total + sum(register.refunds(token, who) for who in parties)


def assert_books(register, token, parties):
    assert register.escrowed(token) == owed(register, token, parties) == token.balanceOf(register)


def propose(register, seller, buyer, sid, units, price, token):
    register.propose_transfer(buyer, sid, units, price, token, doc("spa"), sender=seller)
    return register.instruction_count()


# ------------------------------------------------------------------ first refusal: exercisers who sold out


def test_settle_transfer__last_exerciser_sold_out__escrow_refunded_whole_nothing_stuck(
    register, alice, bob, carol, dave, outsider, llc, cash, parties, advance_days
):
    """2 units for 1001; bob, carol and dave exercise, dave then sells out to alice. bob and
    carol (200 each) share the 2 units: bob 1 for 500, carol (the last still holding) 1 for
    the remaining 501. dave buys nothing and gets his 1001 back whole; the outsider too.
    (Before the fix dave, last in order, got 0 units and 1000 back: 1 unit of cash stayed
    in the register owed to nobody.)"""
    price = 1_001
    iid = propose(register, alice, outsider, llc, 2, price, cash)
    register.accept_transfer(iid, doc("accept"), sender=outsider)
    for who in (bob, carol, dave):
        register.exercise_first_refusal(iid, doc("rofr"), sender=who)
    assert_books(register, cash, parties)
    register.transfer(alice, llc, 100, sender=dave)  # dave sells out (between shareholders)
    advance_days(NOTICE_DAYS + 1)
    seller_cash = cash.balanceOf(alice)

    receipt = register.settle_transfer(iid, doc("settle"), sender=alice)

    assert events(receipt, register.InstructionSettled) == [
        {"instruction_id": iid, "receiver": bob.address, "units": 1, "paid": 500, "actor": alice.address,
         "doc": doc("settle")},
        {"instruction_id": iid, "receiver": carol.address, "units": 1, "paid": 501, "actor": alice.address,
         "doc": doc("settle")},
    ]
    assert events(receipt, register.RefundCredited) == [
        {"token": cash.address, "holder": dave.address, "amount": price, "doc": doc("settle")},
        {"token": cash.address, "holder": outsider.address, "amount": price, "doc": doc("settle")},
        {"token": cash.address, "holder": bob.address, "amount": price - 500, "doc": doc("settle")},
        {"token": cash.address, "holder": carol.address, "amount": price - 501, "doc": doc("settle")},
    ]
    assert cash.balanceOf(alice) == seller_cash + price
    assert (register.balanceOf(bob, llc), register.balanceOf(carol, llc), register.balanceOf(dave, llc)) == (201, 201, 0)
    assert_books(register, cash, parties)
    for who in (bob, carol, dave, outsider):
        register.claim_refund(cash, doc("claim"), sender=who)
    assert register.escrowed(cash) == 0 == cash.balanceOf(register)


def test_settle_transfer__sold_out_exerciser_last_in_order__buys_nothing(
    register, alice, bob, carol, dave, outsider, llc, cash, parties, advance_days
):
    """bob, carol, dave exercise on 10 units; dave sells out to bob (300, carol 200). Before
    the fix dave, last in order, received the rounding remainder though no longer a
    shareholder; now bob gets 10*300//500 = 6 and carol, the last still holding, 4."""
    iid = propose(register, alice, outsider, llc, 10, PRICE, cash)
    for who in (bob, carol, dave):
        register.exercise_first_refusal(iid, doc("rofr"), sender=who)
    register.transfer(bob, llc, 100, sender=dave)
    advance_days(NOTICE_DAYS + 1)

    receipt = register.settle_transfer(iid, doc("settle"), sender=alice)

    assert [(e["receiver"], e["units"], e["paid"]) for e in events(receipt, register.InstructionSettled)] == [
        (bob.address, 6, 600), (carol.address, 4, 400),
    ]
    assert register.balanceOf(dave, llc) == 0
    assert register.refunds(cash, dave) == PRICE
    assert_books(register, cash, parties)


def test_settle_transfer__every_exerciser_sold_out__buyer_takes_all_exercisers_refunded(
    register, alice, bob, carol, outsider, llc, cash, parties, advance_days
):
    iid = propose(register, alice, outsider, llc, 10, PRICE, cash)
    register.accept_transfer(iid, doc("accept"), sender=outsider)
    register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    register.transfer(carol, llc, 200, sender=bob)
    advance_days(NOTICE_DAYS + 1)

    receipt = register.settle_transfer(iid, doc("settle"), sender=alice)

    assert events(receipt, register.RefundCredited) == [
        {"token": cash.address, "holder": bob.address, "amount": PRICE, "doc": doc("settle")},
    ]
    assert [(e["receiver"], e["units"], e["paid"]) for e in events(receipt, register.InstructionSettled)] == [
        (outsider.address, 10, PRICE),
    ]
    assert_books(register, cash, parties)


def test_settle_transfer__every_exerciser_sold_out_buyer_never_accepted__reverts_books_unchanged(
    register, alice, bob, carol, outsider, llc, cash, parties, advance_days
):
    iid = propose(register, alice, outsider, llc, 10, PRICE, cash)
    register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    register.transfer(carol, llc, 200, sender=bob)
    advance_days(NOTICE_DAYS + 1)

    with ape.reverts("instructions: buyer has not accepted"):
        register.settle_transfer(iid, doc("settle"), sender=alice)

    assert register.refunds(cash, bob) == 0  # still owed as bob's open escrow
    assert_books(register, cash, parties)


# ------------------------------------------------------------------ every other path keeps the books


def test_escrow__every_path__escrowed_equals_owed(
    register, registrar, alice, bob, carol, dave, outsider, llc, jsc, cash, parties, advance_days
):
    """Acceptance, exercise, withdrawal, lapse and reclaim, a beaten bid, a listing
    withdrawn, a listing sold, a listing failed, claims: the books hold after each step."""
    books = lambda: assert_books(register, cash, parties)  # noqa: E731
    withdrawn = propose(register, alice, outsider, llc, 5, PRICE, cash)
    register.accept_transfer(withdrawn, doc("accept"), sender=outsider); books()
    register.exercise_first_refusal(withdrawn, doc("rofr"), sender=bob); books()
    register.withdraw_transfer(withdrawn, doc("withdrawn"), sender=alice); books()
    lapsing = propose(register, alice, carol, jsc, 5, PRICE, cash)
    register.accept_transfer(lapsing, doc("accept"), sender=carol); books()
    today = register.today()
    register.list_units(jsc, 10, 100, cash, today + 2, doc("listing"), sender=alice)
    sold = register.listing_count()
    register.list_units(jsc, 10, 100, cash, today + 2, doc("listing"), sender=bob)
    withdrawn_listing = register.listing_count()
    register.list_units(jsc, 10, 100, cash, today + 2, doc("listing"), sender=bob)
    failed = register.listing_count()
    register.bid(sold, 150, doc("bid"), sender=carol); books()
    register.bid(sold, 200, doc("bid"), sender=dave); books()  # carol's bid beaten: refund
    register.bid(withdrawn_listing, 150, doc("bid"), sender=carol); books()
    register.withdraw_listing(withdrawn_listing, doc("withdrawn"), sender=bob); books()
    advance_days(3)
    register.close_listing(sold, doc("close"), sender=outsider); books()
    register.close_listing(failed, doc("close"), sender=outsider); books()  # no bid
    advance_days(register.instruction_of(lapsing).expiry_day - register.today() + 1)
    register.reclaim_lapsed(lapsing, doc("reclaim"), sender=outsider); books()
    for who in parties:
        if register.refunds(cash, who):
            register.claim_refund(cash, doc("claim"), sender=who); books()
    assert register.escrowed(cash) == 0


# ------------------------------------------------------------------ tokens that misbehave


@pytest.fixture
def fee_token(register, governance, project, parties):
    return _token(register, governance, project, "FeeOnTransfer", parties)


def test_accept_transfer__fee_on_transfer_token__reverts(register, alice, dave, jsc, fee_token, parties):
    iid = propose(register, alice, dave, jsc, 5, PRICE, fee_token)
    with ape.reverts(WRONG_AMOUNT):
        register.accept_transfer(iid, doc("accept"), sender=dave)
    assert_books(register, fee_token, parties)


def test_exercise_first_refusal__fee_on_transfer_token__reverts(
    register, alice, bob, outsider, llc, fee_token, parties
):
    iid = propose(register, alice, outsider, llc, 5, PRICE, fee_token)
    with ape.reverts(WRONG_AMOUNT):
        register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    assert_books(register, fee_token, parties)


def test_bid__fee_on_transfer_token__reverts(register, alice, carol, jsc, fee_token, parties):
    register.list_units(jsc, 10, 100, fee_token, register.today() + 2, doc("listing"), sender=alice)
    with ape.reverts(WRONG_AMOUNT):
        register.bid(register.listing_count(), 150, doc("bid"), sender=carol)
    assert_books(register, fee_token, parties)


@pytest.mark.parametrize("on_top", [False, True], ids=["out of the amount", "on top"])
def test_settle_transfer__token_starts_charging_a_fee__payment_reverts(
    register, alice, dave, jsc, fee_token, parties, on_top
):
    """Escrowed while the token charged nothing; at payment it keeps 1 %. Out of the amount
    the register still parts with exactly the price (the seller's loss is the token's);
    charged on top, the register would lose more than it pays: refused."""
    fee_token.set_fee(0, False, sender=alice)
    for _ in range(2):  # the register holds two prices, so a fee on top of one can be taken
        iid = propose(register, alice, dave, jsc, 5, PRICE, fee_token)
        register.accept_transfer(iid, doc("accept"), sender=dave)
    fee_token.set_fee(100, on_top, sender=alice)
    if on_top:
        with ape.reverts(WRONG_AMOUNT):
            register.settle_transfer(iid, doc("settle"), sender=alice)
        assert register.stage_of(iid) == InstructionStage.PROPOSED
    else:
        register.settle_transfer(iid, doc("settle"), sender=alice)
        assert register.stage_of(iid) == InstructionStage.SETTLED
    assert_books(register, fee_token, parties)


@pytest.fixture
def false_token(register, governance, project, parties):
    return _token(register, governance, project, "ReturnsFalse", parties)


def test_accept_transfer__token_returns_false__reverts(register, alice, dave, jsc, false_token, parties):
    iid = propose(register, alice, dave, jsc, 5, PRICE, false_token)
    false_token.refuse(True, sender=dave)
    with ape.reverts(FAILED):
        register.accept_transfer(iid, doc("accept"), sender=dave)
    assert_books(register, false_token, parties)


def test_settle_transfer__token_returns_false_on_payment__reverts_units_stay(
    register, alice, dave, jsc, false_token, parties
):
    iid = propose(register, alice, dave, jsc, 5, PRICE, false_token)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    false_token.refuse(True, sender=dave)
    with ape.reverts(FAILED):
        register.settle_transfer(iid, doc("settle"), sender=alice)
    assert register.balanceOf(dave, jsc) == 0
    assert register.stage_of(iid) == InstructionStage.PROPOSED
    assert_books(register, false_token, parties)


def test_claim_refund__token_returns_false__reverts_refund_kept(register, alice, dave, jsc, false_token, parties):
    iid = propose(register, alice, dave, jsc, 5, PRICE, false_token)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.withdraw_transfer(iid, doc("withdrawn"), sender=alice)
    false_token.refuse(True, sender=dave)
    with ape.reverts(FAILED):
        register.claim_refund(false_token, doc("claim"), sender=dave)
    assert register.refunds(false_token, dave) == PRICE
    assert_books(register, false_token, parties)


def test_close_listing__token_returns_false__reverts_listing_open(
    register, alice, carol, outsider, jsc, false_token, parties, advance_days
):
    register.list_units(jsc, 10, 100, false_token, register.today() + 1, doc("listing"), sender=alice)
    lid = register.listing_count()
    register.bid(lid, 150, doc("bid"), sender=carol)
    advance_days(2)
    false_token.refuse(True, sender=carol)
    with ape.reverts(FAILED):
        register.close_listing(lid, doc("close"), sender=outsider)
    assert register.listing_of(lid).status == OPEN_LISTING
    assert_books(register, false_token, parties)


def test_settle_transfer__token_returns_nothing__accepted_and_settles(
    register, governance, project, alice, dave, jsc, parties
):
    """Tokens of USDT's shape (no return value, revert on failure) are accepted."""
    token = _token(register, governance, project, "NoReturn", parties)
    iid = propose(register, alice, dave, jsc, 5, PRICE, token)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    seller_cash = token.balanceOf(alice)
    register.settle_transfer(iid, doc("settle"), sender=alice)
    assert token.balanceOf(alice) == seller_cash + PRICE
    assert register.balanceOf(dave, jsc) == 5
    assert_books(register, token, parties)


# ------------------------------------------------------------------ re-entrancy


def _calldata(signature: str, types: list, args: list) -> bytes:
    return function_signature_to_4byte_selector(signature) + abi_encode(types, args)


@pytest.fixture
def reentrant(register, governance, project, parties):
    return _token(register, governance, project, "Reentrant", parties)


@pytest.fixture
def expired_listing(register, alice, jsc, cash, advance_days):
    """A listing whose window is over with no bid: anyone may close it (the callback)."""
    register.list_units(jsc, 1, 100, cash, register.today(), doc("listing"), sender=alice)
    lid = register.listing_count()
    advance_days(1)
    return lid


CASH_STEPS = ["accept_transfer", "exercise_first_refusal", "settle_transfer", "claim_refund", "bid", "close_listing"]


@pytest.mark.parametrize("step", CASH_STEPS)
def test_cash_step__token_calls_back_into_register__callback_refused(
    register, alice, bob, carol, dave, outsider, llc, jsc, reentrant, expired_listing, parties, advance_days, step
):
    """The token, called by the register in the middle of `step`, calls close_listing (a
    call anyone may make) on the register: the re-entrancy lock refuses it, the step itself
    completes and the books hold. (Before the lock the callback went through.)"""
    token = reentrant
    data = _calldata("close_listing(uint256,bytes32)", ["uint256", "bytes32"], [expired_listing, doc("cb")])
    if step in ("accept_transfer", "settle_transfer", "claim_refund"):
        iid = propose(register, alice, dave, jsc, 5, PRICE, token)
        if step != "accept_transfer":
            register.accept_transfer(iid, doc("accept"), sender=dave)
        if step == "claim_refund":
            register.withdraw_transfer(iid, doc("withdrawn"), sender=alice)
        token.arm(register, data, sender=alice)
        if step == "accept_transfer":
            register.accept_transfer(iid, doc("accept"), sender=dave)
        elif step == "settle_transfer":
            register.settle_transfer(iid, doc("settle"), sender=alice)
        else:
            register.claim_refund(token, doc("claim"), sender=dave)
    elif step == "exercise_first_refusal":
        iid = propose(register, alice, outsider, llc, 5, PRICE, token)
        token.arm(register, data, sender=alice)
        register.exercise_first_refusal(iid, doc("rofr"), sender=bob)
    else:
        register.list_units(jsc, 10, 100, token, register.today() + 1, doc("listing"), sender=alice)
        lid = register.listing_count()
        if step == "bid":
            token.arm(register, data, sender=alice)
            register.bid(lid, 150, doc("bid"), sender=carol)
        else:
            register.bid(lid, 150, doc("bid"), sender=carol)
            advance_days(2)
            token.arm(register, data, sender=alice)
            register.close_listing(lid, doc("close"), sender=outsider)

    assert token.target() == ZERO  # the callback was made
    assert not token.reentered()
    assert bytes(token.reentry_reply()) == b""  # the lock's bare revert, not close_listing's own reasons
    assert register.listing_of(expired_listing).status == OPEN_LISTING
    assert_books(register, token, parties)


def test_close_listing__callback_outside_a_cash_step__goes_through(
    register, alice, outsider, reentrant, expired_listing
):
    """The control: the same call, made by the token outside any register step, succeeds."""
    reentrant.arm(register, _calldata("close_listing(uint256,bytes32)", ["uint256", "bytes32"],
                                      [expired_listing, doc("cb")]), sender=alice)
    reentrant.transfer(outsider, 1, sender=alice)
    assert reentrant.reentered()
    assert register.listing_of(expired_listing).status == 3  # FAILED: no bid
