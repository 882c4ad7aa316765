"""The RQ worker optscan runs: JSON jobs, fast recovery, warm work horses.

Operators may also start it with plain RQ: ``rq worker --url "$OPTSCAN_REDIS_URL"
--serializer rq.serializers.JSONSerializer --worker-class
optscan.queue.worker.OptscanWorker --with-scheduler optscan`` (0.1.0's path,
``optscan.queueing.OptscanWorker``, keeps working).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from redis import Redis
from rq import Queue, Worker, worker_registration
from rq.callbacks import execute_failure_callback
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job, JobStatus
from rq.registry import clean_registries
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer, resolve_serializer
from rq.utils import now

from optscan.config import QueueSection
from optscan.queue.rq import JsonJob, JsonQueue, refusal
from optscan.queue.warmup import warm_up
from optscan.secrets import scrub


class StuckJobError(Exception):
    """A job's worker took it from the queue and died before starting it."""


class WorkHorseKilled(Exception):
    """The work horse running a job died (a signal, the OOM killer)."""


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
    * defaults to the JSON serializer, :class:`JsonJob` and :class:`JsonQueue` (``rq
      worker`` passes rq's own classes with ``--serializer``, which works as well), and
      loads optscan's scan path and the market calendar once before forking, so each
      work horse starts warm.

    * recovers a job whose worker died between taking it and starting it (it sits in
      the queue's intermediate list, which rq cleans after more than a minute) once it
      has sat there ``job_monitoring_interval_s + heartbeat_grace_s``, and holds the
      per-queue cleaning lock 30 s instead of 899 (a worker killed while cleaning
      stopped all cleaning for 15 minutes).

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
    cleaning_lock_ttl_s = 30

    def __init__(self, queues: Any, *args: Any, **kwargs: Any) -> None:
        cfg: QueueSection = kwargs.pop("queue_config", None) or type(self).queue_config
        self.queue_config = cfg
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

        def capped(key: str, ceiling: int) -> int:
            value = kwargs.get(key)
            return min(int(value), ceiling) if value else ceiling

        kwargs["worker_ttl"] = capped("worker_ttl", cfg.worker_ttl_s)
        kwargs.pop("default_worker_ttl", None)
        kwargs["maintenance_interval"] = capped("maintenance_interval", cfg.maintenance_interval_s)
        kwargs["job_monitoring_interval"] = capped(
            "job_monitoring_interval", cfg.job_monitoring_interval_s
        )
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

    # -- maintenance

    def clean_registries(self) -> None:
        """rq's registry cleaning, with a 30 s cleaning lock and the intermediate list
        cleaned after the heartbeat window (see the class)."""
        for queue in self.queues:
            key = queue.registry_cleaning_key
            if not self.connection.set(key, 1, nx=True, ex=self.cleaning_lock_ttl_s):
                continue
            try:
                self.log.info("Worker %s: cleaning registries for queue: %s", self.name, queue.name)
                clean_registries(queue, self._exc_handlers)
                worker_registration.clean_worker_registry(queue)
                self._clean_intermediate(queue)
            finally:
                queue.release_maintenance_lock()
        self.last_cleaned_at = now()

    def _clean_intermediate(self, queue: Queue) -> None:
        """Re-run (rq's retry) or fail a job that a worker took from the queue and never
        started: not in the started registry and still ``queued`` after the heartbeat
        window (a live worker starts a job it took within milliseconds)."""
        cfg = self.queue_config
        window = dt.timedelta(seconds=cfg.job_monitoring_interval_s + cfg.heartbeat_grace_s)
        intermediate = queue.intermediate_queue
        for job_id in intermediate.get_job_ids():
            if job_id in queue.started_job_registry:
                continue
            job = queue.fetch_job(job_id)
            if job is None or job.get_status(refresh=False) != JobStatus.QUEUED:
                intermediate.remove(job_id)  # gone, or ended: nothing to recover
                continue
            if intermediate.set_first_seen(job_id):
                continue
            first_seen = intermediate.get_first_seen(job_id)
            if first_seen is None or now() - first_seen <= window:
                continue
            self.log.warning(
                "Worker %s: job %s was taken by a worker that died before starting it; "
                "recovering it",
                self.name,
                job_id,
            )
            error = StuckJobError("its worker died between taking it and starting it")
            self._failure_callback(job, error)
            job.ended_at = now()
            self.handle_job_failure(job, queue, exc_string=f"StuckJobError: {error}")
            intermediate.remove(job_id)


def _subclass(value: Any, base: type) -> bool:
    return isinstance(value, type) and issubclass(value, base)


def listening_workers(redis: Redis, queue_name: str, heartbeat_within_s: float = 15.0) -> int:
    """How many live workers listen on ``queue_name`` (0: a queued scan waits for one).

    A worker's key outlives it by ``worker_ttl + 60`` s (rq's own margin), so a killed
    worker would count for over a minute: only workers whose last heartbeat is at most
    ``heartbeat_within_s`` old count (a live one beats every few seconds, busy or not).
    """
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    queue = JsonQueue(queue_name, connection=redis)
    alive = 0
    for worker in OptscanWorker.all(connection=redis, queue=queue):
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=dt.UTC)
        if beat is not None and (now - beat).total_seconds() <= heartbeat_within_s:
            alive += 1
    return alive
