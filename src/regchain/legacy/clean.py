"""Cleaning a legacy export (docs/migration.md, "How it is cleaned" to
"The report"): raw rows in, what may be written on chain plus the verdict on every
row out (the report is built from them once: regchain.legacy.report).

    result = clean_folder("samples/demo", as_of=dt.date(2026, 11, 25))
    for sec in result.securities:          # only MIGRATED securities, sorted by code
        sec.holdings, sec.pledges, sec.freezes
    result.accounts                        # accounts to open (merged identities once)
    result.verdicts                        # status and reasons of every reported key
    result.report                          # the report of the cleaning alone (no
                                           # addresses, token ids, reconciliation)

Nothing here touches a chain or a secret: an account exposes `identity`, the
canonical `ID_TYPE:ID_NUMBER` string the writer salts and hashes.

Decisions where the spec is silent or loose (each also noted where it applies):

Text
  * Every value: NFKC, then all white space (anything `str.isspace`, which covers
    U+3000 and NBSP) and the zero-width characters U+200B/C/D, U+2060, U+FEFF are
    removed everywhere in the value, not only at its ends. Keys, enumerations, ids,
    `case_no` are then upper-cased. Names (`name`, `holder_name`, `court`) keep
    single inner spaces (they are only shown to people).
  * Enumerations accept the English value or the Chinese alias of the spec
    (`LLC` or `有限责任公司`); `Y`/`N` also accept `是`/`否`. An empty `qualified` is
    `N` (with a warning), an empty `insider` is not an insider.
  * A value outside its list, an empty key, an invalid `unit_scale` (0-18), an
    empty `case_no`, or a pledge whose pledgor and pledgee are the same holder
    has no code in the spec: it gets the extra code `BAD_VALUE` (EXTRA_REASONS).

Dates
  * `YYYY-M-D` and `YYYY/M/D` (1 or 2 digit month/day), `YYYYMMDD`, `YYYY年M月D日`,
    Excel serial numbers of 1-5 digits (optionally `.0`), 1900 date system with
    its phantom 1900-02-29: serial n ≥ 61 is 1899-12-30 + n; serial 1 is
    1900-01-01 = unknown; serials 0 and 2-60 are BAD_DATE. Anything else,
    including a time of day, is BAD_DATE.
  * Unknown (empty or 1900-01-01) is allowed only for `acquired_on` (taken as the
    security's `registered_on`, warning) and the optional `lock_until` (no
    lock-up). For every other date (security/pledge/freeze `registered_on`,
    `expires_on`) unknown is BAD_DATE: they rank pledges and freezes, and a
    freeze without an end cannot be written.
  * A freeze lapses when `expires_on` < `as_of` (the contract holds a freeze
    through its expiry day). `as_of` defaults to today in market time (UTC+8).

Amounts
  * Thousands separators (`,`, full-width ones after NFKC) are removed; one
    trailing `股`, `元` or `份` is dropped, then a trailing `万` multiplies by
    10,000 (so `1200股` and `12万份` are accepted too). Digits with an optional
    decimal part; no sign, no exponent.
  * Decimals are counted on the value (after `万`), ignoring trailing zeros:
    `100.00` is a valid JSC amount, `12.5万` is 125,000 JSC shares.
  * Exact integer arithmetic. Zero or negative is BAD_AMOUNT, except
    `paid_units`, which may be 0 (subscribed, nothing paid in yet). Amounts above
    2**96-1 smallest units (the contract's AMOUNT_MAX) are BAD_AMOUNT.
  * `paid_units` on a non-LLC holding is ignored (paid = units) with a warning
    when it differs from `units`.

Identities and accounts (see also regchain.legacy.ids)
  * A resident id's birth date must be a real date from 1900 up to `as_of`.
  * PASSPORT 5-20 letters/digits, OTHER 1-40 letters/digits/`-`; an Excel-mangled
    id is EXCEL_MANGLED_ID whatever its type. A mangled or otherwise failing
    `issuer_id` is BAD_ISSUER_ID.
  * `wallet`: empty = custody address; otherwise `0x` + 40 hex, not zero, and a
    mixed-case address must pass EIP-55; a bad wallet is BAD_ID_FORMAT. Two
    accounts of different identities naming the same wallet are both
    DUPLICATE_KEY (one address is one account on chain).
  * Merging: the accounts of one identity become the one with the smallest
    `account_no` (string order, independent of row order); the others are
    MERGED into it. Holder type is the primary's; qualified only if every merged
    account says `Y`; wallet the primary's, else the first non-empty one in
    account order (warnings when they disagree). Merged holdings of one security
    add units and paid units; `acquired_on` and `lock_until` take the latest,
    `insider` any.
  * An account is MIGRATED when it (or an account merged into it) is named by a
    holding, pledge or freeze row of a security present and not DELISTED, even if
    that security is rejected (the account itself is sound and writing it is
    harmless); otherwise UNUSED.

Whole-security rule and the report
  * Duplicate keys reject every occurrence (which one is right cannot be told).
  * A DELISTED security is SKIPPED with only `DELISTED` and its holdings,
    pledges and freezes are SKIPPED too, whatever else is wrong with them. A
    duplicated code is rejected even if one copy says DELISTED.
  * A lapsed freeze is SKIPPED (`LAPSED_FREEZE`) whatever else is wrong with it,
    unless its freeze_no is duplicated, its security unknown or delisted.
  * A row naming an unknown security is REJECTED with UNKNOWN_SECURITY; for
    holdings rows (the report has no holdings section) the code appears as a
    `securities` entry with status REJECTED.
  * TOTAL_MISMATCH is checked only when the total and every holding amount of
    the security are valid; rows with unknown accounts still count in the sum.
    The holder cap counts distinct holders after merging.
  * PLEDGE_EXCEEDS_HOLDING and FREEZE_EXCEEDS_HOLDING compare with the merged
    holding (0 when there is none). Only non-lapsed `FREEZE` rows add up against
    the holding; any freeze, even QUEUED, on a holding that does not exist
    exceeds it. The code goes to every pledge/freeze that was summed.
  * A security's reasons are its own and those of all its rows, in the spec's
    order. A pledge or freeze rejected only because its security was rejected
    carries the security's reasons; one with its own faults carries those.
  * Pledge rank and freeze queue order on a holding: `registered_on`, then file
    order. The freeze `kind` is passed through; on chain, whether a freeze is in
    force follows from that order (freezes.vy `import_freezes`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Callable, Iterable

from regchain import calendar as cal
from regchain.constants import AMOUNT_MAX, HOLDER_CAP, InvestorClass, Kind, SecurityStatus
from regchain.legacy.ids import IdError, clean_id, clean_uscc, identity_text
from regchain.legacy.reader import Export, Row, Table, read_export

# The spec's reason codes, in its order (reason lists are sorted by it).
REASONS = (
    "BAD_ID_CHECKSUM",
    "EXCEL_MANGLED_ID",
    "BAD_ID_FORMAT",
    "BAD_ISSUER_ID",
    "BAD_AMOUNT",
    "BAD_DATE",
    "UNKNOWN_ACCOUNT",
    "UNKNOWN_SECURITY",
    "TOTAL_MISMATCH",
    "HOLDER_CAP_EXCEEDED",
    "PAID_EXCEEDS_UNITS",
    "PLEDGE_EXCEEDS_HOLDING",
    "FREEZE_EXCEEDS_HOLDING",
    "DUPLICATE_KEY",
    "LAPSED_FREEZE",
    "DELISTED",
)
# Not in the spec: a value outside its list or an empty required value.
EXTRA_REASONS = ("BAD_VALUE",)
_ORDER = {code: i for i, code in enumerate(REASONS + EXTRA_REASONS)}


class Status(StrEnum):
    MIGRATED = "MIGRATED"
    MERGED = "MERGED"
    SKIPPED = "SKIPPED"
    REJECTED = "REJECTED"
    UNUSED = "UNUSED"


class IdType(StrEnum):
    RESIDENT_ID = "RESIDENT_ID"
    USCC = "USCC"
    PASSPORT = "PASSPORT"
    OTHER = "OTHER"


class FreezeKind(StrEnum):
    FREEZE = "FREEZE"  # in force
    QUEUED = "QUEUED"  # 轮候: waits for the ones before it


KINDS = {"LLC": Kind.LLC, "有限责任公司": Kind.LLC, "JSC": Kind.JSC, "股份有限公司": Kind.JSC,
         "LP_FUND": Kind.LP_FUND, "有限合伙型基金": Kind.LP_FUND,
         "CONTRACT_FUND": Kind.CONTRACT_FUND, "契约型基金": Kind.CONTRACT_FUND}
STATUSES = {"ACTIVE": SecurityStatus.ACTIVE, "正常": SecurityStatus.ACTIVE,
            "SUSPENDED": SecurityStatus.SUSPENDED, "暂停": SecurityStatus.SUSPENDED,
            "DELISTED": SecurityStatus.DELISTED, "摘牌": SecurityStatus.DELISTED}
HOLDER_TYPES = {"INDIVIDUAL": InvestorClass.INDIVIDUAL, "个人": InvestorClass.INDIVIDUAL,
                "INSTITUTION": InvestorClass.INSTITUTION, "机构": InvestorClass.INSTITUTION,
                "PRODUCT": InvestorClass.PRODUCT, "产品": InvestorClass.PRODUCT}
ID_TYPES = {"RESIDENT_ID": IdType.RESIDENT_ID, "居民身份证": IdType.RESIDENT_ID,
            "USCC": IdType.USCC, "统一社会信用代码": IdType.USCC,
            "PASSPORT": IdType.PASSPORT, "护照": IdType.PASSPORT,
            "OTHER": IdType.OTHER, "其他": IdType.OTHER}
FREEZE_KINDS = {"FREEZE": FreezeKind.FREEZE, "冻结": FreezeKind.FREEZE,
                "QUEUED": FreezeKind.QUEUED, "轮候冻结": FreezeKind.QUEUED, "轮候": FreezeKind.QUEUED}
YES_NO = {"Y": True, "YES": True, "是": True, "N": False, "NO": False, "否": False}


class FieldError(ValueError):
    """A value that fails a cleaning rule; `code` is the reason code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- text

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u180e"))


