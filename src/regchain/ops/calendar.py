"""The trading calendar: `ops calendar publish|amend`."""

from __future__ import annotations

import click

from regchain import calendar as cal
from regchain import cli as common
from regchain.ops.session import docref, done, run, say
from regchain.provision import ensure_calendar


def publish(session, ahead_days, provisional):
    """Publish the market days after the published horizon up to today + ahead_days."""
    run(session, lambda reg, who: ensure_calendar(reg, who, ahead_days=ahead_days, provisional=provisional,
                                                  echo=say))


def amend(session, first, last, closed, doc_text):
    """Close (or open) the published days FIRST..LAST; days that already have that status
    (weekends for a closure) are left as they are."""
    a = common.day_arg(first)
    b = common.day_arg(last) if last else a
    if b < a:
        raise click.ClickException(f"--to {last} is before {first}")

    def action(reg, who):
        d = docref(doc_text, f"calendar amend {cal.date_of(a)}..{cal.date_of(b)} {'closed' if closed else 'open'}")
        changed = 0
        for day in range(a, b + 1):
            if bool(reg.is_trading_day(day)) != closed and day <= int(reg.horizon_day()):
                continue  # already has that status
            done(reg.amend_calendar(day, not closed, d, sender=who),
                 f"{cal.date_of(day)} {'closed' if closed else 'trades'}")
            changed += 1
        say(f"{changed} day{'s' if changed != 1 else ''} amended")
    run(session, action)
