"""Issue 18's queue hardening, in-process on fakeredis[lua] (rq's SimpleWorker, or an
``OptscanWorker`` that never needs to fork): only optscan's own jobs run, a scan with
jobs queued is never ``lost`` and keeps its profile, a scan no worker takes in time
fails, a crashed coordinator fails its scan, the waiting client rides out a Redis blip,
a job whose worker died before starting it is recovered, and the sinks hear of a scan
at most once. The same faults on real ``optscan worker`` processes and a real
``redis-server`` are in ``test_queue_faults.py``.
"""

from __future__ import annotations

import sys
import time

import pytest
from click.testing import CliRunner

from optscan.hookspecs import hookimpl
from optscan.models import ScanRequest

from .helpers import OPEN_INSTANT, run_jobs

fakeredis = pytest.importorskip("fakeredis")
pytest.importorskip("lupa")

from rq import Callback, Queue, Retry  # noqa: E402
from rq.job import Job, JobStatus  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from optscan.config import QueueSection  # noqa: E402
from optscan.queue.connection import (  # noqa: E402
    PING,
    Keys,
    QueueError,
    ScanBusyError,
    coordinator_job_id,
)
from optscan.queue.enqueue import enqueue_scan, wait_for_scan  # noqa: E402
from optscan.queue.lock import lock_holder  # noqa: E402
from optscan.queue.rq import JsonJob, JsonQueue, refusal  # noqa: E402
from optscan.queue.store import ScanStore  # noqa: E402

PREFIX = "optscan:"
SYMBOLS = ["S001", "S002", "S003", "S004", "S005", "S006", "S007"]
CANARY = """
import pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("imported")

def run(*args, **kwargs):
    pathlib.Path(__file__).with_name("ran.txt").write_text("ran")

def callback(*args, **kwargs):
    pathlib.Path(__file__).with_name("called.txt").write_text("called")

class Queue:
    pass
"""


@pytest.fixture
def redis():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def cfg():
    return QueueSection(batch_size=3)


@pytest.fixture
def store(redis, cfg):
    return ScanStore(redis, Keys(PREFIX), cfg)


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """An importable module that leaves a file behind when imported, run or called."""
    folder = tmp_path / "canary"
    folder.mkdir()
    (folder / "optscan_canary.py").write_text(CANARY)
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("optscan_canary", None)


def request(**kwargs):
    return ScanRequest(**{"provider": "sim", "symbols": SYMBOLS, "as_of": OPEN_INSTANT, **kwargs})


def enqueue(redis, cfg, **kwargs):
    return enqueue_scan(redis, request(**kwargs), prefix=PREFIX, cfg=cfg)[0]


# --------------------------------------------------------------------------- only optscan's jobs


def hand_made_jobs(redis, tmp_path):
    """What anyone who can write to Redis could push, with plain RQ classes."""
    queue = Queue("optscan", connection=redis, serializer=JSONSerializer)
    foreign = Callback("optscan_canary.callback")
    return [
        queue.enqueue_call("os.system", args=[f"id > {tmp_path / 'pwned.txt'}"]),
        queue.enqueue_call("optscan_canary.run"),
        queue.enqueue_call(PING, on_failure=foreign),  # optscan's function, foreign callbacks
        queue.enqueue_call(PING, on_success=foreign),
        queue.enqueue_call(PING, on_stopped=foreign, retry=Retry(max=2)),
    ]


def assert_refused(redis, jobs, canary, tmp_path):
    for job in jobs:
        job = JsonJob.fetch(job.id, connection=redis)
        assert job.get_status() == JobStatus.FAILED, job.func_name
        assert "refused" in job.latest_result().exc_string
    assert not (tmp_path / "pwned.txt").exists()
    assert not list(canary.glob("*.txt")), "the canary module was imported"
    assert "optscan_canary" not in sys.modules


