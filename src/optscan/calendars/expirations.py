"""Standard weekly expirations computed with a calendar, for providers that cannot
list them: Friday, or the session before it when the Friday is a holiday
(2026-04-03 Good Friday -> Thursday 2026-04-02; 2026-06-19 Juneteenth -> 2026-06-18)."""

from __future__ import annotations

import datetime as dt

from optscan.protocols import MarketCalendar


def standard_weekly_expiration(friday: dt.date, calendar: MarketCalendar) -> dt.date:
    """The expiration of the week ending on ``friday``."""
    if friday.weekday() != 4:
        raise ValueError(f"{friday} is not a Friday")
    day = friday
    while not calendar.is_session(day):
        day -= dt.timedelta(days=1)
        if (friday - day).days > 6:
            raise ValueError(f"no trading day in the week of {friday}")
    return day


def weekly_expirations(start: dt.date, end: dt.date, calendar: MarketCalendar) -> list[dt.date]:
    """Every weekly expiration from ``start`` to ``end`` inclusive."""
    friday = start + dt.timedelta(days=(4 - start.weekday()) % 7)
    out = []
    while friday <= end + dt.timedelta(days=6):
        expiry = standard_weekly_expiration(friday, calendar)
        if start <= expiry <= end:
            out.append(expiry)
        friday += dt.timedelta(weeks=1)
    return out
