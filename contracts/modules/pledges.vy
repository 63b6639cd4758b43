# pragma version 0.4.3
"""
@title pledges
@notice Share and fund-share pledges (股权/份额质押): offered by the pledgor (or
        registered by the registrar on both parties' written instruction),
        in existence from the pledgee's acceptance, ranked by that time,
        released by the pledgee, enforced on default by the pledgee or the
        court agent (Civil Code arts 414, 436, 443).
@dev Pledged units cannot be transferred, pledged again or cancelled by a
     capital decrease: ledger.vy and corporate_actions.vy count them out of
     the free balance.
     The pledgee is a registered, active account of another holder (another
     identity). Enforcement is a transfer: by the pledgee, every transfer
     rule applies (ledger._check: both accounts, qualification,
     institutional-only, register closure, lock-up, holding period, insider
     limits, holder cap, fund minimum), a fund's manager consents
     (consent_enforcement) and an LLC outsider is refused (first refusal
     needs the notice of a court sale). By the court agent it is a
     court-ordered move (ledger._court_move). Registration times are seconds.
"""

from . import roles
from . import calendar
from . import encumbrances
from . import ledger

uses: roles
uses: calendar
uses: encumbrances
uses: ledger


# Most pledges one import batch may write: each writes a full Pledge record (~220-240k
# gas), so a batch of 50 leaves half of a 30M block free.
MAX_IMPORT: constant(uint256) = 50


struct PledgeImport:
    pledgor: address
    pledgee: address
    units: uint256
    registered_at: uint256


event PledgeOffered:
    pledge_id: indexed(uint256)
    pledgor: indexed(address)
    pledgee: indexed(address)
    id: uint256
    units: uint256
    actor: address
    doc: bytes32

event PledgeOfferCancelled:
    pledge_id: indexed(uint256)
    actor: indexed(address)
    doc: bytes32

event PledgeRegistered:
    pledge_id: indexed(uint256)
    pledgor: indexed(address)
    pledgee: indexed(address)
    id: uint256
    units: uint256
    registered_at: uint256
    doc: bytes32

event PledgeReleased:
    pledge_id: indexed(uint256)
    units: uint256
    remaining: uint256
    actor: indexed(address)
    doc: bytes32

event PledgeEnforced:
    pledge_id: indexed(uint256)
    receiver: indexed(address)
    units: uint256
    remaining: uint256
    actor: indexed(address)
    doc: bytes32

event EnforcementConsented:
    pledge_id: indexed(uint256)
    receiver: indexed(address)
    units: uint256
    actor: indexed(address)
    doc: bytes32

event PledgedTransferConsented:
    pledge_id: indexed(uint256)
    receiver: indexed(address)
    units: uint256
    actor: indexed(address)
    doc: bytes32


@external
def offer_pledge(id: uint256, pledgee: address, units: uint256, doc: bytes32):
    """
    @notice Offer to pledge `units` of security `id` to `pledgee`; the pledge
            exists once the pledgee accepts.
    @param id The security id.
    @param pledgee The creditor (bank).
    @param units Smallest units to pledge.
    @param doc Reference (hash) of the pledge contract.
    """
    self._offer(msg.sender, pledgee, id, units, doc)


