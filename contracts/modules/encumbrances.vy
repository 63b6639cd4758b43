# pragma version 0.4.3
"""
@title encumbrances
@notice What locks units of a holding: pledges (股权/份额质押) and judicial
        freezes (司法冻结, 轮候冻结). Storage and the lazy evaluation of which
        freezes are in force; the actions live in pledges.vy and freezes.vy.
@dev Per holding (key = owner << 96 | id, as in ledger.vy):
     - an encumbrance word: bits 0..95 pledged units (accepted pledges),
       bits 96..103 number of open freezes;
     - up to MAX_FREEZES packed freeze words in registration order:
       bits 0..95 frozen units, 96..127 expiry day (in force through that
       day), 128..191 freeze id, bit 192 "has taken effect" (claims all its
       units);
     - the ids of its accepted pledges in rank (registration) order.
     Claims (轮候冻结): every open freeze that has not lapsed claims, in
     registration order, the units of the holding that are neither pledged
     nor claimed by an earlier freeze, up to its quantity. A freeze still
     short of its quantity (queued, waiting) takes units the moment they
     become free: a lift or lapse of an earlier freeze, a release of a pledge.
     Claimed units can neither be transferred nor pledged, so while any
     freeze is short the holding has no free units at all. Pledges
     registered before a freeze rank before it (their units are not free);
     a pledge registered after it could only take units that were free then.
     A freeze that claims all its units is "in force"; it stays so (forced
     moves take only units of their own freeze or pledge). This is computed
     when read, so a lapse or a lift needs no actor; writes persist the
     "has taken effect" bit (`_settle`) for the FreezeTookEffect event.
     Registration times (`registered_at` of pledges and freezes) are in
     seconds whatever the chain's clock (block.timestamp // TIME_UNIT).
"""

# Most accepted pledges and open freezes one holding may carry: every loop
# over them is bounded by these, so no call can run out of gas. A court's
# freeze must register: 64 open freezes is more than a real holding sees
# (the worst cases are measured in tests/test_robustness_contracts.py).
MAX_PLEDGES: constant(uint256) = 8
MAX_FREEZES: constant(uint256) = 64

UNITS_MASK: constant(uint256) = (1 << 96) - 1
PLEDGED_MASK: constant(uint256) = (1 << 96) - 1
COUNT_SHIFT: constant(uint256) = 96
EXPIRY_SHIFT: constant(uint256) = 96
FREEZE_ID_SHIFT: constant(uint256) = 128
IN_FORCE_BIT: constant(uint256) = 1 << 192
MASK32: constant(uint256) = (1 << 32) - 1
MASK64: constant(uint256) = (1 << 64) - 1

# pledge status
OFFERED: constant(uint8) = 1
PLEDGED: constant(uint8) = 2
RELEASED: constant(uint8) = 3
ENFORCED: constant(uint8) = 4
CANCELLED: constant(uint8) = 5

# freeze status
OPEN: constant(uint8) = 1
LIFTED: constant(uint8) = 2
EXECUTED: constant(uint8) = 3
LAPSED: constant(uint8) = 4


struct Pledge:
    pledgor: address
    pledgee: address
    id: uint256
    units: uint256
    registered_at: uint256
    seq: uint256
    status: uint8
    doc: bytes32
    consent_receiver: address
    consent_units: uint256


struct Freeze:
    owner: address
    id: uint256
    units: uint256
    case_hash: bytes32
    agent: address
    registered_at: uint256
    seq: uint256
    expiry_day: uint256
    status: uint8


# Encumbrance word of each holding (layout above).
enc_data: HashMap[uint256, uint256]
# Open freezes of each holding, packed, in registration order.
freeze_words: HashMap[uint256, uint256[MAX_FREEZES]]
# Accepted pledges of each holding, by id, in rank order.
pledge_ids: HashMap[uint256, DynArray[uint256, MAX_PLEDGES]]
# Pledges by pledge id (ids run from 1).
pledge_of: public(HashMap[uint256, Pledge])
# Number of pledges ever offered.
pledge_count: public(uint256)
# Freezes by freeze id (ids run from 1).
freeze_of: public(HashMap[uint256, Freeze])
# Number of freezes ever registered.
freeze_count: public(uint256)
# Registration sequence shared by pledges and freezes: ranks two
# registrations in the same second (`seq` of each record).
registration_seq: public(uint256)
# The fund manager's consent to a pledgee's enforcement, by pledge id:
# receiver << 96 | units (pledges.consent_enforcement).
enforcement_consent: HashMap[uint256, uint256]


