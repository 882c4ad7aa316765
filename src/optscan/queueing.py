"""All of optscan's Redis, RQ and rq-scheduler wiring, in one place.

A queued scan fans out over RQ (see :mod:`optscan.jobs`): a *coordinator* job resolves
the calendar and the symbols, enqueues one job per small batch of symbols and an
*aggregator* that depends on all of them (``Dependency(allow_failure=True)``, so one
failed batch never leaves it deferred forever). This module holds what those jobs and
the command line share:

* the connection (``[redis] url``; the password is never printed: :func:`display_url`)
  and the key layout (:class:`Keys`): every optscan key starts with ``redis.prefix``;
  RQ keeps its own ``rq:`` namespace;
* JSON-only RQ classes (:class:`JsonJob`, :class:`JsonQueue`) - rq-scheduler and
  rq-dashboard create and fetch jobs without passing a serializer, so the classes must
  default to JSON themselves;
* :class:`OptscanWorker`, which notices a job lost with a killed worker within about
  30 s instead of rq's minutes;
* the per-profile scan lock and the per-scan progress hash, both updated with Lua so
  every change is atomic and completion is idempotent per symbol;
* schedule helpers for rq-scheduler, whose cron strings are read in New York time.

Redis and RQ are imported here at module level: only the queue commands, the worker
and the jobs import this module, never ``optscan --help``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from redis import Redis
from rq import Queue, Retry, Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from optscan.config import QueueSection
from optscan.errors import OptscanError

if TYPE_CHECKING:
    from optscan.config import Settings
    from optscan.models import ScanRequest

TERMINAL_STATES = ("finished", "failed", "skipped", "lost")
SCHEDULE_ID_PREFIX = "optscan-schedule-"
NEW_YORK_TZ = "America/New_York"


class QueueError(OptscanError):
    """Redis cannot be reached or a queue operation cannot be done."""


class ScanBusyError(OptscanError):
    """Another scan of the same profile holds the profile's lock."""

    def __init__(self, profile: str, holder: str) -> None:
        super().__init__(
            f"profile {profile!r} already has a scan in progress (scan_id {holder}); "
            f"wait for it (`optscan status --scan-id {holder}`) or, if it is dead, "
            f"`optscan lock clear --profile {profile}`"
        )
        self.profile = profile
        self.holder = holder


# --------------------------------------------------------------------------- config


class QueueConfig(QueueSection):
    """The ``[queue]`` section (:class:`optscan.config.QueueSection`) plus the helpers
    the queued path needs from it."""

    @classmethod
    def from_settings(cls, settings: Settings | None, override: Any = None) -> QueueConfig:
        """The ``[queue]`` section of ``settings`` (defaults without settings);
        ``override`` (a QueueConfig or a dict of keys) wins."""
        base: dict[str, Any] = {}
        section = getattr(settings, "queue", None) if settings is not None else None
        if isinstance(section, BaseModel):
            base = section.model_dump()
        elif isinstance(section, dict):
            base = dict(section)
        if isinstance(override, BaseModel):
            base.update(override.model_dump())
        elif isinstance(override, dict):
            base.update(override)
        return cls.model_validate(base)

    def retry(self) -> Retry | None:
        return (
            Retry(max=self.retry_max, interval=self.retry_intervals_s) if self.retry_max else None
        )


# --------------------------------------------------------------------------- connection


def display_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    from optscan.config import _mask_url

    return _mask_url(url)


def connect(settings: Settings, *, url: str | None = None) -> Redis:
    """A Redis client for ``[redis] url`` (``OPTSCAN_REDIS_URL``); checks it answers."""
    from redis.exceptions import RedisError

    url = url or settings.redis.url.get_secret_value()
    try:
        client = Redis.from_url(
            url, socket_connect_timeout=5, socket_keepalive=True, health_check_interval=30
        )
        client.ping()
    except (RedisError, ValueError) as exc:
        raise QueueError(f"cannot reach Redis at {display_url(url)}: {exc}") from None
    return client


