# pragma version 0.4.3
"""
@title ledger
@notice Every security of the market in one contract, as ids of an ERC-6909
        multi-token, with the register's transfer rules enforced on every path:
        accounts, qualification, holder caps, the 5-trading-day holding period,
        lock-ups, insiders' 25 % a year, register-closing windows, security
        status and the pause.
@dev Storage is packed so a transfer between two existing holders touches six
     slots: the clock (pause + today's trading-day number), the security word,
     the two account words and the two holding words.
     Holding word: bits 0..95 balance, 96..191 paid-in units (LLC only),
     192..215 trading-day number of the last acquisition, 216..239 lock-up day
     (no transfer before it), bit 240 insider, 241 encumbered, 242 former
     insider (no transfer through the day in its insider quota record, six
     months after leaving office: Company Law art 160).
     Paths that move units (docs/paths-and-rules.md): holders' transfers and
     settlements run every rule (_check); a pledgee's enforcement too
     (_enforcement_move, the manager's consent supplied by its own record);
     court-ordered moves (_court_move) override lock-up, the holding period,
     insider limits, the sender's account status, consent and notice, never
     the receiver's rules, the register closure, the holder cap or the fund
     minimum; each forced move logs ForcedTransfer besides Transfer.
     Security word: bits 0..7 status, 8..15 kind, 16..23 unit scale,
     24..55 holder count, 56..87 meeting day, 88..119 dividend record day,
     120..218 transfer terms (right of first refusal, institutional only,
     fund minimum holding; see set_transfer_terms).
"""

from . import roles
from . import calendar
from . import accounts
from . import encumbrances

uses: roles
uses: calendar
uses: accounts
uses: encumbrances

# security kinds and their holder caps
LLC: constant(uint256) = 1
JSC: constant(uint256) = 2
LP_FUND: constant(uint256) = 3
CONTRACT_FUND: constant(uint256) = 4

# security status
PENDING: constant(uint256) = 1     # initial registration in progress, not transferable
ACTIVE: constant(uint256) = 2
SUSPENDED: constant(uint256) = 3
DELISTED: constant(uint256) = 4

# Most holdings one batch may write (fits a 30M-gas block with margin).
MAX_BATCH: constant(uint256) = 200
# Most encumbered holdings (carrying pledges or freezes) one recover call may move:
# each takes its up to 8 pledges and 64 freezes along (~2.3M gas more than a plain
# one), so a recovery of MAX_BATCH ids of which this many are encumbered (and every
# one with an insider quota record) leaves half of a 30M block free.
MAX_RECOVER_ENCUMBERED: constant(uint256) = 1
# Most encumbered holdings one capital decrease may reduce: each reads its up to 64
# freeze words (~140k gas), so MAX_BATCH holdings of which this many are encumbered
# leave half of a 30M block free.
MAX_DECREASE_ENCUMBERED: constant(uint256) = 24
# Largest balance or supply of one security: 2**96 - 1 smallest units.
AMOUNT_MAX: constant(uint256) = (1 << 96) - 1
BYTE_MASK: constant(uint256) = 255
MASK16: constant(uint256) = 65535
LOW_192: constant(uint256) = (1 << 192) - 1
MASK24: constant(uint256) = (1 << 24) - 1
MASK32: constant(uint256) = (1 << 32) - 1
MAX_UNIT_SCALE: constant(uint256) = 18

# rules
HOLDING_PERIOD_TRADING_DAYS: constant(uint256) = 5
# a former insider transfers nothing for six months after leaving office (art 160)
INSIDER_LEFT_MONTHS: constant(uint256) = 6
# a fund investor holds at least RMB 1 million (私募投资基金监督管理暂行办法 art 12):
# the default minimum holding, in units of RMB 1 (times 10**unit_scale smallest units)
FUND_MINIMUM_UNITS: constant(uint256) = 10**6
INSIDER_ANNUAL_PERCENT: constant(uint256) = 25
MEETING_CLOSED_DAYS: constant(uint256) = 20
RECORD_DATE_CLOSED_DAYS: constant(uint256) = 5

# holding word
PAID_SHIFT: constant(uint256) = 96
ACQUIRED_SHIFT: constant(uint256) = 192
LOCK_SHIFT: constant(uint256) = 216
INSIDER_BIT: constant(uint256) = 1 << 240
# set while the holding carries pledges or freezes (encumbrances.vy)
ENCUMBERED_BIT: constant(uint256) = 1 << 241
# set when the insider flag is removed: the holding is barred through the day in
# bits 208..239 of its insider quota record
FORMER_INSIDER_BIT: constant(uint256) = 1 << 242
LEFT_SHIFT: constant(uint256) = 208
LOW_208: constant(uint256) = (1 << 208) - 1

# supply word: units in issue below, the declared total from this bit
DECLARED_SHIFT: constant(uint256) = 96

# security word
KIND_SHIFT: constant(uint256) = 8
SCALE_SHIFT: constant(uint256) = 16
HOLDERS_SHIFT: constant(uint256) = 24
MEETING_SHIFT: constant(uint256) = 56
RECORD_SHIFT: constant(uint256) = 88
# transfer terms (set_transfer_terms): bit 120 any of them is on, bit 121 right of
# first refusal (LLC default), bit 122 institutional investors only, 123..218 fund
# minimum holding in smallest units
RESTRICTED_BIT: constant(uint256) = 1 << 120
ROFR_BIT: constant(uint256) = 1 << 121
INSTITUTIONAL_BIT: constant(uint256) = 1 << 122
FUND_MIN_SHIFT: constant(uint256) = 123

# refusal codes of the transfer rules (see _reason)
OK: constant(uint256) = 0
R_PAUSED: constant(uint256) = 1
R_ZERO_AMOUNT: constant(uint256) = 2
R_ZERO_ADDRESS: constant(uint256) = 3
R_SELF: constant(uint256) = 4
R_UNKNOWN_SECURITY: constant(uint256) = 5
R_NOT_SEALED: constant(uint256) = 6
R_SUSPENDED: constant(uint256) = 7
R_DELISTED: constant(uint256) = 8
R_CALENDAR: constant(uint256) = 9
R_SENDER_ACCOUNT: constant(uint256) = 10
R_RECEIVER_ACCOUNT: constant(uint256) = 11
R_NOT_QUALIFIED: constant(uint256) = 12
R_REGISTER_CLOSED: constant(uint256) = 13
R_BALANCE: constant(uint256) = 14
R_LOCKED: constant(uint256) = 15
R_HOLDING_PERIOD: constant(uint256) = 16
R_INSIDER: constant(uint256) = 17
R_HOLDER_CAP: constant(uint256) = 18
R_ENCUMBERED: constant(uint256) = 19
R_INSTITUTIONAL: constant(uint256) = 20
R_FUND_MINIMUM: constant(uint256) = 21
# the last two are checked last: a settled transfer instruction accepts them
R_NEEDS_CONSENT: constant(uint256) = 22
R_NEEDS_NOTICE: constant(uint256) = 23
R_FORMER_INSIDER: constant(uint256) = 24

# forced moves (ForcedTransfer.path)
COURT_TRANSFER: constant(uint8) = 1
COURT_ENFORCEMENT: constant(uint8) = 2
PLEDGEE_ENFORCEMENT: constant(uint8) = 3
RECOVERY: constant(uint8) = 4

IERC165_ID: constant(bytes4) = 0x01ffc9a7
IERC6909_ID: constant(bytes4) = 0x0f632fb3


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


struct Subscription:
    holder: address
    units: uint256
    paid: uint256


struct Reduction:
    holder: address
    units: uint256


struct SecurityView:
    status: uint8
    kind: uint8
    unit_scale: uint8
    holder_count: uint256
    holder_cap: uint256
    meeting_day: uint256
    record_day: uint256
    total_supply: uint256
    declared_total: uint256
    code_hash: bytes32


struct HoldingView:
    balance: uint256
    paid: uint256
    acquired_trading_day: uint256
    lock_until_day: uint256
    insider: bool


