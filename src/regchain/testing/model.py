"""A plain-Python model of the register: what the contracts should hold after
any sequence of operations, and why they should refuse one.

The model mirrors contracts/modules/{calendar,accounts,ledger,registration,
corporate_actions,recovery}.vy operation by operation, with no chain, no gas
and no ape, so that the stateful test (tests/test_stateful.py) and faster
harnesses can share it:

* every state-changing operation either applies in full or raises `Refused`
  carrying the exact revert string the contract gives, checked in the
  contract's order (a batch that fails half-way leaves the model untouched, as
  a revert leaves the chain);
* `check_transfer` returns the refusal reason of a transfer, in the order of
  ledger.vy `_check` (regchain.constants.TRANSFER_REASONS), or None;
* the views (`holding_view`, `security_view`, `account_view`, ...) return
  what the contract's views of the same name return.

Roles are not modelled for the register's own operations: they assume an
authorised caller (the registrar, the issuer agent, governance). The
encumbrance and instruction operations take the `caller`, since who acts is
part of their rules (the pledgee, the court agent, the fund manager, the
seller ...): `roles` maps addresses to global Role flags and `fund_managers`
names the manager of each fund.

Pledges and freezes (pledges.vy, freezes.vy, encumbrances.vy) are kept per
holding: the accepted pledges in rank order with their pledged total, and the
open freezes in registration order with the persisted "has taken effect" flag;
`_evaluate` is the claim rule of encumbrances.vy (each open freeze claims, in
registration order, what is neither pledged nor claimed before it), and
`_encumbered` = pledged + claimed is what `check_transfer` refuses to move
("ledger: amount exceeds free balance"). Enforcement by the pledgee is a
transfer under `check_transfer` (the fund manager's consent from
`consent_enforcement`); by the court agent, and court transfers, it is
`_court_move`. `recover` refuses a target that holds anything. Transfer instructions
(instructions.vy) keep their stage, acceptance, consent, exercisers and the
cash they escrow; cash-token balances, the register's escrow and pull refunds
are modelled per token. One-way bidding (auctions.vy) keeps each listing
(seller, units, reserve, window, consent, best bid, status): a bid escrows,
the beaten best bid is credited for a pull refund, the close settles the best
bid under every transfer rule or fails and refunds it, and `open_escrow`
counts the best bid of every open listing, so escrowed = open escrows +
pending refunds covers bids too.

Where the contract deviates from the issue the model follows the contract and
the deviation is pinned by a strict xfail test: a bid is refused for the
bidder's account, qualification or institutional status only when that is
the first failing transfer rule of seller -> bidder (`bid_refusal`;
tests/test_bidding_spec.py).

Addresses are compared case-insensitively (stored lower-case).
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, field

from regchain.calendar import year_of
from regchain.constants import (
    AMOUNT_MAX,
    HOLDER_CAP,
    HOLDING_PERIOD_TRADING_DAYS,
    INSIDER_ANNUAL_PERCENT,
    MAX_BATCH,
    MEETING_CLOSED_DAYS,
    RECORD_DATE_CLOSED_DAYS,
    TRANSFER_REASONS,
    MAX_FREEZES,
    MAX_RECOVER_ENCUMBERED,
    MAX_PLEDGES,
    AccountStatus,
    FreezeStatus,
    InstructionStage,
    InvestorClass,
    Kind,
    ListingStatus,
    PledgeStatus,
    Role,
    SecurityStatus,
)

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_BYTES32 = b"\x00" * 32
MASK24 = (1 << 24) - 1
MASK32 = (1 << 32) - 1
MAX_UNIT_SCALE = 18
CALENDAR_MAX_PUBLISH_DAYS = 400
CALENDAR_MAX_AMEND_WORDS = 32
CALENDAR_DAYS_PER_WORD = 224


class Reason:
    """The transfer refusals by name (revert strings of ledger.vy `_reason`)."""

    PAUSED = "ledger: paused"
    ZERO_AMOUNT = "ledger: zero amount"
    ZERO_ADDRESS = "ledger: zero address"
    SELF = "ledger: self transfer"
    UNKNOWN_SECURITY = "ledger: unknown security"
    NOT_SEALED = "ledger: security not sealed"
    SUSPENDED = "ledger: security suspended"
    DELISTED = "ledger: security delisted"
    CALENDAR = "ledger: calendar not published for today"
    SENDER_ACCOUNT = "ledger: sender account not active"
    RECEIVER_ACCOUNT = "ledger: receiver account not active"
    NOT_QUALIFIED = "ledger: receiver not qualified"
    INSTITUTIONAL = "ledger: receiver not an institutional investor"
    REGISTER_CLOSED = "ledger: register closed"
    FORMER_INSIDER = "ledger: former insider within six months of leaving"
    BALANCE = "ledger: insufficient balance"
    ENCUMBERED = "ledger: amount exceeds free balance"
    LOCKED = "ledger: holding locked up"
    HOLDING_PERIOD = "ledger: holding period not met"
    INSIDER = "ledger: insider annual limit exceeded"
    HOLDER_CAP = "ledger: holder cap reached"
    FUND_MINIMUM = "ledger: below the fund's minimum holding"
    NEEDS_CONSENT = "ledger: fund transfer needs the manager's consent"
    NEEDS_NOTICE = "ledger: transfer to an outsider needs notice"


# `check_transfer` tests them in this order; it must be the contract's.
_CHECK_ORDER = (
    Reason.PAUSED, Reason.ZERO_AMOUNT, Reason.ZERO_ADDRESS, Reason.SELF, Reason.UNKNOWN_SECURITY,
    Reason.NOT_SEALED, Reason.SUSPENDED, Reason.DELISTED, Reason.CALENDAR, Reason.SENDER_ACCOUNT,
    Reason.RECEIVER_ACCOUNT, Reason.NOT_QUALIFIED, Reason.INSTITUTIONAL, Reason.REGISTER_CLOSED,
    Reason.BALANCE, Reason.ENCUMBERED, Reason.LOCKED, Reason.HOLDING_PERIOD, Reason.FORMER_INSIDER,
    Reason.INSIDER,
    Reason.HOLDER_CAP, Reason.FUND_MINIMUM, Reason.NEEDS_CONSENT, Reason.NEEDS_NOTICE,
)
assert _CHECK_ORDER == tuple(TRANSFER_REASONS), "model: transfer reasons out of step with constants"


class Refused(Exception):
    """The contract would revert; `reason` is its exact revert string."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise Refused(reason)


def _addr(address) -> str:
    return str(getattr(address, "address", address)).lower()


# ------------------------------------------------------------------ state


class _Record:
    """A record of the state: its fields hold plain values (ints, bools, strs, bytes, tuples
    of them), but for those `_CONTAINERS` names, which hold a list or set of plain values."""

    _CONTAINERS: tuple[str, ...] = ()


def _copied(record: _Record) -> _Record:
    """A deep copy of a record (the model's undo, `RegisterModel._atomic`): its fields copied,
    its containers one level down; what copy.deepcopy makes, in a tenth of the time."""
    c = object.__new__(record.__class__)
    fields = c.__dict__ = record.__dict__.copy()
    for name in record._CONTAINERS:
        fields[name] = fields[name].copy()
    return c


def _copied_records(records: dict) -> dict:
    return {k: _copied(r) for k, r in records.items()}


def _copied_lists(lists: dict) -> dict:
    return {k: v.copy() for k, v in lists.items()}


def _same(value):
    return value


@dataclass
class Calendar:
    """The published trading calendar: days epoch_day..horizon_day, of which
    `trading_days` (sorted) trade. horizon_day 0 = nothing published."""

    epoch_day: int = 0
    horizon_day: int = 0
    trading_days: list[int] = field(default_factory=list)

    def copy(self) -> "Calendar":
        # a list of ints: a plain copy is a deep one (deepcopy would visit each day)
        return Calendar(self.epoch_day, self.horizon_day, list(self.trading_days))

    def __deepcopy__(self, memo) -> "Calendar":
        return self.copy()

    def is_published(self, day: int) -> bool:
        return self.horizon_day != 0 and day <= self.horizon_day

    def is_trading_day(self, day: int) -> bool:
        if day < self.epoch_day or day > self.horizon_day:
            return False
        i = bisect.bisect_left(self.trading_days, day)
        return i < len(self.trading_days) and self.trading_days[i] == day

    def trading_day_number(self, day: int) -> int:
        """Trading days from the epoch up to and including `day` (calendar.vy)."""
        if day < self.epoch_day:
            return 0
        _require(day <= self.horizon_day, "calendar: day not published")
        return bisect.bisect_right(self.trading_days, day)

    def publish(self, first_day: int, last_day: int, trading_days: list[int]) -> None:
        _require(last_day >= first_day, "calendar: empty range")
        _require(last_day - first_day < CALENDAR_MAX_PUBLISH_DAYS, "calendar: range too long")
        _require(last_day < (1 << 24), "calendar: day out of range")
        if self.horizon_day == 0:
            _require(first_day > 0, "calendar: day out of range")
        else:
            _require(first_day == self.horizon_day + 1, "calendar: range must start after the horizon")
        previous = 0
        for d in trading_days:
            _require(first_day <= d <= last_day, "calendar: trading day outside range")
            _require(d > previous, "calendar: trading days not increasing")
            previous = d
        if self.horizon_day == 0:
            self.epoch_day = first_day
        self.trading_days.extend(trading_days)
        self.horizon_day = last_day

    def amend(self, day: int, trading: bool, today: int) -> None:
        _require(day > today, "calendar: only future days can be amended")
        _require(day <= self.horizon_day, "calendar: day not published")
        _require(
            self.horizon_day // CALENDAR_DAYS_PER_WORD - day // CALENDAR_DAYS_PER_WORD
            <= CALENDAR_MAX_AMEND_WORDS,
            "calendar: amendment too far ahead",
        )
        _require(self.is_trading_day(day) != trading, "calendar: day already has that status")
        if trading:
            bisect.insort(self.trading_days, day)
        else:
            self.trading_days.remove(day)


