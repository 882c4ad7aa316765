"""Timed scans with rq-scheduler, whose cron strings are read in New York time.

rq-scheduler 0.14 pickles jobs unless given a job class: :func:`make_scheduler` gives it
:class:`~optscan.queue.rq.JsonJob`. Schedule ids are deterministic
(:func:`schedule_id`), so adding the same schedule twice keeps one. Every scheduled scan
checks the market calendar itself (a closed market skips it cleanly), so a cron string
in the wrong zone can cost a skipped run, never a scan at the wrong time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from redis import Redis
from rq_scheduler import Scheduler

from optscan.logs import get_logger
from optscan.queue.connection import COORDINATE_SCAN, QueueError, coordinator_kwargs
from optscan.queue.rq import JsonJob, JsonQueue, on_failure

if TYPE_CHECKING:
    from optscan.config import QueueSection
    from optscan.models import ScanRequest

SCHEDULE_ID_PREFIX = "optscan-schedule-"
NEW_YORK_TZ = "America/New_York"


@contextlib.contextmanager
def new_york_time() -> Iterator[None]:
    """Run a block with the process's local time zone set to New York.

    rq-scheduler evaluates cron strings against naive local time (``datetime.now()``),
    both when a schedule is added and after every run, so the cron must be read where
    the market is, whatever the host's ``TZ``. (The ``crontab`` package warns about a
    future change of that naive-time behaviour; it is what we rely on, so hush it.)
    """
    import warnings

    old = os.environ.get("TZ")
    os.environ["TZ"] = NEW_YORK_TZ
    time.tzset()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="rq_scheduler")
            yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def use_new_york_time() -> None:
    """For the scheduler process: New York local time for good."""
    os.environ["TZ"] = NEW_YORK_TZ
    time.tzset()


def schedule_id(request: ScanRequest, cron: str) -> str:
    """Deterministic: the same profile, cron and request always give the same id (a
    request without a ``portfolio``, as every schedule's is, hashes as it did before
    the field existed, so re-adding a schedule replaces it)."""
    data = request.model_dump(mode="json")
    if data.get("portfolio") is None:
        data.pop("portfolio", None)
    body = {"profile": request.profile, "cron": " ".join(cron.split()), "request": data}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f"{SCHEDULE_ID_PREFIX}{digest[:16]}"


def check_cron(cron: str) -> str:
    """Validate a cron string (as rq-scheduler's ``crontab`` reads it): five fields
    (minute hour day month weekday; crontab's optional seconds and year would fire a
    scan every second, or never again) and a next run (``0 0 31 2 *`` has none)."""
    from crontab import CronTab

    cron = " ".join(cron.split())
    if len(cron.split()) != 5:
        raise QueueError(
            f"--cron {cron!r}: expected 5 fields (minute hour day month weekday), "
            f'e.g. "0,30 10-15 * * 1-5"'
        )
    try:
        upcoming = CronTab(cron).next(default_utc=True)
    except ValueError as exc:
        raise QueueError(f"--cron {cron!r}: {exc}") from None
    if upcoming is None:
        raise QueueError(f"--cron {cron!r}: never fires")
    return cron


class NewYorkScheduler(Scheduler):
    """rq-scheduler that computes every next cron run in New York local time.

    rq-scheduler 0.14 evaluates cron against naive ``datetime.now()`` when a schedule
    is added and again after each run. ``optscan scheduler`` sets ``TZ`` for good;
    this keeps any other caller (``schedule add``, scripts, tests) right too.
    """

    _holding: bool | None = None
    stopping = False
    """Set by SIGTERM or SIGINT: the scheduler is on its way out."""

    def cron(self, *args: Any, **kwargs: Any) -> Any:
        with new_york_time():
            return super().cron(*args, **kwargs)

    def get_queue_for_job(self, job: Any) -> Any:
        """rq-scheduler imports the class a job's ``meta["queue_class_name"]`` names;
        optscan never sets one, so one written into Redis is ignored, not imported."""
        if job.meta.get("queue_class_name"):
            get_logger().warning(
                "schedule_queue_class_ignored",
                schedule=str(job.id),
                queue_class=str(job.meta["queue_class_name"])[:120],
            )
        key = f"{self.queue_class.redis_queue_namespace_prefix}{job.origin}"
        return self.queue_class.from_queue_key(
            key, connection=self.connection, job_class=self.job_class
        )

    def enqueue_job(self, job: Any) -> Any:
        with new_york_time():
            queued = super().enqueue_job(job)
        get_logger().info(
            "timed_scan_enqueued",
            schedule=job.id,
            profile=(job.kwargs or {}).get("request", {}).get("profile"),
            cron=job.meta.get("cron_string"),
        )
        return queued

    def _install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the scheduler (``SystemExit``, exit 0) even when
        Redis is down: rq-scheduler's own handler writes its death and frees its lock
        first, and a Redis error there would escape as that error instead."""
        import signal

        def stop(signum: int, frame: Any) -> None:
            self.stopping = True
            get_logger().info("scheduler_stopping", signal=signal.Signals(signum).name)
            with contextlib.suppress(Exception):  # best effort: both keys have a TTL
                self.register_death()
                self.remove_lock()
            raise SystemExit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def acquire_lock(self) -> bool:
        """rq-scheduler's lock (one scheduler per Redis enqueues); say when this process
        starts or stops holding it, once, not at every interval."""
        holding = bool(super().acquire_lock())
        if holding != self._holding:
            log = get_logger()
            if holding:
                log.info("scheduler_lock_held", interval_s=self._interval)
            else:
                log.warning(
                    "scheduler_lock_taken",
                    detail="another optscan scheduler is enqueueing the timed scans; "
                    "this one waits and takes over if it stops",
                )
            self._holding = holding
        return holding


def make_scheduler(redis: Redis, cfg: QueueSection) -> NewYorkScheduler:
    """An rq-scheduler for optscan's queue that writes and reads JSON jobs."""
    return NewYorkScheduler(
        queue_name=cfg.name,
        connection=redis,
        interval=cfg.scheduler_interval_s,
        job_class=JsonJob,
        queue_class=JsonQueue,
    )


def add_schedule(
    redis: Redis, request: ScanRequest, cron: str, *, prefix: str, cfg: QueueSection
) -> dict[str, Any]:
    """Add (or replace, keeping one) the schedule for this profile, cron and request."""
    cron = check_cron(cron)
    request = request.model_copy(update={"scheduled": True, "scan_id": None})
    sid = schedule_id(request, cron)
    scheduler = make_scheduler(redis, cfg)
    existed = sid in scheduler
    if existed:
        scheduler.cancel(sid)
    # No result_ttl: rq-scheduler keeps cron jobs forever (-1); a job hash that
    # expired would silently drop out of the schedule.
    scheduler.cron(
        cron,
        func=COORDINATE_SCAN,
        kwargs=coordinator_kwargs(request, prefix, cfg),
        id=sid,
        queue_name=cfg.name,
        timeout=cfg.coordinator_timeout_s,
        on_failure=on_failure(),
        description=f"optscan scheduled scan (profile {request.profile}, cron {cron})",
        meta={"optscan": {"schedule": sid, "profile": request.profile, "cron": cron}},
    )
    return {"id": sid, "cron": cron, "profile": request.profile, "replaced": existed}


def list_schedules(redis: Redis, cfg: QueueSection) -> list[dict[str, Any]]:
    """optscan's schedules with their next run (UTC and New York)."""
    from zoneinfo import ZoneInfo

    scheduler = make_scheduler(redis, cfg)
    out = []
    for job, when in scheduler.get_jobs(with_times=True):
        if not job.id.startswith(SCHEDULE_ID_PREFIX):
            continue
        when_utc = when.replace(tzinfo=dt.UTC)
        request = (job.kwargs or {}).get("request", {})
        out.append(
            {
                "id": job.id,
                "cron": job.meta.get("cron_string"),
                "profile": request.get("profile"),
                "next_run_utc": when_utc.isoformat(),
                "next_run_new_york": when_utc.astimezone(ZoneInfo(NEW_YORK_TZ)).isoformat(),
                "request": request,
            }
        )
    return sorted(out, key=lambda s: (s["profile"] or "", s["id"]))


def remove_schedule(redis: Redis, cfg: QueueSection, sid: str) -> bool:
    from rq.exceptions import NoSuchJobError

    scheduler = make_scheduler(redis, cfg)
    existed = sid in scheduler
    scheduler.cancel(sid)
    with contextlib.suppress(NoSuchJobError):
        JsonJob.fetch(sid, connection=redis).delete()
    return existed


def run_scheduler(scheduler: NewYorkScheduler, *, burst: bool = False) -> None:
    """Run ``scheduler`` (:func:`make_scheduler`) in New York time (blocks). It raises
    what stops rq-scheduler's loop (a Redis error): ``optscan scheduler`` starts a new
    one after a pause (:func:`optscan.cli.restarts.keep_running`)."""
    import logging

    # rq-scheduler warns at every interval while another scheduler holds the lock;
    # NewYorkScheduler.acquire_lock says it once.
    logging.getLogger("rq_scheduler.scheduler").addFilter(
        lambda record: "Lock already taken" not in record.getMessage()
    )
    use_new_york_time()
    scheduler.run(burst=burst)
