# pragma version 0.4.3
"""
@title freezes
@notice Judicial freezes (司法冻结) and queued freezes (轮候冻结): the court
        agent freezes a quantity of a holding with a case-number hash and an
        expiry day; a freeze that does not fit behind the earlier ones waits
        and takes effect, in registration order, as they are lifted or lapse.
        Court-ordered transfers (司法划转/拍卖过户) move units under the
        court's own freeze in force.
@dev Which units each freeze claims is computed on read (encumbrances.vy),
     so a lapse needs no actor; `tidy_freezes` (anyone) only cleans up storage.
     A term is at most three years, a renewal at most three years again (SPC
     provisions on seizure, freezing and attachment in civil enforcement,
     art 27 (2020): 冻结其他财产权的期限不得超过三年, 续行期限不得超过该期限),
     counted as Civil Code art 202 counts a period in years. A court's freeze
     is never refused for the number on a holding below MAX_FREEZES (64).
     Registration times are seconds whatever the chain's clock.
"""

# Longest term of a freeze, and of each renewal, in months (three years).
MAX_TERM_MONTHS: constant(uint256) = 36

from . import roles
from . import calendar
from . import encumbrances
from . import ledger

uses: roles
uses: calendar
uses: encumbrances
uses: ledger


# Most freezes one import batch may write: each writes a full Freeze record (~220-240k
# gas), so a batch of 50 leaves half of a 30M block free.
MAX_IMPORT: constant(uint256) = 50


struct FreezeImport:
    owner: address
    units: uint256
    case_hash: bytes32
    registered_at: uint256
    expiry_day: uint256


event Frozen:
    freeze_id: indexed(uint256)
    owner: indexed(address)
    id: indexed(uint256)
    units: uint256
    case_hash: bytes32
    expiry_day: uint256
    in_force: bool
    actor: address
    doc: bytes32

event FreezeTookEffect:
    freeze_id: indexed(uint256)

event FreezeLifted:
    freeze_id: indexed(uint256)
    actor: indexed(address)
    doc: bytes32

event FreezeRenewed:
    freeze_id: indexed(uint256)
    expiry_day: uint256
    actor: indexed(address)
    doc: bytes32

event FreezeLapsed:
    freeze_id: indexed(uint256)

event CourtTransferred:
    freeze_id: indexed(uint256)
    receiver: indexed(address)
    units: uint256
    remaining: uint256
    actor: indexed(address)
    doc: bytes32


