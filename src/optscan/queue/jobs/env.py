"""What every job of a queued scan shares: its environment, and the runtime seam.

:class:`JobEnv` is what a job resolves first (the RQ job, Redis, the request, the key
layout, the ``[queue]`` section, the scan's store). :class:`JobRuntime` is how jobs
build settings and a plugin host: by default from the *worker's* own config and
environment plus the request's ``overrides`` (so secrets are resolved on the worker and
never travel in a job); tests and embedding applications swap it with
:func:`use_runtime` instead of patching classes.

Every job entry point is wrapped in :func:`job_entry`: an exception that escapes a job
is logged (scrubbed) and re-raised with a scrubbed message, so RQ never stores a
credential some library quoted in an error. When it was the job's last attempt, a
coordinator or aggregator ends its scan ``failed`` with that error first
(:func:`end_failed_scan`); :func:`on_job_failure`, RQ's failure callback on a scan's
jobs, does the same for what fails outside the function (a job timeout RQ cannot set,
a work horse that died, a job abandoned by a dead worker).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import structlog

from optscan.config import QueueSection
from optscan.models import Opportunity, ScanRequest, SymbolOutcome
from optscan.queue.connection import Keys
from optscan.queue.store import ScanStore
from optscan.scan.context import prepare_scan
from optscan.secrets import scrub_exception

if TYPE_CHECKING:
    from redis import Redis
    from rq.job import Job

    from optscan.config import Settings
    from optscan.plugins import PluginHost
    from optscan.scan.context import ScanContext

F = TypeVar("F", bound=Callable[..., Any])


class JobFailed(RuntimeError):
    """A job raised; the message is the original's, scrubbed of credentials."""


