"""NYSE calendar answers: the first build, then microseconds per ``status()`` call.

Plain script (``PYTHONPATH=src python bench/bench_calendar.py``), also run by
``bench/run.py``. The target is < 50 µs per answer after the first: the scan asks once
per run, but the scheduler and the dashboard ask in loops.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from zoneinfo import ZoneInfo


def run(quick: bool = False) -> list[tuple[str, str, str]]:
    from optscan.default_plugins.calendars.nyse import NyseCalendar

    t0 = time.perf_counter()
    import exchange_calendars  # noqa: F401  # timed apart: most of the first answer

    imported = time.perf_counter() - t0
    cal = NyseCalendar()
    start = dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    cal.status(start)
    build = time.perf_counter() - t0

    n = 20_000 if quick else 100_000
    rng = random.Random(7)
    zones = [dt.UTC, ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
    span = int(dt.timedelta(days=365 * 8).total_seconds())  # 2026-2033: sessions and not
    instants = [
        (start + dt.timedelta(seconds=rng.randrange(span))).astimezone(rng.choice(zones))
        for _ in range(n)
    ]
    t0 = time.perf_counter()
    for at in instants:
        cal.status(at)
    per_call = (time.perf_counter() - t0) / n

    days = [at.date() for at in instants]
    t0 = time.perf_counter()
    for day in days:
        cal.is_session(day)
    per_day = (time.perf_counter() - t0) / n
    return [
        ("import exchange_calendars", f"{imported:.2f} s", ""),
        ("first answer after import (builds 20 y back to 10 y ahead)", f"{build:.2f} s", ""),
        (f"status() per call, {n:,} random instants", f"{per_call * 1e6:.1f} µs", "< 50 µs"),
        (f"is_session() per call, {n:,} days", f"{per_day * 1e6:.2f} µs", ""),
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(*row, sep="\t")
