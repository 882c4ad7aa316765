"""Standard weekly expirations computed with a calendar, for providers that cannot
list them.

Listed weeklies expire on Friday, or on the last session before it when the Friday is
an exchange holiday (2026-04-03 Good Friday -> Thursday 2026-04-02; 2026-06-19
Juneteenth -> 2026-06-18). Only :meth:`MarketCalendar.is_session` is used, so any
calendar works, including a plugin's.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optscan.protocols import MarketCalendar

_FRIDAY = 4


def standard_weekly_expiration(friday: dt.date, calendar: MarketCalendar) -> dt.date:
    """The expiration of the week ending on ``friday``: that Friday, or the last session
    of its Monday-to-Friday week before it; ``ValueError`` if the week has none."""
    if friday.weekday() != _FRIDAY:
        raise ValueError(f"{friday} is not a Friday")
    for back in range(5):  # Friday, Thursday, ..., Monday
        day = friday - dt.timedelta(days=back)
        if calendar.is_session(day):
            return day
    raise ValueError(f"no trading day in the week ending {friday}")


def weekly_expirations(start: dt.date, end: dt.date, calendar: MarketCalendar) -> list[dt.date]:
    """Every weekly expiration from ``start`` to ``end`` inclusive, in order.

    Weeks without any session (none on real exchanges) are skipped, not errors.
    """
    out: list[dt.date] = []
    friday = start + dt.timedelta(days=(_FRIDAY - start.weekday()) % 7)
    # A Friday after ``end`` can still expire on or before it (moved back to Monday).
    while friday - dt.timedelta(days=_FRIDAY) <= end:
        try:
            expiry = standard_weekly_expiration(friday, calendar)
        except ValueError:
            expiry = None
        if expiry is not None and start <= expiry <= end:
            out.append(expiry)
        friday += dt.timedelta(weeks=1)
    return out