@dataclass
class Account(_Record):
    status: int = AccountStatus.UNOPENED
    investor_class: int = 0
    qualified: bool = False
    identity: bytes = ZERO_BYTES32


@dataclass
class Security(_Record):
    kind: int
    unit_scale: int
    declared_total: int
    code_hash: bytes
    status: int = SecurityStatus.PENDING
    total_supply: int = 0
    meeting_day: int = 0
    record_day: int = 0
    # transfer terms (corporate_actions.vy set_transfer_terms); LLC: first refusal by default
    first_refusal: bool = False
    institutional_only: bool = False
    fund_minimum: int = 0
    # addresses (lower-case) with a non-zero balance
    holders: set[str] = field(default_factory=set)

    _CONTAINERS = ("holders",)

    @property
    def holder_count(self) -> int:
        return len(self.holders)

    @property
    def holder_cap(self) -> int:
        return HOLDER_CAP[self.kind]  # IntEnum keys: an int kind finds its Kind


@dataclass
class Holding(_Record):
    """One holding word. `paid` is the stored paid-in field (LLC only; 0 for
    other kinds, whose view reports paid = balance). `acquired` is the
    trading-day number of the last acquisition."""

    balance: int = 0
    paid: int = 0
    acquired: int = 0
    lock_until_day: int = 0
    insider: bool = False
    # last day of a former insider's six months (0: never left office)
    left_until_day: int = 0


def freeze_claims(free: int, freezes: list[tuple[int, int]], today: int) -> tuple[int, int]:
    """(units claimed, bit mask of the freezes claiming all their units) of freezes
    (expiry day, units) in registration order on a holding with `free` units neither
    pledged nor claimed before them, on `today`: lapsed ones (expiry < today) claim
    nothing; each claims what is left, up to its units (encumbrances.vy `_evaluate`)."""
    total = mask = 0
    for i, (expiry, units) in enumerate(freezes):
        if expiry < today:
            continue
        claim = min(units, free - total)
        total += claim
        if claim == units:
            mask |= 1 << i
    return total, mask


def months_later(day: int, months: int) -> int:
    """ledger.vy `_months_later`: the corresponding day `months` later (or the month's last day)."""
    d = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    t = d.year * 12 + d.month - 1 + months
    y, m = divmod(t, 12)
    m += 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return (dt.date(y, m, min(d.day, last)) - dt.date(1970, 1, 1)).days


FUND_MINIMUM_UNITS = 10**6
MAX_TERM_MONTHS = 36
INSIDER_LEFT_MONTHS = 6


@dataclass
class PledgeRec(_Record):
    """pledge_of(pledge_id) without the times and documents: `seq` is the
    shared registration sequence (0 until accepted), which ranks as the
    registration time does (block times never decrease)."""

    pledgor: str
    pledgee: str
    id: int
    units: int
    seq: int = 0
    status: int = PledgeStatus.OFFERED

    def view(self) -> tuple:
        return (self.pledgor, self.pledgee, self.id, self.units, self.seq, self.status)


@dataclass
class FreezeRec(_Record):
    owner: str
    id: int
    units: int
    expiry_day: int
    seq: int
    status: int = FreezeStatus.OPEN
    # bit 192 of its freeze word: persisted by every write that settles the queue
    taken_effect: bool = False

    def view(self) -> tuple:
        return (self.owner, self.id, self.units, self.seq, self.expiry_day, self.status)


@dataclass
class InstructionRec(_Record):
    seller: str
    buyer: str
    id: int
    units: int
    price: int
    cash: str
    stage: int
    court_ordered: bool
    notice_end_day: int
    expiry_day: int
    buyer_accepted: bool = False
    consented: bool = False
    exercisers: list[str] = field(default_factory=list)

    _CONTAINERS = ("exercisers",)

    def view(self) -> tuple:
        """instruction_of without the document."""
        return (self.seller, self.buyer, self.id, self.units, self.price, self.cash, self.stage,
                self.court_ordered, self.buyer_accepted, self.consented, self.notice_end_day, self.expiry_day)


@dataclass
class ListingRec(_Record):
    """listing_of(listing_id) without the document (auctions.vy)."""

    seller: str
    id: int
    units: int
    reserve: int
    cash: str
    end_day: int
    listed_day: int
    consented: bool = False
    best_bidder: str = ZERO_ADDRESS
    best_amount: int = 0
    status: int = ListingStatus.OPEN

    def view(self) -> tuple:
        return (self.seller, self.id, self.units, self.reserve, self.cash, self.end_day, self.listed_day,
                self.consented, self.best_bidder, self.best_amount, int(self.status))


@dataclass
class InsiderQuota(_Record):
    year: int = 0
    base: int = 0
    used: int = 0


# ------------------------------------------------------------------ the model