@dataclass(frozen=True)
class Keys:
    """optscan's key layout. Per-scan keys share a ``{scan_id}`` hash tag, so a Redis
    Cluster keeps them in one slot and the Lua scripts may touch them together. (The
    ``redis`` sink's ``<prefix>results:<profile>`` lives in :mod:`optscan.redis_sink`.)"""

    prefix: str = "optscan:"

    def scan(self, scan_id: str) -> str:
        return f"{self.prefix}scan:{{{scan_id}}}"

    def outcomes(self, scan_id: str) -> str:
        return f"{self.scan(scan_id)}:outcomes"

    def done(self, scan_id: str) -> str:
        return f"{self.scan(scan_id)}:done"

    def failed(self, scan_id: str) -> str:
        return f"{self.scan(scan_id)}:failed"

    def result(self, scan_id: str) -> str:
        return f"{self.scan(scan_id)}:result"

    def lock(self, profile: str) -> str:
        return f"{self.prefix}lock:{profile}"

    def latest(self, profile: str | None = None) -> str:
        return f"{self.prefix}latest" if profile is None else f"{self.prefix}latest:{profile}"

    def rate_limit(self, provider: str) -> str:
        return f"{self.prefix}ratelimit:{provider}"


def coordinator_job_id(scan_id: str) -> str:
    return f"optscan-{scan_id}-coord"


def batch_job_id(scan_id: str, index: int) -> str:
    return f"optscan-{scan_id}-b{index:04d}"


def aggregator_job_id(scan_id: str) -> str:
    return f"optscan-{scan_id}-agg"


# --------------------------------------------------------------------------- RQ classes


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
      :class:`QueueConfig`'s values (even when ``rq worker`` passes its defaults);
    * replaces the fixed +60 s of :meth:`get_heartbeat_ttl` with ``heartbeat_grace_s``;
    * runs :class:`OptscanScheduler` (a short scheduler lock) in ``_start_scheduler``;
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
    queue_config = QueueConfig()

    def __init__(self, queues: Any, *args: Any, **kwargs: Any) -> None:
        cfg: QueueConfig = kwargs.pop("queue_config", None) or type(self).queue_config
        self.queue_config = cfg

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


_warmed = False


def warm_up(settings: Settings | None = None) -> None:
    """Import the scan machinery and build the calendar before forking work horses.

    Every horse is a fresh fork: what the parent loaded (modules, the cached NYSE
    calendar, about 0.5 s) every horse gets for free. Runs once per process.
    """
    global _warmed
    if _warmed:
        return
    _warmed = True
    try:
        import threading

        import optscan.jobs  # noqa: F401  (the scan, analytics, providers)
        from optscan.config import load_settings
        from optscan.models import ScanRequest
        from optscan.plugins import PluginHost
        from optscan.scan import prepare_scan, run_symbols

        settings = settings or load_settings()
        host = PluginHost.from_settings(settings)
        host.calendar(settings.scan.calendar).status(dt.datetime.now(dt.UTC))
        for name in host.names("providers"):
            __import__(host.get_class("providers", name).__module__)
        if "sim" in host.names("providers"):  # one offline symbol loads the whole scan path
            quiet = load_settings(
                overrides={"providers.sim.latency_ms": 0, "providers.sim.error_rate": 0}
            )
            request = ScanRequest(provider="sim", symbols=["WARMUP"], force=True, sinks=[])
            run_symbols(prepare_scan(request, host, quiet), ["WARMUP"], lambda outcome: None)
            for thread in threading.enumerate():  # fork with no fetch thread mid-flight
                if thread.name.startswith("optscan-fetch"):
                    thread.join(timeout=1)
    except Exception as exc:  # warming is an optimisation; the jobs report real errors
        from optscan.logs import get_logger

        get_logger().warning("worker_warm_up_failed", error=str(exc))