@external
def register_pledge(pledgor: address, pledgee: address, id: uint256, units: uint256, doc: bytes32):
    """
    @notice The registrar records a pledge on both parties' written
            instruction; the pledgee still accepts on chain.
    @param pledgor The holder.
    @param pledgee The creditor.
    @param id The security id.
    @param units Smallest units to pledge.
    @param doc Reference (hash) of the written instruction.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    self._offer(pledgor, pledgee, id, units, doc)


@external
def cancel_pledge_offer(pledge_id: uint256, doc: bytes32):
    """
    @notice Withdraw (pledgor, registrar) or decline (pledgee) an offer not yet accepted.
    @param pledge_id The pledge.
    @param doc Reference (hash) of the reason.
    """
    assert not calendar._paused(), "pledges: paused"
    p: encumbrances.Pledge = encumbrances.pledge_of[pledge_id]
    assert p.status == encumbrances.OFFERED, "pledges: not an open offer"
    if msg.sender != p.pledgor and msg.sender != p.pledgee:
        roles._check_role(roles.Role.SECURITY_MANAGER)
    encumbrances.pledge_of[pledge_id].status = encumbrances.CANCELLED
    log PledgeOfferCancelled(pledge_id=pledge_id, actor=msg.sender, doc=doc)


@external
def accept_pledge(pledge_id: uint256, doc: bytes32):
    """
    @notice The pledgee accepts: the pledge is registered now and locks its
            units; it ranks after the holding's earlier pledges.
    @param pledge_id The offered pledge.
    @param doc Reference (hash) of the acceptance.
    """
    assert not calendar._paused(), "pledges: paused"
    p: encumbrances.Pledge = encumbrances.pledge_of[pledge_id]
    assert p.status == encumbrances.OFFERED, "pledges: not an open offer"
    assert msg.sender == p.pledgee, "pledges: caller is not the pledgee"
    assert ledger._account_active(p.pledgee), "pledges: pledgee account not active"
    key: uint256 = ledger._key(p.pledgor, p.id)
    assert len(encumbrances.pledge_ids[key]) < encumbrances.MAX_PLEDGES, "pledges: too many pledges on holding"
    balance: uint256 = ledger._balance(p.pledgor, p.id)
    locked: uint256 = encumbrances._locked(key, balance, calendar._today())
    assert p.units + locked <= balance, "pledges: amount exceeds free balance"
    encumbrances.pledge_ids[key].append(pledge_id)
    encumbrances.enc_data[key] += p.units
    encumbrances.pledge_of[pledge_id].status = encumbrances.PLEDGED
    # seconds whatever the chain's clock (migrated pledges carry seconds too)
    registered_at: uint256 = block.timestamp // calendar.TIME_UNIT
    encumbrances.pledge_of[pledge_id].registered_at = registered_at
    encumbrances.pledge_of[pledge_id].seq = encumbrances._next_seq()
    ledger._set_encumbered(p.pledgor, p.id)
    log PledgeRegistered(
        pledge_id=pledge_id,
        pledgor=p.pledgor,
        pledgee=p.pledgee,
        id=p.id,
        units=p.units,
        registered_at=registered_at,
        doc=doc,
    )


@external
def release_pledge(pledge_id: uint256, units: uint256, doc: bytes32):
    """
    @notice The pledgee releases `units` of the pledge (all of it or part).
    @param pledge_id The pledge.
    @param units Smallest units to release.
    @param doc Reference (hash) of the release.
    """
    assert not calendar._paused(), "pledges: paused"
    p: encumbrances.Pledge = encumbrances.pledge_of[pledge_id]
    assert p.status == encumbrances.PLEDGED, "pledges: pledge not in force"
    assert msg.sender == p.pledgee, "pledges: caller is not the pledgee"
    self._reduce(pledge_id, p, units, encumbrances.RELEASED)
    log PledgeReleased(pledge_id=pledge_id, units=units, remaining=p.units - units, actor=msg.sender, doc=doc)


@external
def enforce_pledge(pledge_id: uint256, receiver: address, units: uint256, doc: bytes32):
    """
    @notice On default, move pledged units to the pledgee or a buyer named in
            the enforcement. It is a transfer. By the pledgee: every transfer
            rule applies (accounts of both sides, qualification, register
            closure, lock-up, holding period, insider limits, cap, fund
            minimum), a fund needs its manager's consent_enforcement, and an
            LLC outsider (first refusal) is refused: the court sells with
            notice. By the court agent: a court-ordered move (lock-up, holding
            period, insider limits, the pledgor's account status, consent and
            notice are the court's; every rule about the receiver, the register
            closure and the holder cap still apply). Where a court froze the
            holding after the pledge was registered, only the court agent may
            enforce.
    @param pledge_id The pledge.
    @param receiver The pledgee or the buyer.
    @param units Smallest units to move.
    @param doc Reference (hash) of the enforcement decision.
    """
    p: encumbrances.Pledge = encumbrances.pledge_of[pledge_id]
    assert p.status == encumbrances.PLEDGED, "pledges: pledge not in force"
    is_court: bool = roles.Role.COURT_AGENT in roles.roles_of[msg.sender]
    assert msg.sender == p.pledgee or is_court, "pledges: caller is not the pledgee or court agent"
    key: uint256 = ledger._key(p.pledgor, p.id)
    today: uint256 = calendar._today()
    if is_court:
        # freezes keep claiming what is left after the pledged units go
        encumbrances._settle(key, ledger._balance(p.pledgor, p.id), today)
        self._reduce(pledge_id, p, units, encumbrances.ENFORCED)
        ledger._court_move(p.pledgor, receiver, p.id, units, ledger.COURT_ENFORCEMENT, pledge_id, doc)
    else:
        assert not self._frozen_after(p, key, today), "pledges: frozen, enforce through the court agent"
        # nothing claims the released units: a freeze registered before the pledge
        # claims all its units (it did when the pledge was accepted), none after it is open
        self._reduce(pledge_id, p, units, encumbrances.ENFORCED)
        ledger._enforcement_move(
            p.pledgor, receiver, p.id, units, pledge_id, self._take_consent(pledge_id, receiver, units), doc
        )
    log PledgeEnforced(
        pledge_id=pledge_id, receiver=receiver, units=units, remaining=p.units - units, actor=msg.sender, doc=doc
    )


@external
def consent_enforcement(pledge_id: uint256, receiver: address, units: uint256, doc: bytes32):
    """
    @notice The fund manager consents that the pledgee enforces up to `units`
            of a pledge of fund shares to `receiver` (the manager's consent to
            a transfer, Partnership Law arts 22-23, 73). 0 units withdraws it.
    @param pledge_id The pledge (of a fund security).
    @param receiver The pledgee or the buyer the manager admits.
    @param units Smallest units.
    @param doc Reference (hash) of the consent.
    """
    assert not calendar._paused(), "pledges: paused"
    p: encumbrances.Pledge = encumbrances.pledge_of[pledge_id]
    assert p.status == encumbrances.PLEDGED, "pledges: pledge not in force"
    roles._check_security_role(p.id, roles.SecurityRole.FUND_MANAGER)
    assert units <= p.units, "pledges: amount exceeds pledge"
    assert receiver != empty(address) or units == 0, "pledges: zero address"
    encumbrances.enforcement_consent[pledge_id] = (convert(receiver, uint256) << 96) | units
    log EnforcementConsented(pledge_id=pledge_id, receiver=receiver, units=units, actor=msg.sender, doc=doc)


@external
def consent_pledged_transfer(pledge_id: uint256, receiver: address, units: uint256, doc: bytes32):
    """
    @notice The pledgee agrees that the pledgor may sell `units` of the pledged
            units to `receiver`: released and transferred in one transaction
            by `transfer_pledged`. 0 units withdraws the consent.
    @param pledge_id The pledge.
    @param receiver The agreed buyer.
    @param units Smallest units.
    @param doc Reference (hash) of the agreement.
    """
    assert not calendar._paused(), "pledges: paused"
    p: encumbrances.Pledge = encumbrances.pledge_of[pledge_id]
    assert p.status == encumbrances.PLEDGED, "pledges: pledge not in force"
    assert msg.sender == p.pledgee, "pledges: caller is not the pledgee"
    assert units <= p.units, "pledges: amount exceeds pledge"
    assert receiver != empty(address) or units == 0, "pledges: zero address"
    encumbrances.pledge_of[pledge_id].consent_receiver = receiver
    encumbrances.pledge_of[pledge_id].consent_units = units
    log PledgedTransferConsented(pledge_id=pledge_id, receiver=receiver, units=units, actor=msg.sender, doc=doc)


@external
def transfer_pledged(pledge_id: uint256, doc: bytes32):
    """
    @notice The pledgor sells the units the pledgee agreed to: they are
            released and transferred under every ordinary transfer rule, in
            one transaction or not at all.
    @param pledge_id The pledge.
    @param doc Reference (hash) of the sale.
    """
    p: encumbrances.Pledge = encumbrances.pledge_of[pledge_id]
    assert p.status == encumbrances.PLEDGED, "pledges: pledge not in force"
    assert msg.sender == p.pledgor, "pledges: caller is not the pledgor"
    units: uint256 = p.consent_units
    assert units != 0, "pledges: no consent from the pledgee"
    receiver: address = p.consent_receiver
    encumbrances.pledge_of[pledge_id].consent_units = 0
    encumbrances.pledge_of[pledge_id].consent_receiver = empty(address)
    self._reduce(pledge_id, p, units, encumbrances.RELEASED)
    log PledgeReleased(pledge_id=pledge_id, units=units, remaining=p.units - units, actor=msg.sender, doc=doc)
    ledger._transfer(p.pledgor, receiver, p.id, units)


@external
def import_pledges(id: uint256, batch: DynArray[PledgeImport, 256], doc: bytes32):
    """
    @notice Migration: write pledges registered in the operator's old books
            onto a security still in initial registration (PENDING), with
            their original registration times (their rank). Both parties'
            consent is on file with the registrar (`doc`).
    @param id The security id (PENDING, holdings already written).
    @param batch The pledges, in rank order per holding; at most MAX_IMPORT (50).
    @param doc Reference (hash) of the migration batch.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "pledges: paused"
    assert len(batch) != 0, "pledges: empty batch"
    assert len(batch) <= MAX_IMPORT, "pledges: batch too large"
    status: uint256 = ledger.security_data[id] & ledger.BYTE_MASK
    assert status != 0, "pledges: unknown security"
    assert status == ledger.PENDING, "pledges: security not pending"
    for item: PledgeImport in batch:
        assert item.pledgee != empty(address), "pledges: zero address"
        assert item.pledgee != item.pledgor, "pledges: pledgee is the pledgor"
        assert item.units != 0, "pledges: zero amount"
        assert item.registered_at <= block.timestamp // calendar.TIME_UNIT, "pledges: registered in the future"
        key: uint256 = ledger._key(item.pledgor, id)
        ids: DynArray[uint256, encumbrances.MAX_PLEDGES] = encumbrances.pledge_ids[key]
        assert len(ids) < encumbrances.MAX_PLEDGES, "pledges: too many pledges on holding"
        if len(ids) != 0:
            last: uint256 = encumbrances.pledge_of[ids[len(ids) - 1]].registered_at
            assert item.registered_at >= last, "pledges: not in rank order"
        pledged: uint256 = (encumbrances.enc_data[key] & encumbrances.PLEDGED_MASK) + item.units
        assert pledged <= ledger._balance(item.pledgor, id), "pledges: amount exceeds free balance"
        pledge_id: uint256 = encumbrances.pledge_count + 1
        encumbrances.pledge_count = pledge_id
        encumbrances.pledge_of[pledge_id] = encumbrances.Pledge(
            pledgor=item.pledgor,
            pledgee=item.pledgee,
            id=id,
            units=item.units,
            registered_at=item.registered_at,
            seq=encumbrances._next_seq(),
            status=encumbrances.PLEDGED,
            doc=doc,
            consent_receiver=empty(address),
            consent_units=0,
        )
        encumbrances.pledge_ids[key].append(pledge_id)
        encumbrances.enc_data[key] += item.units
        ledger._set_encumbered(item.pledgor, id)
        log PledgeRegistered(
            pledge_id=pledge_id,
            pledgor=item.pledgor,
            pledgee=item.pledgee,
            id=id,
            units=item.units,
            registered_at=item.registered_at,
            doc=doc,
        )


