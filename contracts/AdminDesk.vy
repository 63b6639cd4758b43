# pragma version 0.4.3
"""
@title AdminDesk
@notice Administration of the register: governance and roles, the trading
        calendar and pause, investor accounts, and the holdings of initial
        registration (register_holdings, and the migration's batches across
        pending securities, register_holdings_many).
@dev Runs only by DELEGATECALL from Register, on Register's storage (same
     modules, same order, same layout). Called directly it acts on its own
     empty storage, which nothing reads. Selectors it does not serve go on to
     NEXT_DESK (IssuanceDesk).
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
    # roles
    roles.transfer_governance,
    roles.accept_governance,
    roles.grant_role,
    roles.revoke_role,
    roles.grant_security_role,
    roles.revoke_security_role,
    # calendar and pause
    calendar.publish_calendar,
    calendar.amend_calendar,
    calendar.pause,
    calendar.unpause,
    # accounts
    accounts.open_account,
    accounts.open_accounts,
    accounts.suspend_account,
    accounts.reactivate_account,
    accounts.close_account,
    accounts.set_qualified,
    # initial registration of holdings, of one security or (migration) of several
    # in one batch (IssuanceDesk, which serves the rest of initial registration,
    # has no room for them)
    ledger.register_holdings,
    ledger.register_holdings_many,
    # lost-key recovery (IssuanceDesk has no room for it)
    ledger.recover,
)

# The next desk in the chain (IssuanceDesk).
NEXT_DESK: public(immutable(address))


@deploy
def __init__(time_unit_ms: bool, utc_offset_s: uint256, next_desk: address):
    """
    @param time_unit_ms As for Register.
    @param utc_offset_s As for Register.
    @param next_desk The IssuanceDesk.
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
