"""Market days: the contract counts days since 1970-01-01 in market local time."""

from __future__ import annotations

import datetime as dt

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
    return [d for d in range(first_day, last_day + 1)
            if date_of(d).weekday() < 5 and d not in holidays]


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