@external
def freeze(owner: address, id: uint256, units: uint256, case_hash: bytes32, expiry_day: uint256, doc: bytes32):
    """
    @notice Freeze `units` of `owner`'s holding of `id` until the end of
            `expiry_day` (at most three years). It claims at once the units
            neither pledged nor claimed by earlier freezes, up to `units`, and
            the rest as they become free (queued, 轮候).
    @param owner The holder.
    @param id The security id.
    @param units Smallest units, at most the holding.
    @param case_hash Hash of the case number (the case number is not stored).
    @param expiry_day Last day the freeze holds (market-local day number).
    @param doc Reference (hash) of the court's ruling and assistance notice.
    """
    roles._check_role(roles.Role.COURT_AGENT)
    assert not calendar._paused(), "freezes: paused"
    assert owner != empty(address), "freezes: zero address"
    assert units != 0, "freezes: zero amount"
    assert ledger.security_data[id] & ledger.BYTE_MASK != 0, "freezes: unknown security"
    today: uint256 = calendar._today()
    assert expiry_day >= today, "freezes: expiry in the past"
    assert expiry_day <= ledger._months_later(today, MAX_TERM_MONTHS), "freezes: term longer than three years"
    self._add_freeze(owner, id, units, case_hash, block.timestamp // calendar.TIME_UNIT, expiry_day, today, doc)


@external
def import_freezes(id: uint256, batch: DynArray[FreezeImport, 256], doc: bytes32):
    """
    @notice Migration: write the judicial freezes of the operator's old books
            onto a security still in initial registration (PENDING), in their
            original registration order; whether each is in force or waits
            follows from that order, as for new freezes. Lapsed freezes are
            not migrated.
    @param id The security id (PENDING, holdings already written).
    @param batch The freezes, in registration order per holding; at most MAX_IMPORT (50).
    @param doc Reference (hash) of the migration batch.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "freezes: paused"
    assert len(batch) != 0, "freezes: empty batch"
    assert len(batch) <= MAX_IMPORT, "freezes: batch too large"
    status: uint256 = ledger.security_data[id] & ledger.BYTE_MASK
    assert status != 0, "freezes: unknown security"
    assert status == ledger.PENDING, "freezes: security not pending"
    today: uint256 = calendar._today()
    for item: FreezeImport in batch:
        assert item.owner != empty(address), "freezes: zero address"
        assert item.units != 0, "freezes: zero amount"
        assert item.expiry_day >= today, "freezes: expiry in the past"
        assert item.registered_at <= block.timestamp // calendar.TIME_UNIT, "freezes: registered in the future"
        key: uint256 = ledger._key(item.owner, id)
        count: uint256 = encumbrances.enc_data[key] >> encumbrances.COUNT_SHIFT
        if count != 0:
            w: uint256 = encumbrances.freeze_words[key][count - 1]
            last: uint256 = encumbrances.freeze_of[(w >> encumbrances.FREEZE_ID_SHIFT) & encumbrances.MASK64].registered_at
            assert item.registered_at >= last, "freezes: not in registration order"
        self._add_freeze(item.owner, id, item.units, item.case_hash, item.registered_at, item.expiry_day, today, doc)


@external
def lift_freeze(freeze_id: uint256, doc: bytes32):
    """
    @notice Lift a freeze (解除冻结); waiting freezes behind it take effect as
            far as they fit, in registration order.
    @param freeze_id The freeze.
    @param doc Reference (hash) of the court's release notice.
    """
    roles._check_role(roles.Role.COURT_AGENT)
    assert not calendar._paused(), "freezes: paused"
    f: encumbrances.Freeze = self._open_freeze(freeze_id)
    key: uint256 = ledger._key(f.owner, f.id)
    encumbrances._remove_freeze_at(key, encumbrances._freeze_index(key, freeze_id))
    encumbrances.freeze_of[freeze_id].status = encumbrances.LIFTED
    ledger._set_encumbered(f.owner, f.id)
    log FreezeLifted(freeze_id=freeze_id, actor=msg.sender, doc=doc)
    self._settle_and_log(key, ledger._balance(f.owner, f.id), calendar._today(), encumbrances.MAX_FREEZES)


@external
def renew_freeze(freeze_id: uint256, expiry_day: uint256, doc: bytes32):
    """
    @notice Extend a freeze before it lapses (续冻); it keeps its rank. The
            renewal is at most three years after the current expiry.
    @param freeze_id The freeze.
    @param expiry_day The new last day, later than the current one.
    @param doc Reference (hash) of the renewal notice.
    """
    roles._check_role(roles.Role.COURT_AGENT)
    assert not calendar._paused(), "freezes: paused"
    f: encumbrances.Freeze = self._open_freeze(freeze_id)
    assert expiry_day > f.expiry_day, "freezes: renewal must extend the expiry"
    assert expiry_day <= ledger._months_later(f.expiry_day, MAX_TERM_MONTHS), "freezes: renewal longer than three years"
    key: uint256 = ledger._key(f.owner, f.id)
    i: uint256 = encumbrances._freeze_index(key, freeze_id)
    mask: uint256 = encumbrances.MASK32 << encumbrances.EXPIRY_SHIFT
    w: uint256 = encumbrances.freeze_words[key][i]
    encumbrances.freeze_words[key][i] = (w & ~mask) | (expiry_day << encumbrances.EXPIRY_SHIFT)
    encumbrances.freeze_of[freeze_id].expiry_day = expiry_day
    log FreezeRenewed(freeze_id=freeze_id, expiry_day=expiry_day, actor=msg.sender, doc=doc)


@external
def tidy_freezes(owner: address, id: uint256):
    """
    @notice Anyone may clear lapsed freezes from a holding's storage. Reads
            already treat them as lapsed; this only frees the slots.
    @param owner The holder.
    @param id The security id.
    """
    assert not calendar._paused(), "freezes: paused"
    assert id <= ledger.AMOUNT_MAX, "freezes: unknown security"
    key: uint256 = ledger._key(owner, id)
    today: uint256 = calendar._today()
    e: uint256 = encumbrances.enc_data[key]
    count: uint256 = e >> encumbrances.COUNT_SHIFT
    # one pass: the open ones move down over the lapsed ones, in registration order
    kept: uint256 = 0
    for i: uint256 in range(encumbrances.MAX_FREEZES):
        if i >= count:
            break
        w: uint256 = encumbrances.freeze_words[key][i]
        if (w >> encumbrances.EXPIRY_SHIFT) & encumbrances.MASK32 < today:
            freeze_id: uint256 = (w >> encumbrances.FREEZE_ID_SHIFT) & encumbrances.MASK64
            encumbrances.freeze_of[freeze_id].status = encumbrances.LAPSED
            log FreezeLapsed(freeze_id=freeze_id)
        else:
            if kept != i:
                encumbrances.freeze_words[key][kept] = w
            kept += 1
    removed: uint256 = count - kept
    for i: uint256 in range(encumbrances.MAX_FREEZES):
        if kept + i >= count:
            break
        encumbrances.freeze_words[key][kept + i] = 0
    encumbrances.enc_data[key] = (e & encumbrances.PLEDGED_MASK) | (kept << encumbrances.COUNT_SHIFT)
    assert removed != 0, "freezes: nothing to tidy"
    ledger._set_encumbered(owner, id)
    self._settle_and_log(key, ledger._balance(owner, id), today, encumbrances.MAX_FREEZES)


@external
def court_transfer(freeze_id: uint256, receiver: address, units: uint256, doc: bytes32):
    """
    @notice Court-ordered transfer (司法划转/拍卖过户): move units this freeze
            holds (claims) to the buyer or the account the court names. The
            ruling overrides lock-up, the holding period, insider limits, the
            holder's account status, the manager's consent and the notice to
            other shareholders (given in the court's sale, Company Law art 85);
            the receiver's account, qualification and institutional status,
            the register closure, the holder cap and a fund's minimum apply.
            Units held by earlier freezes and pledged units cannot be taken.
    @param freeze_id The court's freeze.
    @param receiver The buyer or the account named by the court.
    @param units Smallest units, at most what the freeze holds now.
    @param doc Reference (hash) of the ruling.
    """
    roles._check_role(roles.Role.COURT_AGENT)
    f: encumbrances.Freeze = self._open_freeze(freeze_id)
    assert units != 0, "freezes: zero amount"
    key: uint256 = ledger._key(f.owner, f.id)
    balance: uint256 = ledger._balance(f.owner, f.id)
    today: uint256 = calendar._today()
    i: uint256 = encumbrances._freeze_index(key, freeze_id)
    # freezes in force now stay in force on what is left after the move
    self._settle_and_log(key, balance, today, encumbrances.MAX_FREEZES)
    # what this freeze claims: pledged units and earlier freezes' come first
    held: uint256 = (
        encumbrances._evaluate(key, balance, today, i + 1)[0] - encumbrances._evaluate(key, balance, today, i)[0]
    )
    assert held != 0, "freezes: freeze holds no units"
    assert units <= held, "freezes: amount exceeds units the freeze holds"
    remaining: uint256 = f.units - units
    if remaining == 0:
        encumbrances._remove_freeze_at(key, i)
        encumbrances.freeze_of[freeze_id].status = encumbrances.EXECUTED
    else:
        w: uint256 = encumbrances.freeze_words[key][i]
        encumbrances.freeze_words[key][i] = (w & ~encumbrances.UNITS_MASK) | remaining
    encumbrances.freeze_of[freeze_id].units = remaining
    ledger._set_encumbered(f.owner, f.id)
    ledger._court_move(f.owner, receiver, f.id, units, ledger.COURT_TRANSFER, freeze_id, doc)
    log CourtTransferred(
        freeze_id=freeze_id, receiver=receiver, units=units, remaining=remaining, actor=msg.sender, doc=doc
    )


@external
@view
def frozen_balance_of(owner: address, id: uint256) -> uint256:
    """
    @notice Units of `owner`'s holding of `id` claimed by its open freezes
            today (lapsed ones excluded; a queued freeze counts what it has
            claimed so far).
    """
    if id > ledger.AMOUNT_MAX:
        return 0
    return encumbrances._evaluate(
        ledger._key(owner, id), ledger._balance(owner, id), calendar._today(), encumbrances.MAX_FREEZES
    )[0]


@external
@view
def freeze_queue_of(owner: address, id: uint256) -> (DynArray[uint256, encumbrances.MAX_FREEZES], DynArray[bool, encumbrances.MAX_FREEZES]):
    """
    @notice The open freezes of a holding in registration order, and for each
            whether it is in force today, claiming all its units (false:
            queued, short of its units, or lapsed).
    """
    ids: DynArray[uint256, encumbrances.MAX_FREEZES] = []
    flags: DynArray[bool, encumbrances.MAX_FREEZES] = []
    if id > ledger.AMOUNT_MAX:
        return ids, flags
    key: uint256 = ledger._key(owner, id)
    count: uint256 = encumbrances.enc_data[key] >> encumbrances.COUNT_SHIFT
    mask: uint256 = encumbrances._evaluate(key, ledger._balance(owner, id), calendar._today(), encumbrances.MAX_FREEZES)[1]
    for i: uint256 in range(encumbrances.MAX_FREEZES):
        if i >= count:
            break
        ids.append((encumbrances.freeze_words[key][i] >> encumbrances.FREEZE_ID_SHIFT) & encumbrances.MASK64)
        flags.append(mask & (1 << i) != 0)
    return ids, flags


@internal
def _add_freeze(
    owner: address,
    id: uint256,
    units: uint256,
    case_hash: bytes32,
    registered_at: uint256,
    expiry_day: uint256,
    today: uint256,
    doc: bytes32,
):
    assert expiry_day <= encumbrances.MASK32, "freezes: day out of range"
    balance: uint256 = ledger._balance(owner, id)
    assert units <= balance, "freezes: amount exceeds holding"
    key: uint256 = ledger._key(owner, id)
    e: uint256 = encumbrances.enc_data[key]
    count: uint256 = e >> encumbrances.COUNT_SHIFT
    assert count < encumbrances.MAX_FREEZES, "freezes: too many freezes on holding"
    freeze_id: uint256 = encumbrances.freeze_count + 1
    encumbrances.freeze_count = freeze_id
    encumbrances.freeze_of[freeze_id] = encumbrances.Freeze(
        owner=owner,
        id=id,
        units=units,
        case_hash=case_hash,
        agent=msg.sender,
        registered_at=registered_at,
        seq=encumbrances._next_seq(),
        expiry_day=expiry_day,
        status=encumbrances.OPEN,
    )
    encumbrances.freeze_words[key][count] = (
        units | (expiry_day << encumbrances.EXPIRY_SHIFT) | (freeze_id << encumbrances.FREEZE_ID_SHIFT)
    )
    encumbrances.enc_data[key] = e + (1 << encumbrances.COUNT_SHIFT)
    ledger._set_encumbered(owner, id)
    in_force: bool = self._settle_and_log(key, balance, today, count) & (1 << count) != 0
    log Frozen(
        freeze_id=freeze_id,
        owner=owner,
        id=id,
        units=units,
        case_hash=case_hash,
        expiry_day=expiry_day,
        in_force=in_force,
        actor=msg.sender,
        doc=doc,
    )


@internal
@view
def _open_freeze(freeze_id: uint256) -> encumbrances.Freeze:
    f: encumbrances.Freeze = encumbrances.freeze_of[freeze_id]
    assert f.status != 0, "freezes: unknown freeze"
    assert f.status == encumbrances.OPEN, "freezes: freeze not open"
    assert f.expiry_day >= calendar._today(), "freezes: freeze lapsed"
    return f


@internal
def _settle_and_log(key: uint256, balance: uint256, today: uint256, quiet_index: uint256) -> uint256:
    """
    @dev Persist which freezes are in force; log FreezeTookEffect for each that
         took effect just now (but the one at `quiet_index`, whose own event
         says so). Returns the mask of those.
    """
    promoted: uint256 = encumbrances._settle(key, balance, today)
    for i: uint256 in range(encumbrances.MAX_FREEZES):
        if promoted >> i == 0:
            break
        if promoted & (1 << i) != 0 and i != quiet_index:
            w: uint256 = encumbrances.freeze_words[key][i]
            log FreezeTookEffect(freeze_id=(w >> encumbrances.FREEZE_ID_SHIFT) & encumbrances.MASK64)
    return promoted
