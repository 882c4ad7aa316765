"""Queued scans on fakeredis[lua] with rq's SimpleWorker and the JSON serializer.

The jobs run in this process (SimpleWorker does not fork), so a test can watch events
and break a job on purpose. Real processes, kills and restarts are in
``test_queue_integration.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import zlib

import pytest
from click.testing import CliRunner

from optscan.events import ScanFinished, ScanSkipped, ScanStarted, SymbolFailed, SymbolScanned
from optscan.models import ScanRequest

from .helpers import OPEN_INSTANT, Recorder, make_settings, run_jobs

fakeredis = pytest.importorskip("fakeredis")
pytest.importorskip("lupa")

from rq.serializers import JSONSerializer  # noqa: E402
from rq.worker import SimpleWorker  # noqa: E402

from optscan.config import QueueSection as QueueConfig  # noqa: E402
from optscan.queue import enqueue as queue_enqueue  # noqa: E402
from optscan.queue.connection import (  # noqa: E402
    Keys,
    QueueError,
    ScanBusyError,
    batch_job_id,
    coordinator_job_id,
)
from optscan.queue.enqueue import enqueue_scan, job_overrides  # noqa: E402
from optscan.queue.lock import (  # noqa: E402
    acquire_lock,
    clear_lock,
    keep_lock,
    lock_holder,
    refresh_lock,
    release_lock,
)
from optscan.queue.rq import JsonJob, JsonQueue  # noqa: E402
from optscan.queue.schedule import (  # noqa: E402
    add_schedule,
    list_schedules,
    make_scheduler,
    remove_schedule,
)
from optscan.queue.store import ScanStore  # noqa: E402
from optscan.queue.worker import OptscanWorker  # noqa: E402

NY = dt.timezone(dt.timedelta(hours=-5))
THANKSGIVING = dt.datetime(2026, 11, 26, 11, 0, tzinfo=NY)  # NYSE closed
PREFIX = "optscan:"
SYMBOLS = ["S001", "S002", "S003", "S004", "S005", "S006", "S007"]


@pytest.fixture
def redis():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def cfg():
    return QueueConfig(batch_size=3)


@pytest.fixture
def store(redis, cfg):
    return ScanStore(redis, Keys(PREFIX), cfg)


@pytest.fixture
def recorder():
    """Every plugin host the jobs build gets this listener (the jobs run in-process)."""
    from optscan.plugins import PluginHost
    from optscan.queue.jobs import JobRuntime, use_runtime

    rec = Recorder()

    def make_host(settings):
        return PluginHost.from_settings(settings, load_entrypoints=False, plugins=[rec])

    with use_runtime(JobRuntime(make_host=make_host)):
        yield rec


def request(**kwargs):
    body = {"provider": "sim", "symbols": SYMBOLS, "as_of": OPEN_INSTANT, **kwargs}
    return ScanRequest(**body)


def enqueue_coordinator(redis, cfg, req):
    """What rq-scheduler does for a schedule: enqueue the coordinator, no lock, no id."""
    return JsonQueue(cfg.name, connection=redis).enqueue_call(
        "optscan.jobs.coordinate_scan",
        kwargs={
            "request": req.model_dump(mode="json"),
            "prefix": PREFIX,
            "queue": cfg.model_dump(),
        },
    )


# --------------------------------------------------------------------------- the fan-out


def test_queued_scan_matches_the_embedded_scan(redis, cfg, store, recorder):
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    req = request(symbols=[*SYMBOLS, "BAD$SYM"])
    scan_id, job_id = enqueue_scan(redis, req, prefix=PREFIX, cfg=cfg)
    assert job_id == coordinator_job_id(scan_id)
    assert store.status(scan_id)["state"] == "queued"
    assert lock_holder(redis, store.keys, "default") == scan_id

    run_jobs(redis)

    status = store.status(scan_id)
    assert status["state"] == "finished", status
    assert status["symbols_total"] == status["symbols_done"] == 8
    assert status["symbols_failed"] == 0
    assert lock_holder(redis, store.keys, "default") is None  # released
    result = store.result(scan_id)
    embedded = perform_scan(
        req.model_copy(update={"symbols": [*SYMBOLS, "BAD$SYM"]}),
        PluginHost(load_entrypoints=False),
        settings=make_settings(),
    )
    assert result["symbols"] == [s.model_dump(mode="json") for s in embedded.symbols]
    assert result["opportunities"] == [o.model_dump(mode="json") for o in embedded.opportunities]
    assert result["message"] == embedded.message
    assert result["as_of"] == OPEN_INSTANT.isoformat()

    kinds = [type(e) for e in recorder.events]
    assert kinds.count(ScanStarted) == 1 and kinds.count(ScanFinished) == 1
    assert kinds.count(SymbolScanned) == len(SYMBOLS)
    coordinator = JsonJob.fetch(job_id, connection=redis)
    assert coordinator.meta["optscan"]["state"] == "finished"  # mirrored for rq-dashboard
    assert coordinator.serializer is JSONSerializer
    # every job of the scan stored JSON, nothing pickled
    for key in redis.keys("rq:job:*"):
        data = redis.hget(key, "data") if redis.type(key) == b"hash" else None
        if data:
            json.loads(zlib.decompress(data))


def test_redis_sink_keeps_the_latest_result_per_profile(redis, cfg, store):
    from optscan.default_plugins.redis_sink import read_result

    scan_id, _ = enqueue_scan(
        redis, request(sinks=["redis"], profile="fast"), prefix=PREFIX, cfg=cfg
    )
    run_jobs(redis)
    stored = read_result(redis, PREFIX, "fast")
    assert stored == store.result(scan_id)
    key = Keys(PREFIX).results("fast")
    assert 0 < redis.ttl(key) <= 2700  # redis.result_ttl_s
    first_symbol = stored["opportunities"][0]["symbol"]
    per_symbol = json.loads(redis.hget(key, f"symbol:{first_symbol}"))
    assert all(o["symbol"] == first_symbol for o in per_symbol)
    assert not redis.keys(f"{key}:tmp:*")


def test_redis_sink_replaces_atomically(redis):
    from optscan.default_plugins.redis_sink import read_result, write_result
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    def scan(symbols):
        host = PluginHost(load_entrypoints=False)
        return perform_scan(request(symbols=symbols), host, settings=make_settings())

    first = scan(["S001"])
    second = scan(["S002", "S003"])
    write_result(redis, PREFIX, first, 60)
    write_result(redis, PREFIX, second, 60)
    stored = read_result(redis, PREFIX, "default")
    assert stored["scan_id"] == second.scan_id
    assert redis.hget(f"{PREFIX}results:default", "symbol:S001") is None  # no leftovers


def test_a_failed_batch_job_fails_only_its_symbols(redis, store, monkeypatch):
    import optscan.queue.jobs.batch

    original = optscan.queue.jobs.batch.run_symbols

    def run_symbols(ctx, symbols, *more):
        if "S004" in symbols:
            raise RuntimeError("boom")
        return original(ctx, symbols, *more)

    monkeypatch.setattr(optscan.queue.jobs.batch, "run_symbols", run_symbols)
    cfg = QueueConfig(batch_size=3, retry_max=0)
    scan_id, _ = enqueue_scan(redis, request(), prefix=PREFIX, cfg=cfg)
    run_jobs(redis)
    status = ScanStore(redis, Keys(PREFIX), cfg).status(scan_id)
    assert status["state"] == "finished"  # the aggregator ran despite the failure
    assert status["symbols_done"] == status["symbols_total"] == 7
    assert sorted(status["failures"]) == ["S004", "S005", "S006"]
    assert "RuntimeError: boom" in status["failures"]["S004"]
    result = store.result(scan_id)
    failed = [s for s in result["symbols"] if s["status"] == "failed"]
    assert {s["reason"] for s in failed} == {"job_failed"}


def test_a_rerun_coordinator_does_not_fan_out_twice(redis, cfg, store):
    scan_id, _ = enqueue_scan(redis, request(), prefix=PREFIX, cfg=cfg)
    queue = JsonQueue(cfg.name, connection=redis)
    SimpleWorker([queue], connection=redis, serializer=JSONSerializer).work(burst=True, max_jobs=1)
    jobs_after_first = sorted(k for k in redis.keys("rq:job:*"))
    queue.enqueue_call(
        "optscan.jobs.coordinate_scan",
        kwargs={
            "request": request(scan_id=scan_id).model_dump(mode="json"),
            "prefix": PREFIX,
            "queue": cfg.model_dump(),
        },
        job_id="again",
    )
    SimpleWorker([queue], connection=redis, serializer=JSONSerializer).work(burst=True, max_jobs=1)
    jobs_after_second = sorted(k for k in redis.keys("rq:job:*") if b"again" not in k)
    assert jobs_after_second == jobs_after_first
    run_jobs(redis)
    status = store.status(scan_id)
    assert (status["state"], status["symbols_done"]) == ("finished", 7)


# --------------------------------------------------------------------------- gating, lock


def test_a_scheduled_scan_on_a_holiday_is_skipped(redis, cfg, store, recorder):
    req = request(
        as_of=THANKSGIVING,
        scheduled=True,
        overrides={"providers.sim.ignore_market_hours": False},
    )
    enqueue_coordinator(redis, cfg, req)
    run_jobs(redis)
    scan_id = store.latest("default")
    status = store.status(scan_id)
    assert status["state"] == "skipped"
    assert status["scheduled"] is True
    assert "market closed" in status["message"]
    assert [type(e) for e in recorder.events] == [ScanSkipped]
    assert lock_holder(redis, store.keys, "default") is None
    batch = JsonJob.key_for(batch_job_id(scan_id, 0))
    assert not redis.exists(batch)  # no batch fanned out


def test_a_scheduled_scan_of_a_busy_profile_is_skipped(redis, cfg, store):
    acquire_lock(redis, store.keys, "default", "someone-else", 60)
    enqueue_coordinator(redis, cfg, request(scheduled=True))
    run_jobs(redis)
    status = store.status(store.latest())
    assert status["state"] == "skipped"
    assert "already has a scan in progress" in status["error"]
    assert lock_holder(redis, store.keys, "default") == "someone-else"


def test_a_second_scan_of_a_profile_is_refused(redis, cfg):
    scan_id, _ = enqueue_scan(redis, request(), prefix=PREFIX, cfg=cfg)
    with pytest.raises(ScanBusyError, match="already has a scan in progress") as info:
        enqueue_scan(redis, request(), prefix=PREFIX, cfg=cfg)
    assert info.value.holder == scan_id
    # another profile runs alongside
    enqueue_scan(redis, request(profile="other"), prefix=PREFIX, cfg=cfg)


def test_lock_is_compare_and_delete(redis):
    keys = Keys(PREFIX)
    assert acquire_lock(redis, keys, "p", "a", 30) == "a"
    assert acquire_lock(redis, keys, "p", "b", 30) == "a"
    assert acquire_lock(redis, keys, "p", "a", 30) == "a"  # re-entrant refresh
    assert not release_lock(redis, keys, "p", "b")
    assert lock_holder(redis, keys, "p") == "a"
    assert refresh_lock(redis, keys, "p", "a", 30)
    assert 25_000 < redis.pttl(keys.lock("p")) <= 30_000
    assert release_lock(redis, keys, "p", "a")
    assert refresh_lock(redis, keys, "p", "c", 30)  # re-taken when free
    assert clear_lock(redis, keys, "p") == "c"
    assert lock_holder(redis, keys, "p") is None


# --------------------------------------------------------------------------- progress


def test_completion_is_idempotent_per_symbol(store):
    store.create("s1", "default", state="running", job_id="j")
    ok = {"outcome": {"symbol": "A", "status": "ok"}, "opportunities": []}
    bad = {"outcome": {"symbol": "B", "status": "failed", "error": "no"}, "opportunities": []}
    assert store.record("s1", [("A", ok, False)]) == (1, 1, 0)
    assert store.record("s1", [("A", ok, False)]) == (0, 1, 0)  # an orphan's late answer
    assert store.record("s1", [("B", bad, True), ("A", ok, False)]) == (1, 2, 1)
    assert store.get("s1")["done"] == "2"
    assert store.pending("s1", ["A", "B", "C"]) == ["C"]
    assert store.status("s1")["failures"] == {"B": "no"}


def test_a_flushed_scan_is_lost_and_never_half_rewritten(redis, store):
    store.create("s1", "default", state="running", job_id="j")
    acquire_lock(redis, store.keys, "default", "s1", 60)
    assert store.status("s1")["state"] == "running"
    redis.flushall()
    status = store.status("s1")
    assert status["state"] == "lost" and "no scan with this id" in status["error"]
    ok = {"outcome": {"symbol": "A", "status": "ok"}, "opportunities": []}
    assert store.record("s1", [("A", ok, False)])[0] == -1
    assert store.end("s1", "default", state="finished", message="x", result={"a": 1}) == -1
    assert redis.keys("*") == []


def test_a_running_scan_without_its_lock_is_lost_but_a_queued_one_waits(redis, cfg, store):
    store.create("s1", "default", state="running", job_id="j")
    assert store.status("s1")["state"] == "lost"
    assert "lock expired" in store.status("s1")["error"]
    scan_id, _ = enqueue_scan(redis, request(profile="q"), prefix=PREFIX, cfg=cfg)
    redis.delete(store.keys.lock("q"))  # expired while waiting for a worker
    assert store.status(scan_id)["state"] == "queued"
    run_jobs(redis)  # the coordinator re-takes the lock
    assert store.status(scan_id)["state"] == "finished"


def test_a_scan_finishing_while_its_status_is_read_is_not_lost(redis, store, monkeypatch):
    """The hash is read, then one script decides: the aggregator may finish in between
    (releasing the lock), and the scan is finished, not lost."""
    store.create("s1", "default", state="running", job_id="j")
    acquire_lock(redis, store.keys, "default", "s1", 60)
    real_get = store.get

    def get_then_finish(scan_id):
        fields = real_get(scan_id)
        store.end("s1", "default", state="finished", message="done", result={"n": 1})
        return fields

    monkeypatch.setattr(store, "get", get_then_finish)
    assert store.status("s1")["state"] == "finished"


def test_jobs_keep_the_lock_only_while_their_scan_runs(store, redis):
    store.create("s1", "default", state="running", job_id="j")
    assert keep_lock(redis, store.keys, "default", "s1", 30)  # re-taken: it lapsed
    assert lock_holder(redis, store.keys, "default") == "s1"
    store.end("s1", "default", state="finished", message="done")
    assert lock_holder(redis, store.keys, "default") is None
    # an orphaned work horse finishing late must not lock the profile again
    assert not keep_lock(redis, store.keys, "default", "s1", 30)
    assert lock_holder(redis, store.keys, "default") is None


def test_finish_happens_once(store, redis):
    store.create("s1", "default", state="running", job_id="j")
    acquire_lock(redis, store.keys, "default", "s1", 60)
    assert store.end("s1", "default", state="finished", message="done", result={"n": 1}) == 1
    assert store.end("s1", "default", state="failed", message="again", result={"n": 2}) == 0
    assert store.result("s1") == {"n": 1}
    assert store.status("s1")["state"] == "finished"
    assert redis.ttl(store.keys.scan("s1")) > 0


# --------------------------------------------------------------------------- in flight


def in_flight_index(redis) -> set[str]:
    return {m.decode() for m in redis.smembers(Keys(PREFIX).inflight())}


def test_a_scan_is_in_the_in_flight_index_from_its_creation_to_its_end(redis, cfg, store):
    scan_id, _ = enqueue_scan(redis, request(), prefix=PREFIX, cfg=cfg)
    assert in_flight_index(redis) == {scan_id}
    assert 0 < redis.ttl(store.keys.inflight()) <= cfg.state_ttl_s
    assert store.in_flight() == [scan_id]
    run_jobs(redis, max_jobs=1)  # the coordinator: running, batches queued
    assert store.get(scan_id)["state"] == "running" and in_flight_index(redis) == {scan_id}
    run_jobs(redis)
    assert store.status(scan_id)["state"] == "finished"
    assert in_flight_index(redis) == set() and store.in_flight() == []


def test_a_scheduled_run_enters_the_index_when_its_coordinator_creates_it(redis, cfg, store):
    enqueue_coordinator(redis, cfg, request(scheduled=True))
    run_jobs(redis, max_jobs=1)  # the coordinator creates the scan and fans it out
    scan_id = store.latest()
    assert store.get(scan_id)["state"] == "running" and in_flight_index(redis) == {scan_id}
    run_jobs(redis)
    assert store.status(scan_id)["state"] == "finished" and in_flight_index(redis) == set()


def test_every_way_a_scan_ends_takes_it_out_of_the_index(redis, cfg, store, monkeypatch):
    """``end`` (finished, failed, skipped), a scan no worker took in time (ended by
    ``status``'s script or by its coordinator's ``take``), one whose coordinator could
    not be enqueued, and an ``end`` of a scan whose state vanished."""
    for state in ("finished", "failed", "skipped"):
        store.create(state, "p", state="running", job_id="j")
        assert store.end(state, "p", state=state, message="m") == 1
    late = [enqueue_scan(redis, request(profile=p), prefix=PREFIX, cfg=cfg)[0] for p in "ab"]
    for scan_id in late:
        redis.hset(store.keys.scan(scan_id), "start_by", 0)
    assert store.status(late[0])["state"] == "failed"
    assert store.take(late[1], "b") == "late"
    store.create("flushed", "p", state="running", job_id="j")
    redis.delete(store.keys.scan("flushed"))
    assert store.end("flushed", "p", state="finished", message="m") == -1

    def refuse(*_args, **_kwargs):
        raise QueueError("refused")

    monkeypatch.setattr(queue_enqueue, "make_queue", refuse)
    with pytest.raises(QueueError):
        enqueue_scan(redis, request(profile="c"), prefix=PREFIX, cfg=cfg)
    assert in_flight_index(redis) == set()
    assert not redis.exists(store.keys.inflight())


def test_reading_the_index_prunes_entries_of_scans_not_in_flight(redis, store):
    """A hash deleted, a state ended by a path that left the entry (an older worker),
    an id with no hash at all: the next read drops them and keeps the live scan."""
    for scan_id in ("live", "deleted", "ended"):
        store.create(scan_id, "p", state="queued", job_id="j")
    redis.delete(store.keys.scan("deleted"))
    redis.hset(store.keys.scan("ended"), "state", "finished")
    redis.sadd(store.keys.inflight(), "never")
    assert store.in_flight() == ["live"]
    assert in_flight_index(redis) == {"live"}


def test_the_sweep_never_scans_the_keyspace(redis, cfg, store, monkeypatch):
    from optscan.queue.sweep import Sweeper

    def no_scan(*_args, **_kwargs):
        raise AssertionError("the sweep scanned the keyspace")

    monkeypatch.setattr(redis, "scan", no_scan)
    monkeypatch.setattr(redis, "scan_iter", no_scan)
    scan_id, _ = enqueue_scan(redis, request(), prefix=PREFIX, cfg=cfg)
    redis.sadd(store.keys.inflight(), "gone")
    sweeper = Sweeper(Keys(PREFIX), cfg)
    assert sweeper.in_flight(redis) == [store.keys.scan(scan_id)]
    assert sweeper(redis) == []  # nothing to repair: its coordinator is queued
    assert in_flight_index(redis) == {scan_id}


# --------------------------------------------------------------------------- RQ classes


def test_worker_caps_its_timings_and_drops_the_sixty_seconds(redis):
    worker = OptscanWorker(
        ["q"],
        connection=redis,
        worker_ttl=420,
        maintenance_interval=600,
        job_monitoring_interval=30,
    )
    assert (worker.worker_ttl, worker.maintenance_interval, worker.job_monitoring_interval) == (
        20,
        5,
        5,
    )
    assert worker.serializer is JSONSerializer and worker.job_class is JsonJob
    job = JsonJob.create("optscan.jobs.ping", connection=redis, timeout=600)
    assert worker.get_heartbeat_ttl(job) == 10  # rq: min(600, 30) + 60 = 90
    job.timeout = 3
    assert worker.get_heartbeat_ttl(job, working_time=1) == 7
    assert worker.dequeue_timeout == 5


def test_json_classes_default_to_json(redis):
    from rq.job import Job

    job = JsonJob.create("optscan.jobs.ping", connection=redis, id="j1")
    job.save()
    assert json.loads(zlib.decompress(redis.hget("rq:job:j1", "data")))
    assert JsonJob.fetch("j1", connection=redis).func_name == "optscan.jobs.ping"
    with pytest.raises(Exception):  # noqa: B017 - pickle cannot read it
        Job.fetch("j1", connection=redis).func_name  # noqa: B018
    queue = JsonQueue("q", connection=redis)
    assert queue.serializer is JSONSerializer and queue.job_class is JsonJob
    result = queue.enqueue("optscan.jobs.ping")
    run_jobs(redis, "q")
    assert "pid" in JsonJob.fetch(result.id, connection=redis).return_value()


def test_job_overrides_keep_secrets_and_connections_on_the_worker():
    kept, dropped = job_overrides(
        {
            "scan.concurrency": 4,
            "providers.sim.latency_ms": 10,
            "redis.url": "redis://:pw@h/0",
            "redis.prefix": "x:",
            "providers.mine.api_token": "t",
            "sinks.hook.webhook_url": "https://x",
        }
    )
    assert kept == {"scan.concurrency": 4, "providers.sim.latency_ms": 10}
    assert sorted(dropped) == [
        "providers.mine.api_token",
        "redis.prefix",
        "redis.url",
        "sinks.hook.webhook_url",
    ]


def test_queue_config_comes_from_the_queue_section():
    from optscan.config import load_settings
    from optscan.errors import ConfigError

    settings = load_settings(overrides={"queue.batch_size": 9}, use_env=False)
    assert QueueConfig().batch_size == 0  # sized from the symbols and the workers
    assert settings.queue.batch_size == 9
    with pytest.raises(ConfigError, match=r"queue\.batch_size"):
        load_settings(overrides={"queue.batch_size": -1}, use_env=False)
    with pytest.raises(ValueError):
        QueueConfig(worker_ttl_s=10)
    with pytest.raises(ConfigError, match=r"queue\.worker_ttl_s"):
        load_settings(overrides={"queue.worker_ttl_s": 10}, use_env=False)
    with pytest.raises(ConfigError, match=r"queue\.batch_sise"):
        load_settings(overrides={"queue.batch_sise": 3}, use_env=False)


def test_mask_url_masks_the_password():
    from optscan.secrets import mask_url

    assert mask_url("redis://:s3cret@h:6379/0") == "redis://:***@h:6379/0"
    assert "s3cret" not in mask_url("redis://user:s3cret@h/1")


# --------------------------------------------------------------------------- schedules


@pytest.fixture
def tokyo(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_schedules_have_deterministic_ids_and_new_york_cron(redis, cfg, tokyo):
    req = request(symbols=None, as_of=None)
    first = add_schedule(redis, req, "30 10 * * 1-5", prefix=PREFIX, cfg=cfg)
    again = add_schedule(redis, req, " 30  10 * * 1-5", prefix=PREFIX, cfg=cfg)
    assert first["id"] == again["id"] and again["replaced"] and not first["replaced"]
    listed = list_schedules(redis, cfg)
    assert [s["id"] for s in listed] == [first["id"]]
    when = dt.datetime.fromisoformat(listed[0]["next_run_new_york"])
    assert (when.hour, when.minute, when.weekday() < 5) == (10, 30, True)
    assert time.tzname[0] == "JST"  # the process zone was restored
    job = JsonJob.fetch(first["id"], connection=redis)
    assert job.result_ttl == -1  # never expires out of the schedule
    assert job.kwargs["request"]["scheduled"] is True
    other = add_schedule(redis, req, "0 15 * * 1-5", prefix=PREFIX, cfg=cfg)
    assert len(list_schedules(redis, cfg)) == 2
    assert remove_schedule(redis, cfg, other["id"])
    assert not remove_schedule(redis, cfg, other["id"])
    assert [s["id"] for s in list_schedules(redis, cfg)] == [first["id"]]
    with pytest.raises(QueueError, match="--cron"):
        add_schedule(redis, req, "not a cron", prefix=PREFIX, cfg=cfg)


def test_rq_scheduler_enqueues_json_jobs_that_run(redis, cfg, store, tokyo):
    req = request(as_of=THANKSGIVING, overrides={"providers.sim.ignore_market_hours": False})
    sid = add_schedule(redis, req, "0 10 * * *", prefix=PREFIX, cfg=cfg)["id"]
    redis.zadd("rq:scheduler:scheduled_jobs", {sid: 0})  # due now
    make_scheduler(redis, cfg).enqueue_jobs()
    when = dt.datetime.fromisoformat(list_schedules(redis, cfg)[0]["next_run_new_york"])
    assert (when.hour, when.minute) == (10, 0)  # rescheduled in New York time, not Tokyo's
    run_jobs(redis)
    assert store.status(store.latest())["state"] == "skipped"


# --------------------------------------------------------------------------- dashboard


def test_dashboard_pages_read_json_jobs(redis, cfg, monkeypatch):
    from rq_dashboard import web

    from optscan.queue.dashboard import make_app

    scan_id, job_id = enqueue_scan(redis, request(), prefix=PREFIX, cfg=cfg)
    monkeypatch.setattr(web, "from_url", lambda *a, **k: (None, redis))
    worker = OptscanWorker(["optscan"], connection=redis)
    worker.register_birth()
    job = JsonJob.fetch(job_id, connection=redis)
    worker.prepare_execution(job)  # the worker now "runs" the JSON job
    app = make_app("redis://127.0.0.1:1/0")
    client = app.test_client()
    for path in (
        "/0/data/queues.json",
        "/0/data/workers.json",
        "/0/data/jobs/optscan/queued/8/asc/1.json",
        "/0/data/jobs/optscan/started/8/asc/1.json",
        f"/0/data/job/{job_id}.json",
        "/",
        "/0/view/workers",
        "/0/view/jobs",
        f"/0/view/job/{job_id}",
    ):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, (path, response.data[:300])
    workers = client.get("/0/data/workers.json").get_json()["workers"]
    assert workers[0]["current_job"]["job_id"] == job_id
    info = client.get(f"/0/data/job/{job_id}.json").get_json()
    assert json.loads(info["metadata"])["optscan"]["scan_id"] == scan_id


# --------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_redis(redis, monkeypatch):
    from optscan.queue import connection

    monkeypatch.setattr(connection, "connect", lambda settings, url=None: redis)
    return redis


def run_cli(*args):
    from optscan.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


SCAN_ARGS = ("--provider", "sim", "--symbols", "S001,S002", "--as-of", "2026-11-18T11:00")


def test_cli_enqueue_status_results_and_lock(cli_redis):
    out = run_cli("enqueue", *SCAN_ARGS, "--set", "redis.result_ttl_s=99", "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert set(doc) == {"scan_id", "job_id"}
    assert "redis.result_ttl_s is not sent to workers" in out.stderr
    busy = run_cli("enqueue", *SCAN_ARGS)
    assert busy.exit_code == 1
    assert "already has a scan in progress" in busy.stderr and doc["scan_id"] in busy.stderr
    status = json.loads(run_cli("status", "--format", "json").stdout)
    assert (status["scan_id"], status["state"]) == (doc["scan_id"], "queued")
    run_jobs(cli_redis)
    status = json.loads(run_cli("status", "--scan-id", doc["scan_id"], "--format", "json").stdout)
    assert status["state"] == "finished" and status["symbols_done"] == 2
    results = json.loads(run_cli("results", "--format", "json").stdout)
    assert results["scan_id"] == doc["scan_id"] and isinstance(results["opportunities"], list)
    table = run_cli("results")
    assert table.exit_code == 0 and "S00" in table.stdout
    assert run_cli("status", "--scan-id", "nope").stdout.count("lost") == 1
    acquire_lock(cli_redis, Keys(PREFIX), "default", "dead-scan", 60)
    cleared = run_cli("lock", "clear", "--format", "json")
    assert json.loads(cleared.stdout) == {"profile": "default", "cleared": "dead-scan"}


def test_cli_scan_queue_prints_like_the_embedded_scan(cli_redis, monkeypatch):
    real_wait = queue_enqueue.wait_for_scan

    def wait(store, scan_id, **kwargs):
        run_jobs(cli_redis)
        return real_wait(store, scan_id, **kwargs)

    monkeypatch.setattr(queue_enqueue, "wait_for_scan", wait)
    queued = run_cli("scan", "--queue", *SCAN_ARGS, "--format", "json")
    assert queued.exit_code == 0, queued.output
    embedded = run_cli("scan", *SCAN_ARGS, "--format", "json")
    a, b = json.loads(queued.stdout), json.loads(embedded.stdout)
    assert a["opportunities"] == b["opportunities"] and a["symbols"] == b["symbols"]
    waited = run_cli("enqueue", *SCAN_ARGS, "--wait", "--format", "json")
    assert waited.exit_code == 0 and json.loads(waited.stdout)["state"] == "finished"


def test_cli_schedule_add_twice_keeps_one(cli_redis, tokyo):
    args = ("schedule", "add", "--cron", "*/30 * * * 1-5", "--provider", "sim")
    first = json.loads(run_cli(*args, "--format", "json").stdout)
    second = json.loads(run_cli(*args, "--format", "json").stdout)
    assert first["id"] == second["id"] and second["replaced"]
    listed = json.loads(run_cli("schedule", "list", "--format", "json").stdout)["schedules"]
    assert len(listed) == 1
    assert dt.datetime.fromisoformat(listed[0]["next_run_new_york"]).minute in (0, 30)
    assert run_cli("schedule", "remove", first["id"]).exit_code == 0
    assert run_cli("schedule", "remove", first["id"]).exit_code == 1


def test_cli_reports_an_unreachable_redis_without_its_password(monkeypatch):
    monkeypatch.setenv("OPTSCAN_REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    out = run_cli("status")
    assert out.exit_code == 1
    assert "cannot reach Redis" in out.stderr and "hunter2" not in out.output


def test_help_never_imports_redis_or_rq():
    code = (
        "import sys\n"
        "from optscan.cli import cli\n"
        "heavy = ('redis', 'rq', 'rq_scheduler', 'rq_dashboard', 'flask')\n"
        "print([m for m in sys.modules if m.split('.')[0] in heavy])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "--queue" in run_cli("scan", "--help").stdout


def test_batch_jobs_share_the_provider_rate_limit_in_redis(redis, cfg, store):
    req = request(overrides={"providers.sim.rate_limit_per_s": 200})
    scan_id, _ = enqueue_scan(redis, req, prefix=PREFIX, cfg=cfg)
    run_jobs(redis)
    assert store.status(scan_id)["state"] == "finished"
    assert redis.exists(f"{PREFIX}ratelimit:sim")  # one budget for the whole fleet


def test_symbol_failures_reach_the_status(redis, cfg, store, recorder):
    scan_id, _ = enqueue_scan(
        redis,
        request(symbols=["S001", "BTC-USD"]),  # sim lists no options for BTC-USD
        prefix=PREFIX,
        cfg=cfg,
    )
    run_jobs(redis)
    status = store.status(scan_id)
    assert status["symbols_failed"] == 1 and "BTC-USD" in status["failures"]
    assert "no listed options" in status["failures"]["BTC-USD"]
    assert any(isinstance(e, SymbolFailed) for e in recorder.events)
    # and rq-dashboard, which shows job meta, shows it on the batch job too
    batch = JsonJob.fetch(batch_job_id(scan_id, 0), connection=redis)
    assert batch.meta["optscan"]["failures"] == {"BTC-USD": status["failures"]["BTC-USD"]}
