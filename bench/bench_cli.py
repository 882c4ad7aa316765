"""CLI start-up: ``optscan --help`` wall time (best and median of several runs).

``optscan --help`` lists plugins' commands (``register_commands``), so it loads every
installed plugin's entry point: the figure is taken with whatever is installed, and the
table says which plugins those were. ``optscan value --help`` (the valuation plugin's
command) is timed too when that plugin is installed.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time


def _time(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def _installed() -> list[str]:
    from importlib.metadata import entry_points

    return sorted(ep.name for ep in entry_points(group="optscan"))


def run(quick: bool = False) -> list[tuple[str, str, str]]:
    exe = shutil.which("optscan")
    base = [exe] if exe else [sys.executable, "-m", "optscan"]
    runs = 5 if quick else 15
    times = _time([*base, "--help"], runs)
    baseline = _time([sys.executable, "-c", "pass"], runs)
    plugins = _installed()
    rows = [
        ("plugins installed (entry points)", ", ".join(plugins) or "none", ""),
        ("optscan --help, median", f"{statistics.median(times) * 1000:.0f} ms", "< 300 ms"),
        ("optscan --help, best", f"{min(times) * 1000:.0f} ms", ""),
        (
            "bare python start, median",
            f"{statistics.median(baseline) * 1000:.0f} ms",
            "(reference)",
        ),
    ]
    if "valuation" in plugins:
        value = _time([*base, "value", "--help"], runs)
        median = f"{statistics.median(value) * 1000:.0f} ms"
        rows.append(("optscan value --help, median", median, "< 300 ms"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(*row, sep="\t")
