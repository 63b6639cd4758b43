# pragma version 0.4.3
"""
@title auctions
@notice One-way bidding (单向竞价): the seller lists units with a reserve
        price, a cash token and a bidding window; qualified buyers bid, each
        bid escrowed; at the close the best bid wins (ties by time: a bid must
        beat the best strictly) and units and cash change hands in one
        transaction, every transfer rule re-checked. No continuous matching,
        no market making (prohibited for these markets).
@dev Cash accounting is instructions.vy's: escrow on bid, a pull refund for
     every bid that is beaten or whose listing fails or is withdrawn, every
     movement measured, every state-changing function under the one
     re-entrancy lock.
     A fund listing needs the manager's consent before the close; an LLC
     whose articles grant first refusal needs a window of at least the notice
     period, which is the other shareholders' notice (they may bid).
"""

from . import roles
from . import calendar
from . import ledger
from . import instructions

uses: roles
uses: calendar
uses: ledger
uses: instructions

OPEN: constant(uint8) = 1
SOLD: constant(uint8) = 2
FAILED: constant(uint8) = 3
WITHDRAWN: constant(uint8) = 4

# longest bidding window, and the days after it in which the close may settle
MAX_WINDOW_DAYS: constant(uint256) = 90
SETTLEMENT_DAYS: constant(uint256) = 30


struct Listing:
    seller: address
    id: uint256
    units: uint256
    reserve: uint256
    cash: address
    end_day: uint256
    listed_day: uint256
    consented: bool
    best_bidder: address
    best_amount: uint256
    status: uint8
    doc: bytes32


# Listings by id (ids run from 1).
listing_of: public(HashMap[uint256, Listing])
# Number of listings ever made.
listing_count: public(uint256)


event Listed:
    listing_id: indexed(uint256)
    seller: indexed(address)
    id: indexed(uint256)
    units: uint256
    reserve: uint256
    cash: address
    end_day: uint256
    doc: bytes32

event ListingConsented:
    listing_id: indexed(uint256)
    manager: indexed(address)
    doc: bytes32

event BidPlaced:
    listing_id: indexed(uint256)
    bidder: indexed(address)
    amount: uint256
    doc: bytes32

event ListingClosed:
    listing_id: indexed(uint256)
    status: uint8
    winner: indexed(address)
    amount: uint256
    actor: address
    doc: bytes32


@external
@nonreentrant
def list_units(id: uint256, units: uint256, reserve: uint256, cash: address, end_day: uint256, doc: bytes32):
    """
    @notice List units for one-way bidding until the end of `end_day`.
    @param id The security id.
    @param units Smallest units offered.
    @param reserve Lowest acceptable bid (total, in the cash token's smallest units).
    @param cash An accepted cash token.
    @param end_day Last day bids are taken.
    @param doc Reference (hash) of the listing announcement.
    """
    assert not calendar._paused(), "auctions: paused"
    assert units != 0, "auctions: zero amount"
    assert reserve != 0, "auctions: zero reserve"
    sec: uint256 = ledger.security_data[id]
    assert sec & ledger.BYTE_MASK != 0, "auctions: unknown security"
    assert units <= ledger._balance(msg.sender, id), "auctions: amount exceeds holding"
    assert instructions.cash_tokens[cash], "auctions: cash token not accepted"
    today: uint256 = calendar._today()
    assert end_day >= today, "auctions: window ends in the past"
    assert end_day <= today + MAX_WINDOW_DAYS, "auctions: window too long"
    if sec & ledger.ROFR_BIT != 0:
        assert end_day >= today + instructions.NOTICE_DAYS, "auctions: window shorter than the notice period"
    lid: uint256 = self.listing_count + 1
    self.listing_count = lid
    self.listing_of[lid] = Listing(
        seller=msg.sender,
        id=id,
        units=units,
        reserve=reserve,
        cash=cash,
        end_day=end_day,
        listed_day=today,
        consented=False,
        best_bidder=empty(address),
        best_amount=0,
        status=OPEN,
        doc=doc,
    )
    log Listed(listing_id=lid, seller=msg.sender, id=id, units=units, reserve=reserve, cash=cash, end_day=end_day, doc=doc)


@external
@nonreentrant
def consent_listing(listing_id: uint256, doc: bytes32):
    """
    @notice The fund manager consents to selling the listed fund units to the winner.
    @param listing_id The listing.
    @param doc Reference (hash) of the consent.
    """
    l: Listing = self._open(listing_id)
    roles._check_security_role(l.id, roles.SecurityRole.FUND_MANAGER)
    assert not l.consented, "auctions: already consented"
    self.listing_of[listing_id].consented = True
    log ListingConsented(listing_id=listing_id, manager=msg.sender, doc=doc)


