# pragma version 0.4.3
"""
@title IssuanceDesk
@notice The life of a registered security (corporate_actions.vy): status
        changes, capital increases and decreases, paid-in capital, lock-ups,
        insiders, register-closing windows and transfer terms. (Initial
        registration is on AdminDesk, registration.vy: the two together do not
        fit one desk under EIP-170.)
@dev Runs only by DELEGATECALL from Register, on Register's storage (see
     Register.vy).
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import encumbrances
from modules import ledger
from modules import corporate_actions

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: encumbrances
initializes: ledger[calendar := calendar, accounts := accounts, encumbrances := encumbrances]
initializes: corporate_actions[roles := roles, calendar := calendar, accounts := accounts, encumbrances := encumbrances, ledger := ledger]

exports: (
    # corporate actions (corporate_actions.vy). The order of this list is the order in
    # which the selector table compares functions that share a bucket: set_lockup and
    # increase_capital first, as before the split (docs/architecture.md)
    corporate_actions.set_lockup,
    corporate_actions.increase_capital,
    corporate_actions.set_transfer_terms,
    corporate_actions.set_security_status,
    corporate_actions.increase_capital_waived,
    corporate_actions.decrease_capital,
    corporate_actions.record_paid_in,
    corporate_actions.set_insider,
    corporate_actions.set_register_closure,
    # the clock parameters, which Register checks at deployment
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
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
