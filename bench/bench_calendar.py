"""NYSE calendar answers: first build, then microseconds per ``status()`` call."""

from __future__ import annotations

import datetime as dt
import time


def run(quick: bool = False) -> list[tuple[str, str, str]]:
    from optscan.calendars.nyse import NyseCalendar

    cal = NyseCalendar()
    start = dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    cal.status(start)
    build = time.perf_counter() - t0
    n = 20_000 if quick else 100_000
    instants = [start + dt.timedelta(minutes=37 * i) for i in range(n)]  # ~7 years
    t0 = time.perf_counter()
    for at in instants:
        cal.status(at)
    per_call = (time.perf_counter() - t0) / n
    return [
        ("first answer (imports exchange_calendars, builds 2000-2036)", f"{build:.2f} s", ""),
        (f"status() per call, {n:,} varied instants", f"{per_call * 1e6:.1f} µs", "< 50 µs"),
    ]


if __name__ == "__main__":
    for row in run():
        print(*row, sep="\t")