@external
@nonreentrant
def bid(listing_id: uint256, amount: uint256, doc: bytes32):
    """
    @notice Bid `amount` (escrowed now); it must reach the reserve and beat the
            best bid so far, whose bidder gets a pull refund.
    @param listing_id The listing.
    @param amount Total price offered.
    @param doc Reference (hash) of the bid.
    """
    l: Listing = self._open(listing_id)
    assert calendar._today() <= l.end_day, "auctions: bidding closed"
    assert msg.sender != l.seller, "auctions: seller may not bid"
    assert amount >= l.reserve, "auctions: bid below reserve"
    assert amount > l.best_amount, "auctions: bid does not beat the best"
    ok: bool = False
    reason: String[64] = ""
    ok, reason = self._may_receive(l, msg.sender)
    assert ok, reason
    if l.best_bidder != empty(address):
        instructions._credit(l.cash, l.best_bidder, l.best_amount, doc)
    self.listing_of[listing_id].best_bidder = msg.sender
    self.listing_of[listing_id].best_amount = amount
    instructions._escrow(l.cash, msg.sender, amount)
    log BidPlaced(listing_id=listing_id, bidder=msg.sender, amount=amount, doc=doc)


@external
@nonreentrant
def close_listing(listing_id: uint256, doc: bytes32):
    """
    @notice After the window, anyone closes: the best bid wins and settles now,
            every transfer rule re-checked (a refusal reverts with its reason).
            No bid, or the settlement days passed, fails the listing and
            refunds the best bid.
    @param listing_id The listing.
    @param doc Reference (hash) of the closing record.
    """
    l: Listing = self._open(listing_id)
    today: uint256 = calendar._today()
    assert today > l.end_day, "auctions: bidding not over"
    if l.best_bidder == empty(address) or today > l.end_day + SETTLEMENT_DAYS:
        self.listing_of[listing_id].status = FAILED
        if l.best_bidder != empty(address):
            instructions._credit(l.cash, l.best_bidder, l.best_amount, doc)
        log ListingClosed(listing_id=listing_id, status=FAILED, winner=empty(address), amount=0, actor=msg.sender, doc=doc)
        return
    kind: uint256 = (ledger.security_data[l.id] >> ledger.KIND_SHIFT) & ledger.BYTE_MASK
    assert kind < ledger.LP_FUND or l.consented, "auctions: manager has not consented"
    self.listing_of[listing_id].status = SOLD
    now: uint256 = ledger._clock_now()
    code: uint256 = 0
    sec: uint256 = 0
    sh: uint256 = 0
    rh: uint256 = 0
    code, sec, sh, rh = ledger._check(l.seller, l.best_bidder, l.id, l.units, now)
    # the listing was the consent (checked above) and, if its window was as long as
    # the notice period, the notice; every other refusal stands
    if code == ledger.R_NEEDS_NOTICE and l.end_day < l.listed_day + instructions.NOTICE_DAYS:
        raise ledger._reason(code)
    if code != ledger.OK and code != ledger.R_NEEDS_CONSENT and code != ledger.R_NEEDS_NOTICE:
        raise ledger._reason(code)
    ledger._apply(l.seller, l.best_bidder, l.id, l.units, now, sec, sh, rh)
    instructions._pay(l.cash, l.seller, l.best_amount)
    log ListingClosed(
        listing_id=listing_id, status=SOLD, winner=l.best_bidder, amount=l.best_amount, actor=msg.sender, doc=doc
    )


@external
@nonreentrant
def withdraw_listing(listing_id: uint256, doc: bytes32):
    """
    @notice The seller withdraws a listing before it is closed; the best bid is refunded.
    @param listing_id The listing.
    @param doc Reference (hash) of the withdrawal.
    """
    l: Listing = self._open(listing_id)
    assert msg.sender == l.seller, "auctions: caller is not the seller"
    self.listing_of[listing_id].status = WITHDRAWN
    if l.best_bidder != empty(address):
        instructions._credit(l.cash, l.best_bidder, l.best_amount, doc)
    log ListingClosed(listing_id=listing_id, status=WITHDRAWN, winner=empty(address), amount=0, actor=msg.sender, doc=doc)


@internal
@view
def _open(listing_id: uint256) -> Listing:
    l: Listing = self.listing_of[listing_id]
    assert l.status != 0, "auctions: unknown listing"
    assert l.status == OPEN, "auctions: listing closed"
    assert not calendar._paused(), "auctions: paused"
    return l


@internal
@view
def _may_receive(l: Listing, bidder: address) -> (bool, String[64]):
    """
    @dev The receiver's side of the transfer rules, at bid time, whatever else
         fails meanwhile (the close re-checks everything): account open,
         qualified, institutional-only.
    """
    code: uint256 = ledger._receiver_refusal(bidder, ledger.security_data[l.id])
    if code != ledger.OK:
        return False, ledger._reason(code)
    return True, ""
