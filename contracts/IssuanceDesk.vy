# pragma version 0.4.3
"""
@title IssuanceDesk
@notice Corporate actions on the register: registering and sealing
        securities, initial registration of holdings, capital increases and
        decreases, paid-in capital, lock-ups, insiders, register-closing
        windows, status changes and lost-key recovery.
@dev Runs only by DELEGATECALL from Register (through AdminDesk), on
     Register's storage. The last desk: an unknown selector reverts.
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import ledger

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: ledger[roles := roles, calendar := calendar, accounts := accounts]

exports: (
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
    ledger.register_security,
    ledger.register_holdings,
    ledger.seal_security,
    ledger.set_security_status,
    ledger.increase_capital,
    ledger.decrease_capital,
    ledger.record_paid_in,
    ledger.set_lockup,
    ledger.set_insider,
    ledger.set_register_closure,
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
