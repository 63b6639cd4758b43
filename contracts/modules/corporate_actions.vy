# pragma version 0.4.3
"""
@title corporate_actions
@notice What happens to a registered security after initial registration,
        apart from its transfers: status changes (suspend, reactivate,
        delist), capital increases (增资, with LLC pre-emption or waived) and
        decreases (减资), paid-in capital (实缴), lock-ups (限售), the insider
        list (董监高), register-closing windows (meeting and record days) and
        transfer terms. IssuanceDesk serves it.
@dev Keeps no storage of its own: it writes ledger.vy's security, supply,
     holding and insider-quota words through `uses: ledger`. Its reverts start
     "corporate_actions: ", also where the rule is one the transfers check too
     ("corporate_actions: holder cap reached"); a check it calls in ledger.vy
     (ledger._active_security) reverts "ledger: ...".
"""

from . import roles
from . import calendar
from . import accounts
from . import encumbrances
from . import ledger

uses: roles
uses: calendar
uses: accounts
uses: encumbrances
uses: ledger

# Most encumbered holdings one capital decrease may reduce: each reads its up to 64
# freeze words (~140k gas), so MAX_BATCH holdings of which this many are encumbered
# leave half of a 30M block free.
MAX_DECREASE_ENCUMBERED: constant(uint256) = 24
# a former insider transfers nothing for six months after leaving office (art 160)
INSIDER_LEFT_MONTHS: constant(uint256) = 6


struct Subscription:
    holder: address
    units: uint256
    paid: uint256


struct Reduction:
    holder: address
    units: uint256


event SecurityStatusChanged:
    id: indexed(uint256)
    status: uint8
    actor: indexed(address)
    doc: bytes32

event CapitalIncreased:
    id: indexed(uint256)
    holdings: uint256
    units: uint256
    actor: indexed(address)
    doc: bytes32

event CapitalDecreased:
    id: indexed(uint256)
    holdings: uint256
    units: uint256
    actor: indexed(address)
    doc: bytes32

event PaidInRecorded:
    owner: indexed(address)
    id: indexed(uint256)
    paid: uint256
    actor: indexed(address)
    doc: bytes32

event TransferTermsSet:
    id: indexed(uint256)
    first_refusal: bool
    institutional_only: bool
    fund_minimum: uint256
    actor: indexed(address)
    doc: bytes32

event RegisterClosureSet:
    id: indexed(uint256)
    meeting_day: uint256
    record_day: uint256
    actor: indexed(address)
    doc: bytes32

event PreemptionWaived:
    id: indexed(uint256)
    waiver: bytes32
    actor: indexed(address)


