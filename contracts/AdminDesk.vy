# pragma version 0.4.3
"""
@title AdminDesk
@notice Administration of the register: governance and roles (roles.vy), the
        trading calendar and pause (calendar.vy), investor accounts
        (accounts.vy) and lost-key recovery, which moves an account's holdings
        to its new address (ledger.recover).
@dev Runs only by DELEGATECALL from Register, on Register's storage (see
     Register.vy).
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import encumbrances
from modules import ledger

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: encumbrances
initializes: ledger[roles := roles, calendar := calendar, accounts := accounts, encumbrances := encumbrances]

exports: (
    # the clock parameters, which Register checks at deployment
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
    # governance and roles
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
    # initial registration of holdings, of one security or (migration) of several in one
    # batch (IssuanceDesk, which serves the rest of initial registration, has no room)
    ledger.register_holdings,
    ledger.register_holdings_many,
    # lost-key recovery
    ledger.recover,
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