@external
@view
def pledged_balance_of(owner: address, id: uint256) -> uint256:
    """
    @notice Units of `id` that `owner` has pledged (accepted pledges).
    """
    if id > ledger.AMOUNT_MAX:
        return 0
    return encumbrances.enc_data[ledger._key(owner, id)] & encumbrances.PLEDGED_MASK


@external
@view
def pledges_of(owner: address, id: uint256) -> DynArray[uint256, encumbrances.MAX_PLEDGES]:
    """
    @notice Ids of the pledges on a holding, in rank (registration) order.
    """
    if id > ledger.AMOUNT_MAX:
        return []
    return encumbrances.pledge_ids[ledger._key(owner, id)]


@internal
def _offer(pledgor: address, pledgee: address, id: uint256, units: uint256, doc: bytes32):
    assert not calendar._paused(), "pledges: paused"
    assert pledgee != empty(address), "pledges: zero address"
    assert pledgee != pledgor, "pledges: pledgee is the pledgor"
    assert ledger._account_active(pledgee), "pledges: pledgee account not active"
    assert not ledger._same_holder(pledgor, pledgee), "pledges: pledgee is the pledgor"
    assert units != 0, "pledges: zero amount"
    status: uint256 = ledger.security_data[id] & ledger.BYTE_MASK
    assert status != 0, "pledges: unknown security"
    assert status == ledger.ACTIVE, "pledges: security not active"
    assert units <= ledger._balance(pledgor, id), "pledges: amount exceeds holding"
    pledge_id: uint256 = encumbrances.pledge_count + 1
    encumbrances.pledge_count = pledge_id
    encumbrances.pledge_of[pledge_id] = encumbrances.Pledge(
        pledgor=pledgor,
        pledgee=pledgee,
        id=id,
        units=units,
        registered_at=0,
        seq=0,
        status=encumbrances.OFFERED,
        doc=doc,
        consent_receiver=empty(address),
        consent_units=0,
    )
    log PledgeOffered(pledge_id=pledge_id, pledgor=pledgor, pledgee=pledgee, id=id, units=units, actor=msg.sender, doc=doc)