@external
def set_security_status(id: uint256, status: uint8, doc: bytes32):
    """
    @notice Suspend (3), reactivate (2) or delist (4) a sealed security.
            Delisting is final.
    @param id The security id.
    @param status The new status.
    @param doc Reference (hash) of the decision.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "corporate_actions: paused"
    sec: uint256 = ledger.security_data[id]
    current: uint256 = sec & ledger.BYTE_MASK
    new: uint256 = convert(status, uint256)
    assert current != 0, "corporate_actions: unknown security"
    assert current != ledger.PENDING, "corporate_actions: security not sealed"
    assert current != ledger.DELISTED, "corporate_actions: security delisted"
    assert new == ledger.ACTIVE or new == ledger.SUSPENDED or new == ledger.DELISTED, "corporate_actions: invalid status"
    assert new != current, "corporate_actions: status unchanged"
    ledger.security_data[id] = (sec & ~ledger.BYTE_MASK) | new
    log SecurityStatusChanged(id=id, status=status, actor=msg.sender, doc=doc)


@external
def increase_capital(id: uint256, batch: DynArray[Subscription, 256], doc: bytes32):
    """
    @notice Capital increase (增资) under LLC pre-emption where it applies: see
            increase_capital_waived, with no waiver.
    @param id The security id (ACTIVE).
    @param batch The subscriptions; `paid` is the paid-in part (LLC only).
    @param doc Reference (hash) of the resolution.
    """
    self._increase_capital(id, batch, empty(bytes32), doc)


@external
def increase_capital_waived(id: uint256, batch: DynArray[Subscription, 256], waiver: bytes32, doc: bytes32):
    """
    @notice Capital increase (增资): new units to subscribers. A subscriber who
            did not hold the security must be a qualified investor; the holder
            cap holds; an institutional-only security takes no individual; a
            fund subscriber ends at or above the fund's minimum holding; each
            subscriber's acquisition day becomes today. LLC pre-emption
            (Company Law art 227): unless `waiver` names the shareholders'
            resolution or the articles that say otherwise, the batch offers
            every shareholder its part pro rata to paid-in capital (to the
            holdings if nothing is paid in): each holder once, in ascending
            address order, no outsider, nobody above its share rounded up.
    @param id The security id (ACTIVE).
    @param batch The subscriptions; `paid` is the paid-in part (LLC only).
    @param waiver Hash of the resolution or articles waiving pre-emption (LLC), or zero.
    @param doc Reference (hash) of the resolution.
    """
    assert waiver != empty(bytes32), "corporate_actions: zero waiver"
    self._increase_capital(id, batch, waiver, doc)


@external
def decrease_capital(id: uint256, batch: DynArray[Reduction, 256], doc: bytes32):
    """
    @notice Capital decrease (减资): cancel units of holders. Unpaid LLC units
            are cancelled first.
    @param id The security id (ACTIVE).
    @param batch The reductions.
    @param doc Reference (hash) of the resolution.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "corporate_actions: paused"
    n: uint256 = len(batch)
    assert n != 0, "corporate_actions: empty batch"
    assert n <= ledger.MAX_BATCH, "corporate_actions: batch too large"
    sec: uint256 = ledger._active_security(id)
    holders: uint256 = (sec >> ledger.HOLDERS_SHIFT) & ledger.MASK32
    today: uint256 = calendar._today()
    removed: uint256 = 0
    encumbered: uint256 = 0
    for item: Reduction in batch:
        assert item.holder != empty(address), "corporate_actions: zero address"
        assert item.units != 0, "corporate_actions: zero amount"
        h: uint256 = ledger.holding_data[ledger._key(item.holder, id)]
        balance: uint256 = h & ledger.AMOUNT_MAX
        assert balance >= item.units, "corporate_actions: insufficient balance"
        if h & ledger.ENCUMBERED_BIT != 0:
            encumbered += 1
            assert encumbered <= MAX_DECREASE_ENCUMBERED, "corporate_actions: too many encumbered holdings in one decrease"
            locked: uint256 = encumbrances._locked(ledger._key(item.holder, id), balance, today)
            assert item.units + locked <= balance, "corporate_actions: amount exceeds free balance"
        if h & ledger.INSIDER_BIT != 0:
            ledger._insider_snapshot(item.holder, id, balance, today)
        # item.units <= balance, checked above
        new_balance: uint256 = unsafe_sub(balance, item.units)
        paid: uint256 = min((h >> ledger.PAID_SHIFT) & ledger.AMOUNT_MAX, new_balance)
        if new_balance == 0:
            holders -= 1
        ledger.holding_data[ledger._key(item.holder, id)] = (
            (h & ~ledger.LOW_192) | new_balance | (paid << ledger.PAID_SHIFT)
        )
        removed += item.units
        log ledger.Transfer(caller=msg.sender, sender=item.holder, receiver=empty(address), id=id, amount=item.units)
    supply: uint256 = (ledger.supply_data[id] & ledger.AMOUNT_MAX) - removed
    ledger.supply_data[id] = supply | (supply << ledger.DECLARED_SHIFT)
    ledger.security_data[id] = ledger._with_holders(sec, holders)
    log CapitalDecreased(id=id, holdings=n, units=removed, actor=msg.sender, doc=doc)