def norm(text: str) -> str:
    """NFKC, then every white-space and zero-width character removed."""
    if text.isascii():
        return "".join(text.split()) if not text.isalnum() else text
    return "".join(unicodedata.normalize("NFKC", text).translate(_INVISIBLE).split())


def norm_id(text: str) -> str:
    """`norm`, upper-cased: keys, codes, id numbers, enumerations."""
    return norm(text).upper()


def norm_name(text: str) -> str:
    """NFKC, zero-width characters removed, white space trimmed and collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_INVISIBLE).split())


# ---------------------------------------------------------------- dates

_YMD = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})")
_ZH_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SERIAL = re.compile(r"(\d{1,5})(?:\.0+)?")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
UNKNOWN_DATE = dt.date(1900, 1, 1)


@functools.lru_cache(maxsize=65536)
def parse_date(text: str) -> int | None:
    """Market day number (days since 1970-01-01) of a date in any accepted form,
    None for unknown (empty, 1900-01-01), FieldError BAD_DATE otherwise."""
    t = norm(text)
    if not t:
        return None
    m = _YMD.fullmatch(t) or _ZH_DATE.fullmatch(t)
    if m:
        y, mo, d = int(m.group(1)), int(m.groups()[-2]), int(m.groups()[-1])
    elif m := _COMPACT.fullmatch(t):
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _SERIAL.fullmatch(t):
        n = int(m.group(1))
        if n == 1:
            return None
        if n < 61:
            raise FieldError("BAD_DATE", f"date {text!r}: Excel serial {n} is before 1900-03-01")
        return cal.day_number(_EXCEL_EPOCH + dt.timedelta(days=n))
    else:
        raise FieldError("BAD_DATE", f"date {text!r} is in no accepted form")
    try:
        date = dt.date(y, mo, d)
    except ValueError:
        raise FieldError("BAD_DATE", f"date {text!r} does not exist") from None
    return None if date == UNKNOWN_DATE else cal.day_number(date)


# ---------------------------------------------------------------- amounts

_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?")


def parse_amount(text: str, unit_scale: int, allow_zero: bool = False) -> int:
    """`units × 10^unit_scale` as an exact integer (the on-chain amount).

    Accepts thousands separators, a trailing `股`/`元`/`份` and a `万` suffix.
    FieldError BAD_AMOUNT if empty, not a plain positive number, or with more
    decimals than `unit_scale`."""
    t = norm(text).replace(",", "")
    if t[-1:] in ("股", "元", "份"):
        t = t[:-1]
    shift = unit_scale
    if t.endswith("万"):
        t, shift = t[:-1], shift + 4
    m = _NUMBER.fullmatch(t)
    if not m:
        raise FieldError("BAD_AMOUNT", f"amount {text!r} is not a positive number")
    frac = (m.group(2) or "").rstrip("0")
    digits = int(m.group(1) + frac)
    shift -= len(frac)
    if shift >= 0:
        value = digits * 10**shift
    elif digits % 10**-shift == 0:
        value = digits // 10**-shift
    else:
        raise FieldError("BAD_AMOUNT", f"amount {text!r} has more decimals than unit_scale {unit_scale}")
    if value == 0 and not allow_zero:
        raise FieldError("BAD_AMOUNT", f"amount {text!r} is not positive")
    if value > AMOUNT_MAX:
        raise FieldError("BAD_AMOUNT", f"amount {text!r} exceeds the largest on-chain amount")
    return value


def format_amount(value: int, unit_scale: int) -> str:
    """An on-chain integer amount back as a decimal text (for people)."""
    if unit_scale == 0:
        return str(value)
    whole, frac = divmod(value, 10**unit_scale)
    return f"{whole}.{frac:0{unit_scale}d}"


# ---------------------------------------------------------------- other values

_WALLET = re.compile(r"0[xX][0-9a-fA-F]{40}")


def parse_wallet(text: str) -> str | None:
    """Lower-case `0x…` address, None if empty; FieldError BAD_ID_FORMAT."""
    t = norm(text)
    if not t:
        return None
    if not _WALLET.fullmatch(t) or int(t, 16) == 0:
        raise FieldError("BAD_ID_FORMAT", f"wallet {text!r} is not an address")
    body = t[2:]
    if body != body.lower() and body != body.upper():
        from eth_utils import is_checksum_address

        if not is_checksum_address("0x" + body):
            raise FieldError("BAD_ID_FORMAT", f"wallet {text!r} fails its EIP-55 checksum")
    return "0x" + body.lower()


def parse_choice(text: str, choices: dict, what: str):
    t = norm_id(text)
    try:
        return choices[t]
    except KeyError:
        raise FieldError("BAD_VALUE", f"{what} {text!r} is not one of {', '.join(k for k in choices if k.isascii())}") from None


def parse_scale(text: str) -> int:
    t = norm(text)
    if not t.isdigit() or int(t) > 18:
        raise FieldError("BAD_VALUE", f"unit_scale {text!r} is not an integer 0-18")
    return int(t)


def today_day() -> int:
    """Today's market day number (UTC+8)."""
    return cal.day_of_timestamp(int(time.time()))


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Holding:
    security_code: str
    account_no: str  # the primary account (after merging)
    units: int  # smallest units
    paid: int  # smallest units; == units except for partly paid LLC capital
    acquired_day: int
    lock_until_day: int | None
    insider: bool
    source_accounts: tuple[str, ...]  # account numbers whose rows were summed
    lines: tuple[int, ...]  # holdings.csv lines


