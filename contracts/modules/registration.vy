# pragma version 0.4.3
"""
@title registration
@notice Initial registration (股权初始登记) of a security: registering it
        (PENDING, not transferable), writing its holdings with their
        acquisition days, lock-ups and insider flags (one security a call, or
        the migration's batches across securities), and sealing it once the
        holdings add up to the declared total. AdminDesk serves it, beside
        the accounts the holdings need: what the migration writes, apart from
        pledges and freezes, is on one desk.
@dev Keeps no storage of its own: it writes ledger.vy's security, supply and
     holding words (layouts there) through `uses: ledger`, so every slot stays
     where Register has it and the desks that serve none of this need not
     import it. Its reverts start "registration: "; a check it calls in
     ledger.vy (or roles, calendar, accounts) reverts with that module's name.
"""

from . import roles
from . import calendar
from . import accounts
from . import ledger

uses: roles
uses: calendar
uses: accounts
uses: ledger

MAX_UNIT_SCALE: constant(uint256) = 18
# a fund investor holds at least RMB 1 million (私募投资基金监督管理暂行办法 art 12):
# the default minimum holding, in units of RMB 1 (times 10**unit_scale smallest units)
FUND_MINIMUM_UNITS: constant(uint256) = 10**6


struct Issuance:
    holder: address
    units: uint256
    paid: uint256
    acquired_day: uint256
    lock_until_day: uint256
    insider: bool


# One holding of register_holdings_many: an Issuance with its security id, in
# two words (a migration writes 150,000 of them; seven ABI words each made the
# calldata alone ~1,300 gas a holding):
#   key   = holder << 96 | security id (the holding's key, see _key)
#   terms = units | paid << 96 | acquired_day << 192 | lock_until_day << 216
#           | insider << 240, every other bit zero
# (regchain.constants.holding_words builds them).
struct HoldingWords:
    key: uint256
    terms: uint256


event SecurityRegistered:
    id: indexed(uint256)
    code_hash: bytes32
    kind: uint8
    unit_scale: uint8
    declared_total: uint256
    actor: indexed(address)
    doc: bytes32

event SecuritySealed:
    id: indexed(uint256)
    total_supply: uint256
    actor: indexed(address)
    doc: bytes32

event HoldingsRegistered:
    id: indexed(uint256)
    holdings: uint256
    units: uint256
    actor: indexed(address)
    doc: bytes32