def test_a_hand_made_job_fails_without_its_module_being_imported(redis, canary, tmp_path):
    jobs = hand_made_jobs(redis, tmp_path)
    ping = JsonQueue("optscan", connection=redis).enqueue_call(PING)
    run_jobs(redis)  # rq's SimpleWorker with optscan's job class
    assert_refused(redis, jobs, canary, tmp_path)
    assert JsonJob.fetch(ping.id, connection=redis).get_status() == JobStatus.FINISHED


def test_the_worker_refuses_before_forking_whatever_classes_rq_passes(
    redis, canary, tmp_path, caplog
):
    """``rq worker --worker-class optscan.queueing.OptscanWorker`` passes rq's own job and
    queue classes and pickle: the worker still reads JSON and refuses foreign jobs
    (refused jobs never fork, so this runs in-process), logging each attempt scrubbed."""
    from optscan.queueing import OptscanWorker

    jobs = hand_made_jobs(redis, tmp_path)
    secret = Queue("optscan", connection=redis, serializer=JSONSerializer).enqueue_call(
        "https://ops:hunter2-canary-pw@example.com/x.y"
    )
    plain = Queue("optscan", connection=redis)
    worker = OptscanWorker(
        [plain], connection=redis, job_class=Job, serializer="rq.serializers.DefaultSerializer"
    )
    with caplog.at_level("WARNING", logger="rq.worker"):
        worker.work(burst=True)
    assert_refused(redis, [*jobs, secret], canary, tmp_path)
    refused = [r.getMessage() for r in caplog.records if "refused job" in r.getMessage()]
    assert len(refused) == 6, refused
    assert any("'os.system' is not one of optscan's jobs" in line for line in refused)
    assert any("failure callback 'optscan_canary.callback'" in line for line in refused)
    assert "hunter2-canary-pw" not in caplog.text
    queue = JsonQueue("optscan", connection=redis)  # none of them retried
    assert queue.count == 0 and queue.scheduled_job_registry.count == 0
    assert redis.llen(queue.intermediate_queue_key) == 0


def test_refusal_reads_names_only(redis):
    def job(func, **kwargs):
        return Queue("q", connection=redis, serializer=JSONSerializer).enqueue_call(func, **kwargs)

    assert refusal(job("optscan.queue.jobs.scan_batch")) is None
    assert refusal(job("optscan.jobs.aggregate_scan")) is None  # 0.1.0's path
    assert refusal(job(PING, on_failure=Callback("optscan.queue.jobs.on_job_failure"))) is None
    assert "not one of optscan's jobs" in refusal(job("optscan.queue.jobs.env.use_runtime"))
    pickled = Queue("q", connection=redis).enqueue_call(PING)
    assert "cannot be read" in refusal(JsonJob.fetch(pickled.id, connection=redis))


def test_rq_scheduler_never_imports_a_stored_queue_class(redis, canary, cfg):
    from optscan.queue.schedule import make_scheduler

    scheduler = make_scheduler(redis, cfg)
    job = scheduler.enqueue_in(dt_seconds(1), "optscan_canary.run")
    job.meta["queue_class_name"] = "optscan_canary.Queue"
    job.save_meta()
    scheduler.enqueue_job(JsonJob.fetch(job.id, connection=redis))
    assert "optscan_canary" not in sys.modules
    assert JsonQueue("optscan", connection=redis).job_ids == [job.id]  # then refused by workers


def dt_seconds(seconds):
    import datetime as dt

    return dt.timedelta(seconds=seconds)


# ------------------------------------------------------------------ never lost while queued


def test_a_scan_with_jobs_queued_keeps_its_profile_and_is_never_lost(redis, store):
    cfg = QueueSection(batch_size=3, lock_ttl_s=5)
    scan_id = enqueue(redis, cfg, profile="victim")
    redis.delete(store.keys.lock("victim"))  # the lease lapsed while no worker took it
    assert store.status(scan_id)["state"] == "queued"
    with pytest.raises(ScanBusyError) as busy:
        enqueue(redis, cfg, profile="victim")
    assert busy.value.holder == scan_id
    assert lock_holder(redis, store.keys, "victim") == scan_id  # the lease is re-armed

    run_jobs(redis, max_jobs=1)  # the coordinator fans out; the batches wait their turn
    redis.delete(store.keys.lock("victim"))  # lapsed again, behind other scans' jobs
    assert store.status(scan_id)["state"] == "running"
    with pytest.raises(ScanBusyError):
        enqueue(redis, cfg, profile="victim")

    run_jobs(redis)
    assert store.status(scan_id)["state"] == "finished"
    assert enqueue(redis, cfg, profile="victim")  # released


