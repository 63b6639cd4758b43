# pragma version 0.4.3
"""
@title PledgeDesk
@notice Pledges (股权/份额质押): offering, registering, accepting,
        releasing and enforcing them, and selling pledged units with the
        pledgee's consent.
@dev Runs only by DELEGATECALL from Register (through AdminDesk and
     IssuanceDesk), on Register's storage. Selectors it does not serve go on
     to NEXT_DESK (FreezeDesk).
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import encumbrances
from modules import ledger
from modules import pledges
from modules import freezes
from modules import instructions
from modules import auctions

interface Desk:
    def TIME_UNIT() -> uint256: view
    def UTC_OFFSET() -> uint256: view

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: encumbrances
initializes: ledger[roles := roles, calendar := calendar, accounts := accounts, encumbrances := encumbrances]
initializes: pledges[roles := roles, calendar := calendar, encumbrances := encumbrances, ledger := ledger]
initializes: freezes[roles := roles, calendar := calendar, encumbrances := encumbrances, ledger := ledger]
initializes: instructions[roles := roles, calendar := calendar, ledger := ledger]
initializes: auctions[roles := roles, calendar := calendar, ledger := ledger, instructions := instructions]

exports: (
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
    pledges.offer_pledge,
    pledges.register_pledge,
    pledges.cancel_pledge_offer,
    pledges.accept_pledge,
    pledges.release_pledge,
    pledges.enforce_pledge,
    pledges.consent_enforcement,
    pledges.consent_pledged_transfer,
    pledges.transfer_pledged,
)

# The next desk in the chain (FreezeDesk).
NEXT_DESK: public(immutable(address))


@deploy
def __init__(time_unit_ms: bool, utc_offset_s: uint256, next_desk: address):
    """
    @param time_unit_ms As for Register.
    @param utc_offset_s As for Register.
    @param next_desk The FreezeDesk.
    """
    roles.__init__(msg.sender)
    calendar.__init__(time_unit_ms, utc_offset_s)
    assert next_desk.is_contract, "register: desk is not a contract"
    assert staticcall Desk(next_desk).TIME_UNIT() == calendar.TIME_UNIT, "register: desk clock differs"
    assert staticcall Desk(next_desk).UTC_OFFSET() == calendar.UTC_OFFSET, "register: desk clock differs"
    NEXT_DESK = next_desk


@external
def __default__():
    raw_call(NEXT_DESK, msg.data, is_delegate_call=True)
