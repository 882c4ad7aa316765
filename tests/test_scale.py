"""Scale: a 3,000-symbol scan in one process stays within its memory budget.

The scan runs in a child process, the way a user runs it (``optscan scan --format json``
to a pipe), and the child reports its own peak resident set size as it exits: ``VmHWM``
from ``/proc/self/status``, the high-water mark of its own address space. Not
``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that across ``exec`` from the
address space the child was forked (or vforked) from, so it would report pytest's own
size once the suite has grown past the scan's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from optscan.config.sections import MAX_CONCURRENCY

MIB = 1024 * 1024
BUDGET_MIB = 300
SYMBOLS = 3000

pytestmark = pytest.mark.slow  # the scale suite: about 30 s a scan

# Run optscan's CLI and, at exit, write the process's peak RSS (KiB) to stderr.
_CHILD = """
import atexit, sys
def report():
    with open("/proc/self/status") as status:
        hwm = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"peak_rss_kib={hwm}", file=sys.stderr)
atexit.register(report)
from optscan.cli import main
sys.argv = ["optscan", *sys.argv[1:]]
main()
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "concurrency",
    [32, MAX_CONCURRENCY],
    ids=["default-concurrency", "max-concurrency"],
)
def test_a_3000_symbol_scan_stays_under_300_mib(record_property, concurrency):
    """At the default ``scan.concurrency`` and at the most the config allows: memory
    is bounded by the config, not only at the default (1024 once reached 415 MiB)."""
    symbols = ",".join(f"S{i:04d}" for i in range(SYMBOLS))
    args = ["scan", "--provider", "sim", "--symbols", symbols, "--as-of", "2026-11-18T11:00"]
    args += ["--format", "json", "--set", "providers.sim.latency_ms=0"]
    args += ["--set", f"scan.concurrency={concurrency}"]
    if concurrency == MAX_CONCURRENCY:  # the provider lets every fetch thread work
        args += ["--set", f"providers.sim.max_concurrency={MAX_CONCURRENCY}"]
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
    record_property(f"peak_rss_mib_3000_symbols_concurrency_{concurrency}", round(peak_mib))
    print(f"{SYMBOLS}-symbol sim scan, concurrency {concurrency}: peak RSS {peak_mib:.0f} MiB")
    assert peak_mib < BUDGET_MIB
