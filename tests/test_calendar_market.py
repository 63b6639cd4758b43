"""The market's trading calendar (regchain.calendar.market_days, setup.ensure_calendar, `ops
calendar amend`): weekends and the official holidays of mainland China are closed, adjusted
working weekends too; on chain, the holding period across Spring Festival 2026 counts only
the days the market traded (real transactions, the node's clock set to February 2026)."""

from __future__ import annotations

import datetime as dt

import ape
import pytest
from click.testing import CliRunner

from conftest import doc, script_cli
from regchain import calendar as cal
from regchain import suite
from regchain.constants import InvestorClass, Kind, Role
from regchain.provision import ensure_calendar

D = lambda text: cal.day_number(dt.date.fromisoformat(text))  # noqa: E731
HOLDING = "ledger: holding period not met"


# ---------------------------------------------------------------- the days themselves


def test_market_days__spring_festival_2026__closed_with_the_adjusted_saturday():
    days = {str(cal.date_of(d)) for d in cal.market_days(D("2026-02-09"), D("2026-03-01"))}

    assert sorted(days) == ["2026-02-09", "2026-02-10", "2026-02-11", "2026-02-12", "2026-02-13",
                            "2026-02-24", "2026-02-25", "2026-02-26", "2026-02-27"]
    # 2026-02-14 and 2026-02-28 are working Saturdays of the State Council's notice: no trading
    assert not cal.is_market_day(dt.date(2026, 2, 14)) and not cal.is_market_day(dt.date(2026, 2, 28))


def test_market_days__national_day_2025__closed_and_working_sunday_closed():
    days = cal.market_days(D("2025-09-27"), D("2025-10-12"))

    assert [str(cal.date_of(d)) for d in days] == ["2025-09-29", "2025-09-30", "2025-10-09", "2025-10-10"]


def test_market_days__past_the_official_data__raises_calendar_gap():
    last = cal.official_last_day()

    with pytest.raises(cal.CalendarGap, match=f"{cal.date_of(last + 1)} is past the official holidays"):
        cal.market_days(last - 5, last + 5)


def test_market_days__provisional__weekdays_less_the_statutory_holidays():
    last = cal.official_last_day()
    year = cal.date_of(last).year + 1
    first = D(f"{year}-04-28")

    days = cal.market_days(first, D(f"{year}-05-06"), provisional=True)

    want = [d for d in cal.weekdays(first, D(f"{year}-05-06"))
            if cal.date_of(d) not in (dt.date(year, 5, 1), dt.date(year, 5, 2))]
    assert days == want


def test_statutory_holidays__years_with_official_data__each_computed_day_is_an_official_holiday():
    import chinese_calendar

    for year in range(2021, cal.official_last_date().year + 1):
        computed = cal.statutory_holidays(year)

        assert not computed - chinese_calendar.holidays.keys(), (year, sorted(computed - chinese_calendar.holidays.keys()))
        assert len(computed) == (13 if year >= 2025 else 12)


def test_market_days__provisional_year__spring_festival_and_qingming_closed():
    if cal.official_last_date().year >= 2027:
        pytest.skip("the pinned data already covers 2027")

    february = cal.market_days(D("2027-02-01"), D("2027-02-12"), provisional=True)
    april = cal.market_days(D("2027-04-01"), D("2027-04-09"), provisional=True)

    # 除夕 Friday 5 February, 初一..初三 Saturday 6 to Monday 8 February 2027; Qingming Monday 5 April
    assert [str(cal.date_of(d)) for d in february] == [
        "2027-02-01", "2027-02-02", "2027-02-03", "2027-02-04", "2027-02-09", "2027-02-10", "2027-02-11",
        "2027-02-12"]
    assert "2027-04-05" not in [str(cal.date_of(d)) for d in april] and len(april) == 6


def test_qingming__outside_this_century__calendar_gap():
    assert cal.qingming(2026) == dt.date(2026, 4, 5) and cal.qingming(2025) == dt.date(2025, 4, 4)
    with pytest.raises(cal.CalendarGap, match="Qingming of 2100: only the years 2001-2099 are computed"):
        cal.qingming(2100)


# ---------------------------------------------------------------- on chain, February 2026


