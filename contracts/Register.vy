# pragma version 0.4.3
"""
@title Register
@notice The share register of a regional equity market (区域性股权市场):
        roles, investor accounts, the trading calendar and every security of
        the market as an id of one ERC-6909 multi-token, at one address.
@dev This contract holds all storage and serves the hot path (transfers) and
     every view. Administrative functions live in desk contracts that run on
     this contract's storage by DELEGATECALL: an unknown selector is handed to
     ADMIN_DESK, whose own fallback hands it to IssuanceDesk, and on to
     EncumbranceDesk. All three
     initialize the same modules in the same order, so their storage layouts
     are identical (tests/test_layout.py checks it). The split exists because
     one contract with everything exceeds the 24,576-byte code limit
     (EIP-170) that Besu and GoQuorum enforce. Desk functions return nothing;
     results are read through this contract's views.
     Modules: roles (who may act), calendar (trading days, clock, pause),
     accounts (基础账户管理), ledger (securities, holdings, transfer rules),
     encumbrances/pledges/freezes (质押, 司法冻结).
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
    # roles
    roles.governance,
    roles.pending_governance,
    roles.roles_of,
    roles.security_roles,
    # calendar, clock and pause
    calendar.TIME_UNIT,
    calendar.UTC_OFFSET,
    calendar.calendar_words,
    calendar.epoch_day,
    calendar.horizon_day,
    calendar.paused,
    calendar.day_of,
    calendar.today,
    calendar.is_trading_day,
    calendar.trading_day_number,
    calendar.trading_day_number_of_day,
    # accounts
    accounts.identity_of,
    accounts.account_of,
    # ledger: ERC-6909
    ledger.transfer,
    ledger.transferFrom,
    ledger.approve,
    ledger.setOperator,
    ledger.balanceOf,
    ledger.allowance,
    ledger.isOperator,
    ledger.totalSupply,
    ledger.supportsInterface,
    # ledger: views of the register
    ledger.can_transfer,
    ledger.holder_count,
    ledger.holder_cap,
    ledger.security,
    ledger.holding,
    ledger.insider_quota_of,
    ledger.declared_total,
    ledger.code_hash_of,
    ledger.security_id,
    ledger.security_count,
    # pledges and freezes: views
    encumbrances.pledge_of,
    encumbrances.pledge_count,
    encumbrances.freeze_of,
    encumbrances.freeze_count,
    pledges.pledged_balance_of,
    pledges.pledges_of,
    freezes.frozen_balance_of,
    freezes.freeze_queue_of,
    # transfer instructions: views
    instructions.instruction_of,
    instructions.instruction_count,
    instructions.cash_tokens,
    instructions.escrowed,
    instructions.refunds,
    instructions.stage_of,
    instructions.exercisers_of,
    # one-way bidding: views
    auctions.listing_of,
    auctions.listing_count,
)

# The first desk (AdminDesk); it forwards what it does not serve to the next.
ADMIN_DESK: public(immutable(address))


@deploy
def __init__(governance: address, time_unit_ms: bool, utc_offset_s: uint256, admin_desk: address):
    """
    @param governance The operator's board key (a multisig in production).
    @param time_unit_ms True where block.timestamp counts milliseconds (FISCO BCOS).
    @param utc_offset_s Market local time minus UTC, seconds (28800 for China).
    @param admin_desk The AdminDesk, deployed with the same clock parameters.
    """
    roles.__init__(governance)
    calendar.__init__(time_unit_ms, utc_offset_s)
    assert admin_desk.is_contract, "register: desk is not a contract"
    assert staticcall Desk(admin_desk).TIME_UNIT() == calendar.TIME_UNIT, "register: desk clock differs"
    assert staticcall Desk(admin_desk).UTC_OFFSET() == calendar.UTC_OFFSET, "register: desk clock differs"
    ADMIN_DESK = admin_desk


@external
def __default__():
    """
    @notice Administrative functions: run the desk's code on this storage.
    @dev Reverts of the desk bubble up with their reason.
    """
    raw_call(ADMIN_DESK, msg.data, is_delegate_call=True)
