"""RQ entry points of a queued scan. They take and return JSON only.

Enqueued by dotted path (``optscan.queue.jobs.<name>``; the 0.1.0 paths
``optscan.jobs.<name>`` resolve to the same functions) with rq's JSON serializer:

* :func:`coordinate_scan` (:mod:`~optscan.queue.jobs.coordinator`) - gate, lock,
  symbols, fan-out;
* :func:`scan_batch` (:mod:`~optscan.queue.jobs.batch`) - a few symbols, each recorded
  once;
* :func:`aggregate_scan` (:mod:`~optscan.queue.jobs.aggregator`) - merge, publish, end;
* :func:`ping` (:mod:`~optscan.queue.jobs.health`) - a no-op, for health and benchmarks;
* :func:`on_job_failure` (:mod:`~optscan.queue.jobs.env`) - RQ's failure callback: a
  coordinator or aggregator that failed for good ends its scan ``failed``.

Workers run these and nothing else (``queue.connection.JOB_FUNCTIONS``).

Every job rebuilds its settings from the *worker's* config and environment plus the
request's ``overrides`` (:mod:`~optscan.queue.jobs.env`), and ``as_of`` is pinned to the
coordinator's so every job of a scan agrees on days to expiry. Re-running any job (rq
retries, a job lost with its worker) is safe: the fan-out happens once, a symbol is
recorded once, a scan ends once.
"""

from __future__ import annotations

from optscan.queue.jobs.aggregator import aggregate_scan
from optscan.queue.jobs.batch import scan_batch
from optscan.queue.jobs.coordinator import coordinate_scan
from optscan.queue.jobs.env import JobRuntime, on_job_failure, use_runtime
from optscan.queue.jobs.health import ping

__all__ = [
    "JobRuntime",
    "aggregate_scan",
    "coordinate_scan",
    "on_job_failure",
    "ping",
    "scan_batch",
    "use_runtime",
]
