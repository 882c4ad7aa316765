"""The RQ worker optscan runs: JSON jobs, fast recovery, warm work horses.

Operators may also start it with plain RQ: ``rq worker --url "$OPTSCAN_REDIS_URL"
--serializer rq.serializers.JSONSerializer --worker-class
optscan.queue.worker.OptscanWorker --with-scheduler optscan`` (0.1.0's path,
``optscan.queueing.OptscanWorker``, keeps working).
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker, worker_registration
from rq.callbacks import execute_failure_callback
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job
from rq.registry import clean_registries
from rq.serializers import JSONSerializer, resolve_serializer
from rq.utils import now

from optscan.config import QueueSection
from optscan.queue.connection import Keys
from optscan.queue.retry_scheduler import OptscanScheduler
from optscan.queue.rq import JsonJob, JsonQueue, refusal
from optscan.queue.sweep import Sweeper, release_stranded, requeue_undelivered
from optscan.queue.warmup import warm_up
from optscan.queue.workers import listening_workers
from optscan.secrets import scrub

__all__ = ["OptscanWorker", "WorkHorseKilled", "listening_workers"]


class WorkHorseKilled(Exception):
    """The work horse running a job died (a signal, the OOM killer)."""


class OptscanWorker(Worker):
    """A forking RQ worker that re-runs a job lost with a killed worker in about 30 s.

    rq 3.0 needs minutes: an idle worker blocks in dequeue for ``worker_ttl - 15`` s
    between maintenance runs (default ``worker_ttl`` 420, maintenance every 600 s), the
    started-job registry entry lives ``min(timeout, job_monitoring_interval) + 60`` s
    after the last heartbeat (``get_heartbeat_ttl``), and the in-worker scheduler, which
    re-queues retries that have an interval, holds its lock for 61 s. This subclass

    * caps ``worker_ttl``, ``maintenance_interval`` and ``job_monitoring_interval`` at
      :class:`QueueSection`'s values (even when ``rq worker`` passes its defaults);
    * replaces the fixed +60 s of :meth:`get_heartbeat_ttl` with ``heartbeat_grace_s``;
    * runs :class:`OptscanScheduler` (a short scheduler lock) in ``_start_scheduler``;
    * outlives a Redis that refuses writes (full, restarting, failing over): a refused
      heartbeat or maintenance step is logged, not fatal, the teardown does each of its
      steps, and rq's maintenance lock is held for a minute, not 15 (see
      :meth:`clean_registries`); the maintenance also runs :mod:`optscan.queue.sweep`,
      which re-runs jobs RQ left out of place and ends scans nothing will end;
    * loads optscan's scan path and the market calendar once before forking, so each
      work horse starts warm.

    It runs only optscan's own jobs: the JSON serializer and optscan's job and queue
    classes whatever ``rq worker`` passes, and a job naming any other function or
    callback (:func:`~optscan.queue.rq.refusal`) fails before the worker forks, nothing
    it names imported, the attempt logged.

    A killed worker's work horse runs in its own process group: kill both
    (``os.killpg`` on each) or the orphaned horse may still finish its job; the
    per-symbol completion set makes that harmless.
    """

    queue_class = JsonQueue
    job_class = JsonJob
    queue_config = QueueSection()
    prefix = "optscan:"

    def __init__(self, queues: Any, *args: Any, **kwargs: Any) -> None:
        cfg: QueueSection = kwargs.pop("queue_config", None) or type(self).queue_config
        self.queue_config = cfg
        self.prefix = kwargs.pop("prefix", None) or type(self).prefix

        def capped(key: str, ceiling: int) -> int:
            value = kwargs.get(key)
            return min(int(value), ceiling) if value else ceiling

        kwargs["worker_ttl"] = capped("worker_ttl", cfg.worker_ttl_s)
        kwargs.pop("default_worker_ttl", None)
        kwargs["maintenance_interval"] = capped("maintenance_interval", cfg.maintenance_interval_s)
        kwargs["job_monitoring_interval"] = capped(
            "job_monitoring_interval", cfg.job_monitoring_interval_s
        )
        # Only JSON jobs of optscan's classes: rq worker passes rq's own classes (and
        # queues built with them), and a pickle serializer would run code on reading.
        asked = kwargs.get("serializer")
        ignored = bool(asked) and resolve_serializer(asked) is not JSONSerializer
        kwargs["serializer"] = JSONSerializer
        if not _subclass(kwargs.get("job_class"), JsonJob):
            kwargs["job_class"] = JsonJob
        if not _subclass(kwargs.get("queue_class"), JsonQueue):
            kwargs["queue_class"] = JsonQueue
        if isinstance(queues, Queue | str):
            queues = [queues]
        queues = [q.name if isinstance(q, Queue) else q for q in queues]
        super().__init__(queues, *args, **kwargs)
        if ignored:  # rq worker's default is pickle, which would run code on reading
            self.log.warning("optscan's worker reads JSON jobs only: --serializer ignored")

    @classmethod
    def all(
        cls,
        connection: Redis | None = None,
        job_class: Any = None,
        queue_class: Any = None,
        queue: Any = None,
        serializer: Any = None,
    ) -> list[Any]:
        """Every worker, read with the JSON serializer (rq-dashboard passes none)."""
        return super().all(
            connection=connection,
            job_class=job_class or JsonJob,
            queue_class=queue_class or JsonQueue,
            queue=queue,
            serializer=serializer or JSONSerializer,
        )

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """rq's TTL without its fixed +60 s: the next heartbeat plus a small grace."""
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = max(1, min(job.timeout - working_time, interval))
        return int(interval) + self.queue_config.heartbeat_grace_s

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: Any = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """rq's own method, with :class:`OptscanScheduler` instead of ``RQScheduler``."""
        self.scheduler = OptscanScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.lock_ttl_s = self.queue_config.scheduler_lock_ttl_s
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        warm_up()  # before registering, so a registered worker is a ready one
        super().bootstrap(*args, **kwargs)

    # -- only optscan's jobs

    def execute_job(self, job: Job, queue: Queue) -> None:
        why = refusal(job)
        if why is None:
            super().execute_job(job, queue)
            return
        # Fail it for good before forking: no retry, no callback, no webhook, and
        # nothing it names imported.
        self.log.warning(
            "Worker %s: refused job %s from queue %s, not run: %s",
            self.name,
            scrub(str(job.id)),
            queue.name,
            why,
        )
        job.retries_left = 0
        job.webhooks = []
        for kind in ("success", "failure", "stopped"):
            setattr(job, f"_{kind}_callback_name", None)
        job.ended_at = now()
        self.handle_job_failure(job, queue, exc_string=f"UntrustedJobError: refused: {why}")
        queue.intermediate_queue.remove(job.id)

    # -- a job whose scan must end when it fails for good

    def _failure_callback(self, job: Job, error: Exception) -> None:
        """RQ calls a job's failure callback when the job raised or was abandoned, but
        not when its work horse died or it was stuck: call it then too."""
        try:
            execute_failure_callback(job, self.death_penalty_class, type(error), error, None)
        except Exception:
            self.log.exception("Worker %s: failure callback of job %s raised", self.name, job.id)

    def handle_work_horse_killed(self, job: Job, retpid: Any, ret_val: Any, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        self._failure_callback(job, WorkHorseKilled(f"its work horse died (status {ret_val})"))

    # -- surviving Redis faults (a full, restarting or failing-over Redis)

    def run_maintenance_tasks(self) -> None:
        """rq's maintenance, which a Redis error no longer turns into the worker's exit:
        it is logged and tried again at the next interval."""
        try:
            super().run_maintenance_tasks()
        except RedisError as exc:
            self.last_cleaned_at = now()
            _warn("maintenance", exc)

    def clean_registries(self) -> None:
        """rq's registry cleaning and :mod:`optscan.queue.sweep`'s repairs, under rq's
        per-queue maintenance lock, which is held for at most ``MAINTENANCE_LOCK_S``
        and released even when Redis refuses a write midway (rq would keep it for 15
        minutes, and no worker would re-run a lost job meanwhile). A job dequeued by a
        worker that could not start it goes back on its queue after seconds, not rq's
        minute and a retry (:func:`~optscan.queue.sweep.requeue_undelivered`)."""
        for queue in self.queues:
            if not queue.acquire_maintenance_lock():
                continue
            try:
                self.connection.expire(queue.registry_cleaning_key, MAINTENANCE_LOCK_S)
                self.log.info("Worker %s: cleaning registries for queue: %s", self.name, queue.name)
                clean_registries(queue, self._exc_handlers)
                worker_registration.clean_worker_registry(queue)
                self._sweep(lambda queue=queue: requeue_undelivered(queue))
                self._sweep(lambda queue=queue: release_stranded(queue))
            finally:
                with contextlib.suppress(RedisError):
                    queue.release_maintenance_lock()
        sweeper = _sweepers.setdefault(self.prefix, Sweeper(Keys(self.prefix), self.queue_config))
        if sweeper.due():
            self._sweep(lambda: sweeper(self.connection))
        self.last_cleaned_at = now()

    def _sweep(self, repair: Any) -> None:
        """Run a repair of :mod:`optscan.queue.sweep`; a job it cannot read is logged,
        never the worker's end (a Redis error goes on to the maintenance's handler)."""
        try:
            repair()
        except RedisError:
            raise
        except Exception as exc:
            _warn("sweep", exc)

    def maintain_heartbeats(self, job: Job, execution: Any) -> None:
        """A heartbeat Redis refuses is logged, not fatal: the work horse goes on (if
        the job's entry expires meanwhile, rq re-runs it; a scan's jobs are idempotent)."""
        try:
            super().maintain_heartbeats(job, execution)
        except RedisError as exc:
            _warn("heartbeat", exc)

    def teardown(self) -> None:
        """rq's teardown, each step on its own: a refused ``register_death`` no longer
        leaves the pub/sub thread running behind a restarted worker."""
        if self.is_horse:
            return
        steps = [self.register_death, self.unsubscribe]
        if self.scheduler:
            steps.insert(0, self.stop_scheduler)
        for step in steps:
            try:
                step()
            except RedisError as exc:
                _warn("teardown", exc)


MAINTENANCE_LOCK_S = 60
_sweepers: dict[str, Sweeper] = {}
"""This process's sweeper per key prefix (it remembers what it suspects between runs)."""


def _warn(step: str, exc: BaseException) -> None:
    from optscan.secrets import scrub_exception

    event = "worker_redis_error" if isinstance(exc, RedisError) else "worker_step_failed"
    structlog.get_logger("optscan").warning(event, step=step, error=scrub_exception(exc))


def _subclass(value: Any, base: type) -> bool:
    return isinstance(value, type) and issubclass(value, base)
