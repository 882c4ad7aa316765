"""0.1.0's worker class path, kept for operators' command lines.

``rq worker --worker-class optscan.queueing.OptscanWorker`` (as the 0.1.0 README said)
still names the worker, now in :mod:`optscan.queue.worker`.
"""

from __future__ import annotations

from optscan.queue.rq import JsonJob, JsonQueue
from optscan.queue.worker import OptscanWorker

__all__ = ["JsonJob", "JsonQueue", "OptscanWorker"]