@internal
@view
def _locked(key: uint256, balance: uint256, day: uint256) -> uint256:
    """
    @dev Units of the holding that may not move: pledged plus claimed by freezes.
    """
    return (self.enc_data[key] & PLEDGED_MASK) + self._evaluate(key, balance, day, MAX_FREEZES)[0]


@internal
@view
def _evaluate(key: uint256, balance: uint256, day: uint256, stop: uint256) -> (uint256, uint256):
    """
    @dev (units claimed by the open freezes before index `stop`, bit mask of
         the freezes that claim all their units) under the rule in the
         module's @dev: in registration order, lapsed ones skipped, each
         claims what is neither pledged nor claimed before it.
    """
    e: uint256 = self.enc_data[key]
    count: uint256 = e >> COUNT_SHIFT
    pledged: uint256 = e & PLEDGED_MASK
    if count == 0 or pledged >= balance:
        return 0, 0
    free: uint256 = balance - pledged
    total: uint256 = 0
    mask: uint256 = 0
    for i: uint256 in range(MAX_FREEZES):
        if i >= count or i >= stop or total == free:
            break
        w: uint256 = self.freeze_words[key][i]
        if (w >> EXPIRY_SHIFT) & MASK32 < day:
            continue  # lapsed: it claims nothing
        units: uint256 = w & UNITS_MASK
        # total < free here: the claim is what is left, up to the freeze's units
        claim: uint256 = min(units, free - total)
        total += claim
        if claim == units:
            mask |= 1 << i
    return total, mask


@internal
def _settle(key: uint256, balance: uint256, day: uint256) -> uint256:
    """
    @dev Persist "has taken effect" on every freeze in force now; returns the
         mask of those that took effect just now.
    """
    mask: uint256 = self._evaluate(key, balance, day, MAX_FREEZES)[1]
    promoted: uint256 = 0
    for i: uint256 in range(MAX_FREEZES):
        if mask >> i == 0:
            break
        if mask & (1 << i) != 0:
            w: uint256 = self.freeze_words[key][i]
            if w & IN_FORCE_BIT == 0:
                self.freeze_words[key][i] = w | IN_FORCE_BIT
                promoted |= 1 << i
    return promoted


@internal
def _next_seq() -> uint256:
    seq: uint256 = self.registration_seq + 1
    self.registration_seq = seq
    return seq


@internal
@view
def _freeze_index(key: uint256, freeze_id: uint256) -> uint256:
    count: uint256 = self.enc_data[key] >> COUNT_SHIFT
    for i: uint256 in range(MAX_FREEZES):
        if i >= count:
            break
        if (self.freeze_words[key][i] >> FREEZE_ID_SHIFT) & MASK64 == freeze_id:
            return i
    raise "encumbrances: freeze not open"


@internal
def _remove_freeze_at(key: uint256, index: uint256):
    # keep registration order: shift the later ones down
    e: uint256 = self.enc_data[key]
    count: uint256 = e >> COUNT_SHIFT
    for i: uint256 in range(MAX_FREEZES):
        if i < index:
            continue
        if i + 1 >= count:
            break
        self.freeze_words[key][i] = self.freeze_words[key][i + 1]
    self.freeze_words[key][count - 1] = 0
    self.enc_data[key] = (e & PLEDGED_MASK) | ((count - 1) << COUNT_SHIFT)


@internal
def _remove_pledge_id(key: uint256, pledge_id: uint256):
    ids: DynArray[uint256, MAX_PLEDGES] = self.pledge_ids[key]
    kept: DynArray[uint256, MAX_PLEDGES] = []
    for p: uint256 in ids:
        if p != pledge_id:
            kept.append(p)
    self.pledge_ids[key] = kept


@internal
@view
def _is_encumbered(key: uint256) -> bool:
    return self.enc_data[key] != 0


@internal
def _move_all(old_key: uint256, new_key: uint256, new_owner: address):
    """
    @dev Recovery: the encumbrances follow the holding to its new key.
    """
    e: uint256 = self.enc_data[old_key]
    if e == 0:
        return
    count: uint256 = e >> COUNT_SHIFT
    for i: uint256 in range(MAX_FREEZES):
        if i >= count:
            break
        w: uint256 = self.freeze_words[old_key][i]
        self.freeze_words[new_key][i] = w
        self.freeze_words[old_key][i] = 0
        self.freeze_of[(w >> FREEZE_ID_SHIFT) & MASK64].owner = new_owner
    ids: DynArray[uint256, MAX_PLEDGES] = self.pledge_ids[old_key]
    for p: uint256 in ids:
        self.pledge_of[p].pledgor = new_owner
    self.pledge_ids[new_key] = ids
    self.pledge_ids[old_key] = []
    self.enc_data[new_key] = e
    self.enc_data[old_key] = 0
