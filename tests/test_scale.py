"""Scale: a 3,000-symbol scan in one process stays within its memory budget.

The scan runs in a child process, the way a user runs it (``optscan scan --format json``
to a pipe), and the child reports its own peak resident set size from
``getrusage(RUSAGE_SELF)`` as it exits, so nothing else the suite ran is counted.
"""

from __future__ import annotations

import json
import subprocess
import sys

MIB = 1024 * 1024
BUDGET_MIB = 300
SYMBOLS = 3000

# Run optscan's CLI and, at exit, write the process's peak RSS (Linux: KiB) to stderr.
_CHILD = """
import atexit, resource, sys
atexit.register(lambda: print(
    f"peak_rss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr
))
from optscan.cli import main
sys.argv = ["optscan", *sys.argv[1:]]
main()
"""


def test_a_3000_symbol_scan_stays_under_300_mib(record_property):
    symbols = ",".join(f"S{i:04d}" for i in range(SYMBOLS))
    args = ["scan", "--provider", "sim", "--symbols", symbols, "--as-of", "2026-11-18T11:00"]
    args += ["--format", "json", "--set", "providers.sim.latency_ms=0"]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert len(result["symbols"]) == SYMBOLS
    assert all(s["status"] == "ok" for s in result["symbols"])
    assert len(result["opportunities"]) > SYMBOLS  # a real result, held and printed whole
    peak = next(
        int(line.split("=", 1)[1])
        for line in done.stderr.splitlines()
        if line.startswith("peak_rss_kib=")
    )
    peak_mib = peak * 1024 / MIB
    record_property("peak_rss_mib_3000_symbols", round(peak_mib))
    print(f"{SYMBOLS}-symbol sim scan: peak RSS {peak_mib:.0f} MiB")
    assert peak_mib < BUDGET_MIB