def _at(text: str, hour: int = 10) -> int:
    """The chain timestamp of ``text`` at ``hour`` o'clock in Beijing."""
    local = dt.datetime.fromisoformat(text).replace(hour=hour, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    return int(local.timestamp())


def _set_clock(chain, text: str):
    chain.provider.make_request("evm_setTime", [_at(text)])
    chain.mine()


@pytest.fixture(scope="module")
def festival(chain, governance, registrar, alice, bob):
    """A suite deployed on 2026-02-11 (a Wednesday before Spring Festival) with the market's
    calendar published by ensure_calendar; alice and bob hold a JSC acquired that day."""
    before = chain.provider.get_block("latest").timestamp
    _set_clock(chain, "2026-02-11")
    reg = suite.deploy(governance, governance)
    reg.grant_role(registrar, Role.REGISTRAR, doc("registrar"), sender=governance)
    lines = []
    ensure_calendar(reg, registrar, back_days=60, ahead_days=300, echo=lines.append)
    for who in (alice, bob):
        reg.open_account(who, doc(f"id:{who.address}"), InvestorClass.INDIVIDUAL, True, doc("open"),
                         sender=registrar)
    code = doc("SF-2026")
    reg.register_security(code, Kind.JSC, 0, 200, doc("registration"), sender=registrar)
    sid = reg.security_id(code)
    today = reg.today()
    reg.register_holdings(sid, [(alice.address, 100, 100, today, 0, False),
                                (bob.address, 100, 100, today, 0, False)], doc("holdings"), sender=registrar)
    reg.seal_security(sid, doc("seal"), sender=registrar)
    yield {"reg": reg, "sid": sid, "acquired": today, "lines": lines}
    chain.provider.make_request("evm_setTime", [max(before, chain.provider.get_block("latest").timestamp) + 1])
    chain.mine()


def test_ensure_calendar__publishes_official_market_days(festival):
    reg = festival["reg"]

    assert festival["acquired"] == D("2026-02-11")
    for day in ("2026-02-14", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
                "2026-02-21"):
        assert not reg.is_trading_day(D(day)), day
    for day in ("2026-02-13", "2026-02-24", "2026-10-09"):
        assert reg.is_trading_day(D(day)), day
    assert reg.trading_day_number_of_day(D("2026-02-24")) == reg.trading_day_number_of_day(D("2026-02-13")) + 1
    assert any("calendar published" in line and "chinesecalendar" in line for line in festival["lines"])


@pytest.mark.parametrize("day", ["2026-02-14", "2026-02-18", "2026-02-25"],
                         ids=["adjusted-working-saturday", "7-weekdays-later", "4th-trading-day"])
def test_transfer__holding_period_across_spring_festival__refused(chain, festival, alice, bob, day):
    reg, sid = festival["reg"], festival["sid"]
    _set_clock(chain, day)

    assert reg.can_transfer(alice, bob, sid, 1) == (False, HOLDING)
    with ape.reverts(HOLDING):
        reg.transfer(bob, sid, 1, sender=alice)


def test_transfer__holding_period_across_spring_festival__5th_trading_day_accepted(chain, festival, alice, bob):
    reg, sid = festival["reg"], festival["sid"]
    _set_clock(chain, "2026-02-26")  # Thu: trading days 12, 13, 24, 25, 26 February

    assert reg.can_transfer(alice, bob, sid, 1) == (True, "")
    receipt = reg.transfer(bob, sid, 1, sender=alice)

    assert len(receipt.events.filter(reg.Transfer)) == 1
    assert reg.balanceOf(bob, sid) == 101


# ---------------------------------------------------------------- ops calendar amend


@pytest.fixture(scope="module")
def ops():
    cli = script_cli("ops", "calendar_market")

    def _run(reg, account, *args):
        base = ["--register", reg.address, "--account", account.address, "--yes"]
        return CliRunner().invoke(cli, base + [str(a) for a in args], catch_exceptions=False)

    return _run


def test_ops_calendar_amend__extraordinary_closure__closes_the_weekdays_and_logs(festival, registrar, ops):
    reg = festival["reg"]
    tn_after = reg.trading_day_number_of_day(D("2026-03-10"))

    result = ops(reg, registrar, "calendar", "amend", "2026-03-06", "--to", "2026-03-09", "--closed",
                 "--doc", "typhoon notice")

    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "2 days amended"  # Fri 6 and Mon 9; the weekend stays
    assert not reg.is_trading_day(D("2026-03-06")) and not reg.is_trading_day(D("2026-03-09"))
    assert reg.trading_day_number_of_day(D("2026-03-10")) == tn_after - 2


def test_ops_calendar_amend__past_day__refused_in_one_line(festival, registrar, ops):
    result = ops(festival["reg"], registrar, "calendar", "amend", "2026-02-10", "--closed")

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("will send amend_calendar(day=20494, trading=False, doc=0x")
    assert lines[1:] == ["Error: refused: calendar: only future days can be amended"]


def test_ops_calendar_amend__bad_date__one_line_before_connecting(festival, registrar, ops):
    result = ops(festival["reg"], registrar, "calendar", "amend", "2026-02-30")

    assert result.exit_code == 1
    assert result.output.strip() == "Error: '2026-02-30' is neither a date (YYYY-MM-DD) nor a day number"
