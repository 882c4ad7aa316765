"""Market calendars: NYSE sessions, holidays, early closes, DST, time zones, speed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pluggy
import pytest

import optscan.hookspecs
from optscan.calendars import BuiltinCalendars
from optscan.calendars.buffers import within_scan_window
from optscan.calendars.expirations import standard_weekly_expiration, weekly_expirations
from optscan.calendars.nyse import NyseCalendar
from optscan.calendars.simple import AlwaysOpenCalendar, WeekdaysCalendar
from optscan.hookspecs import hookimpl

NY = ZoneInfo("America/New_York")


def ny(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY)


# instant, is_open, session, early_close, opens_at, closes_at, next_open (all New York)
CASES = [
    ("2025-12-25T11:00", False, None, False, None, None, "2025-12-26T09:30"),  # Christmas
    ("2026-01-19T11:00", False, None, False, None, None, "2026-01-20T09:30"),  # MLK day
    ("2026-04-03T11:00", False, None, False, None, None, "2026-04-06T09:30"),  # Good Friday
    ("2025-01-09T11:00", False, None, False, None, None, "2025-01-10T09:30"),  # one-off closure
    ("2025-11-28T12:59", True, "2025-11-28", True, "09:30", "13:00", "2025-12-01T09:30"),
    ("2025-11-28T13:00", False, "2025-11-28", True, "09:30", "13:00", "2025-12-01T09:30"),
    ("2025-12-24T10:00", True, "2025-12-24", True, "09:30", "13:00", "2025-12-26T09:30"),
    ("2025-12-24T14:00", False, "2025-12-24", True, "09:30", "13:00", "2025-12-26T09:30"),
    ("2026-03-09T09:35", True, "2026-03-09", False, "09:30", "16:00", "2026-03-10T09:30"),
    ("2026-03-09T09:00", False, "2026-03-09", False, "09:30", "16:00", "2026-03-09T09:30"),
    ("2026-11-02T09:35", True, "2026-11-02", False, "09:30", "16:00", "2026-11-03T09:30"),
    ("2026-11-02T09:00", False, "2026-11-02", False, "09:30", "16:00", "2026-11-02T09:30"),
    ("2026-11-28T11:00", False, None, False, None, None, "2026-11-30T09:30"),  # Saturday
    ("2026-11-29T23:59", False, None, False, None, None, "2026-11-30T09:30"),  # Sunday
    ("2026-11-18T16:00", False, "2026-11-18", False, "09:30", "16:00", "2026-11-19T09:30"),
    ("2026-11-18T15:59", True, "2026-11-18", False, "09:30", "16:00", "2026-11-19T09:30"),
    ("2028-06-15T10:00", True, "2028-06-15", False, "09:30", "16:00", "2028-06-16T09:30"),
    ("2029-01-01T10:00", False, None, False, None, None, "2029-01-02T09:30"),  # > 1 year out
    ("2027-12-31T17:00", False, "2027-12-31", False, "09:30", "16:00", "2028-01-03T09:30"),
]


@pytest.fixture(params=["Asia/Tokyo", "UTC"])
def machine_tz(request, monkeypatch):
    """Run under another machine time zone: answers must not change."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_nyse_table(case, machine_tz):
    at, is_open, session, early, opens, closes, next_open = case
    cal = NyseCalendar()
    for instant in (ny(at), ny(at).astimezone(dt.UTC), ny(at).astimezone(ZoneInfo("Asia/Tokyo"))):
        status = cal.status(instant)
        assert status.is_open is is_open
        assert (status.session.isoformat() if status.session else None) == session
        assert status.early_close is early
        day = session or ""
        assert status.opens_at == (ny(f"{day}T{opens}") if opens else None)
        assert status.closes_at == (ny(f"{day}T{closes}") if closes else None)
        assert status.next_open == ny(next_open)
        assert status.next_open > status.at
        assert status.at.utcoffset() == ny(at).utcoffset()  # reported in New York time


def test_nyse_is_session():
    cal = NyseCalendar()
    assert not cal.is_session(dt.date(2025, 1, 9))
    assert cal.is_session(dt.date(2025, 1, 10))
    assert cal.is_session(dt.date(2031, 6, 3))  # well past the library's default window


def test_weekdays_and_always_open(machine_tz):
    wk = WeekdaysCalendar()
    assert wk.status(ny("2025-12-25T11:00")).is_open  # no holidays here
    assert not wk.status(ny("2026-11-18T16:00")).is_open
    assert wk.status(ny("2026-11-21T11:00")).next_open == ny("2026-11-23T09:30")
    assert wk.status(ny("2026-11-18T10:00")).next_open == ny("2026-11-19T09:30")
    always = AlwaysOpenCalendar().status(ny("2026-11-21T03:00"))
    assert always.is_open and always.session == dt.date(2026, 11, 21)


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="time zone"):
        NyseCalendar().status(dt.datetime(2026, 11, 18, 11, 0))


def test_expirations_move_before_friday_holidays():
    cal = NyseCalendar()
    assert standard_weekly_expiration(dt.date(2026, 4, 3), cal) == dt.date(2026, 4, 2)
    assert standard_weekly_expiration(dt.date(2026, 6, 19), cal) == dt.date(2026, 6, 18)
    assert standard_weekly_expiration(dt.date(2026, 11, 20), cal) == dt.date(2026, 11, 20)
    weeks = weekly_expirations(dt.date(2026, 3, 30), dt.date(2026, 4, 12), cal)
    assert weeks == [dt.date(2026, 4, 2), dt.date(2026, 4, 10)]


def test_buffers():
    cal = NyseCalendar()
    assert within_scan_window(cal.status(ny("2026-11-18T09:40")), 0, 0)
    assert not within_scan_window(cal.status(ny("2026-11-18T09:40")), 15, 0)
    assert within_scan_window(cal.status(ny("2026-11-18T09:45")), 15, 0)
    assert not within_scan_window(cal.status(ny("2026-11-18T15:50")), 0, 15)
    assert not within_scan_window(cal.status(ny("2025-11-28T12:50")), 0, 15)  # early close
    assert not within_scan_window(cal.status(ny("2026-11-21T12:00")), 0, 0)


def test_firstresult_lookup_and_replacement():
    pm = pluggy.PluginManager("optscan")
    pm.add_hookspecs(optscan.hookspecs)
    pm.register(BuiltinCalendars())
    assert pm.hook.market_calendar(name="nyse").name == "nyse"
    assert pm.hook.market_calendar(name="moon") is None

    class Replacement:
        name = "nyse"

        @hookimpl(tryfirst=True)
        def market_calendar(self, name):
            return self if name == "nyse" else None

    replacement = Replacement()
    pm.register(replacement)
    assert pm.hook.market_calendar(name="nyse") is replacement
    assert pm.hook.market_calendar(name="weekdays").name == "weekdays"


def test_calendar_library_is_imported_lazily():
    code = ("import optscan.calendars, optscan.calendars.nyse, sys; "
            "print('exchange_calendars' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
