"""Market calendars: NYSE sessions, holidays, early closes, DST, time zones, plugins.

Every table case runs under ``TZ=Asia/Tokyo`` and ``TZ=UTC`` with a calendar built
after the switch, because the classic bug is an answer that silently follows the
machine's time zone.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pluggy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import optscan.hookspecs
from optscan.default_plugins.calendars import CALENDAR_NAMES, BuiltinCalendars, builtin_calendar
from optscan.default_plugins.calendars.expirations import (
    standard_weekly_expiration,
    weekly_expirations,
)
from optscan.default_plugins.calendars.nyse import NyseCalendar
from optscan.default_plugins.calendars.simple import AlwaysOpenCalendar, WeekdaysCalendar
from optscan.hookspecs import hookimpl
from optscan.models import MarketStatus
from optscan.protocols import MarketCalendar
from optscan.scan.window import within_scan_window

NY = ZoneInfo("America/New_York")
SRC = Path(__file__).resolve().parents[1] / "src"


def ny(text: str) -> dt.datetime:
    """An instant written as New York wall time."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


# instant (New York), is_open, session, early_close, opens_at, closes_at, next_open
CASES = [
    ("2025-12-25T11:00", False, None, False, None, None, "2025-12-26T09:30"),  # Christmas
    ("2026-01-19T11:00", False, None, False, None, None, "2026-01-20T09:30"),  # MLK day
    ("2026-04-03T11:00", False, None, False, None, None, "2026-04-06T09:30"),  # Good Friday
    ("2025-01-09T11:00", False, None, False, None, None, "2025-01-10T09:30"),  # Carter
    ("2025-11-28T12:59", True, "2025-11-28", True, "09:30", "13:00", "2025-12-01T09:30"),
    ("2025-11-28T13:00", False, "2025-11-28", True, "09:30", "13:00", "2025-12-01T09:30"),
    ("2025-12-24T10:00", True, "2025-12-24", True, "09:30", "13:00", "2025-12-26T09:30"),
    ("2025-12-24T14:00", False, "2025-12-24", True, "09:30", "13:00", "2025-12-26T09:30"),
    ("2025-07-03T12:59", True, "2025-07-03", True, "09:30", "13:00", "2025-07-07T09:30"),
    ("2026-03-09T09:35", True, "2026-03-09", False, "09:30", "16:00", "2026-03-10T09:30"),
    ("2026-03-09T09:00", False, "2026-03-09", False, "09:30", "16:00", "2026-03-09T09:30"),
    ("2026-11-02T09:35", True, "2026-11-02", False, "09:30", "16:00", "2026-11-03T09:30"),
    ("2026-11-02T09:00", False, "2026-11-02", False, "09:30", "16:00", "2026-11-02T09:30"),
    ("2026-11-28T11:00", False, None, False, None, None, "2026-11-30T09:30"),  # Saturday
    ("2026-11-29T23:59", False, None, False, None, None, "2026-11-30T09:30"),  # Sunday
    ("2026-11-18T16:00", False, "2026-11-18", False, "09:30", "16:00", "2026-11-19T09:30"),
    ("2026-11-18T15:59", True, "2026-11-18", False, "09:30", "16:00", "2026-11-19T09:30"),
    ("2026-11-18T09:30", True, "2026-11-18", False, "09:30", "16:00", "2026-11-19T09:30"),
    ("2026-11-18T00:00", False, "2026-11-18", False, "09:30", "16:00", "2026-11-18T09:30"),
    ("2027-12-31T17:00", False, "2027-12-31", False, "09:30", "16:00", "2028-01-03T09:30"),
    ("2028-06-15T10:00", True, "2028-06-15", False, "09:30", "16:00", "2028-06-16T09:30"),
    ("2029-01-01T10:00", False, None, False, None, None, "2029-01-02T09:30"),  # New Year
    ("2029-01-02T10:00", True, "2029-01-02", False, "09:30", "16:00", "2029-01-03T09:30"),
]