def make_queue(redis: Redis, cfg: QueueConfig, name: str | None = None) -> JsonQueue:
    return JsonQueue(name or cfg.name, connection=redis)


# --------------------------------------------------------------------------- the scan lock

_REFRESH_LOCK = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
elseif not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 2
end
return 0
"""

# KEYS: lock, scan hash. Like _REFRESH_LOCK, but only for a scan still queued/running,
# so a late job of an ended scan (an orphaned work horse) never re-takes the lock.
_KEEP_LOCK = (
    """
local state = redis.call('HGET', KEYS[2], 'state')
if state ~= 'queued' and state ~= 'running' then
    return 0
end"""
    + _REFRESH_LOCK
)

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def acquire_lock(redis: Redis, keys: Keys, profile: str, token: str, ttl_s: int) -> str:
    """Take the profile's lock for ``token`` (atomic ``SET NX PX``); return the holder.

    The caller owns the lock when the returned holder equals its token (a second call
    with the same token refreshes it).
    """
    key = keys.lock(profile)
    if redis.set(key, token, nx=True, px=ttl_s * 1000):
        return token
    if refresh_lock(redis, keys, profile, token, ttl_s):
        return token
    holder = redis.get(key)
    return holder.decode() if holder else token


def refresh_lock(redis: Redis, keys: Keys, profile: str, token: str, ttl_s: int) -> bool:
    """Extend the lock if ``token`` holds it, or re-take it if it expired meanwhile."""
    script = redis.register_script(_REFRESH_LOCK)
    return bool(script(keys=[keys.lock(profile)], args=[token, ttl_s * 1000]))


def keep_lock(redis: Redis, keys: Keys, profile: str, scan_id: str, ttl_s: int) -> bool:
    """A scan's jobs keep its lock alive (re-taking it if it lapsed) while it runs."""
    script = redis.register_script(_KEEP_LOCK)
    return bool(script(keys=[keys.lock(profile), keys.scan(scan_id)], args=[scan_id, ttl_s * 1000]))


@contextlib.contextmanager
def lock_kept(redis: Redis, keys: Keys, profile: str, scan_id: str, ttl_s: int) -> Iterator[None]:
    """Keep the lock alive from a thread during a long step (a slow, rate-limited batch)."""
    import threading

    from redis.exceptions import RedisError

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(max(1.0, ttl_s / 3)):
            with contextlib.suppress(RedisError):
                keep_lock(redis, keys, profile, scan_id, ttl_s)

    thread = threading.Thread(target=beat, name="optscan-lock", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)


def release_lock(redis: Redis, keys: Keys, profile: str, token: str) -> bool:
    """Compare-and-delete: only the holder's token releases the lock."""
    script = redis.register_script(_RELEASE_LOCK)
    return bool(script(keys=[keys.lock(profile)], args=[token]))


def lock_holder(redis: Redis, keys: Keys, profile: str) -> str | None:
    value = redis.get(keys.lock(profile))
    return value.decode() if value else None


def clear_lock(redis: Redis, keys: Keys, profile: str) -> str | None:
    """Operators only: drop the profile's lock whoever holds it; return the old holder."""
    pipe = redis.pipeline()
    pipe.get(keys.lock(profile))
    pipe.delete(keys.lock(profile))
    holder, _ = pipe.execute()
    return holder.decode() if holder else None


# --------------------------------------------------------------------------- progress

# KEYS: scan hash, outcomes hash, done set, failed set
# ARGV: ttl, now, then (symbol, outcome json, failed 0/1) triples
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
    return {-1, 0, 0}
end
local added = 0
for i = 3, #ARGV, 3 do
    if redis.call('SADD', KEYS[3], ARGV[i]) == 1 then
        added = added + 1
        redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
        if ARGV[i + 2] == '1' then
            redis.call('SADD', KEYS[4], ARGV[i])
        end
    end
