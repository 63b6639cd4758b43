# pragma version 0.4.3
"""
@title AdminDesk
@notice Administration and setting up of the register: governance and roles
        (roles.vy), the trading calendar and pause (calendar.vy), investor
        accounts (accounts.vy), initial registration of securities and their
        holdings (registration.vy) and lost-key recovery (recovery.vy): what
        the migration writes, apart from pledges and freezes, is on this desk.
@dev Runs only by DELEGATECALL from Register, on Register's storage (see
     Register.vy).
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import encumbrances
from modules import ledger
from modules import registration
from modules import recovery

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: encumbrances
initializes: ledger[calendar := calendar, accounts := accounts, encumbrances := encumbrances]
initializes: registration[roles := roles, calendar := calendar, accounts := accounts, ledger := ledger]
initializes: recovery[roles := roles, calendar := calendar, accounts := accounts, encumbrances := encumbrances, ledger := ledger]

exports: (
    # initial registration's holdings and sealing first: the order of this list is the
    # order in which the selector table compares functions that share a bucket
    registration.register_holdings,
    registration.seal_security,
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
    # the rest of initial registration (registration.vy)
    registration.register_security,
    registration.register_holdings_many,
    # lost-key recovery (recovery.vy)
    recovery.recover,
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
