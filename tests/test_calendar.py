"""The trading calendar (calendar.vy): publication, trading-day numbers against the Python
reference, amendments, and the clock (UTC+8, seconds or FISCO BCOS milliseconds)."""

from __future__ import annotations

import random

import ape
import pytest

from conftest import doc
from regchain import calendar as cal
from regchain import suite
from regchain.constants import UTC_OFFSET_CHINA, Role

WORD = 224  # days per calendar word


@pytest.fixture(scope="module")
def fresh(register, today, advance_days, governance, registrar):
    """A second suite with nothing published (depends on `register` so the session fixtures
    exist before this module's snapshot)."""
    reg = suite.deploy(governance, governance)
    reg.grant_role(registrar, Role.CALENDAR_MANAGER, doc("grant"), sender=governance)
    return reg


def _trading(first, last, seed):
    """Weekdays less ~5 % pseudo-random holidays."""
    rng = random.Random(seed)
    return [d for d in cal.weekdays(first, last) if rng.random() > 0.05]


@pytest.fixture(scope="module")
def published(fresh, registrar, today):
    """Three publications on `fresh`, all in the future, cut to test the word arithmetic:
    the first starts mid-word and ends on a word's last day, the second is a full 400 days
    starting on a word boundary, the third starts mid-word and spans three words."""
    epoch = (today // WORD + 1) * WORD + 150
    ranges = [(epoch, epoch + 73)]                       # ends at offset 223
    ranges.append((ranges[-1][1] + 1, ranges[-1][1] + 400))  # offsets 0..399 of two words
    ranges.append((ranges[-1][1] + 1, ranges[-1][1] + 300))  # mid-word start, three words
    assert ranges[0][1] % WORD == WORD - 1
    assert ranges[2][0] % WORD != 0 and (ranges[2][1] // WORD - ranges[2][0] // WORD) == 2
    trading = []
    for i, (first, last) in enumerate(ranges):
        days = _trading(first, last, seed=i)
        fresh.publish_calendar(first, last, days, doc(f"calendar-{i}"), sender=registrar)
        trading += days
    return {"reg": fresh, "epoch": epoch, "horizon": ranges[-1][1], "trading": trading}


# ------------------------------------------------------------------------- publish


def test_publish_calendar__first_sets_epoch_and_horizon_and_logs(fresh, registrar, today):
    first, last = today - 10, today + 20
    days = cal.weekdays(first, last)

    receipt = fresh.publish_calendar(first, last, days, doc("notice"), sender=registrar)

    logs = receipt.events.filter(fresh.CalendarPublished)
    assert len(logs) == 1
    assert dict(logs[0].event_arguments) == {
        "first_day": first, "last_day": last, "trading_days": len(days),
        "actor": registrar.address, "doc": doc("notice"),
    }
    assert (fresh.epoch_day(), fresh.horizon_day()) == (first, last)


def test_publish_calendar__contiguous_extends_horizon(fresh, registrar, today):
    fresh.publish_calendar(today, today + 9, cal.weekdays(today, today + 9), doc("a"), sender=registrar)

    fresh.publish_calendar(today + 10, today + 19, [], doc("b"), sender=registrar)

    assert (fresh.epoch_day(), fresh.horizon_day()) == (today, today + 19)
    assert fresh.trading_day_number_of_day(today + 19) == len(cal.weekdays(today, today + 9))


@pytest.mark.parametrize("offset", [0, 5, 11, 15], ids=["overlap-start", "overlap", "gap", "far-gap"])
def test_publish_calendar__not_after_horizon__reverts(fresh, registrar, today, offset):
    fresh.publish_calendar(today, today + 9, [], doc("a"), sender=registrar)

    with ape.reverts("calendar: range must start after the horizon"):
        fresh.publish_calendar(today + offset, today + offset + 9, [], doc("b"), sender=registrar)


def test_publish_calendar__longest_range_accepted(fresh, registrar, today):
    first, last = today, today + 399  # 400 days
    fresh.publish_calendar(first, last, list(range(first, last + 1)), doc("a"), sender=registrar)

    assert fresh.trading_day_number_of_day(last) == 400


@pytest.mark.parametrize(
    "first,last,reason",
    [
        (100, 99, "calendar: empty range"),
        (100, 500, "calendar: range too long"),
        (0, 10, "calendar: day out of range"),
        (2**24 - 5, 2**24, "calendar: day out of range"),
    ],
    ids=["empty", "401-days", "day-zero", "beyond-24-bits"],
)
def test_publish_calendar__bad_range__reverts(fresh, registrar, first, last, reason):
    with ape.reverts(reason):
        fresh.publish_calendar(first, last, [], doc("a"), sender=registrar)


@pytest.mark.parametrize(
    "days,reason",
    [
        ([99], "calendar: trading day outside range"),
        ([100, 111], "calendar: trading day outside range"),
        ([101, 101], "calendar: trading days not increasing"),
        ([103, 102], "calendar: trading days not increasing"),
    ],
    ids=["before", "after", "duplicate", "decreasing"],
)
def test_publish_calendar__bad_trading_days__reverts(fresh, registrar, days, reason):
    with ape.reverts(reason):
        fresh.publish_calendar(100, 110, days, doc("a"), sender=registrar)


def test_trading_day_number__nothing_published__reverts(fresh, today):
    assert not fresh.is_trading_day(today)
    with ape.reverts("calendar: day not published"):
        fresh.trading_day_number_of_day(today)


# ------------------------------------------------------------- numbers vs reference


def _sample_days(p):
    epoch, horizon = p["epoch"], p["horizon"]
    days = set(range(epoch - 3, epoch + 4)) | set(range(horizon - 3, horizon + 1))
    for w in range(epoch // WORD, horizon // WORD + 1):
        days |= set(range(w * WORD - 2, w * WORD + 3))  # both sides of every word boundary
    days |= set(range(epoch, horizon + 1, 9))
    return sorted(d for d in days if d <= horizon)


def test_trading_day_number_of_day__matches_reference_across_words(published):
    reg, trading, epoch = published["reg"], published["trading"], published["epoch"]
    days = _sample_days(published)
    assert len(days) > 100

    got = [reg.trading_day_number_of_day(d) for d in days]

    assert got == [cal.trading_day_number(d, trading, epoch) for d in days]


def test_trading_day_number_of_day__at_horizon_counts_every_trading_day(published):
    assert published["reg"].trading_day_number_of_day(published["horizon"]) == len(published["trading"])


def test_trading_day_number_of_day__before_epoch_is_zero(published):
    assert published["reg"].trading_day_number_of_day(published["epoch"] - 1) == 0
    assert published["reg"].trading_day_number_of_day(1) == 0


def test_trading_day_number_of_day__beyond_horizon__reverts(published):
    with ape.reverts("calendar: day not published"):
        published["reg"].trading_day_number_of_day(published["horizon"] + 1)


def test_trading_day_number__of_timestamp_uses_local_day(published):
    reg, trading, epoch = published["reg"], published["trading"], published["epoch"]
    for day in (epoch + 3, epoch + 74, epoch + 300):
        midnight_local = day * 86400 - UTC_OFFSET_CHINA  # 00:00 at UTC+8, in UTC seconds
        for ts in (midnight_local, midnight_local + 86399):
            assert reg.trading_day_number(ts) == cal.trading_day_number(day, trading, epoch)
        assert reg.trading_day_number(midnight_local - 1) == cal.trading_day_number(day - 1, trading, epoch)


def test_is_trading_day__matches_published_days(published):
    reg, trading = published["reg"], set(published["trading"])
    for day in _sample_days(published)[::3]:
        assert reg.is_trading_day(day) == (day in trading), day


def test_is_trading_day__outside_published_range_is_false(published):
    reg = published["reg"]
    assert not reg.is_trading_day(published["epoch"] - 1)
    assert not reg.is_trading_day(published["horizon"] + 1)


def test_is_trading_day__session_calendar_is_weekdays(register, today):
    for day in range(today - 3, today + 11):
        assert register.is_trading_day(day) == (cal.date_of(day).weekday() < 5)


# -------------------------------------------------------------------------- amend


def _pick(published, trading: bool, after: int):
    days = set(published["trading"])
    return next(d for d in range(published["epoch"] + after, published["horizon"])
                if (d in days) == trading)


@pytest.mark.parametrize("to_trading", [False, True], ids=["to-holiday", "to-trading"])
def test_amend_calendar__flips_day_and_renumbers_later_days(published, registrar, to_trading):
    reg, epoch = published["reg"], published["epoch"]
    day = _pick(published, not to_trading, after=40)  # in the first word
    trading = set(published["trading"]) ^ {day}

    receipt = reg.amend_calendar(day, to_trading, doc("amend"), sender=registrar)

    logs = receipt.events.filter(reg.CalendarAmended)
    assert len(logs) == 1
    assert dict(logs[0].event_arguments) == {
        "day": day, "trading": to_trading, "actor": registrar.address, "doc": doc("amend"),
    }
    assert reg.is_trading_day(day) == to_trading
    days = [d for d in _sample_days(published) if d >= day - 3]
    assert [reg.trading_day_number_of_day(d) for d in days] == [
        cal.trading_day_number(d, trading, epoch) for d in days
    ]


def test_amend_calendar__twice_restores_numbers(published, registrar):
    reg = published["reg"]
    day = _pick(published, True, after=100)
    before = reg.trading_day_number_of_day(published["horizon"])

    reg.amend_calendar(day, False, doc("a"), sender=registrar)
    assert reg.trading_day_number_of_day(published["horizon"]) == before - 1
    reg.amend_calendar(day, True, doc("b"), sender=registrar)

    assert reg.trading_day_number_of_day(published["horizon"]) == before


@pytest.mark.parametrize("trading", [True, False])
def test_amend_calendar__same_status__reverts(published, registrar, trading):
    day = _pick(published, trading, after=10)

    with ape.reverts("calendar: day already has that status"):
        published["reg"].amend_calendar(day, trading, doc("a"), sender=registrar)


@pytest.mark.parametrize("offset", [0, -1, -30], ids=["today", "yesterday", "last-month"])
def test_amend_calendar__not_future__reverts(register, registrar, today, offset):
    day = today + offset
    with ape.reverts("calendar: only future days can be amended"):
        register.amend_calendar(day, not register.is_trading_day(day), doc("a"), sender=registrar)


def test_amend_calendar__tomorrow__accepted(register, registrar, today):
    day = today + 1
    register.amend_calendar(day, not register.is_trading_day(day), doc("a"), sender=registrar)


def test_amend_calendar__beyond_horizon__reverts(published, registrar):
    with ape.reverts("calendar: day not published"):
        published["reg"].amend_calendar(published["horizon"] + 1, True, doc("a"), sender=registrar)


def test_amend_calendar__then_publish_continues_numbering(published, registrar):
    reg, horizon = published["reg"], published["horizon"]
    day = _pick(published, True, after=5)
    reg.amend_calendar(day, False, doc("a"), sender=registrar)
    count = reg.trading_day_number_of_day(horizon)

    reg.publish_calendar(horizon + 1, horizon + 14, cal.weekdays(horizon + 1, horizon + 14), doc("b"),
                         sender=registrar)

    assert reg.trading_day_number_of_day(horizon + 14) == count + len(cal.weekdays(horizon + 1, horizon + 14))


# --------------------------------------------------------------------------- clock


@pytest.mark.parametrize(
    "timestamp,day",
    [
        (0, 0),
        (16 * 3600 - 1, 0),          # 23:59:59 on 1970-01-01 in UTC+8
        (16 * 3600, 1),              # 00:00:00 on 1970-01-02 in UTC+8
        (1_700_000_000, 19676),      # 2023-11-15 06:13:20 in UTC+8
        (1_699_977_599, 19675),      # 2023-11-14 23:59:59 in UTC+8
    ],
)
def test_day_of__utc_plus_8(register, timestamp, day):
    assert register.UTC_OFFSET() == UTC_OFFSET_CHINA
    assert register.day_of(timestamp) == day == cal.day_of_timestamp(timestamp)


def test_today__is_day_of_the_chain_clock(register, chain):
    head = chain.blocks.head.timestamp
    assert register.today() in {register.day_of(head), register.day_of(chain.pending_timestamp)}


def test_today__follows_the_chain_clock(register, today, advance_days):
    advance_days(3)
    assert register.today() == today + 3


def test_deploy__milliseconds_clock_gives_the_same_days(register, governance):
    ms = suite.deploy(governance, governance, time_unit_ms=True)

    assert (ms.TIME_UNIT(), register.TIME_UNIT()) == (1000, 1)
    for ts in (0, 16 * 3600 - 1, 16 * 3600, 1_699_977_599, 1_700_000_000, 1_800_000_000):
        assert ms.day_of(ts * 1000) == ms.day_of(ts * 1000 + 999) == register.day_of(ts)


def _deploy_desks(deployer, project, time_unit_ms, utc_offset_s, **clock_of):
    """Deploy the desks as suite.deploy does, each with the clock given (a desk named in
    ``clock_of``: with that (time_unit_ms, utc_offset_s) instead); return name -> address."""
    return {name: deployer.deploy(getattr(project, name), *clock_of.get(name, (time_unit_ms, utc_offset_s))).address
            for name in suite.DESKS}


def test_deploy__utc_offset_of_a_day__reverts(governance, project):
    with ape.reverts("calendar: utc offset too large"):
        governance.deploy(getattr(project, suite.DESKS[-1]), False, 86400)


@pytest.mark.parametrize("desk", [suite.DESKS[0], suite.DESKS[-1]])
def test_deploy__register_with_a_desk_of_another_clock__reverts(register, governance, project, desk):
    desks = _deploy_desks(governance, project, False, UTC_OFFSET_CHINA, **{desk: (True, UTC_OFFSET_CHINA)})  # ms
    with ape.reverts("register: desk clock differs"):
        governance.deploy(project.Register, *suite.constructor_args("Register", governance, False, UTC_OFFSET_CHINA, desks))


def test_deploy__register_with_another_clock__reverts(register, governance, project):
    desks = _deploy_desks(governance, project, False, 0)  # UTC
    with ape.reverts("register: desk clock differs"):
        governance.deploy(project.Register, *suite.constructor_args("Register", governance, False, UTC_OFFSET_CHINA, desks))


@pytest.mark.parametrize("desk", [suite.DESKS[0], suite.DESKS[-1]])
def test_deploy__desk_not_a_contract__reverts(governance, outsider, project, desk):
    desks = {**_deploy_desks(governance, project, False, UTC_OFFSET_CHINA), desk: outsider.address}
    with ape.reverts("register: desk is not a contract"):
        governance.deploy(project.Register, *suite.constructor_args("Register", governance, False, UTC_OFFSET_CHINA, desks))


# ------------------------------------------------- a calendar that starts in the future


def test_amend_calendar__before_epoch__reverts(published, registrar):
    """A day before the first published day is not published: amending it would set a bit the
    epoch's word counts (shifting every later number) while is_trading_day still says no."""
    reg, epoch = published["reg"], published["epoch"]

    with ape.reverts("calendar: day not published"):
        reg.amend_calendar(epoch - 1, True, doc("a"), sender=registrar)
    assert reg.trading_day_number_of_day(epoch + 10) == cal.trading_day_number(
        epoch + 10, published["trading"], epoch)


@pytest.fixture
def before_epoch(governance, registrar, alice, bob, today):
    """A new suite whose calendar starts tomorrow, with a sealed JSC held by alice."""
    fresh = suite.deploy(governance, governance)
    fresh.grant_role(registrar, Role.REGISTRAR, doc("grant"), sender=governance)
    fresh.publish_calendar(today + 1, today + 30, cal.weekdays(today + 1, today + 30), doc("c"), sender=registrar)
    for who in (alice, bob):
        fresh.open_account(who, doc(f"id-{who.address}"), 1, True, doc("open"), sender=registrar)
    fresh.register_security(doc("early"), 2, 0, 100, doc("reg"), sender=registrar)
    fresh.register_holdings(1, [(alice.address, 100, 100, today - 30, 0, False)], doc("h"), sender=registrar)
    fresh.seal_security(1, doc("seal"), sender=registrar)
    return fresh


def test_transfer__today_before_calendar_epoch__reverts(before_epoch, alice, bob, today):
    """Today precedes the first published day, so today is not published."""
    assert not before_epoch.is_trading_day(today)
    reason = "ledger: calendar not published for today"

    assert before_epoch.can_transfer(alice, bob, 1, 1) == (False, reason)
    with ape.reverts(reason):
        before_epoch.transfer(bob, 1, 1, sender=alice)


def test_increase_capital__today_before_calendar_epoch__reverts(before_epoch, registrar, alice):
    with ape.reverts("corporate_actions: calendar not published for today"):
        before_epoch.increase_capital(1, [(alice.address, 10, 10)], doc("inc"), sender=registrar)