@dataclass(frozen=True)
class Pledge:
    pledge_no: str
    security_code: str
    pledgor: str  # primary account_no
    pledgee: str  # primary account_no
    units: int
    registered_day: int
    rank: int  # 1 = first registered on the pledgor's holding
    line: int


@dataclass(frozen=True)
class Freeze:
    freeze_no: str
    security_code: str
    account_no: str  # primary account_no
    units: int
    case_no: str  # cleaned; written on chain only as a hash
    registered_day: int
    expiry_day: int  # last day in force
    kind: FreezeKind
    queue: int  # 1 = first registered on the holding
    line: int


@dataclass(frozen=True)
class Security:
    code: str
    name: str
    issuer_id: str
    kind: Kind
    unit_scale: int
    total: int  # smallest units; equals the sum of the holdings
    registered_day: int
    status: SecurityStatus  # ACTIVE or SUSPENDED
    holdings: tuple[Holding, ...]  # sorted by account_no
    pledges: tuple[Pledge, ...]  # sorted by (pledgor, rank)
    freezes: tuple[Freeze, ...]  # sorted by (account_no, queue)
    line: int

    @property
    def holder_count(self) -> int:
        return len(self.holdings)


@dataclass(frozen=True)
class Account:
    account_no: str  # the primary account number
    name: str
    holder_type: InvestorClass
    id_type: IdType
    id_number: str  # canonical (15-digit resident ids upgraded)
    qualified: bool
    wallet: str | None  # lower-case 0x…, None = custody address
    merged: tuple[str, ...]  # account numbers merged into this one
    line: int

    @property
    def identity(self) -> str:
        """Canonical identity string, e.g. `RESIDENT_ID:11010519491231002X`: the
        input of the salted hash kept on chain (regchain.identities)."""
        return identity_text(self.id_type, self.id_number)