# Packed word of each security (layout above).
security_data: HashMap[uint256, uint256]
# Packed word of each holding by _key(owner, id) (layout above). One-level
# keys cost one keccak per access instead of two.
holding_data: HashMap[uint256, uint256]
# Supply word of each security: bits 0..95 units in issue (smallest units),
# 96..191 the declared total (registered capital / total units) the register
# must add up to. One word, written at registration, so writing holdings
# updates a word that already exists instead of creating one (see totalSupply,
# declared_total).
supply_data: HashMap[uint256, uint256]
# Hash of the operator's security code, by id.
code_hash_of: public(HashMap[uint256, bytes32])
# Security id by hash of the operator's code (0 = not registered).
security_id: public(HashMap[bytes32, uint256])
# Number of securities registered; ids run 1..security_count.
security_count: public(uint256)
# ERC-6909 allowances: owner => spender => id => amount.
allowance: public(HashMap[address, HashMap[address, HashMap[uint256, uint256]]])
# ERC-6909 operators: owner => spender => approved.
isOperator: public(HashMap[address, HashMap[address, bool]])
# Insider quota of a holding by _key(owner, id): bits 0..15 year,
# 16..111 start-of-year balance, 112..207 units disposed of this year.
insider_quota: HashMap[uint256, uint256]


event Transfer:
    caller: address
    sender: indexed(address)
    receiver: indexed(address)
    id: indexed(uint256)
    amount: uint256

event OperatorSet:
    owner: indexed(address)
    spender: indexed(address)
    approved: bool

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    id: indexed(uint256)
    amount: uint256

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

event SecurityStatusChanged:
    id: indexed(uint256)
    status: uint8
    actor: indexed(address)
    doc: bytes32

event Issued:
    receiver: indexed(address)
    id: indexed(uint256)
    amount: uint256
    paid: uint256
    acquired_day: uint256

event HoldingsRegistered:
    id: indexed(uint256)
    holdings: uint256
    units: uint256
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

event LockupSet:
    owner: indexed(address)
    id: indexed(uint256)
    lock_until_day: uint256
    actor: indexed(address)
    doc: bytes32

event InsiderSet:
    owner: indexed(address)
    id: indexed(uint256)
    insider: bool
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

# A move that is not the holder's own transfer (court transfer, enforcement of a
# pledge by the court agent or the pledgee, recovery), logged after its Transfer.
# `ref` is the freeze or pledge id (0 for a recovery).
event ForcedTransfer:
    sender: indexed(address)
    receiver: indexed(address)
    id: indexed(uint256)
    amount: uint256
    path: uint8
    ref: uint256
    actor: address
    doc: bytes32

event PreemptionWaived:
    id: indexed(uint256)
    waiver: bytes32
    actor: indexed(address)

event HoldingRecovered:
    old_owner: indexed(address)
    new_owner: indexed(address)
    id: indexed(uint256)
    amount: uint256
    actor: address
    doc: bytes32


# ---------------------------------------------------------------- ERC-6909


@external
def transfer(receiver: address, id: uint256, amount: uint256) -> bool:
    """
    @notice Transfer `amount` of security `id` to `receiver`, under every rule.
    @param receiver The receiving account.
    @param id The security id.
    @param amount Smallest units.
    @return True (reverts with the rule's reason otherwise).
    """
    # _transfer's body and _clock_now's fast path, inline on the hottest path:
    # each internal call costs ~60 gas, and this is the call the market makes most
    now: uint256 = calendar.clock
    if now & (calendar.PAUSED_BIT | calendar.CACHE_BIT) != calendar.CACHE_BIT or (now >> calendar.DAY_SHIFT) & calendar.MASK40 != (
        block.timestamp // calendar.TIME_UNIT + calendar.UTC_OFFSET
    ) // calendar.SECONDS_PER_DAY:
        now = calendar._now()
    code: uint256 = 0
    sec: uint256 = 0
    sh: uint256 = 0
    rh: uint256 = 0
    code, sec, sh, rh = self._check(msg.sender, receiver, id, amount, now)
    if code != OK:
        raise self._reason(code)
    self._apply(msg.sender, receiver, id, amount, now, sec, sh, rh)
    return True


@external
def transferFrom(sender: address, receiver: address, id: uint256, amount: uint256) -> bool:
    """
    @notice Transfer on behalf of `sender`, as its operator or within its allowance.
    @param sender The holder.
    @param receiver The receiving account.
    @param id The security id.
    @param amount Smallest units.
    @return True (reverts with the rule's reason otherwise).
    """
    if msg.sender != sender and not self.isOperator[sender][msg.sender]:
        allowed: uint256 = self.allowance[sender][msg.sender][id]
        if allowed != max_value(uint256):
            assert allowed >= amount, "ledger: insufficient allowance"
            self.allowance[sender][msg.sender][id] = allowed - amount
    self._transfer(sender, receiver, id, amount)
    return True


@external
def approve(spender: address, id: uint256, amount: uint256) -> bool:
    """
    @notice Allow `spender` to transfer up to `amount` of `id` for the caller.
    @param spender The spender.
    @param id The security id.
    @param amount The allowance (max uint256 = unlimited).
    @return True.
    """
    assert not calendar._paused(), "ledger: paused"
    assert spender != empty(address), "ledger: zero address"
    self.allowance[msg.sender][spender][id] = amount
    log Approval(owner=msg.sender, spender=spender, id=id, amount=amount)
    return True


@external
def setOperator(spender: address, approved: bool) -> bool:
    """
    @notice Let `spender` transfer any of the caller's securities (or stop it).
    @param spender The operator.
    @param approved Whether it may.
    @return True.
    """
    assert not calendar._paused(), "ledger: paused"
    assert spender != empty(address), "ledger: zero address"
    self.isOperator[msg.sender][spender] = approved
    log OperatorSet(owner=msg.sender, spender=spender, approved=approved)
    return True


@external
@view
def balanceOf(owner: address, id: uint256) -> uint256:
    """
    @notice Units of `id` held by `owner`.
    """
    if id > AMOUNT_MAX:
        return 0  # no security has such an id
    return self.holding_data[self._key(owner, id)] & AMOUNT_MAX


@external
@view
def supportsInterface(interface_id: bytes4) -> bool:
    """
    @notice ERC-165: ERC-165 and ERC-6909.
    """
    return interface_id == IERC165_ID or interface_id == IERC6909_ID


# ------------------------------------------------------------- the register


@external
@view
def can_transfer(sender: address, receiver: address, id: uint256, amount: uint256) -> (bool, String[64]):
    """
    @notice Preview a transfer: whether it would pass now, and if not, exactly
            the reason it would revert with.
    @param sender The holder.
    @param receiver The receiving account.
    @param id The security id.
    @param amount Smallest units.
    @return (ok, reason) with reason empty when ok.
    """
    code: uint256 = self._check(sender, receiver, id, amount, calendar._now_view())[0]
    if code == OK:
        return True, ""
    return False, self._reason(code)


@external
@view
def totalSupply(id: uint256) -> uint256:
    """
    @notice Units of `id` in issue (smallest units; ERC-6909).
    """
    return self.supply_data[id] & AMOUNT_MAX


@external
@view
def declared_total(id: uint256) -> uint256:
    """
    @notice Registered capital / total units of `id` that its holdings must add
            up to when it is sealed; moves with capital increases and decreases.
    """
    return self.supply_data[id] >> DECLARED_SHIFT


@external
@view
def holder_count(id: uint256) -> uint256:
    """
    @notice Number of accounts holding a non-zero balance of `id`.
    """
    return (self.security_data[id] >> HOLDERS_SHIFT) & MASK32


@external
@view
def holder_cap(id: uint256) -> uint256:
    """
    @notice Most holders the kind of `id` allows (0 for an unknown id).
    """
    return self._cap((self.security_data[id] >> KIND_SHIFT) & BYTE_MASK)


