"""Issue 18's queue hardening, in-process on fakeredis[lua] (rq's SimpleWorker, or an
``OptscanWorker`` that never needs to fork): only optscan's own jobs run. The same
faults on real ``optscan worker`` processes and a real ``redis-server`` are in
``test_queue_faults.py``.
"""

from __future__ import annotations

import sys

import pytest

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
)
from optscan.queue.enqueue import enqueue_scan  # noqa: E402
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
