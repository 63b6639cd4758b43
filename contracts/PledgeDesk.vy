# pragma version 0.4.3
"""
@title PledgeDesk
@notice Pledges (股权/份额质押, pledges.vy): offering, registering, accepting,
        releasing and enforcing them, selling pledged units with the pledgee's
        consent, and the migration's import of pledges.
@dev Runs only by DELEGATECALL from Register, on Register's storage (see
     Register.vy).
"""

from modules import roles
from modules import calendar
from modules import accounts
from modules import encumbrances
from modules import ledger
from modules import pledges

initializes: roles
initializes: calendar[roles := roles]
initializes: accounts[roles := roles, calendar := calendar]
initializes: encumbrances
initializes: ledger[calendar := calendar, accounts := accounts, encumbrances := encumbrances]
initializes: pledges[roles := roles, calendar := calendar, encumbrances := encumbrances, ledger := ledger]

exports: (
    # the clock parameters, which Register checks at deployment
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
    # pledges
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
