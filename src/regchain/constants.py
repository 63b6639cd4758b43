"""Python mirrors of the contracts' flags, enums and revert strings.

Keep in step with contracts/modules/*.vy (tests/test_roles.py checks the flags
against the deployed contract's behaviour).
"""

from enum import IntEnum, IntFlag


class Role(IntFlag):
    """Global role flags (roles.vy `Role`)."""

    ACCOUNT_MANAGER = 1
    SECURITY_MANAGER = 2
    CALENDAR_MANAGER = 4
    RECOVERY_MANAGER = 8
    COURT_AGENT = 16

    # The operator's back office (登记托管机构) holds these together.
    REGISTRAR = ACCOUNT_MANAGER | SECURITY_MANAGER | CALENDAR_MANAGER | RECOVERY_MANAGER


class SecurityRole(IntFlag):
    """Per-security role flags (roles.vy `SecurityRole`)."""

    ISSUER_AGENT = 1
    FUND_MANAGER = 2


class AccountStatus(IntEnum):
    UNOPENED = 0
    ACTIVE = 1
    SUSPENDED = 2
    CLOSED = 3


class InvestorClass(IntEnum):
    INDIVIDUAL = 1
    INSTITUTION = 2
    PRODUCT = 3


class Kind(IntEnum):
    LLC = 1
    JSC = 2
    LP_FUND = 3
    CONTRACT_FUND = 4


class SecurityStatus(IntEnum):
    UNKNOWN = 0
    PENDING = 1
    ACTIVE = 2
    SUSPENDED = 3
    DELISTED = 4


HOLDER_CAP = {Kind.LLC: 50, Kind.JSC: 200, Kind.LP_FUND: 50, Kind.CONTRACT_FUND: 200}
HOLDING_PERIOD_TRADING_DAYS = 5
INSIDER_ANNUAL_PERCENT = 25
MEETING_CLOSED_DAYS = 20
RECORD_DATE_CLOSED_DAYS = 5
MAX_BATCH = 200
# Most encumbered holdings (with pledges or freezes) one recover call may move (recovery.vy).
MAX_RECOVER_ENCUMBERED = 1
# Most encumbered holdings one decrease_capital call may reduce (corporate_actions.vy).
MAX_DECREASE_ENCUMBERED = 24
# Most pledges or freezes one import_pledges / import_freezes batch may write.
MAX_IMPORT = 50
AMOUNT_MAX = 2**96 - 1
DAY_MAX = 2**24 - 1  # largest day number a holding word keeps (lock-up, acquisition)
UTC_OFFSET_CHINA = 8 * 3600

# Transfer refusals, in the order the contract checks them (ledger.vy `_check`).
TRANSFER_REASONS = (
    "ledger: paused",
    "ledger: zero amount",
    "ledger: zero address",
    "ledger: self transfer",
    "ledger: unknown security",
    "ledger: security not sealed",
    "ledger: security suspended",
    "ledger: security delisted",
    "ledger: calendar not published for today",
    "ledger: sender account not active",
    "ledger: receiver account not active",
    "ledger: receiver not qualified",
    "ledger: receiver not an institutional investor",
    "ledger: register closed",
    "ledger: insufficient balance",
    "ledger: amount exceeds free balance",
    "ledger: holding locked up",
    "ledger: holding period not met",
    "ledger: former insider within six months of leaving",
    "ledger: insider annual limit exceeded",
    "ledger: holder cap reached",
    "ledger: below the fund's minimum holding",
    "ledger: fund transfer needs the manager's consent",
    "ledger: transfer to an outsider needs notice",
)


class PledgeStatus(IntEnum):
    OFFERED = 1
    PLEDGED = 2
    RELEASED = 3
    ENFORCED = 4
    CANCELLED = 5


class FreezeStatus(IntEnum):
    OPEN = 1
    LIFTED = 2
    EXECUTED = 3
    LAPSED = 4


# Most accepted pledges and open freezes on one holding (encumbrances.vy).
MAX_PLEDGES = 8
MAX_FREEZES = 64


class InstructionStage(IntEnum):
    PROPOSED = 1
    SETTLED = 2
    REJECTED = 3
    WITHDRAWN = 4
    LAPSED = 5


NOTICE_DAYS = 30
COURT_NOTICE_DAYS = 20
SETTLEMENT_DAYS = 30


class ListingStatus(IntEnum):
    """auctions.vy: a listing for one-way bidding (单向竞价)."""

    UNKNOWN = 0
    OPEN = 1
    SOLD = 2
    FAILED = 3
    WITHDRAWN = 4


def holding_words(sid: int, holder: str, units: int, paid: int, acquired_day: int,
                  lock_until_day: int = 0, insider: bool = False) -> tuple[int, int]:
    """One holding of register_holdings_many (registration.vy HoldingWords): (key, terms) with
    key = holder << 96 | security id and terms = units | paid << 96 | acquired_day << 192
    | lock_until_day << 216 | insider << 240. ValueError if a term does not fit its field
    (the contract could not tell a field that overflowed into the next one)."""
    if not 0 <= sid <= AMOUNT_MAX:
        raise ValueError(f"security id {sid} out of range")
    for name, value, top in (("units", units, AMOUNT_MAX), ("paid", paid, AMOUNT_MAX),
                             ("acquired_day", acquired_day, DAY_MAX), ("lock_until_day", lock_until_day, DAY_MAX)):
        if not 0 <= value <= top:
            raise ValueError(f"holding {name} {value} out of range")
    key = (int(holder, 16) << 96) | sid
    terms = units | (paid << 96) | (acquired_day << 192) | (lock_until_day << 216) | (int(bool(insider)) << 240)
    return key, terms
