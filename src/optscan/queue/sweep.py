"""Repairs after a Redis fault: what a full, restarting or failing-over Redis leaves
behind that RQ itself never looks at again.

RQ moves a job between states in several writes that are not all in one transaction
(``Job.retry`` sets ``scheduled`` on its own, then schedules it in a pipeline; a
worker enqueues a failed job's dependents after recording the failure). A Redis that
refuses some writes and not others leaves jobs whose status names a place they are not
in: ``scheduled`` but in no schedule, a deferred aggregator whose batches have all
ended. RQ never runs those again, the scan never ends, and the jobs keep no TTL.

Every :class:`~optscan.queue.worker.OptscanWorker` runs these repairs during its
maintenance. They are idempotent, act only in transactions that watch the job (a worker
moving it at the same moment wins), and call a job *orphaned* only when it has been
out of place for :data:`GRACE_S` (RQ's own steps take milliseconds):

* :func:`release_stranded` (per queue): a deferred job that allows its dependencies to
  fail (the aggregator's ``Dependency(allow_failure=True)``) and whose dependencies
  have all ended, or are gone, is moved to RQ's ready registry and enqueued.
* :func:`requeue_undelivered` (per queue): a job a worker dequeued but could not start
  (Redis refused or dropped the second step) goes back on its queue, unchanged.
* :class:`Sweeper` (per key prefix, every :data:`INTERVAL_S`): for every scan still
  ``queued`` or ``running`` (read from the index of scans in flight,
  :meth:`~optscan.queue.connection.Keys.inflight`, not by scanning the keyspace; an
  entry whose scan has ended or vanished is pruned on the way), its coordinator,
  batches and aggregator are found where their status says; an orphaned one is
  enqueued again (the jobs of a scan are idempotent), and a scan that nothing will end
  any more - its coordinator or aggregator failed for good, or is gone - ends
  ``failed`` with the reason, releasing its profile's lock. A scan with a job still to
  run keeps its profile's lock (a fault may delay that job past the lock's TTL, and
  the scan would show ``lost``). A scan is repaired at most :data:`MAX_REPAIRS` times.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import structlog

from optscan.config import QueueSection
from optscan.queue.connection import Keys, aggregator_job_id, batch_job_id
from optscan.queue.lock import keep_lock
from optscan.queue.rq import JsonJob, JsonQueue, last_error_line
from optscan.queue.store import ScanStore

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue

ENDED = ("finished", "failed", "stopped", "canceled")
"""Job statuses after which RQ never runs the job again (a job with a retry left is
``scheduled`` or ``queued``, not ``failed``)."""
GRACE_S = 5.0
"""How long a job must stay out of place before it counts as orphaned."""
INTERVAL_S = 5.0
"""How often a worker looks at the scans in flight."""
MAX_REPAIRS = 5
"""Repairs of one scan before it ends ``failed`` instead."""
FIELDS = ("status", "origin")

log = structlog.get_logger("optscan")


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


# --------------------------------------------------------------------------- deferred


def release_stranded(queue: Queue) -> list[str]:
    """Enqueue the deferred jobs of ``queue`` whose dependencies have all ended."""
    from rq.registry import DeferredJobRegistry

    registry = DeferredJobRegistry(
        queue.name,
        connection=queue.connection,
        job_class=queue.job_class,
        serializer=queue.serializer,
    )
    released = []
    for job_id in registry.get_job_ids(cleanup=False):
        if _release(queue, job_id):
            log.warning("stranded_job_released", job_id=job_id, queue=queue.name)
            released.append(job_id)
    return released


def _release(queue: Queue, job_id: str) -> bool:
    from redis.exceptions import WatchError
    from rq.exceptions import NoSuchJobError
    from rq.registry import DeferredJobRegistry, ReadyJobRegistry

    redis, job_class = queue.connection, queue.job_class
    kwargs: dict[str, Any] = {
        "connection": redis,
        "job_class": job_class,
        "serializer": queue.serializer,
    }
    ready = ReadyJobRegistry(queue.name, **kwargs)
    with redis.pipeline() as pipe:
        try:
            pipe.watch(job_class.key_for(job_id))
            try:
                job = job_class.fetch(job_id, connection=redis, serializer=queue.serializer)
            except NoSuchJobError:  # the job is gone: drop its entry
                DeferredJobRegistry(queue.name, **kwargs).remove(job_id)
                return False
            if job.get_status(refresh=False) != "deferred" or not job.allow_dependency_failures:
                return False
            dependencies = list(job._dependency_ids)
            keys = [job_class.key_for(d) for d in dependencies]
            if keys:
                pipe.watch(*keys)
            statuses = [_text(pipe.hget(key, "status")) for key in keys]
            if any(s is not None and s not in ENDED for s in statuses):
                return False
            pipe.multi()
            ready.register_jobs([job], pipeline=pipe)
            for dependency in dependencies:
                pipe.srem(job_class.dependents_key_for(dependency), job.id)
            pipe.execute()
        except WatchError:  # enqueued (or changed) by someone else meanwhile
            return False
    ready.enqueue_jobs([job_id])
    return True


# --------------------------------------------------------------------------- undelivered


def requeue_undelivered(queue: Queue, grace_s: float = GRACE_S) -> list[str]:
    """Put back on ``queue`` the jobs a worker dequeued but never started.

    A worker moves a job to the queue's intermediate list (``LMOVE``), then registers
    its execution; when Redis refuses or drops the second step, the job stays in the
    list. RQ fails it after a minute, spending a retry on a job that never ran (and a
    scan waits that long). Here a job seen there, outside the started registry, for
    ``grace_s`` (the two steps take milliseconds) is enqueued again, unchanged.
    """
    from redis.exceptions import WatchError
    from rq.registry import StartedJobRegistry

    redis = queue.connection
    intermediate = queue.intermediate_queue
    started = StartedJobRegistry(queue.name, connection=redis, job_class=queue.job_class)
    requeued = []
    for job_id in intermediate.get_job_ids():
        if job_id in started.get_job_ids(cleanup=False) or intermediate.set_first_seen(job_id):
            continue
        first = intermediate.get_first_seen(job_id)
        if first is None or time.time() - first.timestamp() < grace_s:
            continue
        with redis.pipeline() as pipe:
            try:
                pipe.watch(intermediate.key, queue.job_class.key_for(job_id))
                job = queue.fetch_job(job_id)
                queue.get_redis_server_version()
                pipe.multi()
                pipe.lrem(intermediate.key, 1, job_id)
                pipe.delete(intermediate.get_first_seen_key(job_id))
                if job is not None and job.get_status(refresh=False) == "queued":
                    queue._enqueue_job(job, pipeline=pipe)
                pipe.execute()
            except WatchError:
                continue
        log.warning("undelivered_job_requeued", job_id=job_id, queue=queue.name)
        requeued.append(job_id)
    return requeued


# --------------------------------------------------------------------------- scans


def whereabouts(redis: Redis, job_id: str) -> str:
    """Where a job is: ``live`` (RQ will run or finish it), one of :data:`ENDED`,
    ``missing`` (no such job) or ``orphaned`` (its status names a place it is not in)."""
    from rq.registry import (
        DeferredJobRegistry,
        ReadyJobRegistry,
        ScheduledJobRegistry,
        StartedJobRegistry,
    )

    status, origin = (_text(v) for v in redis.hmget(JsonJob.key_for(job_id), *FIELDS))
    if status is None:
        return "missing" if not redis.exists(JsonJob.key_for(job_id)) else "orphaned"
    if status in ENDED or status == "rate_limited":
        return "live" if status == "rate_limited" else status
    queue = JsonQueue(origin or "default", connection=redis)
    if status == "queued":
        present = any(
            redis.lpos(key, job_id) is not None for key in (queue.key, queue.intermediate_queue_key)
        )
    elif status == "started":
        started = StartedJobRegistry(queue.name, connection=redis, job_class=JsonJob)
        present = job_id in started.get_job_ids(cleanup=False)
    else:
        registry = {
            "scheduled": ScheduledJobRegistry,
            "deferred": DeferredJobRegistry,
            "ready_to_enqueue": ReadyJobRegistry,
        }.get(status)
        present = registry is not None and (
            redis.zscore(registry(queue.name, connection=redis).key, job_id) is not None
        )
    return "live" if present else "orphaned"


def requeue(redis: Redis, job_id: str, expected: str) -> bool:
    """Put a job back on its queue if its status is still ``expected`` (watched)."""
    from redis.exceptions import WatchError
    from rq.exceptions import NoSuchJobError
    from rq.registry import FailedJobRegistry

    with redis.pipeline() as pipe:
        try:
            pipe.watch(JsonJob.key_for(job_id))
            try:
                job = JsonJob.fetch(job_id, connection=redis)
            except NoSuchJobError:
                return False
            if job.get_status(refresh=False) != expected:
                return False
            queue = JsonQueue(job.origin, connection=redis)
            queue.get_redis_server_version()
            pipe.multi()
            pipe.zrem(FailedJobRegistry(queue.name, connection=redis).key, job_id)
            queue._enqueue_job(job, pipeline=pipe)
            pipe.execute()
        except WatchError:
            return False
    return True


class Sweeper:
    """Repairs the scans in flight under one key prefix (see the module docstring).
    One per worker process, so what it suspected on one pass it can confirm later."""

    def __init__(self, keys: Keys, cfg: QueueSection, *, grace_s: float = GRACE_S) -> None:
        self.keys = keys
        self.cfg = cfg
        self.grace_s = grace_s
        self.suspects: dict[tuple[str, str], float] = {}
        self.last = 0.0

    def due(self) -> bool:
        return time.monotonic() - self.last >= INTERVAL_S

    def __call__(self, redis: Redis) -> list[str]:
        """One pass; what it did, one line per repair."""
        self.last = now = time.monotonic()
        seen: set[tuple[str, str]] = set()
        done: list[str] = []
        for key in self.in_flight(redis):
            scan_id = key[len(self.keys.prefix) + 6 : -1]  # prefix, "scan:{", "}"
            fields = {_text(k): _text(v) for k, v in redis.hgetall(key).items()}
            if fields.get("state") in ("queued", "running"):
                action = self._scan(redis, scan_id, fields, now, seen)
                if action:
                    log.warning("scan_repaired", scan_id=scan_id, action=action)
                    done.append(f"{scan_id}: {action}")
        self.suspects = {k: v for k, v in self.suspects.items() if k in seen}
        return done

    def in_flight(self, redis: Redis) -> list[str]:
        """The progress hashes of the scans still queued or running, from the in-flight
        index (:meth:`ScanStore.in_flight`, which prunes its stale entries): a few round
        trips whatever else the keyspace holds, never a ``SCAN``. Only their states are
        read: an ended scan's hash, with its symbol lists, is never fetched."""
        store = ScanStore(redis, self.keys, self.cfg)
        return [self.keys.scan(scan_id) for scan_id in store.in_flight()]

    def _confirmed(self, what: tuple[str, str], now: float, seen: set[tuple[str, str]]) -> bool:
        seen.add(what)
        return now - self.suspects.setdefault(what, now) >= self.grace_s

    def _scan(
        self, redis: Redis, scan_id: str, fields: dict[str, Any], now: float, seen: set[Any]
    ) -> str | None:
        coordinator = fields.get("job_id") or ""
        aggregator = aggregator_job_id(scan_id)
        fanned_out = fields.get("fanout") == "1"
        count = len(json.loads(fields.get("batches") or "[]")) if fanned_out else 0
        batches = [batch_job_id(scan_id, i) for i in range(count)]
        where = {job: whereabouts(redis, job) for job in [coordinator, *batches, aggregator] if job}
        store = ScanStore(redis, self.keys, self.cfg)
        profile = fields.get("profile") or "default"

        def end(why: str) -> str | None:
            message = f"ended by a worker's repair: {why}"
            return (
                why if store.end(scan_id, profile, state="failed", message=message) == 1 else None
            )

        if where[aggregator] == "failed":
            job = JsonJob.fetch(aggregator, connection=redis)
            return end(f"its aggregator job failed for good ({last_error_line(job)})")
        if coordinator and where[coordinator] in ENDED and not fanned_out:
            if not self._confirmed((scan_id, "coordinator ended"), now, seen):
                return None
            if where[coordinator] == "failed":
                job = JsonJob.fetch(coordinator, connection=redis)
                return end(f"its coordinator job failed for good ({last_error_line(job)})")
            return end(f"its coordinator job is {where[coordinator]} but never fanned out")
        if coordinator and where[coordinator] == "missing" and not fanned_out:
            if self._confirmed((scan_id, "coordinator missing"), now, seen):
                return end("its coordinator job is gone from Redis")
            return None
        if fanned_out and where[aggregator] == "missing" and where.get(coordinator) != "live":
            # the coordinator failed (or vanished) between its fan-out and the aggregator
            if not self._confirmed((scan_id, "aggregator missing"), now, seen):
                return None
            if where.get(coordinator) == "failed":
                return self._repair(redis, store, scan_id, coordinator, "failed", end)
            return end("its aggregator job was never enqueued")
        if "live" in where.values():  # a Redis fault may delay it past the lock's TTL
            keep_lock(redis, self.keys, profile, scan_id, self.cfg.lock_ttl_s)
        batches_ended = all(where[b] in (*ENDED, "missing") for b in batches)
        for job in [coordinator, *batches, aggregator]:
            if not job or where[job] != "orphaned":
                continue
            if job == aggregator and not batches_ended:
                continue  # RQ enqueues it when its last batch ends
            if self._confirmed((scan_id, job), now, seen):
                status = _text(redis.hget(JsonJob.key_for(job), "status")) or ""
                return self._repair(redis, store, scan_id, job, status, end)
        status, origin = (_text(v) for v in redis.hmget(JsonJob.key_for(aggregator), *FIELDS))
        if fanned_out and batches_ended and status == "deferred":
            queue = JsonQueue(origin or self.cfg.name, connection=redis)
            if self._confirmed((scan_id, "stranded"), now, seen) and _release(queue, aggregator):
                return f"job {aggregator} (deferred, every batch ended) enqueued"
        return None

    def _repair(
        self, redis: Redis, store: ScanStore, scan_id: str, job: str, status: str, end: Any
    ) -> str | None:
        repairs = int(redis.hincrby(store.keys.scan(scan_id), "repairs", 1))
        if repairs > MAX_REPAIRS:
            return end(f"it could not be recovered after {MAX_REPAIRS} repairs")
        if requeue(redis, job, status):
            return f"job {job} ({status or 'no status'}) enqueued again"
        return None
