"""Optional scan buffers: skip the first N minutes after the open and the last M
minutes before the close, when spreads are wide and quotes are stale or noisy.

Kept apart from the calendars so ``status()`` stays a pure fact about the market, and
the buffers (a scan policy from the config) work with any calendar's answer.
"""

from __future__ import annotations

import datetime as dt

from optscan.models import MarketStatus


def within_scan_window(status: MarketStatus, open_buffer_min: int, close_buffer_min: int) -> bool:
    """True when the market is open and outside both buffers (0 disables a buffer).

    False during the first ``open_buffer_min`` minutes after the open and the last
    ``close_buffer_min`` minutes before the close (an early close's, on a half day). A
    calendar that reports no open or close time (``always-open``) has no buffers.
    """
    if open_buffer_min < 0 or close_buffer_min < 0:
        raise ValueError("scan buffers must be >= 0 minutes")
    if not status.is_open:
        return False
    if status.opens_at is not None and status.at < status.opens_at + dt.timedelta(
        minutes=open_buffer_min
    ):
        return False
    return status.closes_at is None or status.at < status.closes_at - dt.timedelta(
        minutes=close_buffer_min
    )