@dataclass(frozen=True)
class RowFate:
    """What became of one input row."""

    file: str  # "securities.csv", ...
    line: int
    key: str  # report key (code, account_no, …; holdings: "CODE/ACCOUNT")
    status: Status
    reasons: tuple[str, ...]  # its own reasons, or its security's when it has none (inherited)
    details: tuple[str, ...] = ()  # human-readable messages of its own faults
    inherited: bool = False  # rejected only because its security is rejected


@dataclass(frozen=True)
class CleanWarning:
    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.key}: {self.message}"


@dataclass
class CleanResult:
    as_of: int  # market day the lapse of freezes was judged on
    securities: list[Security]  # MIGRATED securities, sorted by code
    accounts: list[Account]  # MIGRATED accounts (one per identity), sorted by account_no
    account_map: dict[str, str]  # every MIGRATED or MERGED account_no -> its primary
    rows: list[RowFate]  # one per input row, in file order
    warnings: list[CleanWarning]
    # the cleaning's part of the report: section -> key -> {status, reasons[, merged_into]}
    verdicts: dict[str, dict[str, dict]]
    encodings: dict[str, str] = field(default_factory=dict)  # file -> detected encoding

    @functools.cached_property
    def report(self) -> dict:
        """The report of the cleaning alone, without what the later stages add (addresses,
        token ids, reconciliation): regchain.legacy.report.build_report(self)."""
        from regchain.legacy.report import build_report

        return build_report(self)

    @property
    def holdings(self) -> dict[str, tuple[Holding, ...]]:
        return {s.code: s.holdings for s in self.securities}

    @property
    def pledges(self) -> list[Pledge]:
        return [p for s in self.securities for p in s.pledges]

    @property
    def freezes(self) -> list[Freeze]:
        return [f for s in self.securities for f in s.freezes]

    def counts(self) -> dict[str, dict[str, int]]:
        """Input rows per file and status: {"holdings.csv": {"MIGRATED": 120, …}}."""
        out: dict[str, Counter] = defaultdict(Counter)
        for r in self.rows:
            out[r.file][str(r.status)] += 1
        return {f: dict(c) for f, c in out.items()}

    def rejected(self) -> list[RowFate]:
        return [r for r in self.rows if r.status == Status.REJECTED]


# ---------------------------------------------------------------- cleaning


_NO_ISSUES: list = []


class _Item:
    """Working state of one input row."""

    __slots__ = ("row", "key", "issues", "data", "status", "details")

    def __init__(self, row: Row, key: str):
        self.row = row
        self.key = key
        self.issues: list[tuple[str, str]] = _NO_ISSUES  # a list of its own from the first fail
        self.data: dict = {}
        self.status: Status | None = None

    def fail(self, code: str, message: str) -> None:
        if self.issues is _NO_ISSUES:
            self.issues = []
        self.issues.append((code, message))

    def codes(self) -> tuple[str, ...]:
        return _sorted_codes(c for c, _ in self.issues) if self.issues else ()

    def take(self, fn: Callable, *args, **kw):
        """fn(*args) or None after recording its FieldError/IdError."""
        try:
            return fn(*args, **kw)
        except (FieldError, IdError) as e:
            self.fail(e.code, str(e))
            return None


def _has(item: _Item, code: str) -> bool:
    return any(c == code for c, _ in item.issues)


def _sorted_codes(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(codes), key=_ORDER.__getitem__))


def _by_holder(items: list[_Item], holder: str) -> dict[str, list[_Item]]:
    """Pledges or freezes whose holder (data[holder]) and units are known, grouped by holder in
    the order first met."""
    on: dict[str, list[_Item]] = defaultdict(list)
    for i in items:
        if i.data[holder] is not None and i.data["units"] is not None:
            on[i.data[holder]].append(i)
    return on


def _keyed(table: Table, column: str) -> tuple[list[_Item], dict[str, list[_Item]]]:
    """Items of a table by cleaned key; empty keys get BAD_VALUE and a
    `file:line` key; keys seen twice get DUPLICATE_KEY on every occurrence."""
    items, by_key = [], defaultdict(list)
    for row in table.rows:
        key = norm_id(row[column])
        item = _Item(row, key or f"{table.filename}:{row.line}")
        if not key:
            item.fail("BAD_VALUE", f"empty {column}")
        items.append(item)
        by_key[item.key].append(item)
    for key, group in by_key.items():
        if len(group) > 1:
            lines = ", ".join(str(i.row.line) for i in group)
            for i in group:
                i.fail("DUPLICATE_KEY", f"{column} {key} appears on lines {lines}")
    return items, by_key


