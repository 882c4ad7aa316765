"""When an option stops trading: the close of its expiration day, by the market calendar.

Standard equity options trade until the underlying market's close on their
expiration day: 16:00 New York on a regular day, **13:00 on an early-close day** (the
day after Thanksgiving, Christmas Eve, July 3rd...). Time to expiry for greeks and
probabilities runs to that instant, and a contract is expired from it on: at
``2026-12-24T12:30`` a contract expiring that day has 30 minutes left, not 3.5 hours.

:class:`ExpiryCloses` asks a :class:`~optscan.protocols.MarketCalendar` once per
expiration date and remembers the answer. A calendar that gives no close for the day
(``always-open``, or a day that is not a session, such as an expiration a provider
lists on a holiday) falls back to 16:00 New York.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from optscan.protocols import MarketCalendar

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = dt.time(16, 0)


class ExpiryCloses:
    """The close of each expiration day, by one market calendar (thread-safe, cached)."""

    def __init__(self, calendar: MarketCalendar | None) -> None:
        self.calendar = calendar
        self._closes: dict[dt.date, dt.datetime] = {}
        self._lock = threading.Lock()

    def close_of(self, day: dt.date) -> dt.datetime:
        """The aware instant the market closes on ``day`` (16:00 New York by default)."""
        close = self._closes.get(day)
        if close is None:
            close = self._ask(day)
            with self._lock:
                self._closes[day] = close
        return close

    def _ask(self, day: dt.date) -> dt.datetime:
        regular = dt.datetime.combine(day, REGULAR_CLOSE, NEW_YORK)
        if self.calendar is None:
            return regular
        try:
            status = self.calendar.status(dt.datetime.combine(day, dt.time(9, 31), NEW_YORK))
        except (ValueError, OverflowError):  # a year the calendar cannot model
            return regular
        if status.session != day or status.closes_at is None:
            return regular
        return status.closes_at


REGULAR = ExpiryCloses(None)
"""16:00 New York every day: what a scan without a calendar uses."""
