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
from rq import Worker, worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job
from rq.registry import clean_registries
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from rq.utils import now

from optscan.config import QueueSection
from optscan.queue.connection import Keys
from optscan.queue.rq import JsonJob, JsonQueue
from optscan.queue.sweep import Sweeper, release_stranded, requeue_undelivered
from optscan.queue.warmup import warm_up


class OptscanScheduler(RQScheduler):
    """rq's in-worker scheduler with a short lock.

    rq holds the per-queue scheduler lock for ``interval + 60`` s, so when the worker
    running the scheduler is killed, retries scheduled with an interval wait a minute
    for another worker to take over. The scheduler heartbeats every ``interval`` (1 s),
    so a lock of a few seconds is safe; we shorten it after every acquire and refresh.
    """

    lock_ttl_s = 10
    _SHORTEN = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then
        return redis.call('EXPIRE', KEYS[1], ARGV[2])
    end
    return 0
    """

    def _shorten_locks(self) -> None:
        script = self.connection.register_script(self._SHORTEN)
        for name in list(self._acquired_locks):
            script(keys=[self.get_locking_key(name)], args=[self.name, self.lock_ttl_s])

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        locks = super().acquire_locks(auto_start=False)
        self._shorten_locks()
        if self._acquired_locks and auto_start and not (self._process and self._process.is_alive()):
            self.start()
        return locks

    def heartbeat(self) -> None:
        super().heartbeat()
        self._shorten_locks()


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
    * defaults to the JSON serializer, :class:`JsonJob` and :class:`JsonQueue` (``rq
      worker`` passes rq's own classes with ``--serializer``, which works as well), and
      loads optscan's scan path and the market calendar once before forking, so each
      work horse starts warm.

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
        kwargs["serializer"] = kwargs.get("serializer") or JSONSerializer
        kwargs["job_class"] = kwargs.get("job_class") or JsonJob
        kwargs["queue_class"] = kwargs.get("queue_class") or JsonQueue
        super().__init__(queues, *args, **kwargs)

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


def listening_workers(redis: Redis, queue_name: str) -> int:
    """How many live workers listen on ``queue_name`` (0: a queued scan waits for one)."""
    return OptscanWorker.count(connection=redis, queue=JsonQueue(queue_name, connection=redis))