def job_entry(fn: F) -> F:
    """Wrap a job function so whatever escapes it is logged and re-raised scrubbed (and,
    on the job's last attempt, ends its scan ``failed``)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            structlog.get_logger("optscan").exception("job_failed", job=fn.__name__)
            error = scrub_exception(exc)
            from rq import get_current_job

            job = get_current_job()
            if job is not None and not job.should_retry:
                end_failed_scan(job, job.connection, error)
            raise JobFailed(error) from None

    return cast(F, run)


def on_job_failure(
    job: Job, connection: Redis, exc_type: Any = None, exc_value: Any = None, tb: Any = None
) -> None:
    """RQ's failure callback on a scan's jobs (``queue.connection.ON_JOB_FAILURE``).

    RQ calls it on every failed attempt, before it decides on a retry: only the last
    attempt (no retry left) ends the scan.
    """
    if job.should_retry:
        return
    if isinstance(exc_value, BaseException):
        error = scrub_exception(exc_value)
    else:
        error = getattr(exc_type, "__name__", None) or "the job failed"
    if error == "AbandonedJobError":
        error = "AbandonedJobError: its worker died and no retry was left"
    end_failed_scan(job, connection, error)


def end_failed_scan(job: Job, connection: Redis, error: str) -> int:
    """End the scan of a coordinator or aggregator job that failed for good: ``failed``
    with ``error``, its lock released. Batch jobs end nothing (the aggregator reports
    their symbols). Returns :meth:`ScanStore.end`'s answer, or 0 when there was no
    scan to end. Never raises: it runs while RQ handles a failure."""
    from optscan.queue.connection import AGGREGATOR_FUNCTIONS, COORDINATOR_FUNCTIONS

    log = structlog.get_logger("optscan")
    try:
        name = job.func_name
        role = (
            "coordinator"
            if name in COORDINATOR_FUNCTIONS
            else "aggregator"
            if name in AGGREGATOR_FUNCTIONS
            else None
        )
        if role is None:
            return 0
        kwargs = job.kwargs or {}
        request = ScanRequest.model_validate(kwargs.get("request") or {})
        meta = (job.meta or {}).get("optscan") or {}
        scan_id = kwargs.get("scan_id") or request.scan_id or meta.get("scan_id")
        if not scan_id:
            return 0
        store = ScanStore(connection, Keys(kwargs.get("prefix") or "optscan:"), _queue(kwargs))
        message = f"the {role} job failed: {error}"
        ended = store.end(str(scan_id), request.profile, state="failed", message=message)
    except Exception as exc:  # a malformed job, Redis gone: RQ still records the failure
        log.warning("scan_not_ended", job=str(job.id), error=scrub_exception(exc))
        return 0
    if ended == 1:
        log.warning("scan_failed", scan_id=scan_id, error=message)
    return ended


def _queue(kwargs: dict[str, Any]) -> QueueSection:
    """The job's ``[queue]`` section; one that no longer validates (a value out of
    today's bounds is what made the job fail) gives the defaults, keeping a valid
    ``state_ttl_s`` so the failed scan lives as long as it would have."""
    from pydantic import ValidationError

    given = kwargs.get("queue") or {}
    try:
        return QueueSection.model_validate(given)
    except ValidationError:
        ttl = given.get("state_ttl_s") if isinstance(given, dict) else None
        try:
            return QueueSection(state_ttl_s=ttl) if isinstance(ttl, int) else QueueSection()
        except ValidationError:
            return QueueSection()


def _default_settings(overrides: dict[str, Any]) -> Settings:
    from optscan.config import load_settings

    return load_settings(overrides=overrides)


def _default_host(settings: Settings) -> PluginHost:
    from optscan.plugins import PluginHost

    return PluginHost.from_settings(settings)


@dataclass(frozen=True)
class JobRuntime:
    """How jobs build settings (from a request's overrides) and a plugin host."""

    load_settings: Callable[[dict[str, Any]], Settings] = _default_settings
    make_host: Callable[[Settings], PluginHost] = _default_host


_runtime = JobRuntime()


@contextlib.contextmanager
def use_runtime(runtime: JobRuntime) -> Iterator[JobRuntime]:
    """Within the block, jobs run in this process use ``runtime``."""
    global _runtime
    previous, _runtime = _runtime, runtime
    try:
        yield runtime
    finally:
        _runtime = previous


@dataclass
class JobEnv:
    """What every job of a scan resolves first: its request, Redis, keys and config."""

    job: Job
    redis: Redis
    request: ScanRequest
    keys: Keys
    cfg: QueueSection
    store: ScanStore

    @classmethod
    def create(cls, request: dict[str, Any], prefix: str, queue: dict[str, Any] | None) -> JobEnv:
        from rq import get_current_job

        job = get_current_job()
        if job is None:
            raise RuntimeError("optscan's job functions run inside RQ jobs")
        cfg = QueueSection.model_validate(queue or {})
        keys = Keys(prefix)
        return cls(
            job=job,
            redis=job.connection,
            request=ScanRequest.model_validate(request),
            keys=keys,
            cfg=cfg,
            store=ScanStore(job.connection, keys, cfg),
        )

    def prepare(self, request: ScanRequest, scan_id: str, as_of: str | None) -> ScanContext:
        """The scan's context on this worker: its own settings with the request's
        overrides, a plugin host, and the scan's pinned clock (ISO 8601, or ``None``
        before the coordinator pinned it). Raises what ``prepare_scan`` raises."""
        settings = _runtime.load_settings(request.overrides)
        host = _runtime.make_host(settings)
        clock = dt.datetime.fromisoformat(as_of) if as_of else None
        return prepare_scan(request, host, settings, scan_id=scan_id, as_of=clock)

    def fail(self, scan_id: str, profile: str, message: str) -> dict[str, Any]:
        """End the scan ``failed`` with ``message``; the job's return value."""
        structlog.get_logger("optscan").warning("scan_failed", scan_id=scan_id, error=message)
        self.store.end(scan_id, profile, state="failed", message=message)
        return {"scan_id": scan_id, "state": "failed", "error": message}

    def set_meta(self, **snapshot: Any) -> None:
        """Show progress in this job's ``meta`` (rq-dashboard displays it)."""
        self.job.meta["optscan"] = {**self.job.meta.get("optscan", {}), **snapshot}
        self.job.save_meta()


def lost(scan_id: str) -> dict[str, Any]:
    """The return value of a job whose scan's state vanished from Redis."""
    structlog.get_logger("optscan").warning("scan_state_vanished", scan_id=scan_id)
    return {"scan_id": scan_id, "state": "lost", "error": "the scan's state is gone from Redis"}


def payload(outcome: SymbolOutcome, opportunities: list[Opportunity]) -> dict[str, Any]:
    """One symbol's record in the scan's store (JSON)."""
    return {
        "outcome": outcome.model_dump(mode="json"),
        "opportunities": [o.model_dump(mode="json") for o in opportunities],
    }


def job_kwargs(env: JobEnv, request: ScanRequest, scan_id: str, as_of: str) -> dict[str, Any]:
    """What every child job of a scan gets: the request, the scan, the pinned clock
    (ISO 8601), the key prefix and the ``[queue]`` section."""
    return {
        "request": request.model_dump(mode="json"),
        "scan_id": scan_id,
        "as_of": as_of,
        "prefix": env.keys.prefix,
        "queue": env.cfg.model_dump(),
    }