class _Cleaner:
    def __init__(self, export: Export, as_of: int, progress: Callable[[str, int, int], None] | None):
        self.x = export
        self.as_of = as_of
        self.as_of_date = cal.date_of(as_of)
        self.progress = progress or (lambda stage, done, total: None)
        self.warnings: list[CleanWarning] = []

    def warn(self, file: str, item: _Item, message: str) -> None:
        self.warnings.append(CleanWarning(file, item.row.line, item.key, message))

    # -- securities

    def securities(self) -> None:
        t = self.x.securities
        self.progress("securities", 0, len(t.rows))
        self.sec_items, by_code = _keyed(t, "code")
        self.sec: dict[str, _Item] = {}  # code -> item (first occurrence)
        for it in self.sec_items:
            r = it.row
            d = it.data
            d["name"] = norm_name(r["name"])
            issuer = norm_id(r["issuer_id"])
            try:
                d["issuer_id"] = clean_uscc(issuer)
            except IdError as e:
                it.fail("BAD_ISSUER_ID", f"issuer_id: {e}")
            d["kind"] = it.take(parse_choice, r["kind"], KINDS, "kind")
            d["scale"] = it.take(parse_scale, r["unit_scale"])
            if d["scale"] is not None:
                d["total"] = it.take(parse_amount, r["total_units"], d["scale"])
            else:
                d["total"] = None
            day = it.take(parse_date, r["registered_on"])
            if day is None and not _has(it, "BAD_DATE"):
                it.fail("BAD_DATE", "registered_on is unknown")
            d["day"] = day
            d["status"] = it.take(parse_choice, r["status"], STATUSES, "status")
            self.sec.setdefault(it.key, it)
            # A delisted security is skipped whatever else is wrong, unless duplicated.
            d["delisted"] = (d["status"] == SecurityStatus.DELISTED and len(by_code[it.key]) == 1)
        self.sec_groups = by_code  # code -> every row with that code
        self.progress("securities", len(t.rows), len(t.rows))

    def _security(self, item: _Item, code: str) -> _Item | None:
        """The security a row names; None (row rejected/skipped) if unknown or delisted."""
        s = self.sec.get(code)
        if s is None:
            item.fail("UNKNOWN_SECURITY", f"security {code or '(empty)'} is not in securities.csv")
            item.status = Status.REJECTED
            return None
        if s.data["delisted"]:
            item.status = Status.SKIPPED
            item.issues = [("DELISTED", f"security {code} is delisted")]
            return None
        return s

    # -- accounts

    def accounts(self) -> None:
        t = self.x.accounts
        self.progress("accounts", 0, len(t.rows))
        self.acct_items, by_no = _keyed(t, "account_no")
        as_of = self.as_of_date
        for n, it in enumerate(self.acct_items):
            r, d = it.row, it.data
            d["name"] = norm_name(r["holder_name"])
            d["holder_type"] = it.take(parse_choice, r["holder_type"], HOLDER_TYPES, "holder_type")
            d["id_type"] = it.take(parse_choice, r["id_type"], ID_TYPES, "id_type")
            d["id"] = None
            if d["id_type"] is not None:
                d["id"] = it.take(clean_id, str(d["id_type"]), norm_id(r["id_number"]), as_of)
            q = norm_id(r["qualified"])
            if not q:
                d["qualified"] = False
                self.warn(t.filename, it, "qualified is empty: taken as N")
            else:
                d["qualified"] = it.take(parse_choice, q, YES_NO, "qualified")
            d["wallet"] = it.take(parse_wallet, r["wallet"])
            if n % 20000 == 0:
                self.progress("accounts", n, len(t.rows))

        valid = [i for i in self.acct_items if not i.issues]
        # One wallet, two identities: both unusable.
        by_wallet = defaultdict(list)
        for i in valid:
            if i.data["wallet"]:
                by_wallet[i.data["wallet"]].append(i)
        for wallet, group in by_wallet.items():
            if len({(i.data["id_type"], i.data["id"]) for i in group}) > 1:
                nos = ", ".join(i.key for i in group)
                for i in group:
                    i.fail("DUPLICATE_KEY", f"wallet {wallet} is named by accounts {nos} of different holders")

        # Merge identities.
        self.primary: dict[str, str] = {}  # valid account_no -> primary account_no
        self.acct_out: dict[str, Account] = {}  # primary -> Account
        groups: dict[str, list[_Item]] = defaultdict(list)
        for i in self.acct_items:
            if not i.issues:
                groups[f"{i.data['id_type']}:{i.data['id']}"].append(i)
        for identity, group in groups.items():
            group.sort(key=lambda i: i.key)
            p = group[0]
            others = group[1:]
            wallets = [i.data["wallet"] for i in group if i.data["wallet"]]
            wallet = wallets[0] if wallets else None
            if len(set(wallets)) > 1:
                self.warn(t.filename, p, f"merged accounts name different wallets {sorted(set(wallets))}: {wallet} kept")
            if len({i.data["holder_type"] for i in group}) > 1:
                self.warn(t.filename, p, f"merged accounts differ in holder_type: {p.data['holder_type'].name} kept")
            qualified = all(i.data["qualified"] for i in group)
            if len({i.data["qualified"] for i in group}) > 1:
                self.warn(t.filename, p, "merged accounts differ in qualified: N kept")
            for i in group:
                self.primary[i.key] = p.key
            for i in others:
                i.status = Status.MERGED
                i.data["merged_into"] = p.key
            self.acct_out[p.key] = Account(
                account_no=p.key, name=p.data["name"], holder_type=p.data["holder_type"],
                id_type=p.data["id_type"], id_number=p.data["id"], qualified=qualified,
                wallet=wallet, merged=tuple(i.key for i in others), line=p.row.line)
        self.used: set[str] = set()  # primaries named by a row of a present, non-delisted security
        self.progress("accounts", len(t.rows), len(t.rows))

    def _account(self, item: _Item, account_no: str, column: str) -> str | None:
        """Primary account of a named account; UNKNOWN_ACCOUNT if absent or rejected."""
        p = self.primary.get(account_no)
        if p is None:
            item.fail("UNKNOWN_ACCOUNT", f"{column} {account_no or '(empty)'} does not exist or was rejected")
        else:
            self.used.add(p)
        return p

    # -- holdings

    def holdings(self) -> None:
        t = self.x.holdings
        total = len(t.rows)
        self.progress("holdings", 0, total)
        self.hold_items: list[_Item] = []
        pairs: dict[tuple[str, str], list[_Item]] = defaultdict(list)
        for n, row in enumerate(t.rows):
            code, acct = norm_id(row["security_code"]), norm_id(row["account_no"])
            it = _Item(row, f"{code}/{acct}")
            it.data["code"], it.data["account"] = code, acct
            self.hold_items.append(it)
            pairs[(code, acct)].append(it)
            s = self._security(it, code)
            if s is None:
                continue
            d, sd = it.data, s.data
            d["primary"] = self._account(it, acct, "account_no")
            scale = sd["scale"]
            d["units"] = d["paid"] = None
            if scale is not None:
                d["units"] = it.take(parse_amount, row["units"], scale)
                paid_text = norm(row["paid_units"])
                if not paid_text:
                    d["paid"] = d["units"]
                elif sd["kind"] == Kind.LLC:
                    d["paid"] = it.take(parse_amount, paid_text, scale, allow_zero=True)
                    if d["paid"] is not None and d["units"] is not None and d["paid"] > d["units"]:
                        it.fail("PAID_EXCEEDS_UNITS", f"paid_units {row['paid_units']!r} exceed units {row['units']!r}")
                else:
                    d["paid"] = d["units"]
                    try:
                        other = parse_amount(paid_text, scale, allow_zero=True)
                    except FieldError:
                        other = None
                    if other != d["units"]:
                        self.warn(t.filename, it, f"paid_units {row['paid_units']!r} ignored: only LLC capital is partly paid")
            acquired = it.take(parse_date, row["acquired_on"])
            if acquired is None and not _has(it, "BAD_DATE"):
                acquired = sd["day"]
                if acquired is not None:
                    self.warn(t.filename, it, "acquired_on unknown: taken as the security's registered_on")
            d["acquired"] = acquired
            d["lock"] = it.take(parse_date, row["lock_until"])
            ins = norm_id(row["insider"])
            d["insider"] = False if not ins else it.take(parse_choice, ins, YES_NO, "insider")
            if n % 20000 == 0:
                self.progress("holdings", n, total)
        for (code, acct), group in pairs.items():
            if len(group) > 1:
                lines = ", ".join(str(i.row.line) for i in group)
                for i in group:
                    if i.status is None:  # not already skipped/rejected as unknown/delisted
                        i.fail("DUPLICATE_KEY", f"security {code} account {acct} appears on lines {lines}")
        self.progress("holdings", total, total)

    # -- pledges and freezes

    def _encumbrance_rows(self, stage: str, key: str):
        """The items of the `stage` table (pledges or freezes) keyed by `key`, the items by
        number, and an iterator over those whose security is known: (item, row, data, security),
        the code cleaned into data; progress is told at the start and once the iterator is done."""
        t = getattr(self.x, stage)
        self.progress(stage, 0, len(t.rows))
        items, by_no = _keyed(t, key)

        def rows():
            for it in items:
                it.data["code"] = code = norm_id(it.row["security_code"])
                s = self._security(it, code)
                if s is not None:
                    yield it, it.row, it.data, s
            self.progress(stage, len(t.rows), len(t.rows))
        return items, by_no, rows()

    @staticmethod
    def _units(it: _Item, r: dict, s: _Item):
        """The row's units in its security's scale (None where the scale is not known)."""
        scale = s.data["scale"]
        return it.take(parse_amount, r["units"], scale) if scale is not None else None

    @staticmethod
    def _registered_on(it: _Item, r: dict, d: dict) -> None:
        d["day"] = it.take(parse_date, r["registered_on"])
        if d["day"] is None and not _has(it, "BAD_DATE"):
            it.fail("BAD_DATE", "registered_on is unknown")

    def pledges(self) -> None:
        self.pledge_items, _, rows = self._encumbrance_rows("pledges", "pledge_no")
        for it, r, d, s in rows:
            d["pledgor"] = self._account(it, norm_id(r["pledgor_account"]), "pledgor_account")
            d["pledgee"] = self._account(it, norm_id(r["pledgee_account"]), "pledgee_account")
            if d["pledgor"] is not None and d["pledgor"] == d["pledgee"]:
                it.fail("BAD_VALUE", "pledgor and pledgee are the same holder")
            d["units"] = self._units(it, r, s)
            self._registered_on(it, r, d)

    def freezes(self) -> None:
        self.freeze_items, by_no, rows = self._encumbrance_rows("freezes", "freeze_no")
        for it, r, d, s in rows:
            expiry = it.take(parse_date, r["expires_on"])
            if expiry is not None and expiry < self.as_of and len(by_no[it.key]) == 1:
                it.status = Status.SKIPPED
                it.issues = [("LAPSED_FREEZE", f"expired on {cal.date_of(expiry)}")]
                continue
            if expiry is None and not _has(it, "BAD_DATE"):
                it.fail("BAD_DATE", "expires_on is unknown")
            d["expiry"] = expiry
            d["account"] = self._account(it, norm_id(r["account_no"]), "account_no")
            d["units"] = self._units(it, r, s)
            d["case_no"] = norm_id(r["case_no"])
            if not d["case_no"]:
                it.fail("BAD_VALUE", "empty case_no")
            self._registered_on(it, r, d)
            d["kind"] = it.take(parse_choice, r["kind"], FREEZE_KINDS, "kind")
            if d["day"] is not None and d["day"] > self.as_of:
                self.warn(self.x.freezes.filename, it, "registered_on is after the as-of day")

    # -- per security

    def assemble(self) -> CleanResult:
        # Group the live rows (not skipped, security known) by security code.
        hold_by_sec: dict[str, list[_Item]] = defaultdict(list)
        for i in self.hold_items:
            if i.status is None:
                hold_by_sec[i.data["code"]].append(i)
        pl_by_sec: dict[str, list[_Item]] = defaultdict(list)
        for i in self.pledge_items:
            if i.status is None:
                pl_by_sec[i.data["code"]].append(i)
        fr_by_sec: dict[str, list[_Item]] = defaultdict(list)
        for i in self.freeze_items:
            if i.status is None:
                fr_by_sec[i.data["code"]].append(i)

        out_secs: list[Security] = []
        sec_codes: dict[str, tuple[str, ...]] = {}
        for code, s in self.sec.items():
            if s.data["delisted"]:
                continue
            sd = s.data
            holds, pls, frs = hold_by_sec[code], pl_by_sec[code], fr_by_sec[code]

            # Merged holdings (rows with a known primary account and valid units).
            merged: dict[str, list[_Item]] = defaultdict(list)
            for i in holds:
                if i.data["primary"] is not None:
                    merged[i.data["primary"]].append(i)

            # Books add up?
            amounts = [i.data["units"] for i in holds]
            if sd["total"] is not None and all(a is not None for a in amounts):
                got = sum(amounts)
                if got != sd["total"]:
                    s.fail("TOTAL_MISMATCH", f"holdings add up to {format_amount(got, sd['scale'])}, "
                                             f"total_units is {format_amount(sd['total'], sd['scale'])}")
            holders = {i.data["primary"] or f"?{i.data['account']}" for i in holds}
            if sd["kind"] is not None and len(holders) > HOLDER_CAP[sd["kind"]]:
                s.fail("HOLDER_CAP_EXCEEDED", f"{len(holders)} holders, {sd['kind'].name} allows {HOLDER_CAP[sd['kind']]}")

            held = {acct: sum(i.data["units"] for i in group) for acct, group in merged.items()
                    if all(i.data["units"] is not None for i in group)}
            unreadable = merged.keys() - held.keys()  # holdings whose size is unknown: not judged

            # Pledges per holding.
            pl_on = _by_holder(pls, "pledgor")
            for acct, group in pl_on.items():
                if acct in unreadable:
                    continue
                s_units = sum(i.data["units"] for i in group)
                if s_units > held.get(acct, 0):
                    for i in group:
                        i.fail("PLEDGE_EXCEEDS_HOLDING", f"pledges on {code}/{acct} add up to "
                               f"{format_amount(s_units, sd['scale'])}, holding {format_amount(held.get(acct, 0), sd['scale'])}")

            # Freezes per holding.
            fr_on = _by_holder(frs, "account")
            for acct, group in fr_on.items():
                if acct in unreadable:
                    continue
                have = held.get(acct, 0)
                in_force = [i for i in group if i.data["kind"] == FreezeKind.FREEZE]
                f_units = sum(i.data["units"] for i in in_force)
                over = group if acct not in held else in_force if f_units > have else []
                for i in over:
                    i.fail("FREEZE_EXCEEDS_HOLDING", f"freezes in force on {code}/{acct} add up to "
                           f"{format_amount(f_units, sd['scale'])}, holding {format_amount(have, sd['scale'])}")

            codes = _sorted_codes([c for g in (self.sec_groups[code], holds, pls, frs)
                                   for i in g if i.issues for c, _ in i.issues])
            sec_codes[code] = codes
            if codes:
                continue

            # Clean: build the output.
            holdings = []
            for acct in sorted(merged):
                group = merged[acct]
                locks = [i.data["lock"] for i in group if i.data["lock"] is not None]
                if len(group) > 1 and len({i.data["lock"] for i in group}) > 1:
                    self.warn("holdings.csv", group[0], "merged holdings differ in lock_until: latest kept")
                holdings.append(Holding(
                    security_code=code, account_no=acct,
                    units=sum(i.data["units"] for i in group),
                    paid=sum(i.data["paid"] for i in group),
                    acquired_day=max(i.data["acquired"] for i in group),
                    lock_until_day=max(locks) if locks else None,
                    insider=any(i.data["insider"] for i in group),
                    source_accounts=tuple(i.data["account"] for i in group),
                    lines=tuple(i.row.line for i in group)))
            pledges = []
            for acct in sorted(pl_on):
                ordered = sorted(pl_on[acct], key=lambda i: (i.data["day"], i.row.line))
                for rank, i in enumerate(ordered, 1):
                    pledges.append(Pledge(i.key, code, acct, i.data["pledgee"], i.data["units"],
                                          i.data["day"], rank, i.row.line))
            freezes = []
            for acct in sorted(fr_on):
                ordered = sorted(fr_on[acct], key=lambda i: (i.data["day"], i.row.line))
                for q, i in enumerate(ordered, 1):
                    freezes.append(Freeze(i.key, code, acct, i.data["units"], i.data["case_no"],
                                          i.data["day"], i.data["expiry"], i.data["kind"], q, i.row.line))
            out_secs.append(Security(
                code=code, name=sd["name"], issuer_id=sd["issuer_id"], kind=sd["kind"],
                unit_scale=sd["scale"], total=sd["total"], registered_day=sd["day"],
                status=sd["status"], holdings=tuple(holdings), pledges=tuple(pledges),
                freezes=tuple(freezes), line=s.row.line))

        return self._finish(out_secs, sec_codes)

    def _finish(self, out_secs: list[Security], sec_codes: dict[str, tuple[str, ...]]) -> CleanResult:
        rows: list[RowFate] = []
        verdicts: dict[str, dict[str, dict]] = {}
        secs, accts, pls, frs = {}, {}, {}, {}

        def fate(file: str, it: _Item, status: Status, reasons: tuple[str, ...]) -> None:
            rows.append(RowFate(file, it.row.line, it.key, status, reasons, tuple(m for _, m in it.issues),
                                status is Status.REJECTED and not it.issues))

        # Securities.
        for it in self.sec_items:
            if it.data["delisted"]:
                status, reasons = Status.SKIPPED, ("DELISTED",)
            else:
                reasons = sec_codes[it.key]
                status = Status.REJECTED if reasons else Status.MIGRATED
            fate("securities.csv", it, status, reasons)
            secs[it.key] = {"status": str(status), "reasons": list(reasons)}

        def row_status(it: _Item, code: str) -> tuple[Status, tuple[str, ...]]:
            if it.status in (Status.SKIPPED, Status.REJECTED) and code not in sec_codes:
                return it.status, it.codes()  # unknown or delisted security, lapsed freeze
            own = it.codes()
            if own or sec_codes[code]:
                return Status.REJECTED, own or sec_codes[code]
            return (it.status or Status.MIGRATED), ()

        # Holdings (no report section: unknown codes become securities entries).
        for it in self.hold_items:
            code = it.data["code"]
            status, reasons = row_status(it, code)
            if status is Status.MIGRATED and self._is_merged(it.data["account"]):
                status = Status.MERGED
            if code not in self.sec:
                secs.setdefault(code or f"holdings.csv:{it.row.line}",
                                {"status": "REJECTED", "reasons": ["UNKNOWN_SECURITY"]})
            fate("holdings.csv", it, status, reasons)

        # Pledges and freezes.
        for file, items, section in (("pledges.csv", self.pledge_items, pls), ("freezes.csv", self.freeze_items, frs)):
            for it in items:
                code = it.data["code"]
                if it.status is Status.SKIPPED:
                    status, reasons = Status.SKIPPED, it.codes()
                elif code not in sec_codes:
                    status, reasons = Status.REJECTED, it.codes()
                else:
                    status, reasons = row_status(it, code)
                fate(file, it, status, reasons)
                prev = section.get(it.key)
                if prev is None or prev["status"] != "REJECTED":
                    section[it.key] = {"status": str(status), "reasons": list(reasons)}

        # Accounts.
        for it in self.acct_items:
            if it.issues:
                status, merged_into = Status.REJECTED, None
            elif it.status is Status.MERGED:
                status, merged_into = Status.MERGED, it.data["merged_into"]
            else:
                status = Status.MIGRATED if it.key in self.used else Status.UNUSED
                merged_into = None
            fate("accounts.csv", it, status, it.codes())
            prev = accts.get(it.key)
            if prev is None or status is Status.REJECTED:
                accts[it.key] = {"status": str(status), "merged_into": merged_into, "reasons": list(it.codes())}
        rows.sort(key=lambda r: (_FILE_ORDER[r.file], r.line))

        for name, section in (("securities", secs), ("accounts", accts), ("pledges", pls), ("freezes", frs)):
            verdicts[name] = {k: section[k] for k in sorted(section)}
        accounts = [a for k, a in sorted(self.acct_out.items()) if k in self.used]
        account_map = {no: p for no, p in self.primary.items() if p in self.used}
        return CleanResult(
            as_of=self.as_of, securities=sorted(out_secs, key=lambda s: s.code), accounts=accounts,
            account_map=account_map, rows=rows, warnings=self.warnings, verdicts=verdicts,
            encodings={t.filename: t.encoding for t in self.x.tables()})

    def _is_merged(self, account_no: str) -> bool:
        p = self.primary.get(account_no)
        return p is not None and p != account_no


_FILE_ORDER = {"securities.csv": 0, "accounts.csv": 1, "holdings.csv": 2, "pledges.csv": 3, "freezes.csv": 4}


def _day(as_of: int | dt.date | None) -> int:
    if as_of is None:
        return today_day()
    if isinstance(as_of, dt.date):
        return cal.day_number(as_of)
    return int(as_of)


def clean_export(export: Export, as_of: int | dt.date | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> CleanResult:
    """Clean a read export. `as_of` (day number or date, default today UTC+8)
    decides which freezes have lapsed and bounds resident-id birth dates.
    `progress(stage, done, total)` is called as each file is worked through."""
    c = _Cleaner(export, _day(as_of), progress)
    c.securities()
    c.accounts()
    c.holdings()
    c.pledges()
    c.freezes()
    return c.assemble()


def clean_folder(folder: str | Path, as_of: int | dt.date | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> CleanResult:
    """read_export + clean_export. Raises reader.ExportError if unreadable."""
    return clean_export(read_export(folder), as_of, progress)
