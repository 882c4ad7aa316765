"""RQ classes for optscan: JSON-only jobs and queues.

rq-scheduler and rq-dashboard create and fetch jobs without passing a serializer, so
:class:`JsonJob` and :class:`JsonQueue` default to JSON themselves. Redis and RQ are
imported here at module level: only the queue commands, the worker and the jobs import
this module, never ``optscan --help``.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from optscan.config import QueueSection


class JsonJob(Job):
    """An RQ job whose serializer is JSON unless told otherwise.

    rq-scheduler 0.14 calls ``job_class.create`` and ``job_class.fetch`` without a
    serializer, and rq-dashboard fetches jobs the same way; with this default they read
    and write JSON like everything else.
    """

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer=None):
        super().__init__(id, connection=connection, serializer=serializer or JSONSerializer)


class JsonQueue(Queue):
    """An RQ queue that creates :class:`JsonJob` jobs with the JSON serializer."""

    job_class = JsonJob

    def __init__(self, name: str = "default", connection: Redis | None = None, **kwargs: Any):
        kwargs["serializer"] = kwargs.get("serializer") or JSONSerializer
        kwargs["job_class"] = kwargs.get("job_class") or JsonJob
        super().__init__(name, connection=connection, **kwargs)


def make_queue(redis: Redis, cfg: QueueSection, name: str | None = None) -> JsonQueue:
    return JsonQueue(name or cfg.name, connection=redis)


def last_error_line(job: Job) -> str:
    """The last line of a job's latest error (``JobFailed: OutOfMemoryError: ...``), or
    ``status <status>`` when none was recorded."""
    latest = job.latest_result()
    text = (latest.exc_string if latest else None) or ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"status {job.get_status()}"


def rq_retry(cfg: QueueSection) -> Retry | None:
    """RQ's retry policy from ``[queue] retry_max`` and ``retry_intervals_s``."""
    return Retry(max=cfg.retry_max, interval=cfg.retry_intervals_s) if cfg.retry_max else None