@external
def register_security(code_hash: bytes32, kind: uint8, unit_scale: uint8, declared_total: uint256, doc: bytes32):
    """
    @notice Register a security (股权初始登记 begins). It stays PENDING, not
            transferable, until its holdings are written and it is sealed.
    @param code_hash Hash of the operator's security code (unique).
    @param kind 1 LLC, 2 JSC, 3 LP fund, 4 contract fund.
    @param unit_scale Decimals of one unit (smallest units per unit = 10**scale).
    @param declared_total Registered capital / total units, in smallest units.
    @param doc Reference (hash) of the registration document.
    @dev The new id is `security_count` afterwards, `security_id(code_hash)`,
         and in the SecurityRegistered event.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "registration: paused"
    assert code_hash != empty(bytes32), "registration: zero code hash"
    assert ledger.security_id[code_hash] == 0, "registration: security code already registered"
    assert kind >= 1 and kind <= 4, "registration: unknown kind"
    assert convert(unit_scale, uint256) <= MAX_UNIT_SCALE, "registration: unit scale too large"
    assert declared_total != 0, "registration: zero amount"
    assert declared_total <= ledger.AMOUNT_MAX, "registration: amount too large"
    id: uint256 = ledger.security_count + 1
    ledger.security_count = id
    ledger.security_id[code_hash] = id
    ledger.code_hash_of[id] = code_hash
    ledger.supply_data[id] = declared_total << ledger.DECLARED_SHIFT
    terms: uint256 = 0
    if convert(kind, uint256) == ledger.LLC:
        terms = ledger.RESTRICTED_BIT | ledger.ROFR_BIT  # Company Law art 84, unless the articles say otherwise
    elif convert(kind, uint256) >= ledger.LP_FUND:
        # fund shares move only with the manager's consent, to institutions, and each
        # investor holds at least RMB 1 million (one unit = RMB 1 unless set_transfer_terms
        # says otherwise)
        terms = ledger.RESTRICTED_BIT | ledger.INSTITUTIONAL_BIT | (
            (FUND_MINIMUM_UNITS * 10 ** convert(unit_scale, uint256)) << ledger.FUND_MIN_SHIFT
        )
    ledger.security_data[id] = (
        ledger.PENDING | (convert(kind, uint256) << ledger.KIND_SHIFT) | (convert(unit_scale, uint256) << ledger.SCALE_SHIFT) | terms
    )
    log SecurityRegistered(
        id=id, code_hash=code_hash, kind=kind, unit_scale=unit_scale, declared_total=declared_total, actor=msg.sender, doc=doc
    )


@external
def register_holdings(id: uint256, batch: DynArray[Issuance, 256], doc: bytes32):
    """
    @notice Write holdings of a PENDING security (initial registration or
            migration), each with its acquisition day, lock-up and insider flag.
    @param id The security id.
    @param batch The holdings; at most MAX_BATCH; each holder once per security.
    @param doc Reference (hash) of the registration document.
    """
    today: uint256 = self._start_holdings_batch(len(batch))
    sec: uint256 = self._pending_security(id)  # also: a registered id is below 2**96, so the keys are exact
    is_llc: bool = (sec >> ledger.KIND_SHIFT) & ledger.BYTE_MASK == ledger.LLC
    holders: uint256 = (sec >> ledger.HOLDERS_SHIFT) & ledger.MASK32
    cap: uint256 = ledger._cap((sec >> ledger.KIND_SHIFT) & ledger.BYTE_MASK)
    added: uint256 = 0
    last_day: uint256 = max_value(uint256)
    tn: uint256 = 0
    for item: Issuance in batch:
        # each term must fit its field of the terms word
        assert item.holder != empty(address), "registration: zero address"
        # 1 <= units <= AMOUNT_MAX in one comparison (0 wraps around); which bound, only if not
        if unsafe_sub(item.units, 1) >= ledger.AMOUNT_MAX:
            assert item.units != 0, "registration: zero amount"
            assert item.units <= ledger.AMOUNT_MAX, "registration: amount too large"
        assert item.paid <= item.units, "registration: paid exceeds units"
        assert item.acquired_day <= today, "registration: acquired in the future"
        assert item.lock_until_day <= ledger.MASK24, "registration: day out of range"
        terms: uint256 = (
            item.units | (item.paid << ledger.PAID_SHIFT) | (item.acquired_day << ledger.ACQUIRED_SHIFT)
            | (item.lock_until_day << ledger.LOCK_SHIFT) | (convert(item.insider, uint256) << ledger.INSIDER_SHIFT)
        )
        # _key inline (a call costs ~140 gas a holding here)
        tn = self._write_holding(
            item.holder, id, (convert(item.holder, uint256) << 96) | id, terms, item.units, item.acquired_day, is_llc, last_day,
            tn, doc
        )
        last_day = item.acquired_day
        # at most MAX_BATCH items of at most AMOUNT_MAX units each: no overflow
        holders = unsafe_add(holders, 1)
        assert holders <= cap, "registration: holder cap reached"
        added = unsafe_add(added, item.units)
    self._end_holdings_run(id, sec, holders, len(batch), added, doc)


@external
def register_holdings_many(batch: DynArray[HoldingWords, 256], doc: bytes32):
    """
    @notice Write holdings of several PENDING securities in one call (a
            migration packs the small ones together): every item exactly as
            register_holdings writes it, under the same rules and with the same
            events. Items of one security may come in several runs (interleaved
            with others'); each run of consecutive items of one security is
            logged by one HoldingsRegistered.
    @param batch The holdings, each with its security id, as two words
           (HoldingWords); at most MAX_BATCH in all; each holder once per
           security.
    @param doc Reference (hash) of the registration document.
    """
    today: uint256 = self._start_holdings_batch(len(batch))
    id: uint256 = max_value(uint256)  # the security of the current run (none yet: no id is this large)
    sec: uint256 = 0
    is_llc: bool = False
    holders: uint256 = 0
    cap: uint256 = 0
    added: uint256 = 0
    run: uint256 = 0
    last_day: uint256 = max_value(uint256)
    tn: uint256 = 0
    for item: HoldingWords in batch:
        key: uint256 = item.key
        terms: uint256 = item.terms
        if key & ledger.AMOUNT_MAX != id:
            if run != 0:
                self._end_holdings_run(id, sec, holders, run, added, doc)
            id = key & ledger.AMOUNT_MAX
            sec = self._pending_security(id)
            is_llc = (sec >> ledger.KIND_SHIFT) & ledger.BYTE_MASK == ledger.LLC
            holders = (sec >> ledger.HOLDERS_SHIFT) & ledger.MASK32
            cap = ledger._cap((sec >> ledger.KIND_SHIFT) & ledger.BYTE_MASK)
            added = 0
            run = 0
        units: uint256 = terms & ledger.AMOUNT_MAX
        acquired_day: uint256 = (terms >> ledger.ACQUIRED_SHIFT) & ledger.MASK24
        # the fields cannot be too large: what register_holdings checks of them, and
        # nothing above the insider bit
        holder: address = convert(key >> 96, address)
        assert holder != empty(address), "registration: zero address"
        assert units != 0, "registration: zero amount"
        assert (terms >> ledger.PAID_SHIFT) & ledger.AMOUNT_MAX <= units, "registration: paid exceeds units"
        assert acquired_day <= today, "registration: acquired in the future"
        assert terms < ledger.ENCUMBERED_BIT, "registration: holding terms out of range"
        tn = self._write_holding(holder, id, key, terms, units, acquired_day, is_llc, last_day, tn, doc)
        last_day = acquired_day
        # at most MAX_BATCH items of at most AMOUNT_MAX units each: no overflow
        holders = unsafe_add(holders, 1)
        assert holders <= cap, "registration: holder cap reached"
        added = unsafe_add(added, units)
        run = unsafe_add(run, 1)
    self._end_holdings_run(id, sec, holders, run, added, doc)


@external
def seal_security(id: uint256, doc: bytes32):
    """
    @notice End initial registration: checks on chain that the holdings add up
            to the declared total, then makes the security ACTIVE.
    @param id The security id.
    @param doc Reference (hash) of the sealing record.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "registration: paused"
    sec: uint256 = ledger.security_data[id]
    status: uint256 = sec & ledger.BYTE_MASK
    assert status != 0, "registration: unknown security"
    assert status == ledger.PENDING, "registration: security already sealed"
    words: uint256 = ledger.supply_data[id]
    supply: uint256 = words & ledger.AMOUNT_MAX
    assert supply == words >> ledger.DECLARED_SHIFT, "registration: holdings do not add up to the declared total"
    if (sec >> ledger.KIND_SHIFT) & ledger.BYTE_MASK >= ledger.LP_FUND:
        assert (sec >> ledger.FUND_MIN_SHIFT) & ledger.AMOUNT_MAX != 0, "registration: fund has no minimum holding"
    ledger.security_data[id] = (sec & ~ledger.BYTE_MASK) | ledger.ACTIVE
    log SecuritySealed(id=id, total_supply=supply, actor=msg.sender, doc=doc)


# ---------------------------------------------------------------- internals


@internal
def _start_holdings_batch(n: uint256) -> uint256:
    """
    @dev Common checks of register_holdings(_many); returns today's day number.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "registration: paused"
    assert n != 0, "registration: empty batch"
    assert n <= ledger.MAX_BATCH, "registration: batch too large"
    return calendar._today()


@internal
@view
def _pending_security(id: uint256) -> uint256:
    sec: uint256 = ledger.security_data[id]
    status: uint256 = sec & ledger.BYTE_MASK
    assert status != 0, "registration: unknown security"
    assert status == ledger.PENDING, "registration: security already sealed"
    return sec


@internal
def _write_holding(
    holder: address,
    id: uint256,
    key: uint256,
    terms: uint256,
    units: uint256,
    acquired_day: uint256,
    is_llc: bool,
    last_day: uint256,
    last_tn: uint256,
    doc: bytes32,
) -> uint256:
    """
    @dev Write one holding of initial registration and log it: `key` and
         `terms` as in HoldingWords, their fields checked by the caller (as is
         the security, PENDING, and after this the holder cap). The caller
         passes too the fields it has at hand, `holder` and `id` of the key,
         `units` and `acquired_day` of the terms, so they are not extracted
         (nor the holder's address range-checked) again. `last_tn` is
         the trading-day number of `last_day`: batches usually share
         acquisition days, so a day is looked up once for a row of items.
         Returns the trading-day number of the acquisition day.
    """
    assert accounts.account_data[holder] & ledger.BYTE_MASK == accounts.ACTIVE, "registration: holder account not active"
    assert ledger.holding_data[key] & ledger.AMOUNT_MAX == 0, "registration: holding already registered"
    tn: uint256 = last_tn
    if acquired_day != last_day:
        tn = calendar._trading_day_number(acquired_day)
    # the holding word is the terms word (same fields, same places) with the acquisition
    # day's trading-day number for the day and, but in an LLC, no paid-in amount
    h: uint256 = (terms & ~((ledger.MASK24 << ledger.ACQUIRED_SHIFT) | (ledger.AMOUNT_MAX << ledger.PAID_SHIFT))) | (
        tn << ledger.ACQUIRED_SHIFT
    )
    paid: uint256 = units
    if is_llc:
        paid = (terms >> ledger.PAID_SHIFT) & ledger.AMOUNT_MAX
        h |= paid << ledger.PAID_SHIFT
    ledger.holding_data[key] = h
    log ledger.Issued(receiver=holder, id=id, amount=units, paid=paid, acquired_day=acquired_day)
    # the rarer terms get their own events, so the common holding stays cheap
    if terms & (ledger.MASK24 << ledger.LOCK_SHIFT) != 0:
        log ledger.LockupSet(
            owner=holder, id=id, lock_until_day=(terms >> ledger.LOCK_SHIFT) & ledger.MASK24, actor=msg.sender, doc=doc
        )
    if terms & ledger.INSIDER_BIT != 0:
        log ledger.InsiderSet(owner=holder, id=id, insider=True, actor=msg.sender, doc=doc)
    return tn


@internal
def _end_holdings_run(id: uint256, sec: uint256, holders: uint256, n: uint256, added: uint256, doc: bytes32):
    """
    @dev Add a run of holdings of one security to its supply (within the
         declared total) and holder count, and log it.
    """
    words: uint256 = ledger.supply_data[id]
    supply: uint256 = (words & ledger.AMOUNT_MAX) + added
    assert supply <= words >> ledger.DECLARED_SHIFT, "registration: exceeds declared total"
    ledger.supply_data[id] = words + added
    ledger.security_data[id] = ledger._with_holders(sec, holders)
    log HoldingsRegistered(id=id, holdings=n, units=added, actor=msg.sender, doc=doc)