def test_a_scan_whose_jobs_are_gone_is_lost_and_frees_its_profile(redis, cfg, store):
    scan_id = enqueue(redis, cfg)
    JsonJob.fetch(coordinator_job_id(scan_id), connection=redis).delete()
    assert store.status(scan_id)["state"] == "queued"  # it still holds its lease
    redis.delete(store.keys.lock("default"))
    status = store.status(scan_id)
    assert status["state"] == "lost"
    assert "none of its jobs is queued or running" in status["error"]
    assert enqueue(redis, cfg) != scan_id


def test_a_scan_no_worker_takes_in_time_fails_and_frees_its_profile(redis, cfg, store):
    scan_id = enqueue(redis, cfg)
    assert store.get(scan_id)["start_timeout_s"] == "900"
    redis.hset(store.keys.scan(scan_id), "start_by", 0)  # 900 s later
    status = store.status(scan_id)
    assert status["state"] == "failed"
    assert "no worker took it within 900 s" in status["error"]
    assert not redis.exists(store.keys.lock("default"), store.keys.lock_owner("default"))
    again = enqueue(redis, cfg)
    run_jobs(redis)  # the late coordinator does nothing; the new scan runs
    assert store.status(scan_id)["state"] == "failed"
    assert store.status(again)["state"] == "finished"


def test_a_coordinator_a_worker_takes_too_late_fails_its_scan(redis, cfg, store):
    """Whether or not anyone asked for the status meanwhile."""
    scan_id = enqueue(redis, cfg)
    redis.hset(store.keys.scan(scan_id), "start_by", 0)
    run_jobs(redis)
    status = store.status(scan_id)
    assert status["state"] == "failed" and "no worker took it" in status["error"]
    assert status["symbols_total"] == 0
    assert JsonQueue(cfg.name, connection=redis).count == 0  # nothing fanned out


def test_a_retried_coordinator_is_not_late(redis, cfg, store):
    """A coordinator taken in time and retried after its deadline still runs."""
    scan_id = enqueue(redis, cfg)
    assert store.take(scan_id, "default") == "taken"  # a first attempt took it
    redis.hset(store.keys.scan(scan_id), "start_by", 0)
    run_jobs(redis)
    assert store.status(scan_id)["state"] == "finished"


# --------------------------------------------------------------- a coordinator that crashes


def test_a_coordinator_whose_config_cannot_run_fails_its_scan_at_once(redis, store):
    """A missing holdings file in the worker's own config is the worker's config
    problem: no retry helps, so the first attempt ends the scan ``failed`` with the
    message, and frees the profile."""
    from optscan.config import load_settings
    from optscan.queue.jobs import JobRuntime, use_runtime

    def worker_settings(overrides):
        worker = {"holdings.file": "/nonexistent/holdings.csv"}
        return load_settings(overrides={**overrides, **worker}, use_env=False)

    cfg = QueueSection(batch_size=3, retry_max=1, retry_intervals_s=[0])
    scan_id = enqueue(redis, cfg, strategy="cc")
    with use_runtime(JobRuntime(load_settings=worker_settings)):
        run_jobs(redis, max_jobs=1)
    status = store.status(scan_id)
    assert status["state"] == "failed", status
    assert "/nonexistent/holdings.csv" in status["error"]
    assert not redis.exists(store.keys.lock("default"), store.keys.lock_owner("default"))