end
local done = redis.call('SCARD', KEYS[3])
local failed = redis.call('SCARD', KEYS[4])
redis.call('HSET', KEYS[1], 'done', done, 'failed', failed, 'updated_at', ARGV[2])
for k = 1, 4 do
    redis.call('EXPIRE', KEYS[k], ARGV[1])
end
return {added, done, failed}
"""

# KEYS: scan hash, result key, lock key, then every other per-scan key (for the TTL)
# ARGV: token (scan id), state, finished_at, message, result json ('' for none), ttl
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then
    return -1
end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'finished' or state == 'failed' or state == 'skipped' then
    return 0
end
if ARGV[5] ~= '' then
    redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'finished_at', ARGV[3], 'message', ARGV[4])
if ARGV[2] ~= 'finished' then
    redis.call('HSET', KEYS[1], 'error', ARGV[4])
end
if redis.call('GET', KEYS[3]) == ARGV[1] then
    redis.call('DEL', KEYS[3])
end
for k = 4, #KEYS do
    redis.call('EXPIRE', KEYS[k], ARGV[6])
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class ScanStore:
    """A scan's state in Redis: the progress hash, per-symbol outcomes, done/failed
    sets and the final result. Counts are set cardinalities, never counters, so a
    symbol finished twice (an orphaned horse and its retry) counts once."""

    def __init__(self, redis: Redis, keys: Keys, cfg: QueueConfig) -> None:
        self.redis = redis
        self.keys = keys
        self.cfg = cfg

    # -- lifecycle

    def create(
        self, scan_id: str, profile: str, *, state: str, job_id: str, scheduled: bool = False
    ) -> None:
        """Write the progress hash and make this the latest scan (of its profile)."""
        now = _now()
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            self.keys.scan(scan_id),
            mapping={
                "scan_id": scan_id,
                "profile": profile,
                "state": state,
                "total": 0,
                "done": 0,
                "failed": 0,
                "queued_at": now,
                "updated_at": now,
                "job_id": job_id,
                "scheduled": int(scheduled),
            },
        )
        pipe.expire(self.keys.scan(scan_id), self.cfg.state_ttl_s)
        pipe.set(self.keys.latest(), scan_id, ex=self.cfg.state_ttl_s)
        pipe.set(self.keys.latest(profile), scan_id, ex=self.cfg.state_ttl_s)
        pipe.execute()

    def exists(self, scan_id: str) -> bool:
        return bool(self.redis.hexists(self.keys.scan(scan_id), "state"))

    def get(self, scan_id: str) -> dict[str, str]:
        raw = self.redis.hgetall(self.keys.scan(scan_id))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def update(self, scan_id: str, **fields: Any) -> None:
        """Set fields of an existing progress hash (never recreates a vanished one)."""
        script = self.redis.register_script(
            "if redis.call('EXISTS', KEYS[1]) == 1 then "
            "redis.call('HSET', KEYS[1], unpack(ARGV)) return 1 end return 0"
        )
        args: list[Any] = []
        for key, value in {**fields, "updated_at": _now()}.items():
            args += [key, value if isinstance(value, str | int | float) else json.dumps(value)]
        script(keys=[self.keys.scan(scan_id)], args=args)

    def record(
        self, scan_id: str, items: list[tuple[str, dict[str, Any], bool]]
    ) -> tuple[int, int, int]:
        """Record finished symbols ``(symbol, outcome+opportunities JSON, failed)``.

        Atomic and idempotent: the first record of a symbol wins. Returns ``(added,
        done, failed)``; ``added`` is -1 when the scan's state has vanished (nothing is
        written then, so a flushed scan never comes back half-made).
        """
        args: list[Any] = [self.cfg.state_ttl_s, _now()]
        for symbol, payload, failed in items:
            args += [symbol, json.dumps(payload, separators=(",", ":")), "1" if failed else "0"]
        script = self.redis.register_script(_RECORD)
        keys = self.keys
        added, done, failed = script(
            keys=[
                keys.scan(scan_id),
                keys.outcomes(scan_id),
                keys.done(scan_id),
                keys.failed(scan_id),
            ],
            args=args,
        )
        return int(added), int(done), int(failed)

    def pending(self, scan_id: str, symbols: list[str]) -> list[str]:
        """The symbols not recorded yet."""
        if not symbols:
            return []
        flags = self.redis.smismember(self.keys.done(scan_id), symbols)
        return [s for s, flag in zip(symbols, flags, strict=True) if not flag]

    def outcomes(self, scan_id: str) -> dict[str, dict[str, Any]]:
        raw = self.redis.hgetall(self.keys.outcomes(scan_id))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def finish(
        self,
        scan_id: str,
        profile: str,
        *,
        state: str,
        message: str,
        result: dict[str, Any] | None = None,
    ) -> int:
        """End the scan atomically: store the result, set the state, release the lock.

        Returns 1 when done, 0 when it had already ended, -1 when its state vanished.
        """
        keys = self.keys
        script = self.redis.register_script(_FINISH)
        text = json.dumps(result, separators=(",", ":")) if result is not None else ""
        return int(
            script(
                keys=[
                    keys.scan(scan_id),
                    keys.result(scan_id),
                    keys.lock(profile),
                    keys.outcomes(scan_id),
                    keys.done(scan_id),
                    keys.failed(scan_id),
                ],
                args=[scan_id, state, _now(), message, text, self.cfg.state_ttl_s],
            )
        )

    def result(self, scan_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(self.keys.result(scan_id))
        return json.loads(raw) if raw else None

    def latest(self, profile: str | None = None) -> str | None:
        value = self.redis.get(self.keys.latest(profile))
        return value.decode() if value else None

    # -- reading

    def failures(self, scan_id: str, symbols: list[str]) -> dict[str, str]:
        """Why each of ``symbols`` that failed did (a batch's share of the failures)."""
        if not symbols:
            return {}
        flags = self.redis.smismember(self.keys.failed(scan_id), symbols)
        return self._reasons(scan_id, [s for s, f in zip(symbols, flags, strict=True) if f])

    def _reasons(self, scan_id: str, failed: list[str]) -> dict[str, str]:
        if not failed:
            return {}
        values = self.redis.hmget(self.keys.outcomes(scan_id), failed)
        reasons: dict[str, str] = {}
        for symbol, value in zip(failed, values, strict=True):
            outcome = json.loads(value)["outcome"] if value else {}
            reasons[symbol] = outcome.get("error") or outcome.get("reason") or "failed"
        return reasons

    def status(self, scan_id: str, _attempts: int = 3) -> dict[str, Any]:
        """The document ``optscan status --format json`` prints.

        A scan whose progress hash vanished (Redis flushed or restarted empty), or that
        claims to be running while its profile lock is gone or held by another scan
        (nobody is working on it), is ``lost``; a queued scan whose lock expired while
        its coordinator job still waits in the queue stays ``queued``.
        ``_attempts`` bounds the re-reads when the scan changes state while being read.
        """
        keys = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.scan(scan_id))
        pipe.scard(keys.done(scan_id))
        pipe.smembers(keys.failed(scan_id))
        raw, done, failed_members = pipe.execute()
        info = {k.decode(): v.decode() for k, v in raw.items()}
        failed = sorted(m.decode() for m in failed_members)
        state = info.get("state")
        error = info.get("error") or None
        if state is None:
            state, error = "lost", "the scan's state is gone from Redis (flushed or restarted?)"
        elif state in ("queued", "running"):
            holder = lock_holder(self.redis, keys, info.get("profile", ""))
            waiting = (
                state == "queued"
                and holder is None
                and bool(self.redis.exists(JsonJob.key_for(info.get("job_id") or "-")))
            )
            if holder != scan_id and not waiting:
                # The hash and the lock are read one after the other: an aggregator
                # that finished in between released the lock; read the scan again.
                now = self.redis.hget(keys.scan(scan_id), "state")
                if _attempts > 1 and (now.decode() if now else None) != state:
                    return self.status(scan_id, _attempts - 1)
                state = "lost"
                why = "expired" if holder is None else f"is held by scan {holder}"
                error = f"nobody is working on this scan: its profile lock {why}"
        failures = self._reasons(scan_id, failed)
        total = int(info.get("total") or 0)
        return {
            "scan_id": scan_id,
            "profile": info.get("profile"),
            "state": state,
            "symbols_total": total,
            "symbols_done": int(done),
            "symbols_failed": len(failed),
            "failures": failures,
            "queued_at": info.get("queued_at"),
            "started_at": info.get("started_at"),
            "finished_at": info.get("finished_at"),
            "as_of": info.get("as_of"),
            "job_id": info.get("job_id"),
            "scheduled": info.get("scheduled") == "1",
            "message": info.get("message"),
            "error": error,
        }


