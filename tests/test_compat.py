"""Upgrades keep working: what optscan 0.1.0 left in Redis runs on today's workers.

RQ stores a job's function as a dotted path, and 0.1.0 stored ``optscan.jobs.*``
(today's jobs are ``optscan.queue.jobs.*``); operators start workers with 0.1.0's
``optscan.queueing.OptscanWorker``. The state below is written the way 0.1.0 wrote it -
by hand, from literal 0.1.0 data, with plain RQ and rq-scheduler classes - so a change
of today's helpers cannot hide a break: a scan 0.1.0 queued (and one it had already fanned
out), a 0.1.0 ping, and a schedule 0.1.0's ``optscan schedule add`` stored, run on
fakeredis with rq's SimpleWorker and on real ``optscan worker``, ``optscan scheduler``
and plain ``rq worker`` processes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
from rq import Queue, Retry
from rq.job import Dependency, Job
from rq.serializers import JSONSerializer

from .fleet import HAVE_SERVER, NEEDS_REDIS, child_env, optscan, store_for

PREFIX = "optscan:"
QUEUE = "optscan"
AS_OF_010 = "2026-11-18T11:00:00-05:00"  # as 0.1.0's request.model_dump(mode="json") wrote it
SYMBOLS = ["S001", "S002", "S003", "S004", "S005"]
SCHEDULE_ID = "optscan-schedule-0123456789abcdef"

# 0.1.0's QueueConfig().model_dump(): the "queue" kwarg of every job it enqueued
QUEUE_010: dict[str, Any] = {
    "name": "optscan",
    "batch_size": 2,  # (not the default 8: several batch jobs)
    "coordinator_timeout_s": 300,
    "batch_timeout_s": 600,
    "aggregator_timeout_s": 300,
    "job_result_ttl_s": 3600,
    "job_failure_ttl_s": 86400,
    "state_ttl_s": 86400,
    "lock_ttl_s": 120,
    "retry_max": 2,
    "retry_intervals_s": [2, 10],
    "worker_ttl_s": 20,
    "maintenance_interval_s": 5,
    "job_monitoring_interval_s": 5,
    "heartbeat_grace_s": 5,
    "scheduler_lock_ttl_s": 10,
    "scheduler_interval_s": 5,
}

needs_redis = pytest.mark.skipif(
    not HAVE_SERVER and not os.environ.get("OPTSCAN_TEST_REDIS_URL"), reason=NEEDS_REDIS
)


def request_010(scan_id: str | None, *, scheduled: bool = False) -> dict[str, Any]:
    """0.1.0's ScanRequest.model_dump(mode="json"), field for field."""
    return {
        "scan_id": scan_id,
        "profile": "default",
        "provider": "sim",
        "strategy": None,
        "symbols": SYMBOLS,
        "sinks": None,
        "force": False,
        "as_of": AS_OF_010,
        "overrides": {},
        "scheduled": scheduled,
        "record_dir": None,
        "replay_dir": None,
    }


class Job010(Job):
    """0.1.0's ``optscan.queueing.JsonJob``: JSON unless told otherwise."""

    def __init__(self, id: str | None = None, connection: Any = None, serializer: Any = None):
        super().__init__(id, connection=connection, serializer=serializer or JSONSerializer)


def queue_010(redis: Any) -> Queue:
    return Queue(QUEUE, connection=redis, serializer=JSONSerializer, job_class=Job010)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def queue_scan_as_010(redis: Any, scan_id: str) -> str:
    """What 0.1.0's ``optscan enqueue`` did: lock, progress hash, coordinator job."""
    redis.set(f"{PREFIX}lock:default", scan_id, nx=True, px=120_000)
    key = f"{PREFIX}scan:{{{scan_id}}}"
    job_id = f"optscan-{scan_id}-coord"
    now = _now()
    progress = {"scan_id": scan_id, "profile": "default", "state": "queued", "total": 0}
    progress.update(done=0, failed=0, queued_at=now, updated_at=now, job_id=job_id, scheduled=0)
    redis.hset(key, mapping=progress)
    redis.expire(key, 86400)
    redis.set(f"{PREFIX}latest", scan_id, ex=86400)
    redis.set(f"{PREFIX}latest:default", scan_id, ex=86400)
    queue_010(redis).enqueue_call(
        "optscan.jobs.coordinate_scan",
        kwargs={"request": request_010(scan_id), "prefix": PREFIX, "queue": QUEUE_010},
        job_id=job_id,
        timeout=300,
        result_ttl=3600,
        failure_ttl=86400,
        retry=Retry(max=2, interval=[2, 10]),
        description=f"optscan scan {scan_id} (profile default): coordinator",
        meta={"optscan": {"scan_id": scan_id, "role": "coordinator", "state": "queued"}},
    )
    return job_id