@external
@view
def security(id: uint256) -> SecurityView:
    """
    @notice Everything the register keeps about security `id`.
    """
    sec: uint256 = self.security_data[id]
    kind: uint256 = (sec >> KIND_SHIFT) & BYTE_MASK
    supply: uint256 = self.supply_data[id]
    return SecurityView(
        status=convert(sec & BYTE_MASK, uint8),
        kind=convert(kind, uint8),
        unit_scale=convert((sec >> SCALE_SHIFT) & BYTE_MASK, uint8),
        holder_count=(sec >> HOLDERS_SHIFT) & MASK32,
        holder_cap=self._cap(kind),
        meeting_day=(sec >> MEETING_SHIFT) & MASK32,
        record_day=(sec >> RECORD_SHIFT) & MASK32,
        total_supply=supply & AMOUNT_MAX,
        declared_total=supply >> DECLARED_SHIFT,
        code_hash=self.code_hash_of[id],
    )


@external
@view
def holding(owner: address, id: uint256) -> HoldingView:
    """
    @notice A holding: balance, paid-in units (equal to the balance except for
            LLC capital), trading-day number of the last acquisition, lock-up
            day and insider flag.
    """
    if id > AMOUNT_MAX:
        return empty(HoldingView)
    h: uint256 = self.holding_data[self._key(owner, id)]
    balance: uint256 = h & AMOUNT_MAX
    paid: uint256 = balance
    if (self.security_data[id] >> KIND_SHIFT) & BYTE_MASK == LLC:
        paid = (h >> PAID_SHIFT) & AMOUNT_MAX
    return HoldingView(
        balance=balance,
        paid=paid,
        acquired_trading_day=(h >> ACQUIRED_SHIFT) & MASK24,
        lock_until_day=(h >> LOCK_SHIFT) & MASK24,
        insider=h & INSIDER_BIT != 0,
    )


