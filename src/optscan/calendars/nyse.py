"""The real NYSE calendar, on exchange_calendars' XNYS.

Why exchange_calendars rather than pandas_market_calendars: it models one-off closures
(2025-01-09, national day of mourning) and early closes (13:00) as data that is
maintained against the exchange's notices, it answers for dates years ahead from its
holiday rules, and it is the library Quantopian's successors keep current. Option
expiry rules (Cboe calendars) are not needed: optscan uses the expirations providers
list, and computes weeklies from sessions only when a provider cannot list them.

Speed: the library's per-call API goes through pandas (tens of microseconds to
milliseconds a call). On first use this module copies every session's open and close
into plain sorted lists of POSIX seconds, so each answer is two ``bisect`` calls and a
few datetime conversions (a few microseconds). The library is imported lazily, never
by ``optscan --help``.

Window: sessions from 2000 to ten years ahead. The library's default window ends about
a year out and raises past it; an instant past our window rebuilds it wider, so any
date the library can model gets an answer.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from zoneinfo import ZoneInfo

from optscan.models import MarketStatus

NEW_YORK = ZoneInfo("America/New_York")
FIRST_YEAR = 2000
YEARS_AHEAD = 10
REGULAR_CLOSE = dt.time(16, 0)


class NyseCalendar:
    """New York Stock Exchange sessions: holidays, one-off closures, early closes."""

    name = "nyse"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opens: list[float] = []
        self._closes: list[float] = []
        self._days: list[dt.date] = []
        self._index: dict[dt.date, int] = {}
        self._last_year = 0

    def _ensure(self, year: int) -> None:
        """Build (or widen) the session table so that it covers ``year``."""
        if self._days and year <= self._last_year:
            return
        with self._lock:
            if self._days and year <= self._last_year:
                return
            import exchange_calendars as xcals

            last = max(year + 1, dt.date.today().year + YEARS_AHEAD)
            cal = xcals.get_calendar("XNYS", start=f"{FIRST_YEAR}-01-01", end=f"{last}-12-31")
            schedule = cal.schedule
            opens = (schedule["open"].array.asi8 // 10**9).tolist()
            closes = (schedule["close"].array.asi8 // 10**9).tolist()
            days = [ts.date() for ts in schedule.index]
            self._opens, self._closes, self._days = opens, closes, days
            self._index = {d: i for i, d in enumerate(days)}
            self._last_year = last

    def is_session(self, day: dt.date) -> bool:
        if day.year < FIRST_YEAR:
            raise ValueError(f"{day}: the NYSE calendar starts in {FIRST_YEAR}")
        self._ensure(day.year)
        return day in self._index

    def status(self, at: dt.datetime) -> MarketStatus:
        if at.tzinfo is None:
            raise ValueError("calendar instants must carry a time zone")
        local = at.astimezone(NEW_YORK)
        if local.year < FIRST_YEAR:
            raise ValueError(f"{local.date()}: the NYSE calendar starts in {FIRST_YEAR}")
        self._ensure(local.year + 1)  # next_open may fall in the next year
        t = at.timestamp()
        i = self._index.get(local.date())
        session = opens_at = closes_at = None
        is_open = early = False
        if i is not None:
            session = self._days[i]
            opens_at = dt.datetime.fromtimestamp(self._opens[i], NEW_YORK)
            closes_at = dt.datetime.fromtimestamp(self._closes[i], NEW_YORK)
            is_open = self._opens[i] <= t < self._closes[i]
            early = closes_at.time() < REGULAR_CLOSE
        k = bisect.bisect_right(self._opens, t)
        next_open = dt.datetime.fromtimestamp(self._opens[k], NEW_YORK)
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
