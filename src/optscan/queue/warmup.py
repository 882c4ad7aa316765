"""Warm a worker up before it forks its first work horse.

Every horse is a fresh fork: what the parent loaded (modules, the cached NYSE calendar,
about 0.5 s) every horse gets for free.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optscan.config import Settings


_warmed = False


def warm_up(settings: Settings | None = None) -> None:
    """Import the scan machinery and build the calendar before forking work horses.

    Every horse is a fresh fork: what the parent loaded (modules, the cached NYSE
    calendar, about 0.5 s) every horse gets for free. Runs once per process.
    """
    global _warmed
    if _warmed:
        return
    _warmed = True
    try:
        import threading

        import optscan.queue.jobs  # noqa: F401  (the scan, analytics, providers)
        from optscan.config import load_settings
        from optscan.models import ScanRequest
        from optscan.plugins import PluginHost
        from optscan.scan.context import prepare_scan
        from optscan.scan.per_symbol import run_symbols

        settings = settings or load_settings()
        host = PluginHost.from_settings(settings)
        host.calendar(settings.scan.calendar).status(dt.datetime.now(dt.UTC))
        for name in host.names("providers"):
            __import__(host.get_class("providers", name).__module__)
        if "sim" in host.names("providers"):  # one offline symbol loads the whole scan path
            quiet = load_settings(
                overrides={"providers.sim.latency_ms": 0, "providers.sim.error_rate": 0}
            )
            request = ScanRequest(provider="sim", symbols=["WARMUP"], force=True, sinks=[])
            run_symbols(prepare_scan(request, host, quiet), ["WARMUP"], lambda outcome: None)
            for thread in threading.enumerate():  # fork with no fetch thread mid-flight
                if thread.name.startswith("optscan-fetch"):
                    thread.join(timeout=1)
    except Exception as exc:  # warming is an optimisation; the jobs report real errors
        from optscan.logs import get_logger

        get_logger().warning("worker_warm_up_failed", error=str(exc))