def test_a_coordinator_that_raises_fails_its_scan_once_its_retries_are_spent(
    redis, store, monkeypatch
):
    import optscan.queue.jobs.coordinator as coordinator

    def crash(*args, **kwargs):
        raise RuntimeError("the coordinator crashed")

    monkeypatch.setattr(coordinator, "_coordinate", crash)
    cfg = QueueSection(batch_size=3, retry_max=1, retry_intervals_s=[0])
    scan_id = enqueue(redis, cfg)
    run_jobs(redis, max_jobs=1)  # the first attempt: a retry is left
    assert store.status(scan_id)["state"] == "queued"
    run_jobs(redis)
    status = store.status(scan_id)
    assert status["state"] == "failed", status
    assert "the coordinator job failed" in status["error"]
    assert "the coordinator crashed" in status["error"]
    assert not redis.exists(store.keys.lock("default"), store.keys.lock_owner("default"))


def test_a_coordinator_that_fails_outside_its_function_fails_its_scan(redis, store):
    """RQ cannot arm a timeout of 10^14 s (``signal.alarm`` overflows) and fails the job
    before calling it: RQ's failure callback ends the scan."""
    cfg = QueueSection(batch_size=3, retry_max=0).model_copy(
        update={"coordinator_timeout_s": 10**14}
    )
    scan_id = enqueue(redis, cfg)
    run_jobs(redis)
    status = store.status(scan_id)
    assert status["state"] == "failed", status
    assert "coordinator job failed: OverflowError" in status["error"]


def test_a_coordinator_whose_work_horse_died_fails_its_scan(redis, cfg, store):
    """rq calls no failure callback when a work horse dies (SIGKILL, the OOM killer):
    the worker does, so the last attempt still ends the scan."""
    from optscan.queue.worker import OptscanWorker

    scan_id = enqueue(redis, cfg)
    job = JsonJob.fetch(coordinator_job_id(scan_id), connection=redis)
    worker = OptscanWorker([cfg.name], connection=redis, queue_config=cfg)
    worker.handle_work_horse_killed(job, 123, 9, None)  # a retry is left: nothing ends
    assert store.status(scan_id)["state"] == "queued"
    job.retries_left = 0
    worker.handle_work_horse_killed(job, 123, 9, None)
    status = store.status(scan_id)
    assert status["state"] == "failed"
    assert "coordinator job failed: WorkHorseKilled" in status["error"]


def cli_on(redis, monkeypatch):
    from optscan.queue import connection

    monkeypatch.setattr(connection, "connect", lambda settings, url=None: redis)

    def run(*args):
        from optscan.cli import cli

        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return run


SCAN_ARGS = ("--provider", "sim", "--symbols", "S001,S002", "--as-of", "2026-11-18T11:00")


def test_wait_timeout_exits_1_naming_the_scan_and_its_state(redis, monkeypatch):
    run = cli_on(redis, monkeypatch)
    out = run("enqueue", *SCAN_ARGS, "--wait", "--timeout", "0.3", "--format", "json")
    assert out.exit_code == 1
    scan_id = ScanStore(redis, Keys(PREFIX), QueueSection()).latest()
    assert f"scan {scan_id} is still queued after 0.3 s" in out.output
    out = run("scan", "--queue", "--profile", "other", *SCAN_ARGS, "--timeout", "0.3")
    assert out.exit_code == 1 and "is still queued after 0.3 s" in out.output
    assert run("enqueue", *SCAN_ARGS, "--timeout", "1").exit_code == 2  # needs --wait
    assert run("enqueue", *SCAN_ARGS, "--wait", "--timeout", "nan").exit_code == 2


def test_the_waiting_client_is_told_when_no_worker_took_the_scan(redis, monkeypatch):
    run = cli_on(redis, monkeypatch)
    started = time.monotonic()
    out = run("enqueue", *SCAN_ARGS, "--set", "queue.start_timeout_s=1", "--wait")
    assert out.exit_code == 1, out.output
    assert "failed" in out.output and "no worker took it within 1 s" in out.output
    assert time.monotonic() - started < 10
    assert run("enqueue", *SCAN_ARGS).exit_code == 0  # the profile is free