def fan_out_as_010(redis: Any, scan_id: str) -> list[str]:
    """A scan 0.1.0 had already fanned out: its batch and aggregator jobs, queued."""
    batches = [SYMBOLS[i : i + 2] for i in range(0, len(SYMBOLS), 2)]
    redis.set(f"{PREFIX}lock:default", scan_id, px=120_000)
    key = f"{PREFIX}scan:{{{scan_id}}}"
    now = _now()
    progress: dict[str, Any] = {"scan_id": scan_id, "profile": "default", "state": "running"}
    progress.update(
        total=len(SYMBOLS),
        done=0,
        failed=0,
        queued_at=now,
        updated_at=now,
        job_id=f"optscan-{scan_id}-coord",
        scheduled=0,
        as_of=AS_OF_010,
        started_at=now,
        order=json.dumps(SYMBOLS),
        batches=json.dumps(batches),
        errors="[]",
        provider="sim",
        fanout=1,
    )
    redis.hset(key, mapping=progress)
    redis.expire(key, 86400)
    redis.set(f"{PREFIX}latest:default", scan_id, ex=86400)
    common = {
        "request": request_010(scan_id),
        "scan_id": scan_id,
        "as_of": AS_OF_010,
        "prefix": PREFIX,
        "queue": QUEUE_010,
    }
    queue = queue_010(redis)
    ids = []
    for i, batch in enumerate(batches):
        ids.append(f"optscan-{scan_id}-b{i:04d}")
        queue.enqueue_call(
            "optscan.jobs.scan_batch",
            kwargs={**common, "symbols": batch},
            job_id=ids[-1],
            timeout=600,
            retry=Retry(max=2, interval=[2, 10]),
            meta={"optscan": {"scan_id": scan_id, "role": "batch", "symbols": batch}},
        )
    queue.enqueue_call(
        "optscan.jobs.aggregate_scan",
        kwargs=common,
        depends_on=Dependency(jobs=ids, allow_failure=True),
        job_id=f"optscan-{scan_id}-agg",
        timeout=300,
        retry=Retry(max=2, interval=[2, 10]),
        meta={"optscan": {"scan_id": scan_id, "role": "aggregator"}},
    )
    return ids


def schedule_as_010(redis: Any) -> None:
    """What 0.1.0's ``optscan schedule add --cron "0 10 * * *"`` stored: an rq-scheduler
    cron job of ``optscan.jobs.coordinate_scan`` with 0.1.0's JSON job class, made due
    now (as if 10:00 had come)."""
    from rq_scheduler import Scheduler

    scheduler = Scheduler(queue_name=QUEUE, connection=redis, job_class=Job010, interval=5)
    with warnings.catch_warnings():  # crontab's notice about its naive-time default
        warnings.filterwarnings("ignore", category=FutureWarning)
        _cron(scheduler)
    redis.zadd("rq:scheduler:scheduled_jobs", {SCHEDULE_ID: 0})


def _cron(scheduler: Any) -> None:
    scheduler.cron(
        "0 10 * * *",
        func="optscan.jobs.coordinate_scan",
        kwargs={
            "request": request_010(None, scheduled=True),
            "prefix": PREFIX,
            "queue": QUEUE_010,
        },
        id=SCHEDULE_ID,
        queue_name=QUEUE,
        timeout=300,
        description="optscan scheduled scan (profile default, cron 0 10 * * *)",
        meta={"optscan": {"schedule": SCHEDULE_ID, "profile": "default", "cron": "0 10 * * *"}},
    )


def ping_as_010(redis: Any) -> Job:
    return queue_010(redis).enqueue_call("optscan.jobs.ping", result_ttl=3600)


def assert_scanned(store: Any, scan_id: str) -> dict[str, Any]:
    status = store.status(scan_id)
    assert status["state"] == "finished", status
    assert status["symbols_total"] == status["symbols_done"] == len(SYMBOLS)
    assert status["symbols_failed"] == 0
    result = store.result(scan_id)
    assert [s["symbol"] for s in result["symbols"]] == SYMBOLS
    assert all(s["status"] == "ok" for s in result["symbols"])
    assert result["opportunities"], "the sim market has opportunities at this instant"
    assert store.redis.get(f"{PREFIX}lock:default") is None  # released
    return result


def assert_pinged(job: Job) -> None:
    job.refresh()
    assert job.get_status() == "finished", job.exc_info
    assert set(job.return_value()) == {"pid", "at"}


# --------------------------------------------------------------------------- fakeredis


@pytest.fixture
def fake():
    fakeredis = pytest.importorskip("fakeredis")
    pytest.importorskip("lupa")
    from optscan.plugins import PluginHost
    from optscan.queue.jobs import JobRuntime, use_runtime

    def make_host(settings: Any) -> PluginHost:
        return PluginHost.from_settings(settings, load_entrypoints=False)

    with use_runtime(JobRuntime(make_host=make_host)):
        yield fakeredis.FakeRedis(server=fakeredis.FakeServer())


