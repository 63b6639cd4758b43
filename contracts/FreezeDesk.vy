# pragma version 0.4.3
"""
@title FreezeDesk
@notice Judicial freezes (司法冻结, 轮候冻结, freezes.vy): freezing, lifting,
        renewing and tidying freezes, court-ordered transfers, and the
        migration's import of freezes and pledges.
@dev Runs only by DELEGATECALL from Register, on Register's storage (see
     Register.vy).
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import encumbrances
from modules import ledger
from modules import pledges
from modules import freezes

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: encumbrances
initializes: ledger[calendar := calendar, accounts := accounts, encumbrances := encumbrances]
initializes: pledges[roles := roles, calendar := calendar, encumbrances := encumbrances, ledger := ledger]
initializes: freezes[roles := roles, calendar := calendar, encumbrances := encumbrances, ledger := ledger]

exports: (
    # the clock parameters, which Register checks at deployment
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
    # freezes
    freezes.freeze,
    freezes.lift_freeze,
    freezes.renew_freeze,
    freezes.tidy_freezes,
    freezes.court_transfer,
    freezes.import_freezes,
    # migration of pledges (PledgeDesk has no room for it)
    pledges.import_pledges,
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
