"""0.1.0's job paths, kept so jobs and schedules stored by 0.1.0 still run.

RQ stores a job's function as a dotted path in Redis: ``optscan.jobs.coordinate_scan``
(and ``scan_batch``, ``aggregate_scan``, ``ping``) in jobs queued or scheduled before
the move to :mod:`optscan.queue.jobs`. These names are those functions.
"""

from __future__ import annotations

from optscan.queue.jobs import aggregate_scan, coordinate_scan, ping, scan_batch

__all__ = ["aggregate_scan", "coordinate_scan", "ping", "scan_batch"]
