"""Two simple calendars: ``weekdays`` (Mon-Fri 09:30-16:00 New York, no holidays) and
``always-open`` (for tests and markets that never close). Both compute in
America/New_York whatever the machine's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from optscan.models import MarketStatus

NEW_YORK = ZoneInfo("America/New_York")
OPEN, CLOSE = dt.time(9, 30), dt.time(16, 0)


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("calendar instants must carry a time zone")
    return at.astimezone(NEW_YORK)


class WeekdaysCalendar:
    """Monday to Friday, 09:30 to 16:00 New York time; no holidays, no early closes."""

    name = "weekdays"

    def is_session(self, day: dt.date) -> bool:
        return day.weekday() < 5

    def _bounds(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return (dt.datetime.combine(day, OPEN, NEW_YORK), dt.datetime.combine(day, CLOSE, NEW_YORK))

    def status(self, at: dt.datetime) -> MarketStatus:
        local = _aware(at)
        day = local.date()
        session = day if self.is_session(day) else None
        opens_at = closes_at = None
        if session:
            opens_at, closes_at = self._bounds(day)
        is_open = bool(session and opens_at <= local < closes_at)  # type: ignore[operator]
        nxt = day
        while True:
            if self.is_session(nxt) and self._bounds(nxt)[0] > local:
                break
            nxt += dt.timedelta(days=1)
        return MarketStatus(
            calendar=self.name,
            at=local,
            is_open=is_open,
            session=session,
            early_close=False,
            opens_at=opens_at,
            closes_at=closes_at,
            next_open=self._bounds(nxt)[0],
        )


class AlwaysOpenCalendar:
    """Always open: every instant is inside a session."""

    name = "always-open"

    def is_session(self, day: dt.date) -> bool:
        return True

    def status(self, at: dt.datetime) -> MarketStatus:
        local = _aware(at)
        return MarketStatus(
            calendar=self.name,
            at=local,
            is_open=True,
            session=local.date(),
            next_open=local,
        )
