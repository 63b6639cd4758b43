# pragma version 0.4.3
"""
@title Register
@notice The share register of a regional equity market (区域性股权市场):
        roles, investor accounts, the trading calendar and every security of
        the market as an id of one ERC-6909 multi-token, at one address.
@dev This contract holds all storage and serves the hot path (transfers) and
     every view. The administrative functions live in six desk contracts, one
     per concern, that run on this contract's storage by DELEGATECALL:
     AdminDesk (roles, calendar and pause, accounts, initial registration,
     lost-key recovery), IssuanceDesk (corporate actions), PledgeDesk,
     FreezeDesk, InstructionDesk and AuctionDesk, each serving whole
     modules. `__default__` finds the one desk that serves the selector (a generated binary search,
     regchain.router) and DELEGATECALLs it once; an unknown selector reverts.
     Every desk initializes the modules it needs in this contract's order, so
     its variables sit in this contract's slots (tests/test_layout.py checks
     it). The split exists because one contract with everything exceeds the
     24,576-byte code limit (EIP-170) that Besu and GoQuorum enforce. Desk
     functions return nothing; results are read through this contract's views.
     Modules: roles (who may act), calendar (trading days, clock, pause),
     accounts (基础账户管理), ledger (securities, holdings, transfer rules),
     registration (初始登记), corporate_actions (capital changes, lock-ups,
     insiders, closures, terms), recovery (lost keys),
     encumbrances/pledges/freezes (质押, 司法冻结), instructions (转让指令),
     auctions (单向竞价).
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
initializes: ledger[calendar := calendar, accounts := accounts, encumbrances := encumbrances]
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

# The desks (see the module docstring), each deployed with this contract's clock.
ADMIN_DESK: public(immutable(address))
ISSUANCE_DESK: public(immutable(address))
PLEDGE_DESK: public(immutable(address))
FREEZE_DESK: public(immutable(address))
INSTRUCTION_DESK: public(immutable(address))
AUCTION_DESK: public(immutable(address))


@deploy
def __init__(
    governance: address,
    time_unit_ms: bool,
    utc_offset_s: uint256,
    admin_desk: address,
    issuance_desk: address,
    pledge_desk: address,
    freeze_desk: address,
    instruction_desk: address,
    auction_desk: address,
):
    """
    @param governance The operator's board key (a multisig in production).
    @param time_unit_ms True where block.timestamp counts milliseconds (FISCO BCOS).
    @param utc_offset_s Market local time minus UTC, seconds (28800 for China).
    @param admin_desk The AdminDesk; this and the other desks deployed with the
           same clock parameters (checked).
    """
    roles.__init__(governance)
    calendar.__init__(time_unit_ms, utc_offset_s)
    for desk: address in [admin_desk, issuance_desk, pledge_desk, freeze_desk, instruction_desk, auction_desk]:
        assert desk.is_contract, "register: desk is not a contract"
        assert staticcall Desk(desk).TIME_UNIT() == calendar.TIME_UNIT, "register: desk clock differs"
        assert staticcall Desk(desk).UTC_OFFSET() == calendar.UTC_OFFSET, "register: desk clock differs"
    ADMIN_DESK = admin_desk
    ISSUANCE_DESK = issuance_desk
    PLEDGE_DESK = pledge_desk
    FREEZE_DESK = freeze_desk
    INSTRUCTION_DESK = instruction_desk
    AUCTION_DESK = auction_desk


@external
def __default__():
    """
    @notice The administrative functions: run the code of the desk that serves
            the selector on this storage, with one DELEGATECALL.
    @dev Reverts of the desk bubble up with their reason; a selector no desk
         serves reverts "register: unknown function".
    """
    assert len(msg.data) >= 4, "register: unknown function"
    selector: uint256 = convert(slice(msg.data, 0, 4), uint256)
    desk: address = empty(address)
    # BEGIN GENERATED ROUTER: `python -m regchain.router` writes this block from the desks' ABIs
    # from the desks' ABIs (62 functions: AdminDesk 21, IssuanceDesk 9, PledgeDesk 9, FreezeDesk 7, InstructionDesk 11, AuctionDesk 5); do not edit by hand
    if selector < 1984706012:  # 0x764c35dc
        if selector < 1271747025:  # 0x4bcd51d1
            if selector < 315336862:  # 0x12cba89e
                if selector < 231823900:  # 0x0dd15a1c
                    if selector == 95728604:  # 0x05b4b3dc list_units(uint256,uint256,uint256,address,uint256,bytes32)
                        desk = AUCTION_DESK
                    elif selector == 139973882:  # 0x0857d4fa import_freezes(uint256,(address,uint256,bytes32,uint256,uint256)[],bytes32)
                        desk = FREEZE_DESK
                    elif selector == 192031675:  # 0x0b722bbb bid(uint256,uint256,bytes32)
                        desk = AUCTION_DESK
                else:
                    if selector < 261835431:  # 0x0f9b4aa7
                        if selector == 231823900:  # 0x0dd15a1c cancel_pledge_offer(uint256,bytes32)
                            desk = PLEDGE_DESK
                        elif selector == 249577528:  # 0x0ee04038 settle_transfer(uint256,bytes32)
                            desk = INSTRUCTION_DESK
                    else:
                        if selector == 261835431:  # 0x0f9b4aa7 exercise_first_refusal(uint256,bytes32)
                            desk = INSTRUCTION_DESK
                        elif selector == 310416120:  # 0x128092f8 register_pledge(address,address,uint256,uint256,bytes32)
                            desk = PLEDGE_DESK
            else:
                if selector < 793620127:  # 0x2f4dae9f
                    if selector < 619108508:  # 0x24e6d89c
                        if selector == 315336862:  # 0x12cba89e consent_transfer(uint256,bytes32)
                            desk = INSTRUCTION_DESK
                        elif selector == 452764605:  # 0x1afca3bd court_transfer(uint256,address,uint256,bytes32)
                            desk = FREEZE_DESK
                    else:
                        if selector == 619108508:  # 0x24e6d89c suspend_account(address,bytes32)
                            desk = ADMIN_DESK
                        elif selector == 710218724:  # 0x2a5513e4 reject_transfer(uint256,bytes32)
                            desk = INSTRUCTION_DESK
                else:
                    if selector < 1000787636:  # 0x3ba6ceb4
                        if selector == 793620127:  # 0x2f4dae9f unpause(bytes32)
                            desk = ADMIN_DESK
                        elif selector == 856164932:  # 0x33080a44 consent_enforcement(uint256,address,uint256,bytes32)
                            desk = PLEDGE_DESK
                    else:
                        if selector == 1000787636:  # 0x3ba6ceb4 open_accounts((address,bytes32,uint8,bool)[],bytes32)
                            desk = ADMIN_DESK
                        elif selector == 1232857750:  # 0x497bea96 increase_capital(uint256,(address,uint256,uint256)[],bytes32)
                            desk = ISSUANCE_DESK
        else:
            if selector < 1637485202:  # 0x619a0a92
                if selector < 1477029670:  # 0x5809af26
                    if selector < 1325884541:  # 0x4f07647d
                        if selector == 1271747025:  # 0x4bcd51d1 import_pledges(uint256,(address,address,uint256,uint256)[],bytes32)
                            desk = FREEZE_DESK
                        elif selector == 1307807005:  # 0x4df38d1d claim_refund(address,bytes32)
                            desk = INSTRUCTION_DESK
                    else:
                        if selector == 1325884541:  # 0x4f07647d lift_freeze(uint256,bytes32)
                            desk = FREEZE_DESK
                        elif selector == 1350897446:  # 0x50850f26 register_holdings_many((uint256,uint256)[],bytes32)
                            desk = ADMIN_DESK
                else:
                    if selector < 1569673023:  # 0x5d8f4f3f
                        if selector == 1477029670:  # 0x5809af26 seal_security(uint256,bytes32)
                            desk = ADMIN_DESK
                        elif selector == 1509856036:  # 0x59fe9324 reclaim_lapsed(uint256,bytes32)
                            desk = INSTRUCTION_DESK
                    else:
                        if selector == 1569673023:  # 0x5d8f4f3f consent_pledged_transfer(uint256,address,uint256,bytes32)
                            desk = PLEDGE_DESK
                        elif selector == 1624751132:  # 0x60d7bc1c transfer_governance(address,bytes32)
                            desk = ADMIN_DESK
            else:
                if selector < 1875065520:  # 0x6fc33ab0
                    if selector < 1647325231:  # 0x6230302f
                        if selector == 1637485202:  # 0x619a0a92 renew_freeze(uint256,uint256,bytes32)
                            desk = FREEZE_DESK
                        elif selector == 1643349865:  # 0x61f38769 set_register_closure(uint256,uint256,uint256,bytes32)
                            desk = ISSUANCE_DESK
                    else:
                        if selector == 1647325231:  # 0x6230302f release_pledge(uint256,uint256,bytes32)
                            desk = PLEDGE_DESK
                        elif selector == 1670477829:  # 0x63917805 register_holdings(uint256,(address,uint256,uint256,uint256,uint256,bool)[],bytes32)
                            desk = ADMIN_DESK
                else:
                    if selector < 1897412524:  # 0x711837ac
                        if selector == 1875065520:  # 0x6fc33ab0 accept_pledge(uint256,bytes32)
                            desk = PLEDGE_DESK
                        elif selector == 1882545259:  # 0x70355c6b close_listing(uint256,bytes32)
                            desk = AUCTION_DESK
                    else:
                        if selector == 1897412524:  # 0x711837ac propose_transfer(address,uint256,uint256,uint256,address,bytes32)
                            desk = INSTRUCTION_DESK
                        elif selector == 1974866594:  # 0x75b612a2 recover(address,address,uint256[],bytes32)
                            desk = ADMIN_DESK
    else:
        if selector < 2983964373:  # 0xb1dbaed5
            if selector < 2663073749:  # 0x9ebb47d5
                if selector < 2130353444:  # 0x7efa9d24
                    if selector == 1984706012:  # 0x764c35dc revoke_security_role(uint256,address,uint256,bytes32)
                        desk = ADMIN_DESK
                    elif selector == 1986759402:  # 0x766b8aea tidy_freezes(address,uint256)
                        desk = FREEZE_DESK
                    elif selector == 2114985914:  # 0x7e101fba reactivate_account(address,bytes32)
                        desk = ADMIN_DESK
                else:
                    if selector < 2212074694:  # 0x83d994c6
                        if selector == 2130353444:  # 0x7efa9d24 record_paid_in(address,uint256,uint256,bytes32)
                            desk = ISSUANCE_DESK
                        elif selector == 2162147321:  # 0x80dfbff9 revoke_role(address,uint256,bytes32)
                            desk = ADMIN_DESK
                    else:
                        if selector == 2212074694:  # 0x83d994c6 enforce_pledge(uint256,address,uint256,bytes32)
                            desk = PLEDGE_DESK
                        elif selector == 2535146743:  # 0x971b44f7 consent_listing(uint256,bytes32)
                            desk = AUCTION_DESK
            else:
                if selector < 2805905921:  # 0xa73eba01
                    if selector < 2733147729:  # 0xa2e88651
                        if selector == 2663073749:  # 0x9ebb47d5 set_qualified(address,bool,bytes32)
                            desk = ADMIN_DESK
                        elif selector == 2677459855:  # 0x9f96cb8f set_transfer_terms(uint256,bool,bool,uint256,bytes32)
                            desk = ISSUANCE_DESK
                    else:
                        if selector == 2733147729:  # 0xa2e88651 set_lockup(address,uint256,uint256,bytes32)
                            desk = ISSUANCE_DESK
                        elif selector == 2794927541:  # 0xa69735b5 publish_calendar(uint256,uint256,uint256[],bytes32)
                            desk = ADMIN_DESK
                else:
                    if selector < 2899206179:  # 0xacce6023
                        if selector == 2805905921:  # 0xa73eba01 withdraw_transfer(uint256,bytes32)
                            desk = INSTRUCTION_DESK
                        elif selector == 2863670123:  # 0xaab0236b accept_governance(bytes32)
                            desk = ADMIN_DESK
                    else:
                        if selector == 2899206179:  # 0xacce6023 decrease_capital(uint256,(address,uint256)[],bytes32)
                            desk = ISSUANCE_DESK
                        elif selector == 2980584741:  # 0xb1a81d25 grant_role(address,uint256,bytes32)
                            desk = ADMIN_DESK
        else:
            if selector < 3827513904:  # 0xe4233a30
                if selector < 3485641809:  # 0xcfc2ac51
                    if selector < 3359183090:  # 0xc83910f2
                        if selector == 2983964373:  # 0xb1dbaed5 set_security_status(uint256,uint8,bytes32)
                            desk = ISSUANCE_DESK
                        elif selector == 3020783598:  # 0xb40d7fee transfer_pledged(uint256,bytes32)
                            desk = PLEDGE_DESK
                    else:
                        if selector == 3359183090:  # 0xc83910f2 increase_capital_waived(uint256,(address,uint256,uint256)[],bytes32,bytes32)
                            desk = ISSUANCE_DESK
                        elif selector == 3467513692:  # 0xceae0f5c offer_pledge(uint256,address,uint256,bytes32)
                            desk = PLEDGE_DESK
                else:
                    if selector < 3712013339:  # 0xdd40d41b
                        if selector == 3485641809:  # 0xcfc2ac51 grant_security_role(uint256,address,uint256,bytes32)
                            desk = ADMIN_DESK
                        elif selector == 3682884558:  # 0xdb845bce accept_transfer(uint256,bytes32)
                            desk = INSTRUCTION_DESK
                    else:
                        if selector == 3712013339:  # 0xdd40d41b amend_calendar(uint256,bool,bytes32)
                            desk = ADMIN_DESK
                        elif selector == 3822665447:  # 0xe3d93ee7 close_account(address,bytes32)
                            desk = ADMIN_DESK
            else:
                if selector < 3991655785:  # 0xedebd569
                    if selector < 3903403569:  # 0xe8a93631
                        if selector == 3827513904:  # 0xe4233a30 register_security(bytes32,uint8,uint8,uint256,bytes32)
                            desk = ADMIN_DESK
                        elif selector == 3863727605:  # 0xe64bcdf5 freeze(address,uint256,uint256,bytes32,uint256,bytes32)
                            desk = FREEZE_DESK
                    else:
                        if selector == 3903403569:  # 0xe8a93631 set_insider(address,uint256,bool,bytes32)
                            desk = ISSUANCE_DESK
                        elif selector == 3981857562:  # 0xed56531a pause(bytes32)
                            desk = ADMIN_DESK
                else:
                    if selector < 4050862991:  # 0xf173438f
                        if selector == 3991655785:  # 0xedebd569 propose_court_sale(address,address,uint256,uint256,uint256,address,bytes32)
                            desk = INSTRUCTION_DESK
                        elif selector == 4021046185:  # 0xefac4ba9 open_account(address,bytes32,uint8,bool,bytes32)
                            desk = ADMIN_DESK
                    else:
                        if selector == 4050862991:  # 0xf173438f withdraw_listing(uint256,bytes32)
                            desk = AUCTION_DESK
                        elif selector == 4093682103:  # 0xf400a1b7 set_cash_token(address,bool,bytes32)
                            desk = INSTRUCTION_DESK
    # END GENERATED ROUTER
    assert desk != empty(address), "register: unknown function"
    raw_call(desk, msg.data, is_delegate_call=True)
