"""Optional scan buffers: skip the first N minutes after the open and the last M
minutes before the close, when quotes are noisy."""

from __future__ import annotations

import datetime as dt

from optscan.models import MarketStatus


def within_scan_window(status: MarketStatus, open_buffer_min: int, close_buffer_min: int) -> bool:
    """True when the market is open and outside both buffers (0 disables a buffer)."""
    if not status.is_open:
        return False
    opening = dt.timedelta(minutes=open_buffer_min)
    if open_buffer_min and status.opens_at is not None and status.at < status.opens_at + opening:
        return False
    closing = dt.timedelta(minutes=close_buffer_min)
    return not (
        close_buffer_min
        and status.closes_at is not None
        and status.at >= status.closes_at - closing
    )