@internal
def _reduce(pledge_id: uint256, p: encumbrances.Pledge, units: uint256, final_status: uint8):
    assert units != 0, "pledges: zero amount"
    assert units <= p.units, "pledges: amount exceeds pledge"
    key: uint256 = ledger._key(p.pledgor, p.id)
    remaining: uint256 = p.units - units
    encumbrances.pledge_of[pledge_id].units = remaining
    # the pledge's units are part of the holding's pledged total
    encumbrances.enc_data[key] -= units
    if remaining == 0:
        encumbrances.pledge_of[pledge_id].status = final_status
        encumbrances._remove_pledge_id(key, pledge_id)
    ledger._set_encumbered(p.pledgor, p.id)


@internal
@view
def _frozen_after(p: encumbrances.Pledge, key: uint256, day: uint256) -> bool:
    """
    @dev Whether a freeze registered after the pledge is open on the holding
         (in force or queued, not lapsed).
    """
    count: uint256 = encumbrances.enc_data[key] >> encumbrances.COUNT_SHIFT
    for i: uint256 in range(encumbrances.MAX_FREEZES):
        if i >= count:
            break
        w: uint256 = encumbrances.freeze_words[key][i]
        if (w >> encumbrances.EXPIRY_SHIFT) & encumbrances.MASK32 < day:
            continue
        fid: uint256 = (w >> encumbrances.FREEZE_ID_SHIFT) & encumbrances.MASK64
        at: uint256 = encumbrances.freeze_of[fid].registered_at
        if at > p.registered_at or (at == p.registered_at and encumbrances.freeze_of[fid].seq > p.seq):
            return True
    return False


@internal
def _take_consent(pledge_id: uint256, receiver: address, units: uint256) -> bool:
    """
    @dev Use up the fund manager's consent to enforcing `units` to `receiver`,
         if there is one that covers them; whether there was.
    """
    c: uint256 = encumbrances.enforcement_consent[pledge_id]
    if c >> 96 != convert(receiver, uint256) or c & ledger.AMOUNT_MAX < units:
        return False
    encumbrances.enforcement_consent[pledge_id] = c - units
    return True