def fake_store(redis: Any) -> Any:
    from optscan.config import QueueSection
    from optscan.queue.connection import Keys
    from optscan.queue.store import ScanStore

    return ScanStore(redis, Keys(PREFIX), QueueSection())


def work(redis: Any) -> None:
    """Today's jobs in this process: rq's SimpleWorker with today's queue and job classes."""
    from rq.worker import SimpleWorker

    from optscan.queue.rq import JsonJob, JsonQueue

    queue = JsonQueue(QUEUE, connection=redis)
    SimpleWorker([queue], connection=redis, serializer=JSONSerializer, job_class=JsonJob).work(
        burst=True
    )


def test_a_scan_queued_by_0_1_0_runs_to_the_end(fake):
    job_id = queue_scan_as_010(fake, "scan-010")
    ping = ping_as_010(fake)
    work(fake)
    assert_scanned(fake_store(fake), "scan-010")
    assert_pinged(ping)
    coordinator = Job010.fetch(job_id, connection=fake)
    assert coordinator.func_name == "optscan.jobs.coordinate_scan"
    # the jobs it fanned out are today's
    batch = Job010.fetch("optscan-scan-010-b0000", connection=fake)
    assert batch.func_name == "optscan.queue.jobs.scan_batch"


def test_a_scan_fanned_out_by_0_1_0_is_finished_by_todays_jobs(fake):
    ids = fan_out_as_010(fake, "scan-010-half")
    work(fake)
    assert_scanned(fake_store(fake), "scan-010-half")
    assert {Job010.fetch(i, connection=fake).get_status() for i in ids} == {"finished"}


def test_a_schedule_stored_by_0_1_0_fires_and_runs(fake):
    from optscan.config import QueueSection
    from optscan.queue.schedule import list_schedules, make_scheduler

    schedule_as_010(fake)
    cfg = QueueSection()
    [listed] = list_schedules(fake, cfg)
    assert listed["id"] == SCHEDULE_ID and listed["cron"] == "0 10 * * *"
    make_scheduler(fake, cfg).enqueue_jobs()  # what `optscan scheduler` does when it is due
    work(fake)
    store = fake_store(fake)
    scan_id = store.latest("default")
    assert scan_id is not None, "the schedule fired no scan"
    assert store.status(scan_id)["scheduled"] is True
    assert_scanned(store, scan_id)
    [again] = list_schedules(fake, cfg)  # still scheduled, next at 10:00 New York
    when = dt.datetime.fromisoformat(again["next_run_new_york"])
    assert (when.hour, when.minute) == (10, 0)


# --------------------------------------------------------------------------- real processes


def _client(url: str) -> Any:
    return redis_py.Redis.from_url(url)


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@needs_redis
def test_0_1_0_jobs_run_on_a_real_optscan_worker(redis_url: str, tmp_path: Path):
    client = _client(redis_url)
    queue_scan_as_010(client, "scan-010")
    ping = ping_as_010(client)
    worked = optscan(child_env(redis_url), "worker", "--burst", cwd=tmp_path)
    assert worked.returncode == 0, worked.stderr
    assert_scanned(store_for(redis_url), "scan-010")
    assert_pinged(ping)


@needs_redis
def test_a_0_1_0_schedule_fires_with_optscan_scheduler_and_runs(redis_url: str, tmp_path: Path):
    client = _client(redis_url)
    schedule_as_010(client)
    env = child_env(redis_url)
    fired = optscan(env, "scheduler", "--burst", cwd=tmp_path)
    assert fired.returncode == 0, fired.stderr
    assert Queue(QUEUE, connection=client, serializer=JSONSerializer).count == 1
    listed = optscan(env, "schedule", "list", "--format", "json", cwd=tmp_path)
    assert [s["id"] for s in json.loads(listed.stdout)["schedules"]] == [SCHEDULE_ID]
    worked = optscan(env, "worker", "--burst", cwd=tmp_path)
    assert worked.returncode == 0, worked.stderr
    store = store_for(redis_url)
    scan_id = store.latest("default")
    assert scan_id is not None, worked.stderr
    assert_scanned(store, scan_id)


@needs_redis
def test_plain_rq_worker_with_the_0_1_0_worker_class_runs_an_old_path_job(
    redis_url: str, tmp_path: Path
):
    client = _client(redis_url)
    queue_scan_as_010(client, "scan-rq")
    ping = ping_as_010(client)
    rq = Path(sys.executable).with_name("rq")
    worked = _run(
        [
            str(rq),
            "worker",
            "--url",
            redis_url,
            "--serializer",
            "rq.serializers.JSONSerializer",
            "--worker-class",
            "optscan.queueing.OptscanWorker",
            "--burst",
            QUEUE,
        ],
        child_env(redis_url),
        tmp_path,
    )
    assert worked.returncode == 0, worked.stderr
    assert_scanned(store_for(redis_url), "scan-rq")
    assert_pinged(ping)