@pytest.fixture(params=["Asia/Tokyo", "UTC"])
def machine_tz(request, monkeypatch):
    """Run under another machine time zone (restored afterwards): answers must not move."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    assert time.timezone == (-9 * 3600 if request.param == "Asia/Tokyo" else 0)
    yield request.param
    monkeypatch.undo()
    time.tzset()


def _views(at: dt.datetime) -> list[dt.datetime]:
    """One instant written in New York, UTC, Tokyo and two fixed offsets."""
    zones = [
        NY,
        dt.UTC,
        ZoneInfo("Asia/Tokyo"),
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(-dt.timedelta(hours=8)),
    ]
    return [at.astimezone(zone) for zone in zones]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_nyse_table(case, machine_tz):
    at, is_open, session, early, opens, closes, next_open = case
    cal = NyseCalendar()  # built after the TZ switch
    for instant in _views(ny(at)):
        status = cal.status(instant)
        assert status.calendar == "nyse"
        assert status.is_open is is_open
        assert (status.session.isoformat() if status.session else None) == session
        assert status.early_close is early
        day = session or ""
        assert status.opens_at == (ny(f"{day}T{opens}") if opens else None)
        assert status.closes_at == (ny(f"{day}T{closes}") if closes else None)
        assert status.next_open == ny(next_open)
        assert status.next_open > status.at
        assert status.at == instant
        assert status.at.tzinfo == NY  # reported in New York time
        for value in (status.opens_at, status.closes_at, status.next_open):
            assert value is None or value.tzinfo == NY


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        ("2026-03-06T14:30", True),  # Friday before the March change: open = 14:30 UTC
        ("2026-03-06T14:29", False),
        ("2026-03-09T13:30", True),  # Monday after it: open = 13:30 UTC
        ("2026-03-09T13:29", False),
        ("2026-03-09T19:59", True),
        ("2026-03-09T20:00", False),
        ("2026-10-30T13:30", True),  # Friday before the November change
        ("2026-11-02T14:29", False),  # Monday after it: open = 14:30 UTC
        ("2026-11-02T14:30", True),
        ("2026-11-02T21:00", False),
        ("2025-11-28T17:59", True),  # early close 13:00 New York = 18:00 UTC
        ("2025-11-28T18:00", False),
    ],
)
def test_dst_in_utc(instant, is_open, machine_tz):
    """Written in UTC so a table and a calendar sharing one DST bug cannot agree."""
    assert NyseCalendar().status(utc(instant)).is_open is is_open


def test_nyse_far_future_and_past_widen_the_window(machine_tz):
    cal = NyseCalendar()
    assert cal.status(ny("2026-11-18T10:00")).is_open
    # Thanksgiving 2045, then the first session after it, decades past the window.
    far = cal.status(ny("2045-11-23T10:00"))
    assert not far.is_open and far.session is None
    assert far.next_open == ny("2045-11-24T09:30")
    assert cal.status(ny("2045-11-24T12:59")).early_close
    assert cal.is_session(dt.date(2031, 6, 3))
    # Before the window: Hurricane Sandy and 9/11 closures, pre-1993 early close.
    assert not cal.is_session(dt.date(2012, 10, 29))
    assert not cal.is_session(dt.date(2001, 9, 11))
    assert cal.status(ny("1990-03-14T10:00")).is_open
    # Still answering for the present after both rebuilds.
    assert cal.status(ny("2026-11-27T12:59")).early_close


def test_nyse_outside_what_the_library_models():
    cal = NyseCalendar()
    with pytest.raises(ValueError, match="1678-2261"):
        cal.status(ny("2300-01-03T10:00"))
    with pytest.raises(ValueError, match="1678-2261"):
        cal.is_session(dt.date(1600, 1, 3))


def test_nyse_is_session(machine_tz):
    cal = NyseCalendar()
    assert not cal.is_session(dt.date(2025, 1, 9))  # one-off closure
    assert cal.is_session(dt.date(2025, 1, 10))
    assert not cal.is_session(dt.date(2026, 11, 28))  # Saturday
    assert cal.is_session(dt.date(2025, 12, 24))  # half day is still a session
    assert isinstance(cal, MarketCalendar)


@pytest.mark.parametrize(
    "cal", [NyseCalendar(), WeekdaysCalendar(), AlwaysOpenCalendar()], ids=lambda c: c.name
)
def test_naive_instants_are_refused(cal):
    with pytest.raises(ValueError, match="time zone"):
        cal.status(dt.datetime(2026, 11, 18, 11, 0))


_xnys = None


def _reference():
    """exchange_calendars itself, on a fixed window so the test does not age."""
    global _xnys
    if _xnys is None:
        import exchange_calendars as xcals

        _xnys = xcals.get_calendar("XNYS", start="2009-01-01", end="2028-12-31")
    return _xnys


@settings(max_examples=150, deadline=None)
@given(
    st.datetimes(
        min_value=dt.datetime(2010, 1, 1),
        max_value=dt.datetime(2027, 6, 30),
        timezones=st.sampled_from([dt.UTC, NY, ZoneInfo("Asia/Tokyo")]),
    )
)
def test_nyse_agrees_with_exchange_calendars(at):
    """The precomputed tables answer what the library's own (slow) API answers."""
    import pandas as pd

    xnys = _reference()
    status = builtin_calendar("nyse").status(at)
    minute = pd.Timestamp(at.astimezone(dt.UTC))  # Python's rule for gaps and folds
    assert status.is_open is bool(xnys.is_open_at_time(minute, side="left"))
    # The library's next open is strictly after the minute; ours strictly after ``at``.
    assert status.next_open == xnys.next_open(minute.floor("min")).to_pydatetime()
    day = status.at.date()
    assert (status.session == day) is xnys.is_session(day.isoformat())
    if status.session is not None:
        assert status.closes_at == xnys.session_close(day.isoformat()).to_pydatetime()


