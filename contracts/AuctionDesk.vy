# pragma version 0.4.3
"""
@title AuctionDesk
@notice One-way bidding (单向竞价, auctions.vy): listings, escrowed bids, the
        close that settles the best bid against cash, withdrawals.
@dev Runs only by DELEGATECALL from Register, on Register's storage (see
     Register.vy).
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import encumbrances
from modules import ledger
from modules import instructions
from modules import auctions

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: encumbrances
initializes: ledger[calendar := calendar, accounts := accounts, encumbrances := encumbrances]
initializes: instructions[roles := roles, calendar := calendar, ledger := ledger]
initializes: auctions[roles := roles, calendar := calendar, ledger := ledger, instructions := instructions]

exports: (
    # the clock parameters, which Register checks at deployment
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
    # auctions
    auctions.list_units,
    auctions.consent_listing,
    auctions.bid,
    auctions.close_listing,
    auctions.withdraw_listing,
)


@deploy
def __init__(time_unit_ms: bool, utc_offset_s: uint256):
    """
    @param time_unit_ms As for Register.
    @param utc_offset_s As for Register.
    """
    roles.__init__(msg.sender)
    calendar.__init__(time_unit_ms, utc_offset_s)


@external
def __default__():
    raise "register: unknown function"
