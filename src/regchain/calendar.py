"""Market days: the contract counts days since 1970-01-01 in market local time."""

from __future__ import annotations

import datetime as dt
import functools

EPOCH = dt.date(1970, 1, 1)


def day_number(date: dt.date) -> int:
    return (date - EPOCH).days


def date_of(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=day)


def year_of(day: int) -> int:
    """Civil year of a day number, as ledger.vy `_year_of` (the insiders' annual quota)."""
    return date_of(day).year


def day_of_timestamp(timestamp: int, utc_offset_s: int = 8 * 3600, time_unit: int = 1) -> int:
    return (timestamp // time_unit + utc_offset_s) // 86400


def weekdays(first_day: int, last_day: int, holidays: frozenset[int] = frozenset()) -> list[int]:
    """Day numbers Monday to Friday in [first_day, last_day], less `holidays`."""
    if last_day >= first_day:  # dates that exist (else date_of raises), so every day between does
        date_of(first_day), date_of(last_day)
    # day 0, 1970-01-01, was a Thursday: (day + 3) % 7 is the weekday, Monday 0
    return [d for d in range(first_day, last_day + 1) if (d + 3) % 7 < 5 and d not in holidays]


def chunks(first_day: int, last_day: int, size: int = 366):
    """Split [first_day, last_day] into publishable ranges of at most `size` days."""
    start = first_day
    while start <= last_day:
        end = min(last_day, start + size - 1)
        yield start, end
        start = end + 1


def trading_day_number(day: int, trading: list[int] | set[int], epoch_day: int) -> int:
    """Reference implementation of the contract's count (for tests and the model)."""
    if day < epoch_day:
        return 0
    return sum(1 for d in trading if epoch_day <= d <= day)


# ---------------------------------------------------------------- the market's days
#
# The market trades Monday to Friday except the official public holidays of mainland
# China (全国年节及纪念日放假办法 and the State Council's yearly notice, which also moves
# some working days onto weekends: those adjusted working Saturdays and Sundays are NOT
# trading days, the exchanges stay closed). The notices come from the pinned
# `chinesecalendar` package (no download at run time); a year it does not cover yet has
# no official days, only a provisional calendar (see `provisional_closed`).

import chinese_calendar  # noqa: E402  (pinned in pyproject.toml)


class CalendarGap(ValueError):
    """Days asked for that the official data does not cover; the message is one line."""


def official_source() -> str:
    return f"chinesecalendar {getattr(chinese_calendar, '__version__', '?')}"


def official_last_date() -> dt.date:
    """The last day the pinned package has the State Council's notice for (31 December of its last year)."""
    return dt.date(max(d.year for d in chinese_calendar.holidays), 12, 31)


def official_last_day() -> int:
    return day_number(official_last_date())


def is_market_day(date: dt.date) -> bool:
    """A weekday that is not an official holiday (official data only; CalendarGap beyond it)."""
    if date > official_last_date():
        raise CalendarGap(f"{date} is past the official holidays in {official_source()} "
                          f"(last {official_last_date()})")
    return date.weekday() < 5 and date not in chinese_calendar.holidays


# The statutory holidays themselves (全国年节及纪念日放假办法, as amended 2024, art 2): New
# Year's Day (1 January), the Spring Festival (New Year's Eve and the first three days of the
# first lunar month), Qingming (the day of the solar term), Labour Day (1-2 May), the Dragon
# Boat Festival (5th day of the 5th lunar month), Mid-Autumn (15th day of the 8th lunar
# month) and National Day (1-3 October). The bridging days and the adjusted working weekends
# of a year come only with its State Council notice, so a year past the official data gets
# these days closed and nothing else (`ops calendar amend` adds the rest when the notice is out).
STATUTORY_FIXED = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))


@functools.lru_cache(maxsize=None)  # market_days asks once per day of a year
def statutory_holidays(year: int) -> frozenset[dt.date]:
    """The statutory holiday days of ``year`` (art 2), lunar ones converted with `lunardate`."""
    from lunardate import LunarDate  # pinned in pyproject.toml; pure Python, tables to 2099

    def lunar(month: int, day: int) -> dt.date:
        return LunarDate(year, month, day).to_solar_date()

    spring = lunar(1, 1)
    days = {dt.date(year, m, d) for m, d in STATUTORY_FIXED}
    # 初一..初三; New Year's Eve (除夕) since the 2024 amendment took effect (1 January 2025)
    days |= {spring + dt.timedelta(days=k) for k in ((-1, 0, 1, 2) if year >= 2025 else (0, 1, 2))}
    days |= {qingming(year), lunar(5, 5), lunar(8, 15)}
    return frozenset(days)


def qingming(year: int) -> dt.date:
    """The day of the Qingming solar term (清明) in Beijing time: 4 or 5 April in this century
    (the usual 21st-century rule: floor(Y * 0.2422 + 4.81) - floor(Y / 4), Y = year - 2000)."""
    if not 2001 <= year <= 2099:
        raise CalendarGap(f"Qingming of {year}: only the years 2001-2099 are computed")
    y = year - 2000
    return dt.date(year, 4, int(y * 0.2422 + 4.81) - y // 4)


def provisional_closed(date: dt.date) -> bool:
    """A weekday of a year without official data that is closed anyway (a statutory holiday)."""
    return date in statutory_holidays(date.year)


def market_days(first_day: int, last_day: int, *, provisional: bool = False) -> list[int]:
    """The trading days in [first_day, last_day]: weekdays less the official holidays.

    Days after the official data's last day raise CalendarGap, unless ``provisional``:
    then they are weekdays less the statutory holidays themselves (`statutory_holidays`: the
    fixed-date and the lunar ones, without the year's bridging days), to be corrected with
    `ops calendar amend` when the year's notice is out."""
    official_last = official_last_day()
    if last_day > official_last and not provisional:
        raise CalendarGap(f"{date_of(max(first_day, official_last + 1))} is past the official holidays in "
                          f"{official_source()} (last {date_of(official_last)})")
    out = []
    for d in range(first_day, last_day + 1):
        date = date_of(d)
        if d <= official_last:
            if is_market_day(date):
                out.append(d)
        elif date.weekday() < 5 and not provisional_closed(date):
            out.append(d)
    return out

