"""The real NYSE calendar, on exchange_calendars' XNYS.

Why exchange_calendars rather than pandas_market_calendars: it models one-off closures
(2025-01-09, the national day of mourning for President Carter; 2012 Hurricane Sandy)
and early closes (13:00 on 2025-07-03, 2025-11-28, 2025-12-24) as data maintained
against the exchange's notices; it generates future years from its holiday rules, so it
answers years ahead; its minute lookups are fast; and it is actively maintained (the
Quantopian successor projects use it). Option expiry rules (Cboe calendars) are not
needed: optscan uses the expirations providers list, and computes weeklies from sessions
(:mod:`optscan.default_plugins.calendars.expirations`) only when a provider cannot list them.

Speed: the library's per-call API goes through pandas (tens of microseconds to
milliseconds a call). On first use this module copies every session's open and close
into plain sorted lists of POSIX seconds, so each answer is a dict lookup, one
``bisect`` and a few zoneinfo conversions (well under 50 µs; see
``bench/bench_calendar.py``). Plain lists beat ``np.searchsorted`` for one scalar at a
time. The library (and pandas) is imported lazily, never by ``optscan --help``.

Window: Jan 1, 20 years back, to Dec 31, ten years ahead (the library's own default
stops about a year out and raises past it; ten years covers LEAPS and backtests with
room to spare, for the same ~0.2 s build). An instant outside the window rebuilds it
wider, up to what the library can model at all (pandas' nanosecond timestamps:
1678-2261); past that the calendar raises ``ValueError``. Each rebuild swaps one
immutable table, so concurrent readers never see half a rebuild.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from optscan.models import MarketStatus

NEW_YORK = ZoneInfo("America/New_York")
XCALS_NAME = "XNYS"
YEARS_BACK = 20
YEARS_AHEAD = 10
WIDEN_MARGIN_YEARS = 10
MIN_YEAR = 1678
"""First full year exchange_calendars can build (pandas ns timestamps start 1677-09-21)."""
MAX_YEAR = 2261
"""Last full year exchange_calendars can build (pandas ns timestamps end 2262-04-11)."""
REGULAR_CLOSE = dt.time(16, 0)


@dataclass(frozen=True, slots=True)
class _Table:
    """Every session of years ``first_year..last_year``, as plain sorted lists."""

    first_year: int
    last_year: int
    days: list[dt.date]
    opens: list[int]
    closes: list[int]
    early: list[bool]
    index: dict[dt.date, int]

    def covers(self, first_year: int, last_year: int) -> bool:
        return self.first_year <= first_year and last_year <= self.last_year


_EMPTY = _Table(0, -1, [], [], [], [], {})


def _build_table(first_year: int, last_year: int) -> _Table:
    """Ask exchange_calendars for the sessions of the years, once, and keep plain lists."""
    import exchange_calendars as xcals

    cal = xcals.get_calendar(XCALS_NAME, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    schedule = cal.schedule
    opens: list[int] = (schedule["open"].array.asi8 // 10**9).tolist()
    closes: list[int] = (schedule["close"].array.asi8 // 10**9).tolist()
    days: list[dt.date] = [ts.date() for ts in schedule.index]
    early = [dt.datetime.fromtimestamp(close, NEW_YORK).time() < REGULAR_CLOSE for close in closes]
    return _Table(
        first_year=first_year,
        last_year=last_year,
        days=days,
        opens=opens,
        closes=closes,
        early=early,
        index={day: i for i, day in enumerate(days)},
    )


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(
            f"year {year}: the NYSE calendar (exchange_calendars) covers {MIN_YEAR}-{MAX_YEAR}"
        )


class NyseCalendar:
    """New York Stock Exchange sessions: holidays, one-off closures, early closes.

    Every answer is in America/New_York, whatever the process time zone.
    """

    name = "nyse"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table = _EMPTY

    def _covering(self, first_year: int, last_year: int) -> _Table:
        """The session table, built or widened so that it covers the years."""
        table = self._table
        if table.covers(first_year, last_year):
            return table
        with self._lock:
            table = self._table
            if table.covers(first_year, last_year):
                return table
            if table is _EMPTY:
                this_year = dt.datetime.now(NEW_YORK).year
                lo, hi = this_year - YEARS_BACK, this_year + YEARS_AHEAD
            else:  # widen with a margin, so walking years one by one rebuilds rarely
                lo = min(table.first_year, first_year - WIDEN_MARGIN_YEARS)
                hi = max(table.last_year, last_year + WIDEN_MARGIN_YEARS)
            lo = max(MIN_YEAR, min(lo, first_year))
            hi = min(MAX_YEAR, max(hi, last_year))
            self._table = table = _build_table(lo, hi)
            return table

    def is_session(self, day: dt.date) -> bool:
        """Whether ``day`` is an NYSE trading day (holidays and one-off closures are not)."""
        _check_year(day.year)
        return day in self._covering(day.year, day.year).index

    def status(self, at: dt.datetime) -> MarketStatus:
        """The NYSE's state at the aware instant ``at``; a naive one raises ``ValueError``.

        Open means ``open <= at < close``: the closing instant itself is closed.
        """
        if at.utcoffset() is None:
            raise ValueError("calendar instants must carry a time zone")
        local = at.astimezone(NEW_YORK)
        year = local.year
        _check_year(year)
        # next_open may fall in the next year; at the library's last year it may not exist.
        table = self._covering(year, min(year + 1, MAX_YEAR))
        t = at.timestamp()
        session = opens_at = closes_at = None
        is_open = early = False
        i = table.index.get(local.date())
        if i is not None:
            session = table.days[i]
            opens_at = dt.datetime.fromtimestamp(table.opens[i], NEW_YORK)
            closes_at = dt.datetime.fromtimestamp(table.closes[i], NEW_YORK)
            is_open = table.opens[i] <= t < table.closes[i]
            early = table.early[i]
        k = bisect.bisect_right(table.opens, t)
        next_open = (
            dt.datetime.fromtimestamp(table.opens[k], NEW_YORK) if k < len(table.opens) else None
        )
        return MarketStatus(
            calendar=self.name,
            at=local,
            is_open=is_open,
            session=session,
            early_close=early,
            opens_at=opens_at,
            closes_at=closes_at,
            next_open=next_open,
        )