# ------------------------------------------------------------------- simple calendars


def test_weekdays(machine_tz):
    wk = WeekdaysCalendar()
    christmas = wk.status(ny("2025-12-25T11:00"))
    assert christmas.is_open and christmas.session == dt.date(2025, 12, 25)  # no holidays
    assert christmas.at.tzinfo == NY and not christmas.early_close
    assert christmas.closes_at == ny("2025-12-25T16:00")
    assert not wk.status(ny("2026-11-18T16:00")).is_open
    assert wk.status(ny("2026-11-18T09:30")).is_open
    assert not wk.status(ny("2026-11-18T09:29")).is_open
    saturday = wk.status(ny("2026-11-21T11:00"))
    assert not saturday.is_open and saturday.session is None and saturday.opens_at is None
    assert saturday.next_open == ny("2026-11-23T09:30")
    assert wk.status(ny("2026-11-18T10:00")).next_open == ny("2026-11-19T09:30")
    assert wk.status(ny("2026-11-18T09:00")).next_open == ny("2026-11-18T09:30")
    assert wk.status(ny("2026-11-20T17:00")).next_open == ny("2026-11-23T09:30")
    assert wk.status(utc("2026-03-09T13:30")).is_open  # DST in New York, not the machine
    assert not wk.status(utc("2026-11-02T14:29")).is_open
    tokyo_monday = wk.status(dt.datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert tokyo_monday.session is None  # still Sunday in New York
    assert wk.is_session(dt.date(2026, 4, 3)) and not wk.is_session(dt.date(2026, 11, 22))


def test_always_open(machine_tz):
    cal = AlwaysOpenCalendar()
    at = dt.datetime(2026, 11, 22, 8, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    status = cal.status(at)
    assert status.is_open and status.session == dt.date(2026, 11, 21)  # New York date
    assert status.opens_at is None and status.closes_at is None
    assert status.next_open == at and status.at.tzinfo == NY
    assert cal.is_session(dt.date(2025, 12, 25))


# ---------------------------------------------------------------------- expirations


@pytest.mark.parametrize(
    ("friday", "expiry"),
    [
        ("2026-04-03", "2026-04-02"),  # Good Friday
        ("2026-06-19", "2026-06-18"),  # Juneteenth
        ("2026-11-20", "2026-11-20"),  # a normal Friday
        ("2026-12-25", "2026-12-24"),  # Christmas: the half day before it
    ],
)
def test_expiration_moves_before_friday_holidays(friday, expiry, machine_tz):
    cal = NyseCalendar()
    got = standard_weekly_expiration(dt.date.fromisoformat(friday), cal)
    assert got == dt.date.fromisoformat(expiry)


def test_expirations_with_other_calendars():
    assert standard_weekly_expiration(dt.date(2026, 4, 3), WeekdaysCalendar()) == dt.date(
        2026, 4, 3
    )
    with pytest.raises(ValueError, match="not a Friday"):
        standard_weekly_expiration(dt.date(2026, 4, 2), NyseCalendar())

    class ClosedAllWeek:
        name = "closed"

        def is_session(self, day: dt.date) -> bool:
            return not dt.date(2026, 11, 16) <= day <= dt.date(2026, 11, 22)

    with pytest.raises(ValueError, match="no trading day"):
        standard_weekly_expiration(dt.date(2026, 11, 20), ClosedAllWeek())
    weeks = weekly_expirations(dt.date(2026, 11, 9), dt.date(2026, 11, 29), ClosedAllWeek())
    assert weeks == [dt.date(2026, 11, 13), dt.date(2026, 11, 27)]


def test_weekly_expirations_in_a_range(machine_tz):
    cal = NyseCalendar()
    weeks = weekly_expirations(dt.date(2026, 3, 30), dt.date(2026, 4, 12), cal)
    assert weeks == [dt.date(2026, 4, 2), dt.date(2026, 4, 10)]
    # Range ending on the Thursday a Good Friday expiry moved to still includes it.
    assert weekly_expirations(dt.date(2026, 4, 2), dt.date(2026, 4, 2), cal) == [
        dt.date(2026, 4, 2)
    ]
    assert weekly_expirations(dt.date(2026, 4, 3), dt.date(2026, 4, 9), cal) == []
    assert weekly_expirations(dt.date(2026, 5, 1), dt.date(2026, 4, 1), cal) == []
    june = weekly_expirations(dt.date(2026, 6, 1), dt.date(2026, 6, 30), cal)
    assert june == [dt.date(2026, 6, d) for d in (5, 12, 18, 26)]


# -------------------------------------------------------------------------- buffers


def test_buffers(machine_tz):
    cal = NyseCalendar()
    assert within_scan_window(cal.status(ny("2026-11-18T09:40")), 0, 0)
    assert not within_scan_window(cal.status(ny("2026-11-18T09:40")), 15, 0)
    assert not within_scan_window(cal.status(ny("2026-11-18T09:44:59")), 15, 0)
    assert within_scan_window(cal.status(ny("2026-11-18T09:45")), 15, 0)
    assert within_scan_window(cal.status(ny("2026-11-18T15:44")), 15, 15)
    assert not within_scan_window(cal.status(ny("2026-11-18T15:45")), 0, 15)
    assert not within_scan_window(cal.status(ny("2026-11-18T15:50")), 0, 15)
    assert within_scan_window(cal.status(ny("2026-11-18T15:59")), 0, 0)
    assert not within_scan_window(cal.status(ny("2025-11-28T12:50")), 0, 15)  # early close
    assert within_scan_window(cal.status(ny("2025-11-28T12:44")), 0, 15)
    assert not within_scan_window(cal.status(ny("2026-11-18T16:00")), 0, 0)  # closed
    assert not within_scan_window(cal.status(ny("2026-11-21T12:00")), 0, 0)  # weekend
    always = AlwaysOpenCalendar().status(ny("2026-11-21T12:00"))
    assert within_scan_window(always, 30, 30)  # no open or close time, no buffers
    with pytest.raises(ValueError, match=">= 0"):
        within_scan_window(always, -1, 0)


def test_buffers_on_a_hand_made_status():
    """Buffers work on any calendar's answer, whatever zone its datetimes are in."""
    status = MarketStatus(
        calendar="custom",
        at=utc("2026-11-18T14:35"),
        is_open=True,
        session=dt.date(2026, 11, 18),
        opens_at=ny("2026-11-18T09:30"),
        closes_at=ny("2026-11-18T16:00"),
    )
    assert not within_scan_window(status, 10, 0)
    assert within_scan_window(status, 5, 0)


# -------------------------------------------------------------------------- plugins


def test_firstresult_lookup_and_replacement():
    pm = pluggy.PluginManager("optscan")
    pm.add_hookspecs(optscan.hookspecs)
    pm.register(BuiltinCalendars())
    for name in CALENDAR_NAMES:
        assert pm.hook.market_calendar(name=name).name == name
    assert pm.hook.market_calendar(name="moon") is None
    # Built once per process: every lookup (and every plugin object) shares it.
    assert pm.hook.market_calendar(name="nyse") is pm.hook.market_calendar(name="nyse")
    assert BuiltinCalendars().market_calendar("nyse") is pm.hook.market_calendar(name="nyse")
    assert isinstance(pm.hook.market_calendar(name="nyse"), NyseCalendar)

    class Replacement:
        name = "nyse"

        def status(self, at: dt.datetime) -> MarketStatus:
            return MarketStatus(calendar=self.name, at=at, is_open=True)

        def is_session(self, day: dt.date) -> bool:
            return True

    class ThirdParty:
        calendar = Replacement()

        @hookimpl(tryfirst=True)
        def market_calendar(self, name):
            return self.calendar if name == "nyse" else None

    third = ThirdParty()
    pm.register(third)
    assert pm.hook.market_calendar(name="nyse") is third.calendar
    assert isinstance(third.calendar, MarketCalendar)
    assert pm.hook.market_calendar(name="weekdays").name == "weekdays"  # falls through
    pm.unregister(third)
    assert isinstance(pm.hook.market_calendar(name="nyse"), NyseCalendar)


def test_calendar_library_is_imported_lazily():
    code = (
        "import optscan.default_plugins.calendars, optscan.default_plugins.calendars.nyse, "
        "optscan.default_plugins.calendars.simple, optscan.default_plugins.calendars.expirations, "
        "optscan.scan.window, sys\n"
        "import optscan.default_plugins.calendars as c\n"
        "c.builtin_calendar('nyse')\n"
        "assert 'exchange_calendars' not in sys.modules, 'imported at module import'\n"
        "assert 'pandas' not in sys.modules, 'pandas imported at module import'\n"
        "c.builtin_calendar('nyse').is_session(__import__('datetime').date(2026, 11, 27))\n"
        "assert 'exchange_calendars' in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