class RegisterModel:
    """The register's state and every operation on it (see module docstring)."""

    def __init__(self, today: int, calendar: Calendar | None = None):
        # the clock: today's market-local day number
        self.today = today
        self.paused = False
        self.calendar = calendar if calendar is not None else Calendar()
        self.accounts: dict[str, Account] = {}
        self.securities: dict[int, Security] = {}
        self.holdings: dict[tuple[str, int], Holding] = {}
        self.insider_quota: dict[tuple[str, int], InsiderQuota] = {}
        self.security_ids: dict[bytes, int] = {}
        # who holds which global role (roles.vy), and each fund's manager(s)
        self.roles: dict[str, int] = {}
        self.fund_managers: dict[int, set[str]] = {}
        # pledges and freezes (ids continue the chain's counters)
        self.pledges: dict[int, PledgeRec] = {}
        self.freezes: dict[int, FreezeRec] = {}
        self.pledge_ids: dict[tuple[str, int], list[int]] = {}   # rank order
        self.pledged: dict[tuple[str, int], int] = {}
        # the fund manager's consent to a pledgee's enforcement: pledge id -> (receiver, units)
        self.enforcement_consents: dict[int, tuple[str, int]] = {}
        self.freeze_queue: dict[tuple[str, int], list[int]] = {}  # registration order
        self.pledge_count = 0
        self.freeze_count = 0
        self.registration_seq = 0
        # transfer instructions and cash
        self.instructions: dict[int, InstructionRec] = {}
        self.instruction_count = 0
        self.cash_tokens: set[str] = set()
        self.cash: dict[tuple[str, str], int] = {}       # (token, holder) -> token balance
        self.escrowed: dict[str, int] = {}               # token -> the register's escrow
        self.refunds: dict[tuple[str, str], int] = {}    # (token, holder) -> pending refund
        self.register_address = ZERO_ADDRESS
        # one-way bidding (auctions.vy)
        self.listings: dict[int, ListingRec] = {}
        self.listing_count = 0

    # The state `_atomic` saves and restores, and how it copies each part (deeply: what
    # copy.deepcopy would make): plain values as they are, the calendar, dicts of records
    # (`_Record`), dicts of lists of plain values, dicts of plain values.
    _STATE_COPY = {
        "paused": _same, "calendar": Calendar.copy, "accounts": _copied_records, "securities": _copied_records,
        "holdings": _copied_records, "insider_quota": _copied_records, "security_ids": dict.copy,
        "pledges": _copied_records, "freezes": _copied_records, "pledge_ids": _copied_lists,
        "pledged": dict.copy, "enforcement_consents": dict.copy, "freeze_queue": _copied_lists,
        "pledge_count": _same, "freeze_count": _same, "registration_seq": _same,
        "instructions": _copied_records, "instruction_count": _same, "cash": dict.copy, "escrowed": dict.copy,
        "refunds": dict.copy, "listings": _copied_records, "listing_count": _same,
    }
    _STATE = tuple(_STATE_COPY)

    # ------------------------------------------------------------- helpers

    @contextmanager
    def _atomic(self):
        """Undo every change of the block if it raises (a revert)."""
        saved = [copy_(getattr(self, name)) for name, copy_ in self._STATE_COPY.items()]
        try:
            yield
        except BaseException:
            for name, value in zip(self._STATE, saved):
                setattr(self, name, value)
            raise

    def _holding(self, owner, id: int) -> Holding:
        """The holding, created empty if absent (for writing)."""
        key = (_addr(owner), id)
        h = self.holdings.get(key)
        if h is None:
            h = self.holdings[key] = Holding()
        return h

    def _set_balance(self, owner, id: int, balance: int) -> None:
        h = self._holding(owner, id)
        h.balance = balance
        holders = self.securities[id].holders
        if balance:
            holders.add(_addr(owner))
        else:
            holders.discard(_addr(owner))

    def _today_number(self) -> int:
        return self.calendar.trading_day_number(self.today)

    def _not_paused(self, module: str) -> None:
        _require(not self.paused, f"{module}: paused")

    # ------------------------------------------------------------- views

    def account(self, wallet) -> Account:
        return self.accounts.get(_addr(wallet), Account())

    def account_view(self, wallet) -> tuple:
        a = self.account(wallet)
        return (int(a.status), a.investor_class, a.qualified, a.identity)

    def holding(self, owner, id: int) -> Holding:
        return self.holdings.get((_addr(owner), id), Holding())

    def holding_view(self, owner, id: int) -> tuple:
        """As the contract's holding(): (balance, paid, acquired, lock, insider)."""
        h = self.holding(owner, id)
        sec = self.securities.get(id)
        paid = h.paid if sec is not None and sec.kind == Kind.LLC else h.balance
        return (h.balance, paid, h.acquired, h.lock_until_day, h.insider)

    def balance_of(self, owner, id: int) -> int:
        return self.holding(owner, id).balance

    def total_supply(self, id: int) -> int:
        sec = self.securities.get(id)
        return sec.total_supply if sec else 0

    def holder_count(self, id: int) -> int:
        sec = self.securities.get(id)
        return sec.holder_count if sec else 0

    def holder_cap(self, id: int) -> int:
        sec = self.securities.get(id)
        return sec.holder_cap if sec else 0

    def security_view(self, id: int) -> tuple:
        """As the contract's security(id)."""
        sec = self.securities.get(id)
        if sec is None:
            return (0, 0, 0, 0, 0, 0, 0, 0, 0, ZERO_BYTES32)
        return (
            int(sec.status), int(sec.kind), sec.unit_scale, sec.holder_count, sec.holder_cap,
            sec.meeting_day, sec.record_day, sec.total_supply, sec.declared_total, sec.code_hash,
        )

    def insider_quota_of(self, owner, id: int) -> tuple[int, int, int]:
        q = self.insider_quota.get((_addr(owner), id), InsiderQuota())
        return (q.year, q.base, q.used)

    @property
    def security_count(self) -> int:
        return len(self.securities)

    # ------------------------------------------------------------- clock

    def advance_days(self, days: int) -> None:
        self.today += days

    def pause(self) -> None:
        _require(not self.paused, "calendar: already paused")
        self.paused = True

    def unpause(self) -> None:
        _require(self.paused, "calendar: not paused")
        self.paused = False

    def publish_calendar(self, first_day: int, last_day: int, trading_days: list[int]) -> None:
        self._not_paused("calendar")
        with self._atomic():
            self.calendar.publish(first_day, last_day, list(trading_days))

    def amend_calendar(self, day: int, trading: bool) -> None:
        self._not_paused("calendar")
        self.calendar.amend(day, trading, self.today)

    # ------------------------------------------------------------- accounts

    def open_account(self, wallet, identity: bytes, investor_class: int, qualified: bool) -> None:
        self._not_paused("accounts")
        self._open(wallet, identity, investor_class, qualified)

    def open_accounts(self, batch) -> None:
        """batch: iterable of (wallet, identity, investor_class, qualified)."""
        batch = list(batch)
        self._not_paused("accounts")
        _require(len(batch) != 0, "accounts: empty batch")
        _require(len(batch) <= MAX_BATCH, "accounts: batch too large")
        with self._atomic():
            for wallet, identity, investor_class, qualified in batch:
                self._open(wallet, identity, investor_class, qualified)

    def _open(self, wallet, identity: bytes, investor_class: int, qualified: bool) -> None:
        _require(_addr(wallet) != ZERO_ADDRESS, "accounts: zero address")
        _require(bytes(identity) != ZERO_BYTES32, "accounts: zero identity")
        _require(1 <= investor_class <= 3, "accounts: unknown investor class")
        _require(self.account(wallet).status == AccountStatus.UNOPENED, "accounts: account exists")
        self.accounts[_addr(wallet)] = Account(
            AccountStatus.ACTIVE, int(investor_class), bool(qualified), bytes(identity)
        )

    def suspend_account(self, wallet) -> None:
        self._set_status(wallet, AccountStatus.ACTIVE, AccountStatus.SUSPENDED,
                         "accounts: account not active")

    def reactivate_account(self, wallet) -> None:
        self._set_status(wallet, AccountStatus.SUSPENDED, AccountStatus.ACTIVE,
                         "accounts: account not suspended")

    def _set_status(self, wallet, expected: int, status: int, refusal: str) -> None:
        self._not_paused("accounts")
        a = self.account(wallet)
        _require(a.status != AccountStatus.UNOPENED, "accounts: unknown account")
        _require(a.status == expected, refusal)
        a.status = status

    def close_account(self, wallet) -> None:
        self._not_paused("accounts")
        a = self.account(wallet)
        _require(a.status != AccountStatus.UNOPENED, "accounts: unknown account")
        _require(a.status != AccountStatus.CLOSED, "accounts: account closed")
        a.status = AccountStatus.CLOSED

    def set_qualified(self, wallet, qualified: bool) -> None:
        self._not_paused("accounts")
        a = self.account(wallet)
        _require(a.status != AccountStatus.UNOPENED, "accounts: unknown account")
        _require(a.status != AccountStatus.CLOSED, "accounts: account closed")
        _require(a.qualified != qualified, "accounts: qualification unchanged")
        a.qualified = bool(qualified)

    # ------------------------------------------------------------- securities

    def register_security(self, code_hash: bytes, kind: int, unit_scale: int, declared_total: int) -> int:
        """Returns the new id."""
        self._not_paused("registration")
        code_hash = bytes(code_hash)
        _require(code_hash != ZERO_BYTES32, "registration: zero code hash")
        _require(code_hash not in self.security_ids, "registration: security code already registered")
        _require(1 <= kind <= 4, "registration: unknown kind")
        _require(unit_scale <= MAX_UNIT_SCALE, "registration: unit scale too large")
        _require(declared_total != 0, "registration: zero amount")
        _require(declared_total <= AMOUNT_MAX, "registration: amount too large")
        id = len(self.securities) + 1
        fund = int(kind) >= Kind.LP_FUND
        self.securities[id] = Security(int(kind), int(unit_scale), declared_total, code_hash,
                                       first_refusal=int(kind) == Kind.LLC, institutional_only=fund,
                                       fund_minimum=FUND_MINIMUM_UNITS * 10**int(unit_scale) if fund else 0)
        self.security_ids[code_hash] = id
        return id

    def set_transfer_terms(self, id: int, first_refusal: bool, institutional_only: bool,
                           fund_minimum: int) -> None:
        self._not_paused("corporate_actions")
        sec = self._security(id, "corporate_actions")
        _require(fund_minimum == 0 or sec.kind >= Kind.LP_FUND, "corporate_actions: minimum holding is for funds")
        _require(fund_minimum != 0 or sec.kind < Kind.LP_FUND, "corporate_actions: fund has no minimum holding")
        _require(fund_minimum <= AMOUNT_MAX, "corporate_actions: amount too large")
        sec.first_refusal, sec.institutional_only, sec.fund_minimum = (
            bool(first_refusal), bool(institutional_only), int(fund_minimum))

    def _security(self, id: int, module: str) -> Security:
        """The registered security `id`, or `module`'s refusal (the check is written
        in each module that serves the operation)."""
        sec = self.securities.get(id)
        _require(sec is not None, f"{module}: unknown security")
        return sec

    def _active_security(self, id: int) -> Security:
        """ledger.vy `_active_security` (the capital changes call it)."""
        sec = self._security(id, "ledger")
        _require(sec.status != SecurityStatus.PENDING, "ledger: security not sealed")
        _require(sec.status == SecurityStatus.ACTIVE, "ledger: security not active")
        return sec

    def register_holdings(self, id: int, batch) -> None:
        """batch: iterable of (holder, units, paid, acquired_day, lock_until_day, insider)."""
        batch = list(batch)
        self._not_paused("registration")
        _require(len(batch) != 0, "registration: empty batch")
        _require(len(batch) <= MAX_BATCH, "registration: batch too large")
        sec = self._security(id, "registration")
        _require(sec.status == SecurityStatus.PENDING, "registration: security already sealed")
        with self._atomic():
            sec = self.securities[id]
            for holder, units, paid, acquired_day, lock_until_day, insider in batch:
                _require(_addr(holder) != ZERO_ADDRESS, "registration: zero address")
                _require(units != 0, "registration: zero amount")
                _require(units <= AMOUNT_MAX, "registration: amount too large")
                _require(paid <= units, "registration: paid exceeds units")
                _require(acquired_day <= self.today, "registration: acquired in the future")
                _require(lock_until_day <= MASK24, "registration: day out of range")
                _require(self.account(holder).status == AccountStatus.ACTIVE,
                         "registration: holder account not active")
                _require(self.holding(holder, id).balance == 0, "registration: holding already registered")
                _require(sec.holder_count + 1 <= sec.holder_cap, "registration: holder cap reached")
                tn = self.calendar.trading_day_number(acquired_day)
                # the whole word is written: earlier lock-up or insider flag is replaced
                self.holdings[(_addr(holder), id)] = Holding(
                    units, paid if sec.kind == Kind.LLC else 0, tn, lock_until_day, bool(insider)
                )
                sec.holders.add(_addr(holder))
                sec.total_supply += units
            _require(sec.total_supply <= sec.declared_total, "registration: exceeds declared total")

    def seal_security(self, id: int) -> None:
        self._not_paused("registration")
        sec = self._security(id, "registration")
        _require(sec.status == SecurityStatus.PENDING, "registration: security already sealed")
        _require(sec.total_supply == sec.declared_total,
                 "registration: holdings do not add up to the declared total")
        _require(sec.kind < Kind.LP_FUND or sec.fund_minimum != 0, "registration: fund has no minimum holding")
        sec.status = SecurityStatus.ACTIVE

    def set_security_status(self, id: int, status: int) -> None:
        self._not_paused("corporate_actions")
        sec = self._security(id, "corporate_actions")
        _require(sec.status != SecurityStatus.PENDING, "corporate_actions: security not sealed")
        _require(sec.status != SecurityStatus.DELISTED, "corporate_actions: security delisted")
        _require(status in (SecurityStatus.ACTIVE, SecurityStatus.SUSPENDED, SecurityStatus.DELISTED),
                 "corporate_actions: invalid status")
        _require(status != sec.status, "corporate_actions: status unchanged")
        sec.status = int(status)

    def increase_capital(self, id: int, batch, waiver: bytes = ZERO_BYTES32) -> None:
        """batch: iterable of (holder, units, paid); `waiver`: the LLC pre-emption waiver's hash."""
        batch = list(batch)
        self._not_paused("corporate_actions")
        _require(len(batch) != 0, "corporate_actions: empty batch")
        _require(len(batch) <= MAX_BATCH, "corporate_actions: batch too large")
        sec = self._active_security(id)
        _require(self.calendar.is_published(self.today), "corporate_actions: calendar not published for today")
        if sec.kind == Kind.LLC and bytes(waiver) == ZERO_BYTES32:
            self._check_preemption(id, batch)
        tn = self._today_number()
        with self._atomic():
            sec = self.securities[id]
            for holder, units, paid in batch:
                _require(_addr(holder) != ZERO_ADDRESS, "corporate_actions: zero address")
                _require(units != 0, "corporate_actions: zero amount")
                _require(units <= AMOUNT_MAX, "corporate_actions: amount too large")
                _require(paid <= units, "corporate_actions: paid exceeds units")
                account = self.account(holder)
                _require(account.status == AccountStatus.ACTIVE, "corporate_actions: holder account not active")
                h = self._holding(holder, id)
                if h.balance == 0:
                    _require(account.qualified, "corporate_actions: subscriber not qualified")
                    _require(sec.holder_count + 1 <= sec.holder_cap, "corporate_actions: holder cap reached")
                if sec.institutional_only:
                    _require(account.investor_class != InvestorClass.INDIVIDUAL,
                             "corporate_actions: subscriber not an institutional investor")
                if h.insider:
                    self._insider_snapshot(holder, id, h.balance)
                _require(h.balance + units <= AMOUNT_MAX, "corporate_actions: amount too large")
                if sec.kind >= Kind.LP_FUND:
                    _require(h.balance + units >= sec.fund_minimum, "corporate_actions: below the fund's minimum holding")
                self._set_balance(holder, id, h.balance + units)
                h.paid = h.paid + paid if sec.kind == Kind.LLC else 0
                h.acquired = tn
                sec.total_supply += units
            _require(sec.total_supply <= AMOUNT_MAX, "corporate_actions: amount too large")
            sec.declared_total = sec.total_supply

    def _check_preemption(self, id: int, batch) -> None:
        """corporate_actions.vy `_check_preemption` (Company Law art 227)."""
        sec = self.securities[id]
        _require(len(batch) == sec.holder_count, "corporate_actions: pre-emption: every shareholder must be offered")
        last = 0
        for holder, _units, _paid in batch:
            _require(int(_addr(holder), 16) > last, "corporate_actions: pre-emption: subscribers not in ascending order")
            last = int(_addr(holder), 16)
            _require(self.holding(holder, id).balance != 0, "corporate_actions: pre-emption: outsider needs a waiver")
        hs = [self.holding(holder, id) for holder, _, _ in batch]
        total_paid = sum(h.paid for h in hs)
        basis = total_paid or sum(h.balance for h in hs)
        added = sum(u for _, u, _ in batch)
        for (holder, units, _paid), h in zip(batch, hs):
            part = h.paid if total_paid else h.balance
            _require(units * basis < added * part + basis, "corporate_actions: pre-emption: subscription above pro-rata share")

    def decrease_capital(self, id: int, batch) -> None:
        """batch: iterable of (holder, units). Unpaid LLC units go first."""
        batch = list(batch)
        self._not_paused("corporate_actions")
        _require(len(batch) != 0, "corporate_actions: empty batch")
        _require(len(batch) <= MAX_BATCH, "corporate_actions: batch too large")
        self._active_security(id)
        with self._atomic():
            sec = self.securities[id]
            for holder, units in batch:
                _require(_addr(holder) != ZERO_ADDRESS, "corporate_actions: zero address")
                _require(units != 0, "corporate_actions: zero amount")
                h = self._holding(holder, id)
                _require(h.balance >= units, "corporate_actions: insufficient balance")
                _require(units + self._encumbered(holder, id) <= h.balance, "corporate_actions: amount exceeds free balance")
                if h.insider:
                    self._insider_snapshot(holder, id, h.balance)
                self._set_balance(holder, id, h.balance - units)
                h.paid = min(h.paid, h.balance)
                sec.total_supply -= units
            sec.declared_total = sec.total_supply

    def record_paid_in(self, owner, id: int, paid: int) -> None:
        self._not_paused("corporate_actions")
        sec = self._security(id, "corporate_actions")
        _require(sec.kind == Kind.LLC, "corporate_actions: not an LLC")
        _require(paid <= self.holding(owner, id).balance, "corporate_actions: paid exceeds units")
        self._holding(owner, id).paid = paid

    def set_lockup(self, owner, id: int, lock_until_day: int) -> None:
        self._not_paused("corporate_actions")
        _require(_addr(owner) != ZERO_ADDRESS, "corporate_actions: zero address")
        self._security(id, "corporate_actions")
        _require(lock_until_day <= MASK24, "corporate_actions: day out of range")
        self._holding(owner, id).lock_until_day = lock_until_day

    def set_insider(self, owner, id: int, insider: bool) -> None:
        self._not_paused("corporate_actions")
        _require(_addr(owner) != ZERO_ADDRESS, "corporate_actions: zero address")
        self._security(id, "corporate_actions")
        _require(self.holding(owner, id).insider != insider, "corporate_actions: insider flag unchanged")
        h = self._holding(owner, id)
        if not insider:
            h.left_until_day = months_later(self.today, INSIDER_LEFT_MONTHS)
        h.insider = bool(insider)

    def set_register_closure(self, id: int, meeting_day: int, record_day: int) -> None:
        self._not_paused("corporate_actions")
        sec = self._security(id, "corporate_actions")
        _require(meeting_day <= MASK32 and record_day <= MASK32, "corporate_actions: day out of range")
        sec.meeting_day, sec.record_day = meeting_day, record_day

    # ------------------------------------------------------------- insiders

    def _insider_base_used(self, owner, id: int, balance: int) -> tuple[int, int]:
        q = self.insider_quota.get((_addr(owner), id))
        if q is not None and q.year == year_of(self.today):
            return q.base, q.used
        return balance, 0

    def _insider_allows(self, owner, id: int, balance: int, amount: int) -> bool:
        base, used = self._insider_base_used(owner, id, balance)
        return (used + amount) * 100 <= base * INSIDER_ANNUAL_PERCENT

    def _insider_dispose(self, owner, id: int, balance: int, amount: int) -> None:
        base, used = self._insider_base_used(owner, id, balance)
        self.insider_quota[(_addr(owner), id)] = InsiderQuota(year_of(self.today), base, used + amount)

    def _insider_snapshot(self, owner, id: int, balance_before: int) -> None:
        # the first change of an insider's holding in a year fixes its base
        year = year_of(self.today)
        q = self.insider_quota.get((_addr(owner), id))
        if q is None or q.year != year:
            self.insider_quota[(_addr(owner), id)] = InsiderQuota(year, balance_before, 0)

    # ------------------------------------------------------------- encumbrances

    def _encumbered(self, owner, id: int) -> int:
        """Units of the holding locked by pledges and freezes in force today
        (encumbrances.vy `_locked`)."""
        key = (_addr(owner), id)
        return self.pledged.get(key, 0) + self._evaluate(key)[0]

    def _evaluate(self, key, stop: int = MAX_FREEZES) -> tuple[int, int]:
        """(units claimed by the freezes before index `stop`, bit mask of those
        claiming all their units) today: the rule of encumbrances.vy. Lapsed
        freezes (expiry_day < today) are skipped; in registration order each
        claims what is neither pledged nor claimed before it, up to its units."""
        free = max(self.holding(*key).balance - self.pledged.get(key, 0), 0)
        return freeze_claims(free, self.freeze_terms(key)[:stop], self.today)

    def freeze_terms(self, key) -> list[tuple[int, int]]:
        """(expiry day, units) of the holding's freezes, in registration order."""
        return [(self.freezes[fid].expiry_day, self.freezes[fid].units) for fid in self.freeze_queue.get(key, [])]

    def _settle(self, key) -> None:
        """Persist "has taken effect" on every freeze in force now (`_settle`)."""
        mask = self._evaluate(key)[1]
        for i, fid in enumerate(self.freeze_queue.get(key, [])):
            if mask & (1 << i):
                self.freezes[fid].taken_effect = True

    def _next_seq(self) -> int:
        self.registration_seq += 1
        return self.registration_seq

    def _has_role(self, caller, role: int) -> bool:
        return bool(self.roles.get(_addr(caller), 0) & role)

    def _check_role(self, caller, role: int) -> None:
        if self._has_role(caller, role):
            return
        names = {Role.ACCOUNT_MANAGER: "account manager", Role.SECURITY_MANAGER: "security manager",
                 Role.CALENDAR_MANAGER: "calendar manager", Role.RECOVERY_MANAGER: "recovery manager",
                 Role.COURT_AGENT: "court agent"}
        if role not in names:
            raise Refused("roles: unknown role")
        raise Refused(f"roles: caller is not {names[role]}")

    # views of the encumbrances

    def pledged_balance_of(self, owner, id: int) -> int:
        return self.pledged.get((_addr(owner), id), 0)

    def frozen_balance_of(self, owner, id: int) -> int:
        return self._evaluate((_addr(owner), id))[0]

    def pledges_of(self, owner, id: int) -> tuple:
        return tuple(self.pledge_ids.get((_addr(owner), id), []))

    def freeze_queue_of(self, owner, id: int) -> tuple[tuple, tuple]:
        key = (_addr(owner), id)
        queue = self.freeze_queue.get(key, [])
        mask = self._evaluate(key)[1]
        return tuple(queue), tuple(bool(mask & (1 << i)) for i in range(len(queue)))

    # ------------------------------------------------------------- pledges

    def offer_pledge(self, caller, pledgor, id: int, pledgee, units: int) -> int:
        """offer_pledge by the pledgor (caller == pledgor) or register_pledge by
        the registrar; returns the pledge id."""
        if _addr(caller) != _addr(pledgor):
            self._check_role(caller, Role.SECURITY_MANAGER)
        _require(not self.paused, "pledges: paused")
        _require(_addr(pledgee) != ZERO_ADDRESS, "pledges: zero address")
        _require(_addr(pledgee) != _addr(pledgor), "pledges: pledgee is the pledgor")
        _require(self.account(pledgee).status == AccountStatus.ACTIVE, "pledges: pledgee account not active")
        _require(self.account(pledgee).identity != self.account(pledgor).identity, "pledges: pledgee is the pledgor")
        _require(units != 0, "pledges: zero amount")
        sec = self.securities.get(id)
        _require(sec is not None, "pledges: unknown security")
        _require(sec.status == SecurityStatus.ACTIVE, "pledges: security not active")
        _require(units <= self.balance_of(pledgor, id), "pledges: amount exceeds holding")
        self.pledge_count += 1
        self.pledges[self.pledge_count] = PledgeRec(_addr(pledgor), _addr(pledgee), id, units)
        return self.pledge_count

    def cancel_pledge_offer(self, caller, pledge_id: int) -> None:
        _require(not self.paused, "pledges: paused")
        p = self.pledges.get(pledge_id)
        _require(p is not None and p.status == PledgeStatus.OFFERED, "pledges: not an open offer")
        if _addr(caller) not in (p.pledgor, p.pledgee):
            self._check_role(caller, Role.SECURITY_MANAGER)
        p.status = PledgeStatus.CANCELLED

    def accept_pledge(self, caller, pledge_id: int) -> None:
        _require(not self.paused, "pledges: paused")
        p = self.pledges.get(pledge_id)
        _require(p is not None and p.status == PledgeStatus.OFFERED, "pledges: not an open offer")
        _require(_addr(caller) == p.pledgee, "pledges: caller is not the pledgee")
        _require(self.account(p.pledgee).status == AccountStatus.ACTIVE, "pledges: pledgee account not active")
        key = (p.pledgor, p.id)
        _require(len(self.pledge_ids.get(key, [])) < MAX_PLEDGES, "pledges: too many pledges on holding")
        _require(p.units + self._encumbered(p.pledgor, p.id) <= self.balance_of(p.pledgor, p.id),
                 "pledges: amount exceeds free balance")
        self.pledge_ids.setdefault(key, []).append(pledge_id)
        self.pledged[key] = self.pledged.get(key, 0) + p.units
        p.status = PledgeStatus.PLEDGED
        p.seq = self._next_seq()

    def release_pledge(self, caller, pledge_id: int, units: int) -> None:
        _require(not self.paused, "pledges: paused")
        p = self.pledges.get(pledge_id)
        _require(p is not None and p.status == PledgeStatus.PLEDGED, "pledges: pledge not in force")
        _require(_addr(caller) == p.pledgee, "pledges: caller is not the pledgee")
        self._reduce(p, pledge_id, units, PledgeStatus.RELEASED)

    def _reduce(self, p: PledgeRec, pledge_id: int, units: int, final_status: int) -> None:
        _require(units != 0, "pledges: zero amount")
        _require(units <= p.units, "pledges: amount exceeds pledge")
        key = (p.pledgor, p.id)
        p.units -= units
        self.pledged[key] -= units
        if p.units == 0:
            p.status = final_status
            self.pledge_ids[key].remove(pledge_id)

    def frozen_after(self, pledge_id: int) -> bool:
        """Whether a freeze registered after the pledge is open (not lapsed) on its holding."""
        p = self.pledges[pledge_id]
        return any(self.freezes[fid].seq > p.seq and self.freezes[fid].expiry_day >= self.today
                   for fid in self.freeze_queue.get((p.pledgor, p.id), []))

    def consent_enforcement(self, caller, pledge_id: int, receiver, units: int) -> None:
        _require(not self.paused, "pledges: paused")
        p = self.pledges.get(pledge_id)
        _require(p is not None and p.status == PledgeStatus.PLEDGED, "pledges: pledge not in force")
        self._check_fund_manager(caller, p.id)
        _require(units <= p.units, "pledges: amount exceeds pledge")
        _require(_addr(receiver) != ZERO_ADDRESS or units == 0, "pledges: zero address")
        self.enforcement_consents[pledge_id] = (_addr(receiver), units)

    def enforce_pledge(self, caller, pledge_id: int, receiver, units: int) -> None:
        """By the court agent a court-ordered move (`_court_move`); by the pledgee a
        transfer under every rule, the manager's consent from consent_enforcement."""
        p = self.pledges.get(pledge_id)
        _require(p is not None and p.status == PledgeStatus.PLEDGED, "pledges: pledge not in force")
        is_court = self._has_role(caller, Role.COURT_AGENT)
        _require(_addr(caller) == p.pledgee or is_court, "pledges: caller is not the pledgee or court agent")
        with self._atomic():
            p = self.pledges[pledge_id]
            if is_court:
                self._settle((p.pledgor, p.id))
                self._reduce(p, pledge_id, units, PledgeStatus.ENFORCED)
                self._court_move(p.pledgor, receiver, p.id, units)
                return
            _require(not self.frozen_after(pledge_id), "pledges: frozen, enforce through the court agent")
            self._reduce(p, pledge_id, units, PledgeStatus.ENFORCED)
            to, left = self.enforcement_consents.get(pledge_id, (ZERO_ADDRESS, 0))
            consented = to == _addr(receiver) and left >= units
            if consented:
                self.enforcement_consents[pledge_id] = (to, left - units)
            reason = self.check_transfer(p.pledgor, receiver, p.id, units)
            if reason == Reason.NEEDS_CONSENT and consented:
                reason = None
            if reason is not None:
                raise Refused(reason)
            self._apply(p.pledgor, receiver, p.id, units)

    # ------------------------------------------------------------- freezes

    def freeze(self, caller, owner, id: int, units: int, expiry_day: int) -> int:
        """Returns the freeze id."""
        self._check_role(caller, Role.COURT_AGENT)
        _require(not self.paused, "freezes: paused")
        _require(_addr(owner) != ZERO_ADDRESS, "freezes: zero address")
        _require(units != 0, "freezes: zero amount")
        _require(id in self.securities, "freezes: unknown security")
        _require(expiry_day >= self.today, "freezes: expiry in the past")
        _require(expiry_day <= months_later(self.today, MAX_TERM_MONTHS), "freezes: term longer than three years")
        _require(expiry_day <= MASK32, "freezes: day out of range")
        _require(units <= self.balance_of(owner, id), "freezes: amount exceeds holding")
        key = (_addr(owner), id)
        _require(len(self.freeze_queue.get(key, [])) < MAX_FREEZES, "freezes: too many freezes on holding")
        self.freeze_count += 1
        self.freezes[self.freeze_count] = FreezeRec(key[0], id, units, expiry_day, self._next_seq())
        self.freeze_queue.setdefault(key, []).append(self.freeze_count)
        self._settle(key)
        return self.freeze_count

    def _open_freeze(self, freeze_id: int) -> FreezeRec:
        f = self.freezes.get(freeze_id)
        _require(f is not None, "freezes: unknown freeze")
        _require(f.status == FreezeStatus.OPEN, "freezes: freeze not open")
        _require(f.expiry_day >= self.today, "freezes: freeze lapsed")
        return f

    def lift_freeze(self, caller, freeze_id: int) -> None:
        self._check_role(caller, Role.COURT_AGENT)
        _require(not self.paused, "freezes: paused")
        f = self._open_freeze(freeze_id)
        key = (f.owner, f.id)
        self.freeze_queue[key].remove(freeze_id)
        f.status = FreezeStatus.LIFTED
        self._settle(key)

    def renew_freeze(self, caller, freeze_id: int, expiry_day: int) -> None:
        self._check_role(caller, Role.COURT_AGENT)
        _require(not self.paused, "freezes: paused")
        f = self._open_freeze(freeze_id)
        _require(expiry_day > f.expiry_day, "freezes: renewal must extend the expiry")
        _require(expiry_day <= months_later(f.expiry_day, MAX_TERM_MONTHS), "freezes: renewal longer than three years")
        f.expiry_day = expiry_day

    def tidy_freezes(self, owner, id: int) -> None:
        _require(not self.paused, "freezes: paused")
        _require(id <= AMOUNT_MAX, "freezes: unknown security")
        key = (_addr(owner), id)
        queue = self.freeze_queue.get(key, [])
        lapsed = [fid for fid in queue if self.freezes[fid].expiry_day < self.today]
        _require(bool(lapsed), "freezes: nothing to tidy")
        for fid in lapsed:
            queue.remove(fid)
            self.freezes[fid].status = FreezeStatus.LAPSED
        self._settle(key)

    def court_transfer(self, caller, freeze_id: int, receiver, units: int) -> None:
        self._check_role(caller, Role.COURT_AGENT)
        f = self._open_freeze(freeze_id)
        _require(units != 0, "freezes: zero amount")
        key = (f.owner, f.id)
        with self._atomic():
            f = self.freezes[freeze_id]
            self._settle(key)
            i = self.freeze_queue[key].index(freeze_id)
            held = self._evaluate(key, i + 1)[0] - self._evaluate(key, i)[0]
            _require(held != 0, "freezes: freeze holds no units")
            _require(units <= held, "freezes: amount exceeds units the freeze holds")
            f.units -= units
            if f.units == 0:
                self.freeze_queue[key].remove(freeze_id)
                f.status = FreezeStatus.EXECUTED
            self._court_move(f.owner, receiver, f.id, units)

    def _court_move(self, sender, receiver, id: int, amount: int) -> None:
        """ledger.vy `_court_move`: the receiver's account, qualification and
        institutional status, the register closure, the cap and a fund's minimum
        on both sides; not the lock-up (it goes along), the holding period,
        insider limits, the sender's account, consent or notice."""
        _require(not self.paused, "ledger: paused")
        _require(amount != 0, "ledger: zero amount")
        _require(_addr(receiver) != ZERO_ADDRESS, "ledger: zero address")
        _require(_addr(receiver) != _addr(sender), "ledger: self transfer")
        sec = self.securities.get(id)
        _require(sec is not None, "ledger: unknown security")
        _require(sec.status in (SecurityStatus.ACTIVE, SecurityStatus.SUSPENDED), "ledger: security not active")
        _require(self.calendar.is_published(self.today), Reason.CALENDAR)
        to = self.account(receiver)
        _require(to.status == AccountStatus.ACTIVE, Reason.RECEIVER_ACCOUNT)
        _require(to.qualified, Reason.NOT_QUALIFIED)
        _require(not (sec.institutional_only and to.investor_class == InvestorClass.INDIVIDUAL), Reason.INSTITUTIONAL)
        _require(not self._closed(sec), Reason.REGISTER_CLOSED)
        balance = self.balance_of(sender, id)
        _require(balance >= amount, Reason.BALANCE)
        received = self.balance_of(receiver, id)
        if received == 0 and balance != amount:
            _require(sec.holder_count < sec.holder_cap, Reason.HOLDER_CAP)
        if sec.kind >= Kind.LP_FUND:
            left = balance - amount
            _require(not ((left != 0 and left < sec.fund_minimum) or received + amount < sec.fund_minimum),
                     Reason.FUND_MINIMUM)
        lock = self.holding(sender, id).lock_until_day
        if self.today < lock and lock > self.holding(receiver, id).lock_until_day:
            self._holding(receiver, id).lock_until_day = lock
        self._apply(sender, receiver, id, amount)

    def _closed(self, sec: Security) -> bool:
        day = self.today
        return ((sec.meeting_day != 0 and day <= sec.meeting_day <= day + MEETING_CLOSED_DAYS)
                or (sec.record_day != 0 and day <= sec.record_day <= day + RECORD_DATE_CLOSED_DAYS))

    def recover(self, old_owner, new_owner, ids) -> None:
        """recovery.vy `recover` with accounts._recover: a target holding anything of an id is refused."""
        ids = list(ids)
        self._not_paused("recovery")
        _require(len(ids) != 0, "recovery: empty batch")
        _require(len(ids) <= MAX_BATCH, "recovery: batch too large")
        old, new = self.account(old_owner), self.account(new_owner)
        _require(old.status != AccountStatus.UNOPENED, "accounts: unknown account")
        _require(_addr(new_owner) != ZERO_ADDRESS, "accounts: zero address")
        _require(_addr(new_owner) != _addr(old_owner), "accounts: recovery to the same address")
        with self._atomic():
            if new.status == AccountStatus.UNOPENED:
                status = AccountStatus.ACTIVE if old.status == AccountStatus.CLOSED else old.status
                self.accounts[_addr(new_owner)] = Account(status, old.investor_class, old.qualified, old.identity)
                old.status = AccountStatus.CLOSED
            else:
                _require(new.identity == old.identity, "accounts: recovery target has another identity")
            encumbered = 0
            for id in ids:
                _require(id <= AMOUNT_MAX, "recovery: unknown security")
                h = self.holding(old_owner, id)
                _require(h.balance != 0, "recovery: nothing to recover")
                okey, nkey = (_addr(old_owner), id), (_addr(new_owner), id)
                t = self.holding(new_owner, id)
                _require(t == Holding(acquired=t.acquired) and not self.pledge_ids.get(nkey)
                         and not self.freeze_queue.get(nkey) and nkey not in self.insider_quota,
                         "recovery: recovery target already holds")
                if self.pledge_ids.get(okey) or self.freeze_queue.get(okey):
                    encumbered += 1
                    _require(encumbered <= MAX_RECOVER_ENCUMBERED, "recovery: too many encumbered holdings in one recovery")
                balance = h.balance
                self.holdings[nkey] = copy.copy(h)
                self.holdings[okey] = Holding()
                sec = self.securities.get(id)
                if sec is not None:
                    sec.holders.discard(okey[0])
                    sec.holders.add(nkey[0])
                for fid in self.freeze_queue.pop(okey, []):
                    self.freezes[fid].owner = nkey[0]
                    self.freeze_queue.setdefault(nkey, []).append(fid)
                for pid in self.pledge_ids.pop(okey, []):
                    self.pledges[pid].pledgor = nkey[0]
                    self.pledge_ids.setdefault(nkey, []).append(pid)
                if okey in self.pledged:
                    self.pledged[nkey] = self.pledged.pop(okey)
                if okey in self.insider_quota:
                    self.insider_quota[nkey] = self.insider_quota.pop(okey)

    # ------------------------------------------------------------- transfers

    def check_transfer(self, sender, receiver, id: int, amount: int) -> str | None:
        """The refusal reason of a transfer now (ledger.vy `_check`), or None."""
        if self.paused:
            return Reason.PAUSED
        if amount == 0:
            return Reason.ZERO_AMOUNT
        if _addr(receiver) == ZERO_ADDRESS:
            return Reason.ZERO_ADDRESS
        if _addr(receiver) == _addr(sender):
            return Reason.SELF
        sec = self.securities.get(id)
        if sec is None:
            return Reason.UNKNOWN_SECURITY
        if sec.status != SecurityStatus.ACTIVE:
            return {
                SecurityStatus.PENDING: Reason.NOT_SEALED,
                SecurityStatus.SUSPENDED: Reason.SUSPENDED,
            }.get(sec.status, Reason.DELISTED)
        if not self.calendar.is_published(self.today):
            return Reason.CALENDAR
        if self.account(sender).status != AccountStatus.ACTIVE:
            return Reason.SENDER_ACCOUNT
        to = self.account(receiver)
        if to.status != AccountStatus.ACTIVE:
            return Reason.RECEIVER_ACCOUNT
        if not to.qualified:
            return Reason.NOT_QUALIFIED
        if sec.institutional_only and to.investor_class == InvestorClass.INDIVIDUAL:
            return Reason.INSTITUTIONAL
        day = self.today
        if sec.meeting_day != 0 and day <= sec.meeting_day <= day + MEETING_CLOSED_DAYS:
            return Reason.REGISTER_CLOSED
        if sec.record_day != 0 and day <= sec.record_day <= day + RECORD_DATE_CLOSED_DAYS:
            return Reason.REGISTER_CLOSED
        sh = self.holding(sender, id)
        if sh.balance < amount:
            return Reason.BALANCE
        if amount + self._encumbered(sender, id) > sh.balance:
            return Reason.ENCUMBERED
        if day < sh.lock_until_day:
            return Reason.LOCKED
        if self._today_number() < sh.acquired + HOLDING_PERIOD_TRADING_DAYS:
            return Reason.HOLDING_PERIOD
        if sh.left_until_day and day <= sh.left_until_day:
            return Reason.FORMER_INSIDER
        if sh.insider and not self._insider_allows(sender, id, sh.balance, amount):
            return Reason.INSIDER
        if self.holding(receiver, id).balance == 0 and sh.balance != amount:
            if sec.holder_count >= sec.holder_cap:
                return Reason.HOLDER_CAP
        received = self.holding(receiver, id).balance
        if sec.kind in (Kind.LP_FUND, Kind.CONTRACT_FUND):
            left = sh.balance - amount
            if (left != 0 and left < sec.fund_minimum) or received + amount < sec.fund_minimum:
                return Reason.FUND_MINIMUM
            return Reason.NEEDS_CONSENT
        if sec.first_refusal and received == 0:
            return Reason.NEEDS_NOTICE
        return None

    def can_transfer(self, sender, receiver, id: int, amount: int) -> tuple[bool, str]:
        """As the contract's can_transfer: (ok, reason)."""
        reason = self.check_transfer(sender, receiver, id, amount)
        return (reason is None, reason or "")

    def transfer(self, sender, receiver, id: int, amount: int) -> None:
        """Apply a transfer, or raise Refused with the contract's reason."""
        reason = self.check_transfer(sender, receiver, id, amount)
        if reason is not None:
            raise Refused(reason)
        self._apply(sender, receiver, id, amount)

    def _apply(self, sender, receiver, id: int, amount: int) -> None:
        """ledger.vy `_apply`: move units once every rule passed."""
        tn = self._today_number()
        sh = self._holding(sender, id)
        rh = self._holding(receiver, id)
        balance, received = sh.balance, rh.balance
        # paid-in units move first (only LLC holdings carry any)
        moved_paid = min(sh.paid, amount)
        sh.paid -= moved_paid
        rh.paid += moved_paid
        self._set_balance(sender, id, balance - amount)
        self._set_balance(receiver, id, received + amount)
        rh.acquired = tn
        if sh.insider:
            self._insider_dispose(sender, id, balance, amount)
        if rh.insider:
            self._insider_snapshot(receiver, id, received)

    # ------------------------------------------------------------- transfer instructions

    NOTICE_DAYS = 30
    COURT_NOTICE_DAYS = 20
    SETTLEMENT_DAYS = 30
    MAX_EXERCISERS = 50

    def stage_of(self, instruction_id: int) -> int:
        ins = self.instructions.get(instruction_id)
        if ins is None:
            return 0
        if ins.stage == InstructionStage.PROPOSED and self.today > ins.expiry_day:
            return InstructionStage.LAPSED
        return ins.stage

    def exercisers_of(self, instruction_id: int) -> tuple:
        ins = self.instructions.get(instruction_id)
        return tuple(ins.exercisers) if ins else ()

    def open_escrow(self, token) -> int:
        """Cash escrowed by instructions not yet closed (lapsed ones until
        reclaimed) and by the best bid of every open listing (a beaten bid is
        a pending refund)."""
        token = _addr(token)
        return (sum(ins.price * (int(ins.buyer_accepted) + len(ins.exercisers))
                    for ins in self.instructions.values()
                    if ins.cash == token and ins.stage == InstructionStage.PROPOSED)
                + self.open_bids(token))

    def open_bids(self, token) -> int:
        """The best bids of open listings against `token` (auctions.vy escrow)."""
        token = _addr(token)
        return sum(l.best_amount for l in self.listings.values()
                   if l.cash == token and l.status == ListingStatus.OPEN)

    def pending_refunds(self, token) -> int:
        token = _addr(token)
        return sum(v for (t, _), v in self.refunds.items() if t == token)

    def cash_balance(self, token, holder) -> int:
        return self.cash.get((_addr(token), _addr(holder)), 0)

    def refund_of(self, token, holder) -> int:
        return self.refunds.get((_addr(token), _addr(holder)), 0)

    def mint_cash(self, token, holder, amount: int) -> None:
        key = (_addr(token), _addr(holder))
        self.cash[key] = self.cash.get(key, 0) + amount

    def _move_cash(self, token, sender, receiver, amount: int) -> None:
        """A CashToken transfer (the machine keeps balances and allowances
        sufficient: the token's own underflow is not modelled)."""
        a, b = (_addr(token), _addr(sender)), (_addr(token), _addr(receiver))
        assert self.cash.get(a, 0) >= amount, ("model: cash balance too low", sender, amount)
        self.cash[a] = self.cash.get(a, 0) - amount
        self.cash[b] = self.cash.get(b, 0) + amount

    def _escrow(self, token: str, payer, amount: int) -> None:
        self.escrowed[token] = self.escrowed.get(token, 0) + amount
        self._move_cash(token, payer, self.register_address, amount)

    def _credit(self, token: str, holder, amount: int) -> None:
        if amount:
            key = (token, _addr(holder))
            self.refunds[key] = self.refunds.get(key, 0) + amount

    def _refund_all(self, ins: InstructionRec) -> None:
        if ins.cash == ZERO_ADDRESS:
            return
        if ins.buyer_accepted:
            self._credit(ins.cash, ins.buyer, ins.price)
        for holder in ins.exercisers:
            self._credit(ins.cash, holder, ins.price)

    def propose_transfer(self, caller, seller, buyer, id: int, units: int, price: int, cash,
                         court: bool = False) -> int:
        """propose_transfer by the seller, or propose_court_sale by the court agent; returns the id."""
        if court:
            self._check_role(caller, Role.COURT_AGENT)
        _require(not self.paused, "instructions: paused")
        _require(_addr(buyer) != ZERO_ADDRESS, "instructions: zero address")
        _require(_addr(buyer) != _addr(seller), "instructions: buyer is the seller")
        _require(units != 0, "instructions: zero amount")
        sec = self.securities.get(id)
        _require(sec is not None, "instructions: unknown security")
        _require(units <= self.balance_of(seller, id), "instructions: amount exceeds holding")
        _require(_addr(cash) == ZERO_ADDRESS or _addr(cash) in self.cash_tokens,
                 "instructions: cash token not accepted")
        notice_end = 0
        if sec.first_refusal and self.balance_of(buyer, id) == 0:
            notice_end = self.today + (self.COURT_NOTICE_DAYS if court else self.NOTICE_DAYS)
        expiry = max(notice_end, self.today) + self.SETTLEMENT_DAYS
        self.instruction_count += 1
        self.instructions[self.instruction_count] = InstructionRec(
            _addr(seller), _addr(buyer), id, units, price, _addr(cash), InstructionStage.PROPOSED, court,
            notice_end, expiry)
        return self.instruction_count

    def _open_instruction(self, instruction_id: int) -> InstructionRec:
        ins = self.instructions.get(instruction_id)
        _require(ins is not None, "instructions: unknown instruction")
        _require(ins.stage == InstructionStage.PROPOSED, "instructions: instruction closed")
        _require(self.today <= ins.expiry_day, "instructions: instruction lapsed")
        _require(not self.paused, "instructions: paused")
        return ins

    def _check_fund_manager(self, caller, id: int) -> None:
        _require(_addr(caller) in self.fund_managers.get(id, ()), "roles: caller is not fund manager")

    def accept_transfer(self, caller, instruction_id: int) -> None:
        ins = self._open_instruction(instruction_id)
        _require(_addr(caller) == ins.buyer, "instructions: caller is not the buyer")
        _require(not ins.buyer_accepted, "instructions: already accepted")
        ins.buyer_accepted = True
        if ins.cash != ZERO_ADDRESS:
            self._escrow(ins.cash, caller, ins.price)

    def consent_transfer(self, caller, instruction_id: int) -> None:
        ins = self._open_instruction(instruction_id)
        self._check_fund_manager(caller, ins.id)
        _require(not ins.consented, "instructions: already consented")
        ins.consented = True

    def reject_transfer(self, caller, instruction_id: int) -> None:
        ins = self._open_instruction(instruction_id)
        self._check_fund_manager(caller, ins.id)
        ins.stage = InstructionStage.REJECTED
        self._refund_all(ins)

    def withdraw_transfer(self, caller, instruction_id: int) -> None:
        ins = self._open_instruction(instruction_id)
        if ins.court_ordered:
            self._check_role(caller, Role.COURT_AGENT)
        else:
            _require(_addr(caller) == ins.seller, "instructions: caller is not the seller")
        ins.stage = InstructionStage.WITHDRAWN
        self._refund_all(ins)

    def exercise_first_refusal(self, caller, instruction_id: int) -> None:
        ins = self._open_instruction(instruction_id)
        _require(ins.notice_end_day != 0, "instructions: no right of first refusal")
        _require(self.today <= ins.notice_end_day, "instructions: notice period over")
        _require(_addr(caller) not in (ins.seller, ins.buyer), "instructions: not another holder")
        _require(self.balance_of(caller, ins.id) != 0, "instructions: not another holder")
        _require(_addr(caller) not in ins.exercisers, "instructions: already exercised")
        _require(len(ins.exercisers) < self.MAX_EXERCISERS, "instructions: too many exercisers")
        ins.exercisers.append(_addr(caller))
        if ins.cash != ZERO_ADDRESS:
            self._escrow(ins.cash, caller, ins.price)

    def settle_transfer(self, caller, instruction_id: int) -> None:
        ins = self._open_instruction(instruction_id)
        if ins.cash == ZERO_ADDRESS:
            self._check_role(caller, Role.SECURITY_MANAGER)
        else:
            _require(_addr(caller) in (ins.seller, ins.buyer) or self._has_role(caller, Role.SECURITY_MANAGER),
                     "instructions: caller may not settle")
        _require(self.today > ins.notice_end_day or ins.notice_end_day == 0,
                 "instructions: notice period not over")
        _require(self.securities[ins.id].kind < Kind.LP_FUND or ins.consented,
                 "instructions: manager has not consented")
        with self._atomic():
            ins = self.instructions[instruction_id]
            ins.stage = InstructionStage.SETTLED
            # an exerciser who has sold out buys nothing and gets its escrow back whole
            takers = [h for h in ins.exercisers if self.balance_of(h, ins.id) != 0]
            if ins.cash != ZERO_ADDRESS:
                for holder in ins.exercisers:
                    if holder not in takers:
                        self._credit(ins.cash, holder, ins.price)
            if not takers:
                _require(ins.buyer_accepted, "instructions: buyer has not accepted")
                self._deliver(ins, ins.buyer, ins.units, ins.price)
                return
            if ins.buyer_accepted and ins.cash != ZERO_ADDRESS:
                self._credit(ins.cash, ins.buyer, ins.price)
            total = sum(self.balance_of(h, ins.id) for h in takers)
            units_left, price_left = ins.units, ins.price
            for i, holder in enumerate(takers):
                units, paid = units_left, price_left
                if i + 1 < len(takers):
                    units = ins.units * self.balance_of(holder, ins.id) // total
                    paid = ins.price * units // ins.units
                units_left -= units
                price_left -= paid
                if ins.cash != ZERO_ADDRESS:
                    self._credit(ins.cash, holder, ins.price - paid)
                if units:
                    self._deliver(ins, holder, units, paid)

    def _deliver(self, ins: InstructionRec, receiver, units: int, paid: int) -> None:
        """Units from the seller under every transfer rule (consent and notice
        are what the instruction supplies), cash from escrow to the seller."""
        reason = self.check_transfer(ins.seller, receiver, ins.id, units)
        if reason not in (None, Reason.NEEDS_CONSENT, Reason.NEEDS_NOTICE):
            raise Refused(reason)
        self._apply(ins.seller, receiver, ins.id, units)
        if ins.cash != ZERO_ADDRESS and paid:
            self.escrowed[ins.cash] -= paid
            self._move_cash(ins.cash, self.register_address, ins.seller, paid)

    def claim_refund(self, caller, token) -> None:
        key = (_addr(token), _addr(caller))
        amount = self.refunds.get(key, 0)
        _require(amount != 0, "instructions: nothing to refund")
        del self.refunds[key]
        self.escrowed[key[0]] -= amount
        self._move_cash(token, self.register_address, caller, amount)

    def reclaim_lapsed(self, instruction_id: int) -> None:
        ins = self.instructions.get(instruction_id)
        _require(ins is not None and ins.stage == InstructionStage.PROPOSED and self.today > ins.expiry_day,
                 "instructions: not lapsed")
        ins.stage = InstructionStage.LAPSED
        self._refund_all(ins)


    # ------------------------------------------------------------- one-way bidding (auctions.vy)

    MAX_WINDOW_DAYS = 90
    LISTING_SETTLEMENT_DAYS = 30
    # the receiver's refusals a bid meets at once (auctions.vy `_may_receive`); the close re-checks every rule
    BID_REFUSALS = (Reason.RECEIVER_ACCOUNT, Reason.NOT_QUALIFIED, Reason.INSTITUTIONAL)

    def listing_view(self, listing_id: int) -> tuple:
        l = self.listings.get(listing_id)
        if l is None:
            return (ZERO_ADDRESS, 0, 0, 0, ZERO_ADDRESS, 0, 0, False, ZERO_ADDRESS, 0, 0)
        return l.view()

    def list_units(self, caller, id: int, units: int, reserve: int, cash, end_day: int) -> int:
        """list_units by `caller` (the seller); returns the listing id."""
        _require(not self.paused, "auctions: paused")
        _require(units != 0, "auctions: zero amount")
        _require(reserve != 0, "auctions: zero reserve")
        sec = self.securities.get(id)
        _require(sec is not None, "auctions: unknown security")
        _require(units <= self.balance_of(caller, id), "auctions: amount exceeds holding")
        _require(_addr(cash) in self.cash_tokens, "auctions: cash token not accepted")
        _require(end_day >= self.today, "auctions: window ends in the past")
        _require(end_day <= self.today + self.MAX_WINDOW_DAYS, "auctions: window too long")
        if sec.first_refusal:
            _require(end_day >= self.today + self.NOTICE_DAYS, "auctions: window shorter than the notice period")
        self.listing_count += 1
        self.listings[self.listing_count] = ListingRec(_addr(caller), id, units, reserve, _addr(cash), end_day,
                                                       self.today)
        return self.listing_count

    def _open_listing(self, listing_id: int) -> ListingRec:
        l = self.listings.get(listing_id)
        _require(l is not None, "auctions: unknown listing")
        _require(l.status == ListingStatus.OPEN, "auctions: listing closed")
        _require(not self.paused, "auctions: paused")
        return l

    def consent_listing(self, caller, listing_id: int) -> None:
        l = self._open_listing(listing_id)
        self._check_fund_manager(caller, l.id)
        _require(not l.consented, "auctions: already consented")
        l.consented = True

    def bid_refusal(self, bidder, listing_id: int) -> str | None:
        """The receiver's refusal a bid meets at once, whatever else fails meanwhile:
        account not active, not qualified, an individual on an institutional-only
        security (BID_REFUSALS, in that order)."""
        l = self.listings[listing_id]
        to = self.account(bidder)
        if to.status != AccountStatus.ACTIVE:
            return Reason.RECEIVER_ACCOUNT
        if not to.qualified:
            return Reason.NOT_QUALIFIED
        if self.securities[l.id].institutional_only and to.investor_class == InvestorClass.INDIVIDUAL:
            return Reason.INSTITUTIONAL
        return None

    def bid(self, caller, listing_id: int, amount: int) -> None:
        l = self._open_listing(listing_id)
        _require(self.today <= l.end_day, "auctions: bidding closed")
        _require(_addr(caller) != l.seller, "auctions: seller may not bid")
        _require(amount >= l.reserve, "auctions: bid below reserve")
        _require(amount > l.best_amount, "auctions: bid does not beat the best")
        reason = self.bid_refusal(caller, listing_id)
        _require(reason is None, reason or "")
        if l.best_bidder != ZERO_ADDRESS:
            self._credit(l.cash, l.best_bidder, l.best_amount)
        l.best_bidder, l.best_amount = _addr(caller), amount
        self._escrow(l.cash, caller, amount)

    def close_refusal(self, listing_id: int) -> str | None:
        """Why close_listing would revert now (None: it closes)."""
        try:
            with self._atomic():
                self.close_listing(listing_id)
                raise _Probe()
        except _Probe:
            return None
        except Refused as refusal:
            return refusal.reason

    def close_listing(self, listing_id: int) -> int:
        """Anyone closes after the window: SOLD (the best bid settles under
        every transfer rule), or FAILED (no bid, or the settlement days are
        over: the best bid is refunded). Returns the new status."""
        l = self.listings.get(listing_id)
        _require(l is not None, "auctions: unknown listing")
        _require(l.status == ListingStatus.OPEN, "auctions: listing closed")
        _require(not self.paused, "auctions: paused")
        _require(self.today > l.end_day, "auctions: bidding not over")
        if l.best_bidder == ZERO_ADDRESS or self.today > l.end_day + self.LISTING_SETTLEMENT_DAYS:
            l.status = ListingStatus.FAILED
            if l.best_bidder != ZERO_ADDRESS:
                self._credit(l.cash, l.best_bidder, l.best_amount)
            return l.status
        sec = self.securities[l.id]
        _require(sec.kind < Kind.LP_FUND or l.consented, "auctions: manager has not consented")
        reason = self.check_transfer(l.seller, l.best_bidder, l.id, l.units)
        # the listing was the consent and, with a window as long as the notice period, the notice
        if reason == Reason.NEEDS_NOTICE and l.end_day < l.listed_day + self.NOTICE_DAYS:
            raise Refused(reason)
        if reason not in (None, Reason.NEEDS_CONSENT, Reason.NEEDS_NOTICE):
            raise Refused(reason)
        l.status = ListingStatus.SOLD
        self._apply(l.seller, l.best_bidder, l.id, l.units)
        self.escrowed[l.cash] -= l.best_amount
        self._move_cash(l.cash, self.register_address, l.seller, l.best_amount)
        return l.status

    def withdraw_listing(self, caller, listing_id: int) -> None:
        l = self._open_listing(listing_id)
        _require(_addr(caller) == l.seller, "auctions: caller is not the seller")
        l.status = ListingStatus.WITHDRAWN
        if l.best_bidder != ZERO_ADDRESS:
            self._credit(l.cash, l.best_bidder, l.best_amount)


class _Probe(Exception):
    """Undoes a trial run of an operation (RegisterModel.close_refusal)."""
