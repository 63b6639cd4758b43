# pragma version 0.4.3
"""
@title ledger
@notice The transfer core: every security of the market in one contract, as
        ids of an ERC-6909 multi-token, its holdings and balances, and the
        register's transfer rules enforced on every path that moves units:
        accounts, qualification, holder caps, the 5-trading-day holding period,
        lock-ups, insiders' 25 % a year, register-closing windows, security
        status and the pause. Register serves all of it (transfers and views).
        The administrative functions that write this storage live in modules
        of their own, each served whole by one desk: registration.vy (initial
        registration, AdminDesk), corporate_actions.vy (capital changes,
        status, lock-ups, insiders, closures, transfer terms; IssuanceDesk),
        recovery.vy (lost keys, AdminDesk), pledges.vy, freezes.vy,
        instructions.vy and auctions.vy.
@dev This module keeps the storage of securities and holdings (the others
     keep none of their own and write it through `uses: ledger`). Storage is
     packed so a transfer between two existing holders touches six slots: the
     clock (pause + today's trading-day number), the security word,
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
     fund minimum holding; see corporate_actions.set_transfer_terms).
"""

from . import calendar
from . import accounts
from . import encumbrances

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

# Most items one batch may write (registration, capital changes, recovery; each
# fits a 30M-gas block with margin).
MAX_BATCH: constant(uint256) = 200
# Largest balance or supply of one security: 2**96 - 1 smallest units.
AMOUNT_MAX: constant(uint256) = (1 << 96) - 1
BYTE_MASK: constant(uint256) = 255
MASK16: constant(uint256) = 65535
LOW_192: constant(uint256) = (1 << 192) - 1
MASK24: constant(uint256) = (1 << 24) - 1
MASK32: constant(uint256) = (1 << 32) - 1

# rules
HOLDING_PERIOD_TRADING_DAYS: constant(uint256) = 5
INSIDER_ANNUAL_PERCENT: constant(uint256) = 25
MEETING_CLOSED_DAYS: constant(uint256) = 20
RECORD_DATE_CLOSED_DAYS: constant(uint256) = 5

# holding word
PAID_SHIFT: constant(uint256) = 96
ACQUIRED_SHIFT: constant(uint256) = 192
LOCK_SHIFT: constant(uint256) = 216
INSIDER_SHIFT: constant(uint256) = 240
INSIDER_BIT: constant(uint256) = 1 << INSIDER_SHIFT
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

# A holding written or increased (initial registration, a capital increase), with its
# rarer terms in events of their own (registration.vy, corporate_actions.vy).
event Issued:
    receiver: indexed(address)
    id: indexed(uint256)
    amount: uint256
    paid: uint256
    acquired_day: uint256

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
