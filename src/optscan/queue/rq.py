"""RQ classes for optscan: JSON-only jobs and queues that run only optscan's jobs.

rq-scheduler and rq-dashboard create and fetch jobs without passing a serializer, so
:class:`JsonJob` and :class:`JsonQueue` default to JSON themselves. Redis and RQ are
imported here at module level: only the queue commands, the worker and the jobs import
this module, never ``optscan --help``.

Anyone who can write to Redis can push a job naming any dotted path (``os.system``),
and RQ imports whatever a job names, as its function and as its ``success``,
``failure`` and ``stopped`` callbacks. :func:`refusal` says why a job is not one of
optscan's own (:data:`~optscan.queue.connection.JOB_FUNCTIONS`,
:data:`~optscan.queue.connection.JOB_CALLBACKS`), and :class:`JsonJob` refuses to
resolve such a name, so nothing it names is ever imported; the worker refuses the job
before it forks (:class:`~optscan.queue.worker.OptscanWorker`).
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from optscan.config import QueueSection
from optscan.queue.connection import JOB_CALLBACKS, JOB_FUNCTIONS, ON_JOB_FAILURE
from optscan.secrets import scrub

CALLBACK_KINDS = ("success", "failure", "stopped")


class UntrustedJobError(Exception):
    """A job names a function or callback that is not optscan's: it is not run, and
    what it names is never imported."""


def _shown(name: Any) -> str:
    text = scrub(str(name))
    return repr(text if len(text) <= 120 else text[:117] + "...")


def refusal(job: Job) -> str | None:
    """Why a worker must not run ``job`` (``None``: it is one of optscan's own jobs).

    Reads the job's stored names only (JSON); imports nothing. The reason is scrubbed.
    """
    try:
        name = job.func_name
        instance = job.instance
    except Exception as exc:  # data that is not a JSON call
        return f"its data cannot be read ({type(exc).__name__})"
    if instance is not None:
        return "it calls a method of a stored object"
    if name not in JOB_FUNCTIONS:
        return f"its function {_shown(name)} is not one of optscan's jobs"
    for kind in CALLBACK_KINDS:
        callback = getattr(job, f"_{kind}_callback_name", None)
        if callback and callback not in JOB_CALLBACKS:
            return f"its {kind} callback {_shown(callback)} is not optscan's"
    return None


def _check(job: Job) -> None:
    why = refusal(job)
    if why is not None:
        raise UntrustedJobError(f"job {job.id} refused: {why}")


class JsonJob(Job):
    """An RQ job whose serializer is JSON unless told otherwise.

    rq-scheduler 0.14 calls ``job_class.create`` and ``job_class.fetch`` without a
    serializer, and rq-dashboard fetches jobs the same way; with this default they read
    and write JSON like everything else.
    """

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer=None):
        super().__init__(id, connection=connection, serializer=serializer or JSONSerializer)

    # RQ imports what these name (rq.utils.import_attribute): only optscan's own names
    # get that far; anything else raises UntrustedJobError before any import.

    @property
    def func(self) -> Any:
        _check(self)
        return super().func

    @property
    def success_callback(self) -> Any:
        _check(self)
        return super().success_callback

    @property
    def failure_callback(self) -> Any:
        _check(self)
        return super().failure_callback

    @property
    def stopped_callback(self) -> Any:
        _check(self)
        return super().stopped_callback

    def send_webhooks(self, status: Any, *, exc_string: str | None = None) -> None:
        """optscan's jobs carry no webhooks: one written into Redis by hand never makes
        a worker send a request."""


class JsonQueue(Queue):
    """An RQ queue that creates :class:`JsonJob` jobs with the JSON serializer."""

    job_class = JsonJob

    def __init__(self, name: str = "default", connection: Redis | None = None, **kwargs: Any):
        kwargs["serializer"] = kwargs.get("serializer") or JSONSerializer
        kwargs["job_class"] = kwargs.get("job_class") or JsonJob
        super().__init__(name, connection=connection, **kwargs)

    def compact(self) -> None:
        """rq's compact (rq-dashboard's "compact" button) renames the queue's list, which
        Redis refuses for an empty queue ("no such key", a 500 in the dashboard): an
        empty queue has nothing to compact."""
        from redis.exceptions import ResponseError

        if not self.connection.exists(self.key):
            return
        try:
            super().compact()
        except ResponseError as exc:  # emptied between the check and the rename
            if "no such key" not in str(exc).lower():
                raise


def make_queue(redis: Redis, cfg: QueueSection, name: str | None = None) -> JsonQueue:
    return JsonQueue(name or cfg.name, connection=redis)


def on_failure() -> Callback:
    """RQ's failure callback for a scan's jobs: a coordinator or aggregator that failed
    for good (its retries spent) ends its scan ``failed`` with the error."""
    return Callback(ON_JOB_FAILURE)


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