@external
@view
def insider_quota_of(owner: address, id: uint256) -> (uint256, uint256, uint256):
    """
    @notice An insider's quota record: (year, start-of-year balance, disposed this year).
    @dev The record is refreshed at the first change of the holding in a new year.
    """
    if id > AMOUNT_MAX:
        return 0, 0, 0
    q: uint256 = self.insider_quota[self._key(owner, id)]
    return q & MASK16, (q >> 16) & AMOUNT_MAX, (q >> 112) & AMOUNT_MAX


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
    assert not calendar._paused(), "ledger: paused"
    assert code_hash != empty(bytes32), "ledger: zero code hash"
    assert self.security_id[code_hash] == 0, "ledger: security code already registered"
    assert kind >= 1 and kind <= 4, "ledger: unknown kind"
    assert convert(unit_scale, uint256) <= MAX_UNIT_SCALE, "ledger: unit scale too large"
    assert declared_total != 0, "ledger: zero amount"
    assert declared_total <= AMOUNT_MAX, "ledger: amount too large"
    id: uint256 = self.security_count + 1
    self.security_count = id
    self.security_id[code_hash] = id
    self.code_hash_of[id] = code_hash
    self.supply_data[id] = declared_total << DECLARED_SHIFT
    terms: uint256 = 0
    if convert(kind, uint256) == LLC:
        terms = RESTRICTED_BIT | ROFR_BIT  # Company Law art 84, unless the articles say otherwise
    elif convert(kind, uint256) >= LP_FUND:
        # fund shares move only with the manager's consent, to institutions, and each
        # investor holds at least RMB 1 million (one unit = RMB 1 unless set_transfer_terms
        # says otherwise)
        terms = RESTRICTED_BIT | INSTITUTIONAL_BIT | (
            (FUND_MINIMUM_UNITS * 10 ** convert(unit_scale, uint256)) << FUND_MIN_SHIFT
        )
    self.security_data[id] = (
        PENDING | (convert(kind, uint256) << KIND_SHIFT) | (convert(unit_scale, uint256) << SCALE_SHIFT) | terms
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
    is_llc: bool = (sec >> KIND_SHIFT) & BYTE_MASK == LLC
    holders: uint256 = (sec >> HOLDERS_SHIFT) & MASK32
    cap: uint256 = self._cap((sec >> KIND_SHIFT) & BYTE_MASK)
    added: uint256 = 0
    last_day: uint256 = max_value(uint256)
    tn: uint256 = 0
    for item: Issuance in batch:
        # each term must fit its field of the terms word
        assert item.holder != empty(address), "ledger: zero address"
        assert item.units != 0, "ledger: zero amount"
        assert item.units <= AMOUNT_MAX, "ledger: amount too large"
        assert item.paid <= item.units, "ledger: paid exceeds units"
        assert item.acquired_day <= today, "ledger: acquired in the future"
        assert item.lock_until_day <= MASK24, "ledger: day out of range"
        terms: uint256 = (
            item.units | (item.paid << PAID_SHIFT) | (item.acquired_day << ACQUIRED_SHIFT)
            | (item.lock_until_day << LOCK_SHIFT)
        )
        if item.insider:
            terms |= INSIDER_BIT
        # _key inline (a call costs ~140 gas a holding here)
        tn = self._write_holding((convert(item.holder, uint256) << 96) | id, terms, is_llc, last_day, tn, doc)
        last_day = item.acquired_day
        # at most MAX_BATCH items of at most AMOUNT_MAX units each: no overflow
        holders = unsafe_add(holders, 1)
        assert holders <= cap, "ledger: holder cap reached"
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
    id: uint256 = 0  # the security of the current run (run == 0: none yet)
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
        if key & AMOUNT_MAX != id or run == 0:
            if run != 0:
                self._end_holdings_run(id, sec, holders, run, added, doc)
            id = key & AMOUNT_MAX
            sec = self._pending_security(id)
            is_llc = (sec >> KIND_SHIFT) & BYTE_MASK == LLC
            holders = (sec >> HOLDERS_SHIFT) & MASK32
            cap = self._cap((sec >> KIND_SHIFT) & BYTE_MASK)
            added = 0
            run = 0
        units: uint256 = terms & AMOUNT_MAX
        acquired_day: uint256 = (terms >> ACQUIRED_SHIFT) & MASK24
        # the fields cannot be too large: what register_holdings checks of them, and
        # nothing above the insider bit
        assert key >> 96 != 0, "ledger: zero address"
        assert units != 0, "ledger: zero amount"
        assert (terms >> PAID_SHIFT) & AMOUNT_MAX <= units, "ledger: paid exceeds units"
        assert acquired_day <= today, "ledger: acquired in the future"
        assert terms < ENCUMBERED_BIT, "ledger: holding terms out of range"
        tn = self._write_holding(key, terms, is_llc, last_day, tn, doc)
        last_day = acquired_day
        # at most MAX_BATCH items of at most AMOUNT_MAX units each: no overflow
        holders = unsafe_add(holders, 1)
        assert holders <= cap, "ledger: holder cap reached"
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
    assert not calendar._paused(), "ledger: paused"
    sec: uint256 = self.security_data[id]
    status: uint256 = sec & BYTE_MASK
    assert status != 0, "ledger: unknown security"
    assert status == PENDING, "ledger: security already sealed"
    words: uint256 = self.supply_data[id]
    supply: uint256 = words & AMOUNT_MAX
    assert supply == words >> DECLARED_SHIFT, "ledger: holdings do not add up to the declared total"
    if (sec >> KIND_SHIFT) & BYTE_MASK >= LP_FUND:
        assert (sec >> FUND_MIN_SHIFT) & AMOUNT_MAX != 0, "ledger: fund has no minimum holding"
    self.security_data[id] = (sec & ~BYTE_MASK) | ACTIVE
    log SecuritySealed(id=id, total_supply=supply, actor=msg.sender, doc=doc)


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
    assert not calendar._paused(), "ledger: paused"
    sec: uint256 = self.security_data[id]
    current: uint256 = sec & BYTE_MASK
    new: uint256 = convert(status, uint256)
    assert current != 0, "ledger: unknown security"
    assert current != PENDING, "ledger: security not sealed"
    assert current != DELISTED, "ledger: security delisted"
    assert new == ACTIVE or new == SUSPENDED or new == DELISTED, "ledger: invalid status"
    assert new != current, "ledger: status unchanged"
    self.security_data[id] = (sec & ~BYTE_MASK) | new
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
    assert waiver != empty(bytes32), "ledger: zero waiver"
    self._increase_capital(id, batch, waiver, doc)


@internal
def _increase_capital(id: uint256, batch: DynArray[Subscription, 256], waiver: bytes32, doc: bytes32):
    roles._check_role(roles.Role.SECURITY_MANAGER)
    now: uint256 = calendar._now()
    assert now & calendar.NOW_PAUSED == 0, "ledger: paused"
    n: uint256 = len(batch)
    assert n != 0, "ledger: empty batch"
    assert n <= MAX_BATCH, "ledger: batch too large"
    sec: uint256 = self._active_security(id)
    assert now & calendar.NOW_PUBLISHED != 0, "ledger: calendar not published for today"
    today: uint256 = (now >> calendar.DAY_SHIFT) & calendar.MASK40
    tn: uint256 = (now >> calendar.TN_SHIFT) & calendar.MASK40
    kind: uint256 = (sec >> KIND_SHIFT) & BYTE_MASK
    is_llc: bool = kind == LLC
    if is_llc:
        if waiver == empty(bytes32):
            self._check_preemption(id, batch, (sec >> HOLDERS_SHIFT) & MASK32)
        else:
            log PreemptionWaived(id=id, waiver=waiver, actor=msg.sender)
    minimum: uint256 = 0
    if kind >= LP_FUND:
        minimum = (sec >> FUND_MIN_SHIFT) & AMOUNT_MAX
    holders: uint256 = (sec >> HOLDERS_SHIFT) & MASK32
    cap: uint256 = self._cap(kind)
    added: uint256 = 0
    for item: Subscription in batch:
        assert item.holder != empty(address), "ledger: zero address"
        assert item.units != 0, "ledger: zero amount"
        assert item.units <= AMOUNT_MAX, "ledger: amount too large"
        assert item.paid <= item.units, "ledger: paid exceeds units"
        data: uint256 = accounts.account_data[item.holder]
        assert data & BYTE_MASK == accounts.ACTIVE, "ledger: holder account not active"
        h: uint256 = self.holding_data[self._key(item.holder, id)]
        balance: uint256 = h & AMOUNT_MAX
        if balance == 0:
            assert data & accounts.QUALIFIED_BIT != 0, "ledger: subscriber not qualified"
            holders += 1
            assert holders <= cap, "ledger: holder cap reached"
        if sec & INSTITUTIONAL_BIT != 0:
            assert (data >> 8) & BYTE_MASK != accounts.INDIVIDUAL, "ledger: subscriber not an institutional investor"
        if h & INSIDER_BIT != 0:
            self._insider_snapshot(item.holder, id, balance, today)
        new_balance: uint256 = balance + item.units
        assert new_balance <= AMOUNT_MAX, "ledger: amount too large"
        assert new_balance >= minimum, "ledger: below the fund's minimum holding"
        paid: uint256 = 0
        if is_llc:
            paid = ((h >> PAID_SHIFT) & AMOUNT_MAX) + item.paid
        lock: uint256 = (h >> LOCK_SHIFT) & MASK24
        self.holding_data[self._key(item.holder, id)] = (
            new_balance | (paid << PAID_SHIFT) | (tn << ACQUIRED_SHIFT) | (lock << LOCK_SHIFT)
            | (h & (INSIDER_BIT | ENCUMBERED_BIT | FORMER_INSIDER_BIT))
        )
        added += item.units
        log Issued(receiver=item.holder, id=id, amount=item.units, paid=item.paid if is_llc else item.units, acquired_day=today)
    supply: uint256 = (self.supply_data[id] & AMOUNT_MAX) + added
    assert supply <= AMOUNT_MAX, "ledger: amount too large"
    # a capital change moves the declared total (registered capital) with the supply
    self.supply_data[id] = supply | (supply << DECLARED_SHIFT)
    self.security_data[id] = self._with_holders(sec, holders)
    log CapitalIncreased(id=id, holdings=n, units=added, actor=msg.sender, doc=doc)


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
    assert not calendar._paused(), "ledger: paused"
    n: uint256 = len(batch)
    assert n != 0, "ledger: empty batch"
    assert n <= MAX_BATCH, "ledger: batch too large"
    sec: uint256 = self._active_security(id)
    holders: uint256 = (sec >> HOLDERS_SHIFT) & MASK32
    today: uint256 = calendar._today()
    removed: uint256 = 0
    encumbered: uint256 = 0
    for item: Reduction in batch:
        assert item.holder != empty(address), "ledger: zero address"
        assert item.units != 0, "ledger: zero amount"
        h: uint256 = self.holding_data[self._key(item.holder, id)]
        balance: uint256 = h & AMOUNT_MAX
        assert balance >= item.units, "ledger: insufficient balance"
        if h & ENCUMBERED_BIT != 0:
            encumbered += 1
            assert encumbered <= MAX_DECREASE_ENCUMBERED, "ledger: too many encumbered holdings in one decrease"
            locked: uint256 = encumbrances._locked(self._key(item.holder, id), balance, today)
            assert item.units + locked <= balance, "ledger: amount exceeds free balance"
        if h & INSIDER_BIT != 0:
            self._insider_snapshot(item.holder, id, balance, today)
        # item.units <= balance, checked above
        new_balance: uint256 = unsafe_sub(balance, item.units)
        paid: uint256 = min((h >> PAID_SHIFT) & AMOUNT_MAX, new_balance)
        if new_balance == 0:
            holders -= 1
        self.holding_data[self._key(item.holder, id)] = (
            (h & ~LOW_192) | new_balance | (paid << PAID_SHIFT)
        )
        removed += item.units
        log Transfer(caller=msg.sender, sender=item.holder, receiver=empty(address), id=id, amount=item.units)
    supply: uint256 = (self.supply_data[id] & AMOUNT_MAX) - removed
    self.supply_data[id] = supply | (supply << DECLARED_SHIFT)
    self.security_data[id] = self._with_holders(sec, holders)
    log CapitalDecreased(id=id, holdings=n, units=removed, actor=msg.sender, doc=doc)


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
    assert not calendar._paused(), "ledger: paused"
    sec: uint256 = self.security_data[id]
    assert sec & BYTE_MASK != 0, "ledger: unknown security"
    kind: uint256 = (sec >> KIND_SHIFT) & BYTE_MASK
    assert fund_minimum == 0 or kind >= LP_FUND, "ledger: minimum holding is for funds"
    assert fund_minimum != 0 or kind < LP_FUND, "ledger: fund has no minimum holding"
    assert fund_minimum <= AMOUNT_MAX, "ledger: amount too large"
    terms: uint256 = fund_minimum << FUND_MIN_SHIFT
    if first_refusal:
        terms |= ROFR_BIT
    if institutional_only:
        terms |= INSTITUTIONAL_BIT
    if terms != 0 or kind >= LP_FUND:
        terms |= RESTRICTED_BIT
    mask: uint256 = (AMOUNT_MAX << FUND_MIN_SHIFT) | RESTRICTED_BIT | ROFR_BIT | INSTITUTIONAL_BIT
    self.security_data[id] = (sec & ~mask) | terms
    log TransferTermsSet(
        id=id,
        first_refusal=first_refusal,
        institutional_only=institutional_only,
        fund_minimum=fund_minimum,
        actor=msg.sender,
        doc=doc,
    )


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
    assert not calendar._paused(), "ledger: paused"
    sec: uint256 = self.security_data[id]
    assert sec & BYTE_MASK != 0, "ledger: unknown security"
    assert (sec >> KIND_SHIFT) & BYTE_MASK == LLC, "ledger: not an LLC"
    h: uint256 = self.holding_data[self._key(owner, id)]
    assert paid <= h & AMOUNT_MAX, "ledger: paid exceeds units"
    mask: uint256 = AMOUNT_MAX << PAID_SHIFT
    self.holding_data[self._key(owner, id)] = (h & ~mask) | (paid << PAID_SHIFT)
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
    assert not calendar._paused(), "ledger: paused"
    assert owner != empty(address), "ledger: zero address"
    assert self.security_data[id] & BYTE_MASK != 0, "ledger: unknown security"
    assert lock_until_day <= MASK24, "ledger: day out of range"
    mask: uint256 = MASK24 << LOCK_SHIFT
    h: uint256 = self.holding_data[self._key(owner, id)]
    self.holding_data[self._key(owner, id)] = (h & ~mask) | (lock_until_day << LOCK_SHIFT)
    log LockupSet(owner=owner, id=id, lock_until_day=lock_until_day, actor=msg.sender, doc=doc)


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
    assert not calendar._paused(), "ledger: paused"
    assert owner != empty(address), "ledger: zero address"
    assert self.security_data[id] & BYTE_MASK != 0, "ledger: unknown security"
    h: uint256 = self.holding_data[self._key(owner, id)]
    assert (h & INSIDER_BIT != 0) != insider, "ledger: insider flag unchanged"
    if not insider:
        # the six months run from today; a record of an earlier leaving is replaced
        q: uint256 = self.insider_quota[self._key(owner, id)]
        until: uint256 = self._months_later(calendar._today(), INSIDER_LEFT_MONTHS)
        self.insider_quota[self._key(owner, id)] = (q & LOW_208) | (until << LEFT_SHIFT)
        h |= FORMER_INSIDER_BIT
    self.holding_data[self._key(owner, id)] = h ^ INSIDER_BIT
    log InsiderSet(owner=owner, id=id, insider=insider, actor=msg.sender, doc=doc)


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
    assert not calendar._paused(), "ledger: paused"
    sec: uint256 = self.security_data[id]
    assert sec & BYTE_MASK != 0, "ledger: unknown security"
    assert meeting_day <= MASK32 and record_day <= MASK32, "ledger: day out of range"
    mask: uint256 = (MASK32 << MEETING_SHIFT) | (MASK32 << RECORD_SHIFT)
    self.security_data[id] = (sec & ~mask) | (meeting_day << MEETING_SHIFT) | (record_day << RECORD_SHIFT)
    log RegisterClosureSet(id=id, meeting_day=meeting_day, record_day=record_day, actor=msg.sender, doc=doc)


@external
def recover(old_owner: address, new_owner: address, ids: DynArray[uint256, 256], doc: bytes32):
    """
    @notice Lost key: move the listed holdings of `old_owner`, with their
            acquisition days, lock-ups and insider quotas, to `new_owner`.
            A fresh `new_owner` takes over the account and `old_owner` is
            closed; the holder count does not change. A target that holds
            anything of a listed security (units, a lock-up, an insider flag
            or record, a pledge or freeze, even on no units) is refused, never
            merged: its pledges and freezes rank by their own registration,
            two queues cannot become one without reordering a court's or a
            pledgee's rank, and a recovery moves one holder's holding to the
            same holder's new key, where there is nothing to merge with.
    @param old_owner The lost address.
    @param new_owner The new address (fresh, or already recovered to).
    @param ids Securities to move; at most MAX_BATCH per call, of which at
           most MAX_RECOVER_ENCUMBERED (1) carries pledges or freezes (they
           move along); recover more in further calls to the same `new_owner`.
    @param doc Reference (hash) of the recovery application.
    """
    roles._check_role(roles.Role.RECOVERY_MANAGER)
    assert not calendar._paused(), "ledger: paused"
    n: uint256 = len(ids)
    assert n != 0, "ledger: empty batch"
    assert n <= MAX_BATCH, "ledger: batch too large"
    accounts._recover(old_owner, new_owner, doc)
    encumbered: uint256 = 0
    for id: uint256 in ids:
        assert id <= AMOUNT_MAX, "ledger: unknown security"
        h: uint256 = self.holding_data[self._key(old_owner, id)]
        amount: uint256 = h & AMOUNT_MAX
        assert amount != 0, "ledger: nothing to recover"
        # only a stale acquisition day of units sold may be there
        assert (
            self.holding_data[self._key(new_owner, id)] & ~(MASK24 << ACQUIRED_SHIFT) == 0
            and not encumbrances._is_encumbered(self._key(new_owner, id))
            and self.insider_quota[self._key(new_owner, id)] == 0
        ), "ledger: recovery target already holds"
        self.holding_data[self._key(new_owner, id)] = h
        self.holding_data[self._key(old_owner, id)] = 0
        if h & ENCUMBERED_BIT != 0:
            encumbered += 1
            assert encumbered <= MAX_RECOVER_ENCUMBERED, "ledger: too many encumbered holdings in one recovery"
            encumbrances._move_all(self._key(old_owner, id), self._key(new_owner, id), new_owner)
        q: uint256 = self.insider_quota[self._key(old_owner, id)]
        if q != 0:
            self.insider_quota[self._key(new_owner, id)] = q
            self.insider_quota[self._key(old_owner, id)] = 0
        log Transfer(caller=msg.sender, sender=old_owner, receiver=new_owner, id=id, amount=amount)
        log ForcedTransfer(
            sender=old_owner, receiver=new_owner, id=id, amount=amount, path=RECOVERY, ref=0, actor=msg.sender, doc=doc
        )
        log HoldingRecovered(old_owner=old_owner, new_owner=new_owner, id=id, amount=amount, actor=msg.sender, doc=doc)


# ---------------------------------------------------------------- internals


@internal
@view
def _receiver_refusal(receiver: address, sec: uint256) -> uint256:
    """
    @dev The receiver's side of _check alone (account open, qualified,
         institutional-only for security word `sec`): a bid is refused for it
         whatever else fails. _check keeps its own inline copy (hot path).
    """
    receiver_data: uint256 = accounts.account_data[receiver]
    if receiver_data & BYTE_MASK != accounts.ACTIVE:
        return R_RECEIVER_ACCOUNT
    if receiver_data & accounts.QUALIFIED_BIT == 0:
        return R_NOT_QUALIFIED
    if sec & INSTITUTIONAL_BIT != 0 and (receiver_data >> 8) & BYTE_MASK == accounts.INDIVIDUAL:
        return R_INSTITUTIONAL
    return OK


@internal
def _transfer(sender: address, receiver: address, id: uint256, amount: uint256):
    now: uint256 = self._clock_now()
    code: uint256 = 0
    sec: uint256 = 0
    sh: uint256 = 0
    rh: uint256 = 0
    code, sec, sh, rh = self._check(sender, receiver, id, amount, now)
    if code != OK:
        raise self._reason(code)
    self._apply(sender, receiver, id, amount, now, sec, sh, rh)


@internal
def _apply(
    sender: address, receiver: address, id: uint256, amount: uint256, now: uint256, sec: uint256, sh: uint256, rh: uint256
):
    """
    @dev Move `amount` from sender to receiver once every rule passed: the
         receiver's acquisition day becomes today, paid-in units move first,
         insider quotas and the holder count follow.
    """
    tn: uint256 = (now >> calendar.TN_SHIFT) & calendar.MASK40

    balance: uint256 = sh & AMOUNT_MAX
    received: uint256 = rh & AMOUNT_MAX
    # paid-in units move first (only LLC holdings carry any)
    sender_paid: uint256 = (sh >> PAID_SHIFT) & AMOUNT_MAX
    moved_paid: uint256 = min(sender_paid, amount)
    # amount <= balance and moved_paid <= sender_paid: checked/constructed above
    # keys inline: a known security's id is below 2**96 (see _key)
    self.holding_data[(convert(sender, uint256) << 96) | id] = unsafe_sub(sh, amount | (moved_paid << PAID_SHIFT))
    # received + amount <= totalSupply <= AMOUNT_MAX, so neither field carries over
    self.holding_data[(convert(receiver, uint256) << 96) | id] = (
        unsafe_add(rh & ~(MASK24 << ACQUIRED_SHIFT), amount | (moved_paid << PAID_SHIFT))
        | (tn << ACQUIRED_SHIFT)
    )
    if (sh | rh) & INSIDER_BIT != 0:
        day: uint256 = (now >> calendar.DAY_SHIFT) & calendar.MASK40
        if sh & INSIDER_BIT != 0:
            self._insider_dispose(sender, id, balance, amount, day)
        if rh & INSIDER_BIT != 0:
            self._insider_snapshot(receiver, id, received, day)
    if received == 0 or balance == amount:
        holders: uint256 = (sec >> HOLDERS_SHIFT) & MASK32
        if received == 0:
            holders += 1
        if balance == amount:
            holders -= 1
        self.security_data[id] = self._with_holders(sec, holders)
    log Transfer(caller=msg.sender, sender=sender, receiver=receiver, id=id, amount=amount)


@internal
def _clock_now() -> uint256:
    # fast path of calendar._now(): today's number is cached and not paused
    now: uint256 = calendar.clock
    if now & (calendar.PAUSED_BIT | calendar.CACHE_BIT) != calendar.CACHE_BIT or (now >> calendar.DAY_SHIFT) & calendar.MASK40 != (
        block.timestamp // calendar.TIME_UNIT + calendar.UTC_OFFSET
    ) // calendar.SECONDS_PER_DAY:
        now = calendar._now()
    return now


@internal
def _court_move(sender: address, receiver: address, id: uint256, amount: uint256, path: uint8, ref: uint256, doc: bytes32):
    """
    @dev Court-ordered transfer (court_transfer, or a pledge enforced by the
         court agent): the ruling overrides the lock-up and the holding period
         (units moved under lock-up keep their lock-up day at the receiver),
         insider limits, the sender's account status, the manager's consent and
         the first-refusal notice (given in the court's sale, Company Law art
         85); the receiver's account, qualification and institutional status,
         the register closure, the holder cap and the fund minimum on both
         sides apply. The caller has checked that the units are the ones its
         freeze or pledge holds and released them.
    """
    now: uint256 = self._clock_now()
    assert now & calendar.NOW_PAUSED == 0, "ledger: paused"
    assert amount != 0, "ledger: zero amount"
    assert receiver != empty(address), "ledger: zero address"
    assert receiver != sender, "ledger: self transfer"
    sec: uint256 = self.security_data[id]
    status: uint256 = sec & BYTE_MASK
    assert status != 0, "ledger: unknown security"
    assert status == ACTIVE or status == SUSPENDED, "ledger: security not active"
    assert now & calendar.NOW_PUBLISHED != 0, "ledger: calendar not published for today"
    day: uint256 = (now >> calendar.DAY_SHIFT) & calendar.MASK40
    code: uint256 = self._receiver_refusal(receiver, sec)
    if code == OK and self._closed(sec, day):
        code = R_REGISTER_CLOSED
    sh: uint256 = self.holding_data[self._key(sender, id)]
    rh: uint256 = self.holding_data[self._key(receiver, id)]
    balance: uint256 = sh & AMOUNT_MAX
    if code == OK and balance < amount:
        code = R_BALANCE
    if code == OK:
        code = self._receiving_refusal(sec, balance, amount, rh)
    if code != OK:
        raise self._reason(code)
    lock: uint256 = (sh >> LOCK_SHIFT) & MASK24
    if day < lock and lock > (rh >> LOCK_SHIFT) & MASK24:
        rh = (rh & ~(MASK24 << LOCK_SHIFT)) | (lock << LOCK_SHIFT)
    self._apply(sender, receiver, id, amount, now, sec, sh, rh)
    log ForcedTransfer(
        sender=sender, receiver=receiver, id=id, amount=amount, path=path, ref=ref, actor=msg.sender, doc=doc
    )


@internal
def _enforcement_move(sender: address, receiver: address, id: uint256, amount: uint256, ref: uint256, consented: bool, doc: bytes32):
    """
    @dev A pledgee's own enforcement: a transfer under every rule (_check);
         the fund manager's consent is `consented` (its consent to this
         enforcement), and an outsider of a security with first refusal is
         refused (the notice of a court sale gives the other holders their
         right). The caller has released the pledged units.
    """
    now: uint256 = self._clock_now()
    code: uint256 = 0
    sec: uint256 = 0
    sh: uint256 = 0
    rh: uint256 = 0
    code, sec, sh, rh = self._check(sender, receiver, id, amount, now)
    if code == R_NEEDS_CONSENT and consented:
        code = OK
    if code != OK:
        raise self._reason(code)
    self._apply(sender, receiver, id, amount, now, sec, sh, rh)
    log ForcedTransfer(
        sender=sender, receiver=receiver, id=id, amount=amount, path=PLEDGEE_ENFORCEMENT, ref=ref,
        actor=msg.sender, doc=doc
    )


@internal
@view
def _closed(sec: uint256, day: uint256) -> bool:
    """
    @dev Whether the register of security word `sec` is closed on `day` (20
         days before a meeting, 5 before a record day, art 159). _check keeps
         its own inline copy (hot path).
    """
    meeting: uint256 = (sec >> MEETING_SHIFT) & MASK32
    record: uint256 = (sec >> RECORD_SHIFT) & MASK32
    if meeting != 0 and day <= meeting and day + MEETING_CLOSED_DAYS >= meeting:
        return True
    return record != 0 and day <= record and day + RECORD_DATE_CLOSED_DAYS >= record


@internal
@view
def _receiving_refusal(sec: uint256, balance: uint256, amount: uint256, rh: uint256) -> uint256:
    """
    @dev The holder cap and a fund's minimum on both sides for a move of
         `amount` out of `balance` to holding word `rh`. _check keeps its own
         inline copy (hot path).
    """
    if rh & AMOUNT_MAX == 0 and balance != amount:
        if (sec >> HOLDERS_SHIFT) & MASK32 >= self._cap((sec >> KIND_SHIFT) & BYTE_MASK):
            return R_HOLDER_CAP
    if (sec >> KIND_SHIFT) & BYTE_MASK >= LP_FUND:
        minimum: uint256 = (sec >> FUND_MIN_SHIFT) & AMOUNT_MAX
        if (balance != amount and balance - amount < minimum) or (rh & AMOUNT_MAX) + amount < minimum:
            return R_FUND_MINIMUM
    return OK


@internal
@view
def _account_active(wallet: address) -> bool:
    return accounts.account_data[wallet] & BYTE_MASK == accounts.ACTIVE


@internal
@view
def _same_holder(a: address, b: address) -> bool:
    # two addresses of one holder (the salted identity hash they were opened with)
    return accounts.identity_of[a] == accounts.identity_of[b]


@internal
@view
def _check_preemption(id: uint256, batch: DynArray[Subscription, 256], holders: uint256):
    """
    @dev LLC pre-emption without a waiver (art 227): `batch` names each of the
         `holders` shareholders once (ascending addresses), no outsider, and
         each subscribes at most its share of the increase pro rata to paid-in
         capital (to the holdings where nothing is paid in), rounded up.
    """
    assert len(batch) == holders, "ledger: pre-emption: every shareholder must be offered"
    last: uint256 = 0
    total_paid: uint256 = 0
    total_units: uint256 = 0
    added: uint256 = 0
    for item: Subscription in batch:
        assert convert(item.holder, uint256) > last, "ledger: pre-emption: subscribers not in ascending order"
        last = convert(item.holder, uint256)
        h: uint256 = self.holding_data[self._key(item.holder, id)]
        assert h & AMOUNT_MAX != 0, "ledger: pre-emption: outsider needs a waiver"
        assert item.units <= AMOUNT_MAX, "ledger: amount too large"
        total_paid += (h >> PAID_SHIFT) & AMOUNT_MAX
        total_units += h & AMOUNT_MAX
        added += item.units
    use_paid: bool = total_paid != 0
    basis: uint256 = total_paid if use_paid else total_units
    for item: Subscription in batch:
        h: uint256 = self.holding_data[self._key(item.holder, id)]
        part: uint256 = (h >> PAID_SHIFT) & AMOUNT_MAX if use_paid else h & AMOUNT_MAX
        # at most ceil(added * part / basis): every factor is below 2**104
        assert item.units * basis < added * part + basis, "ledger: pre-emption: subscription above pro-rata share"


@internal
def _start_holdings_batch(n: uint256) -> uint256:
    """
    @dev Common checks of register_holdings(_many); returns today's day number.
    """
    roles._check_role(roles.Role.SECURITY_MANAGER)
    assert not calendar._paused(), "ledger: paused"
    assert n != 0, "ledger: empty batch"
    assert n <= MAX_BATCH, "ledger: batch too large"
    return calendar._today()


@internal
@view
def _pending_security(id: uint256) -> uint256:
    sec: uint256 = self.security_data[id]
    status: uint256 = sec & BYTE_MASK
    assert status != 0, "ledger: unknown security"
    assert status == PENDING, "ledger: security already sealed"
    return sec


@internal
def _write_holding(key: uint256, terms: uint256, is_llc: bool, last_day: uint256, last_tn: uint256, doc: bytes32) -> uint256:
    """
    @dev Write one holding of initial registration and log it: `key` and
         `terms` as in HoldingWords, their fields checked by the caller (as is
         the security, PENDING, and after this the holder cap). `last_tn` is
         the trading-day number of `last_day`: batches usually share
         acquisition days, so a day is looked up once for a row of items.
         Returns the trading-day number of the acquisition day.
    """
    holder: address = convert(key >> 96, address)
    assert accounts.account_data[holder] & BYTE_MASK == accounts.ACTIVE, "ledger: holder account not active"
    assert self.holding_data[key] & AMOUNT_MAX == 0, "ledger: holding already registered"
    units: uint256 = terms & AMOUNT_MAX
    acquired_day: uint256 = (terms >> ACQUIRED_SHIFT) & MASK24
    lock_until_day: uint256 = (terms >> LOCK_SHIFT) & MASK24
    tn: uint256 = last_tn
    if acquired_day != last_day:
        tn = calendar._trading_day_number(acquired_day)
    h: uint256 = units | (tn << ACQUIRED_SHIFT) | (lock_until_day << LOCK_SHIFT) | (terms & INSIDER_BIT)
    paid: uint256 = units
    if is_llc:
        paid = (terms >> PAID_SHIFT) & AMOUNT_MAX
        h |= paid << PAID_SHIFT
    self.holding_data[key] = h
    id: uint256 = key & AMOUNT_MAX
    log Issued(receiver=holder, id=id, amount=units, paid=paid, acquired_day=acquired_day)
    # the rarer terms get their own events, so the common holding stays cheap
    if lock_until_day != 0:
        log LockupSet(owner=holder, id=id, lock_until_day=lock_until_day, actor=msg.sender, doc=doc)
    if terms & INSIDER_BIT != 0:
        log InsiderSet(owner=holder, id=id, insider=True, actor=msg.sender, doc=doc)
    return tn


@internal
def _end_holdings_run(id: uint256, sec: uint256, holders: uint256, n: uint256, added: uint256, doc: bytes32):
    """
    @dev Add a run of holdings of one security to its supply (within the
         declared total) and holder count, and log it.
    """
    words: uint256 = self.supply_data[id]
    supply: uint256 = (words & AMOUNT_MAX) + added
    assert supply <= words >> DECLARED_SHIFT, "ledger: exceeds declared total"
    self.supply_data[id] = words + added
    self.security_data[id] = self._with_holders(sec, holders)
    log HoldingsRegistered(id=id, holdings=n, units=added, actor=msg.sender, doc=doc)


@internal
def _set_encumbered(owner: address, id: uint256):
    """
    @dev Keep the holding's encumbered bit in step with its encumbrance word.
    """
    key: uint256 = self._key(owner, id)
    h: uint256 = self.holding_data[key]
    if encumbrances._is_encumbered(key):
        h |= ENCUMBERED_BIT
    else:
        h &= ~ENCUMBERED_BIT
    self.holding_data[key] = h


@internal
@view
def _balance(owner: address, id: uint256) -> uint256:
    return self.holding_data[self._key(owner, id)] & AMOUNT_MAX


@internal
@view
def _check(
    sender: address,
    receiver: address,
    id: uint256,
    amount: uint256,
    now: uint256,
) -> (uint256, uint256, uint256, uint256):
    """
    @dev Every transfer rule, in order; returns (refusal code, security word,
         sender holding word, receiver holding word). `now` is calendar's
         now word (pause, published, day, trading-day number).
    """
    if now & calendar.NOW_PAUSED != 0:
        return R_PAUSED, 0, 0, 0
    if amount == 0:
        return R_ZERO_AMOUNT, 0, 0, 0
    if receiver == empty(address):
        return R_ZERO_ADDRESS, 0, 0, 0
    if receiver == sender:
        return R_SELF, 0, 0, 0
    sec: uint256 = self.security_data[id]
    status: uint256 = sec & BYTE_MASK
    if status != ACTIVE:
        if status == 0:
            return R_UNKNOWN_SECURITY, 0, 0, 0
        if status == PENDING:
            return R_NOT_SEALED, 0, 0, 0
        if status == SUSPENDED:
            return R_SUSPENDED, 0, 0, 0
        return R_DELISTED, 0, 0, 0
    if now & calendar.NOW_PUBLISHED == 0:
        return R_CALENDAR, 0, 0, 0
    day: uint256 = (now >> calendar.DAY_SHIFT) & calendar.MASK40
    if accounts.account_data[sender] & BYTE_MASK != accounts.ACTIVE:
        return R_SENDER_ACCOUNT, 0, 0, 0
    receiver_data: uint256 = accounts.account_data[receiver]
    # one test on the hot path for "active and qualified"; which one failed only when one did
    if receiver_data & (BYTE_MASK | accounts.QUALIFIED_BIT) != accounts.ACTIVE | accounts.QUALIFIED_BIT:
        if receiver_data & BYTE_MASK != accounts.ACTIVE:
            return R_RECEIVER_ACCOUNT, 0, 0, 0
        return R_NOT_QUALIFIED, 0, 0, 0
    if sec & INSTITUTIONAL_BIT != 0 and (receiver_data >> 8) & BYTE_MASK == accounts.INDIVIDUAL:
        return R_INSTITUTIONAL, 0, 0, 0
    if sec >> MEETING_SHIFT != 0:
        meeting: uint256 = (sec >> MEETING_SHIFT) & MASK32
        record: uint256 = (sec >> RECORD_SHIFT) & MASK32
        if meeting != 0 and day <= meeting and day + MEETING_CLOSED_DAYS >= meeting:
            return R_REGISTER_CLOSED, 0, 0, 0
        if record != 0 and day <= record and day + RECORD_DATE_CLOSED_DAYS >= record:
            return R_REGISTER_CLOSED, 0, 0, 0
    # the security is known, so id < 2**96 and the inline keys are exact
    sh: uint256 = self.holding_data[(convert(sender, uint256) << 96) | id]
    balance: uint256 = sh & AMOUNT_MAX
    if balance < amount:
        return R_BALANCE, 0, 0, 0
    if sh & ENCUMBERED_BIT != 0:
        if amount + encumbrances._locked((convert(sender, uint256) << 96) | id, balance, day) > balance:
            return R_ENCUMBERED, 0, 0, 0
    if day < (sh >> LOCK_SHIFT) & MASK24:
        return R_LOCKED, 0, 0, 0
    if (now >> calendar.TN_SHIFT) & calendar.MASK40 < ((sh >> ACQUIRED_SHIFT) & MASK24) + HOLDING_PERIOD_TRADING_DAYS:
        return R_HOLDING_PERIOD, 0, 0, 0
    if sh & (INSIDER_BIT | FORMER_INSIDER_BIT) != 0:
        insider_code: uint256 = self._insider_refusal(sender, id, sh, balance, amount, day)
        if insider_code != OK:
            return insider_code, 0, 0, 0
    rh: uint256 = self.holding_data[(convert(receiver, uint256) << 96) | id]
    if rh & AMOUNT_MAX == 0 and balance != amount:
        if (sec >> HOLDERS_SHIFT) & MASK32 >= self._cap((sec >> KIND_SHIFT) & BYTE_MASK):
            return R_HOLDER_CAP, 0, 0, 0
    if sec & RESTRICTED_BIT != 0:
        if (sec >> KIND_SHIFT) & BYTE_MASK >= LP_FUND:
            minimum: uint256 = (sec >> FUND_MIN_SHIFT) & AMOUNT_MAX
            # no splitting below the minimum: each side holds nothing or at least it
            if (balance != amount and balance - amount < minimum) or (rh & AMOUNT_MAX) + amount < minimum:
                return R_FUND_MINIMUM, 0, 0, 0
            return R_NEEDS_CONSENT, sec, sh, rh
        if sec & ROFR_BIT != 0 and rh & AMOUNT_MAX == 0:
            return R_NEEDS_NOTICE, sec, sh, rh
    return OK, sec, sh, rh


@internal
@pure
def _reason(code: uint256) -> String[64]:
    if code == R_PAUSED:
        return "ledger: paused"
    if code == R_ZERO_AMOUNT:
        return "ledger: zero amount"
    if code == R_ZERO_ADDRESS:
        return "ledger: zero address"
    if code == R_SELF:
        return "ledger: self transfer"
    if code == R_UNKNOWN_SECURITY:
        return "ledger: unknown security"
    if code == R_NOT_SEALED:
        return "ledger: security not sealed"
    if code == R_SUSPENDED:
        return "ledger: security suspended"
    if code == R_DELISTED:
        return "ledger: security delisted"
    if code == R_CALENDAR:
        return "ledger: calendar not published for today"
    if code == R_SENDER_ACCOUNT:
        return "ledger: sender account not active"
    if code == R_RECEIVER_ACCOUNT:
        return "ledger: receiver account not active"
    if code == R_NOT_QUALIFIED:
        return "ledger: receiver not qualified"
    if code == R_REGISTER_CLOSED:
        return "ledger: register closed"
    if code == R_BALANCE:
        return "ledger: insufficient balance"
    if code == R_LOCKED:
        return "ledger: holding locked up"
    if code == R_HOLDING_PERIOD:
        return "ledger: holding period not met"
    if code == R_INSIDER:
        return "ledger: insider annual limit exceeded"
    if code == R_ENCUMBERED:
        return "ledger: amount exceeds free balance"
    if code == R_INSTITUTIONAL:
        return "ledger: receiver not an institutional investor"
    if code == R_FUND_MINIMUM:
        return "ledger: below the fund's minimum holding"
    if code == R_NEEDS_CONSENT:
        return "ledger: fund transfer needs the manager's consent"
    if code == R_NEEDS_NOTICE:
        return "ledger: transfer to an outsider needs notice"
    if code == R_FORMER_INSIDER:
        return "ledger: former insider within six months of leaving"
    if code == R_HOLDER_CAP:
        return "ledger: holder cap reached"
    return "ledger: unknown refusal"


@internal
@view
def _active_security(id: uint256) -> uint256:
    sec: uint256 = self.security_data[id]
    status: uint256 = sec & BYTE_MASK
    assert status != 0, "ledger: unknown security"
    assert status != PENDING, "ledger: security not sealed"
    assert status == ACTIVE, "ledger: security not active"
    return sec


@internal
@pure
def _key(owner: address, id: uint256) -> uint256:
    # one storage key per (owner, id): the address above 96 bits of id. Every
    # caller passes an id below 2**96 (a registered security's, or checked),
    # so no two holdings share a key.
    return (convert(owner, uint256) << 96) | id


@internal
@pure
def _cap(kind: uint256) -> uint256:
    if kind == LLC or kind == LP_FUND:
        return 50
    if kind == JSC or kind == CONTRACT_FUND:
        return 200
    return 0


@internal
@pure
def _with_holders(sec: uint256, holders: uint256) -> uint256:
    return (sec & ~(MASK32 << HOLDERS_SHIFT)) | (holders << HOLDERS_SHIFT)


@internal
@view
def _insider_refusal(owner: address, id: uint256, h: uint256, balance: uint256, amount: uint256, day: uint256) -> uint256:
    """
    @dev An insider's 25 % a year and a former insider's six months (art 160)
         for holding word `h`: R_INSIDER, R_FORMER_INSIDER or OK.
    """
    q: uint256 = self.insider_quota[self._key(owner, id)]
    if h & FORMER_INSIDER_BIT != 0 and day <= (q >> LEFT_SHIFT) & MASK32:
        return R_FORMER_INSIDER
    if h & INSIDER_BIT != 0:
        base: uint256 = balance
        used: uint256 = 0
        if q & MASK16 == self._year_of(day):
            base = (q >> 16) & AMOUNT_MAX
            used = (q >> 112) & AMOUNT_MAX
        if (used + amount) * 100 > base * INSIDER_ANNUAL_PERCENT:
            return R_INSIDER
    return OK


@internal
def _insider_dispose(owner: address, id: uint256, balance: uint256, amount: uint256, day: uint256):
    year: uint256 = self._year_of(day)
    q: uint256 = self.insider_quota[self._key(owner, id)]
    base: uint256 = balance
    used: uint256 = 0
    if q & MASK16 == year:
        base = (q >> 16) & AMOUNT_MAX
        used = (q >> 112) & AMOUNT_MAX
    # the former-insider day above bit 208 stays
    self.insider_quota[self._key(owner, id)] = (q & ~LOW_208) | year | (base << 16) | ((used + amount) << 112)


@internal
def _insider_snapshot(owner: address, id: uint256, balance_before: uint256, day: uint256):
    # the first change of an insider's holding in a year fixes its start-of-year base
    year: uint256 = self._year_of(day)
    q: uint256 = self.insider_quota[self._key(owner, id)]
    if q & MASK16 != year:
        self.insider_quota[self._key(owner, id)] = (q & ~LOW_208) | year | (balance_before << 16)


@internal
@pure
def _civil(day: uint256) -> (uint256, uint256, uint256):
    # (year, month 1..12, day of month) of a day number (days since 1970-01-01),
    # proleptic Gregorian (H. Hinnant's civil_from_days)
    z: uint256 = day + 719468
    era: uint256 = z // 146097
    doe: uint256 = z - era * 146097
    yoe: uint256 = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy: uint256 = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp: uint256 = (5 * doy + 2) // 153
    d: uint256 = doy - (153 * mp + 2) // 5 + 1
    if mp >= 10:
        return yoe + era * 400 + 1, mp - 9, d
    return yoe + era * 400, mp + 3, d


@internal
@pure
def _year_of(day: uint256) -> uint256:
    return self._civil(day)[0]


@internal
@pure
def _months_later(day: uint256, months: uint256) -> uint256:
    """
    @dev The day `months` calendar months after `day`: the same day of the
         month, or the month's last day (Civil Code art 202: a period in
         months ends on the corresponding day).
    """
    y: uint256 = 0
    m: uint256 = 0
    d: uint256 = 0
    y, m, d = self._civil(day)
    t: uint256 = y * 12 + m - 1 + months
    y = t // 12
    m = t % 12 + 1
    last: uint256 = 31
    if m == 2:
        last = 28
        if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
            last = 29
    elif m == 4 or m == 6 or m == 9 or m == 11:
        last = 30
    d = min(d, last)
    # days_from_civil
    if m <= 2:
        y -= 1
        m += 9
    else:
        m -= 3
    era: uint256 = y // 400
    yoe: uint256 = y - era * 400
    doe: uint256 = yoe * 365 + yoe // 4 - yoe // 100 + (153 * m + 2) // 5 + d - 1
    return era * 146097 + doe - 719468