@external
def record_paid_in(owner: address, id: uint256, paid: uint256, doc: bytes32):
    """
    @notice Record the paid-in part (实缴) of an LLC holding.
    @param owner The holder.
    @param id The security id (an LLC).
    @param paid Paid-in smallest units, at most the holding.
    @param doc Reference (hash) of the capital verification.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "corporate_actions: paused"
    sec: uint256 = ledger.security_data[id]
    assert sec & ledger.BYTE_MASK != 0, "corporate_actions: unknown security"
    assert (sec >> ledger.KIND_SHIFT) & ledger.BYTE_MASK == ledger.LLC, "corporate_actions: not an LLC"
    h: uint256 = ledger.holding_data[ledger._key(owner, id)]
    assert paid <= h & ledger.AMOUNT_MAX, "corporate_actions: paid exceeds units"
    mask: uint256 = ledger.AMOUNT_MAX << ledger.PAID_SHIFT
    ledger.holding_data[ledger._key(owner, id)] = (h & ~mask) | (paid << ledger.PAID_SHIFT)
    log PaidInRecorded(owner=owner, id=id, paid=paid, actor=msg.sender, doc=doc)


@external
def set_lockup(owner: address, id: uint256, lock_until_day: uint256, doc: bytes32):
    """
    @notice Lock a holding (限售) until a day: no transfer before it. Day 0 lifts it.
    @param owner The holder.
    @param id The security id.
    @param lock_until_day First day on which the holding may be transferred.
    @param doc Reference (hash) of the lock-up agreement or order.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "corporate_actions: paused"
    assert owner != empty(address), "corporate_actions: zero address"
    assert ledger.security_data[id] & ledger.BYTE_MASK != 0, "corporate_actions: unknown security"
    assert lock_until_day <= ledger.MASK24, "corporate_actions: day out of range"
    mask: uint256 = ledger.MASK24 << ledger.LOCK_SHIFT
    h: uint256 = ledger.holding_data[ledger._key(owner, id)]
    ledger.holding_data[ledger._key(owner, id)] = (h & ~mask) | (lock_until_day << ledger.LOCK_SHIFT)
    log ledger.LockupSet(owner=owner, id=id, lock_until_day=lock_until_day, actor=msg.sender, doc=doc)


@external
def set_insider(owner: address, id: uint256, insider: bool, doc: bytes32):
    """
    @notice Put a holder on or off the security's insider list (董监高): an
            insider disposes of at most 25 % of its start-of-year holding a
            year; after leaving office it disposes of nothing for six months
            (through the corresponding day six months after today, art 160).
    @param owner The holder.
    @param id The security id.
    @param insider On or off the list.
    @param doc Reference (hash) of the appointment or resignation.
    """
    roles._check_security_role(id, roles.SecurityRole.ISSUER_AGENT)
    assert not calendar._paused(), "corporate_actions: paused"
    assert owner != empty(address), "corporate_actions: zero address"
    assert ledger.security_data[id] & ledger.BYTE_MASK != 0, "corporate_actions: unknown security"
    h: uint256 = ledger.holding_data[ledger._key(owner, id)]
    assert (h & ledger.INSIDER_BIT != 0) != insider, "corporate_actions: insider flag unchanged"
    if not insider:
        # the six months run from today; a record of an earlier leaving is replaced
        q: uint256 = ledger.insider_quota[ledger._key(owner, id)]
        until: uint256 = ledger._months_later(calendar._today(), INSIDER_LEFT_MONTHS)
        ledger.insider_quota[ledger._key(owner, id)] = (q & ledger.LOW_208) | (until << ledger.LEFT_SHIFT)
        h |= ledger.FORMER_INSIDER_BIT
    ledger.holding_data[ledger._key(owner, id)] = h ^ ledger.INSIDER_BIT
    log ledger.InsiderSet(owner=owner, id=id, insider=insider, actor=msg.sender, doc=doc)


@external
def set_register_closure(id: uint256, meeting_day: uint256, record_day: uint256, doc: bytes32):
    """
    @notice Set the next shareholders' meeting day and dividend record day;
            the register is closed to transfers in the 20 days before a meeting
            and the 5 days before a record day (up to and including the day).
            0 clears a date.
    @param id The security id.
    @param meeting_day Day of the meeting, or 0.
    @param record_day Dividend record day, or 0.
    @param doc Reference (hash) of the notice.
    """
    roles._check_security_role(id, roles.SecurityRole.ISSUER_AGENT)
    assert not calendar._paused(), "corporate_actions: paused"
    sec: uint256 = ledger.security_data[id]
    assert sec & ledger.BYTE_MASK != 0, "corporate_actions: unknown security"
    assert meeting_day <= ledger.MASK32 and record_day <= ledger.MASK32, "corporate_actions: day out of range"
    mask: uint256 = (ledger.MASK32 << ledger.MEETING_SHIFT) | (ledger.MASK32 << ledger.RECORD_SHIFT)
    ledger.security_data[id] = (sec & ~mask) | (meeting_day << ledger.MEETING_SHIFT) | (record_day << ledger.RECORD_SHIFT)
    log RegisterClosureSet(id=id, meeting_day=meeting_day, record_day=record_day, actor=msg.sender, doc=doc)


