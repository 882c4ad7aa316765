"""rq-dashboard against every kind of optscan job: every page answers 200.

Runs on fakeredis[lua] with rq's SimpleWorker (jobs in this process), like
``test_queue_unit.py``; the real dashboard process is in ``test_queue_integration.py``.
"""

from __future__ import annotations

import json

import pytest

from optscan.models import ScanRequest

from .helpers import OPEN_INSTANT, run_jobs

fakeredis = pytest.importorskip("fakeredis")
pytest.importorskip("lupa")


from optscan.config import QueueSection  # noqa: E402
from optscan.queue.connection import (  # noqa: E402
    PING,
    aggregator_job_id,
    batch_job_id,
)
from optscan.queue.enqueue import enqueue_scan  # noqa: E402
from optscan.queue.rq import JsonJob, JsonQueue  # noqa: E402
from optscan.queue.schedule import add_schedule  # noqa: E402
from optscan.queue.worker import OptscanWorker  # noqa: E402

PREFIX = "optscan:"


@pytest.fixture
def redis():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture
def client(redis, monkeypatch):
    from rq_dashboard import web

    from optscan.queue.dashboard import make_app

    monkeypatch.setattr(web, "from_url", lambda *a, **k: (None, redis))
    return make_app("redis://127.0.0.1:1/0").test_client()


def pages(job_id: str) -> list[str]:
    return [
        f"/0/data/job/{job_id}.json",
        f"/0/view/job/{job_id}",
    ]


LISTS = [
    "/",
    "/0/view/queues",
    "/0/view/workers",
    "/0/view/jobs",
    "/0/data/queues.json",
    "/0/data/workers.json",
    *(
        f"/0/data/jobs/optscan/{registry}/8/asc/1.json"
        for registry in ("queued", "started", "finished", "failed", "deferred", "scheduled")
    ),
]


def test_every_page_answers_for_every_kind_of_job(redis, client):
    cfg = QueueSection(batch_size=2)
    request = ScanRequest(provider="sim", symbols=["S001", "S002", "S003"], as_of=OPEN_INSTANT)
    scan_id, coordinator = enqueue_scan(redis, request, prefix=PREFIX, cfg=cfg)
    ping = JsonQueue("optscan", connection=redis).enqueue_call(PING, result_ttl=600)
    schedule = add_schedule(redis, request, "30 10 * * 1-5", prefix=PREFIX, cfg=cfg)
    worker = OptscanWorker(["optscan"], connection=redis)
    worker.register_birth()

    def check(job_ids: list[str]) -> None:
        for path in LISTS + [p for job_id in job_ids for p in pages(job_id)]:
            response = client.get(path, follow_redirects=True)
            assert response.status_code == 200, (path, response.data[:400])

    check([coordinator, ping.id, schedule["id"]])  # queued, and the timed scan
    run_jobs(redis, max_jobs=1)  # the coordinator fans out: batches queued, the aggregator deferred
    jobs = [coordinator, batch_job_id(scan_id, 0), batch_job_id(scan_id, 1)]
    aggregator = aggregator_job_id(scan_id)
    check([*jobs, aggregator, ping.id])
    info = client.get(f"/0/data/job/{aggregator}.json").get_json()
    assert sorted(info["depends_on"]) == sorted(jobs[1:])
    assert json.loads(info["metadata"])["optscan"]["role"] == "aggregator"
    worker.prepare_execution(JsonJob.fetch(jobs[1], connection=redis))  # one is "running"
    check([*jobs, aggregator])
    run_jobs(redis)
    check([*jobs, aggregator, ping.id])  # finished


def test_pages_say_where_the_timed_scans_are(redis, client):
    request = ScanRequest(provider="sim", symbols=["S001"])
    add_schedule(redis, request, "30 10 * * 1-5", prefix=PREFIX, cfg=QueueSection())
    page = client.get("/0/view/queues", follow_redirects=True).get_data(as_text=True)
    assert "1 timed scan (rq-scheduler)" in page and "optscan schedule list" in page
    listed = client.get("/optscan/schedules.json").get_json()["schedules"]
    assert [s["cron"] for s in listed] == ["30 10 * * 1-5"]