# --------------------------------------------------------------------------- a Redis blip


class Flaky:
    """A store whose status fails ``failures`` times (Redis unreachable), then ends."""

    def __init__(self, failures):
        self.failures = failures
        self.calls = 0

    def status(self, scan_id):
        from redis.exceptions import ConnectionError as RedisConnectionError

        self.calls += 1
        if self.calls <= self.failures:
            raise RedisConnectionError("Error 111 connecting to redis:6379. Connection refused.")
        return {"scan_id": scan_id, "state": "finished"}


def test_the_waiting_client_rides_out_a_redis_blip():
    store = Flaky(failures=3)
    assert wait_for_scan(store, "s1", poll_s=0.01)["state"] == "finished"
    assert store.calls == 4


def test_the_waiting_client_gives_up_on_redis_naming_the_scan():
    with pytest.raises(QueueError, match=r"lost Redis while waiting for scan s1 .*status"):
        wait_for_scan(Flaky(failures=10**6), "s1", poll_s=0.01, reconnect_s=0.2)


# --------------------------------------------------------------- a job taken, never started


def test_a_job_whose_worker_died_before_starting_it_is_recovered(redis, cfg):
    """The worker's maintenance puts it back on its queue after a few seconds, unchanged:
    no retry spent on a job that never ran."""
    from optscan.queue.sweep import GRACE_S
    from optscan.queue.worker import OptscanWorker

    queue = JsonQueue(cfg.name, connection=redis)
    job = queue.enqueue_call(PING, retry=Retry(max=1))
    redis.lmove(queue.key, queue.intermediate_queue_key)  # what a worker's BLMOVE did
    worker = OptscanWorker([cfg.name], connection=redis, queue_config=cfg)
    worker.clean_registries()  # first seen: a live worker may start it yet
    worker.clean_registries()
    assert queue.count == 0
    first_seen = queue.intermediate_queue.get_first_seen_key(job.id)
    redis.set(first_seen, time.time() - GRACE_S - 1)
    worker.clean_registries()
    assert queue.job_ids == [job.id]  # back on its queue
    assert JsonJob.fetch(job.id, connection=redis).retries_left == 1  # none spent
    assert redis.llen(queue.intermediate_queue_key) == 0
    run_jobs(redis)
    assert JsonJob.fetch(job.id, connection=redis).get_status() == JobStatus.FINISHED


# --------------------------------------------------------------------------- sinks at most once


def test_a_rerun_aggregator_does_not_publish_to_the_sinks_again(redis, store, monkeypatch):
    """The aggregator's worker died after publishing (here: it raises right after), and
    rq re-ran it: the sinks got the scan once, and the scan still finishes."""
    import optscan.queue.jobs.aggregator as aggregator
    from optscan.plugins import PluginHost
    from optscan.protocols import ResultSink
    from optscan.queue.jobs import JobRuntime, use_runtime

    published = []

    class Count(ResultSink):
        name = "count"

        def publish(self, result):
            published.append(result.scan_id)

    class Sinks:
        @hookimpl
        def register_result_sinks(self, register):
            register(Count)

    crashes = []
    real_emit = aggregator.emit_finished

    def crash_once(ctx, result):
        if not crashes:
            crashes.append(1)
            raise RuntimeError("worker lost after publishing")
        real_emit(ctx, result)

    monkeypatch.setattr(aggregator, "emit_finished", crash_once)

    def make_host(settings):
        return PluginHost.from_settings(settings, load_entrypoints=False, plugins=[Sinks()])

    cfg = QueueSection(batch_size=3, retry_max=1, retry_intervals_s=[0])
    with use_runtime(JobRuntime(make_host=make_host)):
        scan_id = enqueue(redis, cfg, sinks=["count"])
        run_jobs(redis)
    assert crashes == [1]
    assert published == [scan_id]
    status = store.status(scan_id)
    assert status["state"] == "finished", status
    assert any("earlier run" in w for w in store.result(scan_id)["warnings"])
