# pragma version 0.4.3
"""
@title IssuanceDesk
@notice The life of a security on the register (ledger.vy's administrative
        functions): initial registration (the security, its holdings, the
        migration's batches across securities, sealing), capital increases and
        decreases, paid-in capital, lock-ups, insiders, register-closing windows,
        transfer terms and status changes. (Lost-key recovery, which moves an
        account's holdings, is on AdminDesk with the accounts.)
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
    # initial registration
    # (register_holdings and register_holdings_many are on AdminDesk: with the capital
    # changes' pre-emption rules this desk has no room for them under EIP-170)
    ledger.register_security,
    ledger.seal_security,
    # corporate actions and the register's records
    ledger.set_security_status,
    ledger.increase_capital,
    ledger.increase_capital_waived,
    ledger.decrease_capital,
    ledger.record_paid_in,
    ledger.set_lockup,
    ledger.set_insider,
    ledger.set_register_closure,
    ledger.set_transfer_terms,
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