# --------------------------------------------------------------------------- enqueueing

_SECRET_WORDS = ("password", "token", "secret", "api_key", "apikey", "url")


def job_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The ``--set`` pairs that may travel inside a job, and the ones held back.

    Connection settings (``redis.*``) and anything that looks like a secret stay on
    this machine: a worker resolves those from its own config and environment. A table
    value (``--set 'sinks.notify={webhook_url="..."}'``) is held back when any key inside
    it looks like a secret.
    """
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in overrides.items():
        if key == "redis" or key.startswith("redis.") or _holds_secret(key, value):
            dropped.append(key)
        else:
            kept[key] = value
    return kept, dropped


def _holds_secret(key: str, value: Any) -> bool:
    leaf = str(key).rsplit(".", 1)[-1].lower()
    if any(word in leaf for word in _SECRET_WORDS):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(k, v) for k, v in value.items())
    if isinstance(value, list):
        return any(isinstance(v, dict) and _holds_secret("", v) for v in value)
    return False


def enqueue_scan(
    redis: Redis, request: ScanRequest, *, prefix: str, cfg: QueueConfig
) -> tuple[str, str]:
    """Lock the profile, record the scan as queued and enqueue its coordinator.

    Returns ``(scan_id, job_id)``; raises :class:`ScanBusyError` when another scan of
    the profile holds the lock.
    """
    from optscan.scan import new_scan_id

    if request.record_dir or request.replay_dir:
        raise QueueError("--record/--replay name local folders; they cannot run on workers")
    scan_id = request.scan_id or new_scan_id()
    request = request.model_copy(update={"scan_id": scan_id})
    keys = Keys(prefix)
    holder = acquire_lock(redis, keys, request.profile, scan_id, cfg.lock_ttl_s)
    if holder != scan_id:
        raise ScanBusyError(request.profile, holder)
    job_id = coordinator_job_id(scan_id)
    store = ScanStore(redis, keys, cfg)
    try:
        store.create(scan_id, request.profile, state="queued", job_id=job_id)
        make_queue(redis, cfg).enqueue_call(
            "optscan.jobs.coordinate_scan",
            kwargs={
                "request": request.model_dump(mode="json"),
                "prefix": prefix,
                "queue": cfg.model_dump(),
            },
            job_id=job_id,
            timeout=cfg.coordinator_timeout_s,
            result_ttl=cfg.job_result_ttl_s,
            failure_ttl=cfg.job_failure_ttl_s,
            retry=cfg.retry(),
            description=f"optscan scan {scan_id} (profile {request.profile}): coordinator",
            meta={"optscan": {"scan_id": scan_id, "role": "coordinator", "state": "queued"}},
        )
    except BaseException:
        release_lock(redis, keys, request.profile, scan_id)
        redis.delete(keys.scan(scan_id))
        raise
    return scan_id, job_id


def wait_for_scan(
    store: ScanStore,
    scan_id: str,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    poll_s: float = 0.25,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Poll the scan's status until it reaches a terminal state; return that status."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        status = store.status(scan_id)
        if on_progress is not None:
            on_progress(status)
        if status["state"] in TERMINAL_STATES:
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise QueueError(f"scan {scan_id} did not end within {timeout_s:g} s")
        time.sleep(poll_s)


def mirror_meta(redis: Redis, job_id: str, snapshot: dict[str, Any]) -> None:
    """Show a scan's progress in an RQ job's ``meta`` (rq-dashboard displays it)."""
    from rq.exceptions import NoSuchJobError

    try:
        job = JsonJob.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return
    job.meta["optscan"] = {**job.meta.get("optscan", {}), **snapshot}
    job.save_meta()


# --------------------------------------------------------------------------- schedules


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
    """Deterministic: the same profile, cron and request always give the same id."""
    body = {
        "profile": request.profile,
        "cron": " ".join(cron.split()),
        "request": request.model_dump(mode="json"),
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return f"{SCHEDULE_ID_PREFIX}{digest[:16]}"


def check_cron(cron: str) -> str:
    """Validate a cron string (as rq-scheduler's ``crontab`` reads it)."""
    from crontab import CronTab

    cron = " ".join(cron.split())
    try:
        CronTab(cron)
    except ValueError as exc:
        raise QueueError(f"--cron {cron!r}: {exc}") from None
    return cron


class NewYorkScheduler(Scheduler):
    """rq-scheduler that computes every next cron run in New York local time.

    rq-scheduler 0.14 evaluates cron against naive ``datetime.now()`` when a schedule
    is added and again after each run. ``optscan scheduler`` sets ``TZ`` for good;
    this keeps any other caller (``schedule add``, scripts, tests) right too.
    """

    def cron(self, *args: Any, **kwargs: Any) -> Any:
        with new_york_time():
            return super().cron(*args, **kwargs)

    def enqueue_job(self, job: Any) -> Any:
        with new_york_time():
            return super().enqueue_job(job)


def make_scheduler(redis: Redis, cfg: QueueConfig) -> NewYorkScheduler:
    """An rq-scheduler for optscan's queue that writes and reads JSON jobs."""
    return NewYorkScheduler(
        queue_name=cfg.name,
        connection=redis,
        interval=cfg.scheduler_interval_s,
        job_class=JsonJob,
        queue_class=JsonQueue,
    )


def add_schedule(
    redis: Redis, request: ScanRequest, cron: str, *, prefix: str, cfg: QueueConfig
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
        func="optscan.jobs.coordinate_scan",
        kwargs={
            "request": request.model_dump(mode="json"),
            "prefix": prefix,
            "queue": cfg.model_dump(),
        },
        id=sid,
        queue_name=cfg.name,
        timeout=cfg.coordinator_timeout_s,
        description=f"optscan scheduled scan (profile {request.profile}, cron {cron})",
        meta={"optscan": {"schedule": sid, "profile": request.profile, "cron": cron}},
    )
    return {"id": sid, "cron": cron, "profile": request.profile, "replaced": existed}


def list_schedules(redis: Redis, cfg: QueueConfig) -> list[dict[str, Any]]:
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


def remove_schedule(redis: Redis, cfg: QueueConfig, sid: str) -> bool:
    from rq.exceptions import NoSuchJobError

    scheduler = make_scheduler(redis, cfg)
    existed = sid in scheduler
    scheduler.cancel(sid)
    with contextlib.suppress(NoSuchJobError):
        JsonJob.fetch(sid, connection=redis).delete()
    return existed


def run_scheduler(redis: Redis, cfg: QueueConfig, *, burst: bool = False) -> None:
    """Run rq-scheduler in New York time with the JSON job class (blocks)."""
    use_new_york_time()
    make_scheduler(redis, cfg).run(burst=burst)