@external
def set_transfer_terms(id: uint256, first_refusal: bool, institutional_only: bool, fund_minimum: uint256, doc: bytes32):
    """
    @notice Set a security's transfer terms: whether other holders have a right of
            first refusal on a transfer to an outsider (LLC articles, or a fund
            agreement that grants it), whether only institutional investors may
            receive it (a market's rule for funds), and a fund's minimum holding.
    @param id The security id.
    @param first_refusal Right of first refusal on transfers to outsiders.
    @param institutional_only Receivers must be institutions or products.
    @param fund_minimum Smallest units each fund investor holds at least (funds only).
    @param doc Reference (hash) of the articles, agreement or rule.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "corporate_actions: paused"
    sec: uint256 = ledger.security_data[id]
    assert sec & ledger.BYTE_MASK != 0, "corporate_actions: unknown security"
    kind: uint256 = (sec >> ledger.KIND_SHIFT) & ledger.BYTE_MASK
    assert fund_minimum == 0 or kind >= ledger.LP_FUND, "corporate_actions: minimum holding is for funds"
    assert fund_minimum != 0 or kind < ledger.LP_FUND, "corporate_actions: fund has no minimum holding"
    assert fund_minimum <= ledger.AMOUNT_MAX, "corporate_actions: amount too large"
    terms: uint256 = fund_minimum << ledger.FUND_MIN_SHIFT
    if first_refusal:
        terms |= ledger.ROFR_BIT
    if institutional_only:
        terms |= ledger.INSTITUTIONAL_BIT
    if terms != 0 or kind >= ledger.LP_FUND:
        terms |= ledger.RESTRICTED_BIT
    mask: uint256 = (ledger.AMOUNT_MAX << ledger.FUND_MIN_SHIFT) | ledger.RESTRICTED_BIT | ledger.ROFR_BIT | ledger.INSTITUTIONAL_BIT
    ledger.security_data[id] = (sec & ~mask) | terms
    log TransferTermsSet(
        id=id,
        first_refusal=first_refusal,
        institutional_only=institutional_only,
        fund_minimum=fund_minimum,
        actor=msg.sender,
        doc=doc,
    )


# ---------------------------------------------------------------- internals


@internal
def _increase_capital(id: uint256, batch: DynArray[Subscription, 256], waiver: bytes32, doc: bytes32):
    roles._check_role(roles.Role.SECURITY_MANAGER)
    now: uint256 = calendar._now()
    assert now & calendar.NOW_PAUSED == 0, "corporate_actions: paused"
    n: uint256 = len(batch)
    assert n != 0, "corporate_actions: empty batch"
    assert n <= ledger.MAX_BATCH, "corporate_actions: batch too large"
    sec: uint256 = ledger._active_security(id)
    assert now & calendar.NOW_PUBLISHED != 0, "corporate_actions: calendar not published for today"
    today: uint256 = (now >> calendar.DAY_SHIFT) & calendar.MASK40
    tn: uint256 = (now >> calendar.TN_SHIFT) & calendar.MASK40
    kind: uint256 = (sec >> ledger.KIND_SHIFT) & ledger.BYTE_MASK
    is_llc: bool = kind == ledger.LLC
    if is_llc:
        if waiver == empty(bytes32):
            self._check_preemption(id, batch, (sec >> ledger.HOLDERS_SHIFT) & ledger.MASK32)
        else:
            log PreemptionWaived(id=id, waiver=waiver, actor=msg.sender)
    minimum: uint256 = 0
    if kind >= ledger.LP_FUND:
        minimum = (sec >> ledger.FUND_MIN_SHIFT) & ledger.AMOUNT_MAX
    holders: uint256 = (sec >> ledger.HOLDERS_SHIFT) & ledger.MASK32
    cap: uint256 = ledger._cap(kind)
    added: uint256 = 0
    for item: Subscription in batch:
        assert item.holder != empty(address), "corporate_actions: zero address"
        assert item.units != 0, "corporate_actions: zero amount"
        assert item.units <= ledger.AMOUNT_MAX, "corporate_actions: amount too large"
        assert item.paid <= item.units, "corporate_actions: paid exceeds units"
        data: uint256 = accounts.account_data[item.holder]
        assert data & ledger.BYTE_MASK == accounts.ACTIVE, "corporate_actions: holder account not active"
        h: uint256 = ledger.holding_data[ledger._key(item.holder, id)]
        balance: uint256 = h & ledger.AMOUNT_MAX
        if balance == 0:
            assert data & accounts.QUALIFIED_BIT != 0, "corporate_actions: subscriber not qualified"
            holders += 1
            assert holders <= cap, "corporate_actions: holder cap reached"
        if sec & ledger.INSTITUTIONAL_BIT != 0:
            assert (data >> 8) & ledger.BYTE_MASK != accounts.INDIVIDUAL, "corporate_actions: subscriber not an institutional investor"
        if h & ledger.INSIDER_BIT != 0:
            ledger._insider_snapshot(item.holder, id, balance, today)
        new_balance: uint256 = balance + item.units
        assert new_balance <= ledger.AMOUNT_MAX, "corporate_actions: amount too large"
        assert new_balance >= minimum, "corporate_actions: below the fund's minimum holding"
        paid: uint256 = 0
        if is_llc:
            paid = ((h >> ledger.PAID_SHIFT) & ledger.AMOUNT_MAX) + item.paid
        lock: uint256 = (h >> ledger.LOCK_SHIFT) & ledger.MASK24
        ledger.holding_data[ledger._key(item.holder, id)] = (
            new_balance | (paid << ledger.PAID_SHIFT) | (tn << ledger.ACQUIRED_SHIFT) | (lock << ledger.LOCK_SHIFT)
            | (h & (ledger.INSIDER_BIT | ledger.ENCUMBERED_BIT | ledger.FORMER_INSIDER_BIT))
        )
        added += item.units
        log ledger.Issued(receiver=item.holder, id=id, amount=item.units, paid=item.paid if is_llc else item.units, acquired_day=today)
    supply: uint256 = (ledger.supply_data[id] & ledger.AMOUNT_MAX) + added
    assert supply <= ledger.AMOUNT_MAX, "corporate_actions: amount too large"
    # a capital change moves the declared total (registered capital) with the supply
    ledger.supply_data[id] = supply | (supply << ledger.DECLARED_SHIFT)
    ledger.security_data[id] = ledger._with_holders(sec, holders)
    log CapitalIncreased(id=id, holdings=n, units=added, actor=msg.sender, doc=doc)


@internal
@view
def _check_preemption(id: uint256, batch: DynArray[Subscription, 256], holders: uint256):
    """
    @dev LLC pre-emption without a waiver (art 227): `batch` names each of the
         `holders` shareholders once (ascending addresses), no outsider, and
         each subscribes at most its share of the increase pro rata to paid-in
         capital (to the holdings where nothing is paid in), rounded up.
    """
    assert len(batch) == holders, "corporate_actions: pre-emption: every shareholder must be offered"
    last: uint256 = 0
    total_paid: uint256 = 0
    total_units: uint256 = 0
    added: uint256 = 0
    for item: Subscription in batch:
        assert convert(item.holder, uint256) > last, "corporate_actions: pre-emption: subscribers not in ascending order"
        last = convert(item.holder, uint256)
        h: uint256 = ledger.holding_data[ledger._key(item.holder, id)]
        assert h & ledger.AMOUNT_MAX != 0, "corporate_actions: pre-emption: outsider needs a waiver"
        assert item.units <= ledger.AMOUNT_MAX, "corporate_actions: amount too large"
        total_paid += (h >> ledger.PAID_SHIFT) & ledger.AMOUNT_MAX
        total_units += h & ledger.AMOUNT_MAX
        added += item.units
    use_paid: bool = total_paid != 0
    basis: uint256 = total_paid if use_paid else total_units
    for item: Subscription in batch:
        h: uint256 = ledger.holding_data[ledger._key(item.holder, id)]
        part: uint256 = (h >> ledger.PAID_SHIFT) & ledger.AMOUNT_MAX if use_paid else h & ledger.AMOUNT_MAX
        # at most ceil(added * part / basis): every factor is below 2**104
        assert item.units * basis < added * part + basis, "corporate_actions: pre-emption: subscription above pro-rata share"
