"""CLI start-up: ``optscan --help`` wall time (best and median of several runs)."""

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


def run(quick: bool = False) -> list[tuple[str, str, str]]:
    exe = shutil.which("optscan")
    cmd = [exe, "--help"] if exe else [sys.executable, "-m", "optscan", "--help"]
    times = _time(cmd, 5 if quick else 15)
    baseline = _time([sys.executable, "-c", "pass"], 5 if quick else 15)
    return [
        ("optscan --help, median", f"{statistics.median(times) * 1000:.0f} ms", "< 300 ms"),
        ("optscan --help, best", f"{min(times) * 1000:.0f} ms", ""),
        (
            "bare python start, median",
            f"{statistics.median(baseline) * 1000:.0f} ms",
            "(reference)",
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(*row, sep="\t")
