# pragma version 0.4.3
"""
@title InstructionDesk
@notice Transfer instructions (instructions.vy) with consent, notice and first
        refusal, and their settlement free of payment or against an ERC-20 cash
        token.
@dev Runs only by DELEGATECALL from Register, on Register's storage (see
     Register.vy).
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import encumbrances
from modules import ledger
from modules import instructions

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: encumbrances
initializes: ledger[calendar := calendar, accounts := accounts, encumbrances := encumbrances]
initializes: instructions[roles := roles, calendar := calendar, ledger := ledger]

exports: (
    # the clock parameters, which Register checks at deployment
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
    # instructions
    instructions.set_cash_token,
    instructions.propose_transfer,
    instructions.propose_court_sale,
    instructions.accept_transfer,
    instructions.consent_transfer,
    instructions.reject_transfer,
    instructions.withdraw_transfer,
    instructions.exercise_first_refusal,
    instructions.settle_transfer,
    instructions.claim_refund,
    instructions.reclaim_lapsed,
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
