"""Two simple calendars: ``weekdays`` (Mon-Fri 09:30-16:00 New York, no holidays) and
``always-open`` (for tests, demos and markets that never close).

Both compute in America/New_York through zoneinfo, whatever the machine's time zone, so
a scan run from Tokyo or a UTC container answers exactly like one run in New York.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from optscan.models import MarketStatus

NEW_YORK = ZoneInfo("America/New_York")
OPEN, CLOSE = dt.time(9, 30), dt.time(16, 0)


def _new_york(at: dt.datetime) -> dt.datetime:
    """``at`` in New York time; a naive instant is ambiguous, so it is refused."""
    if at.utcoffset() is None:
        raise ValueError("calendar instants must carry a time zone")
    return at.astimezone(NEW_YORK)


class WeekdaysCalendar:
    """Monday to Friday, 09:30 to 16:00 New York time; no holidays, no early closes.

    For markets without an exchange calendar, and to run scans on holidays on purpose.
    """

    name = "weekdays"

    def is_session(self, day: dt.date) -> bool:
        """Every Monday to Friday is a session."""
        return day.weekday() < 5

    @staticmethod
    def _open(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, OPEN, NEW_YORK)

    @staticmethod
    def _close(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, CLOSE, NEW_YORK)

    def status(self, at: dt.datetime) -> MarketStatus:
        """Open when ``open <= at < close`` on a weekday; the closing instant is closed."""
        local = _new_york(at)
        day = local.date()
        session = opens_at = closes_at = None
        is_open = False
        if self.is_session(day):
            session, opens_at, closes_at = day, self._open(day), self._close(day)
            is_open = opens_at <= local < closes_at
        nxt = day if local < self._open(day) else day + dt.timedelta(days=1)
        while not self.is_session(nxt):
            nxt += dt.timedelta(days=1)
        return MarketStatus(
            calendar=self.name,
            at=local,
            is_open=is_open,
            session=session,
            early_close=False,
            opens_at=opens_at,
            closes_at=closes_at,
            next_open=self._open(nxt),
        )


class AlwaysOpenCalendar:
    """Always open: every instant is inside a session (its New York date), with no
    opening or closing time, and the "next open" is the instant itself."""

    name = "always-open"

    def is_session(self, day: dt.date) -> bool:
        """Every day is a session."""
        return True

    def status(self, at: dt.datetime) -> MarketStatus:
        """Open, whatever ``at`` is (it must still be aware, like every calendar's)."""
        local = _new_york(at)
        return MarketStatus(
            calendar=self.name,
            at=local,
            is_open=True,
            session=local.date(),
            next_open=local,
        )
