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


# --------------------------------------------------------------------------- writes
#
# rq-dashboard has no login: with ``optscan dashboard`` on 127.0.0.1, a cross-origin
# ``POST /job/<id>/delete`` from any web page answered {"status": "OK"} and the job was
# gone, and a plain ``GET /requeue/optscan`` requeued the failed jobs. Writes are now off
# unless [dashboard] writes = true, and then need the same origin, a served Host and the
# dashboard's CSRF token.

WRITE_ROUTES = {
    "rq_dashboard.delete_job_view",
    "rq_dashboard.requeue_job_view",
    "rq_dashboard.requeue_all",
    "rq_dashboard.empty_queue",
    "rq_dashboard.compact_queue",
}
HOST = "http://localhost"


def _app(redis, monkeypatch, **kwargs):
    from rq_dashboard import web

    from optscan.queue.dashboard import make_app

    monkeypatch.setattr(web, "from_url", lambda *a, **k: (None, redis))
    return make_app("redis://127.0.0.1:1/0", **kwargs)


def _token(client) -> str:
    """The CSRF token a dashboard page carries (its cookie, read by rq-dashboard's JS)."""
    page = client.get("/0/view/queues", follow_redirects=True)
    assert page.status_code == 200
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None, page.headers
    return cookie.value


class Board:
    """A queue with a queued job and two failed ones: what every write route changes."""

    def __init__(self, redis):
        self.redis = redis
        queue = JsonQueue("optscan", connection=redis)
        self.failed = [queue.enqueue_call("builtins.len", args=(1,)).id for _ in range(2)]
        run_jobs(redis)  # len(1) raises: both fail
        self.queued = queue.enqueue_call("builtins.len", args=([1],)).id
        self.compacted = 0

    def state(self) -> tuple:
        queue = JsonQueue("optscan", connection=self.redis)
        return (
            sorted(queue.get_job_ids()),
            sorted(queue.failed_job_registry.get_job_ids()),
            sorted(JsonJob.exists(j, connection=self.redis) for j in [*self.failed, self.queued]),
            self.compacted,
        )

    def requests(self) -> dict[str, tuple[str, str]]:
        """One request for each write route: (method, path)."""
        return {
            "rq_dashboard.delete_job_view": ("POST", f"/job/{self.queued}/delete"),
            "rq_dashboard.requeue_job_view": ("POST", f"/job/{self.failed[0]}/requeue"),
            "rq_dashboard.requeue_all": ("POST", "/requeue/optscan"),
            "rq_dashboard.empty_queue": ("POST", "/queue/optscan/queued/empty"),
            "rq_dashboard.compact_queue": ("POST", "/queue/optscan/compact"),
        }


@pytest.fixture
def board(redis, monkeypatch):
    board = Board(redis)
    original = JsonQueue.compact

    def compact(self, *args, **kwargs):
        board.compacted += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JsonQueue, "compact", compact)
    return board


def test_every_write_route_is_guarded(redis, monkeypatch):
    """The guard covers every route of rq-dashboard that accepts a method that changes
    state (a later rq-dashboard's new write route is guarded by the same rule)."""
    from optscan.queue.dashboard import write_endpoints

    app = _app(redis, monkeypatch)
    assert write_endpoints(app) == WRITE_ROUTES
    assert set(Board(redis).requests()) == WRITE_ROUTES


@pytest.mark.parametrize("route", sorted(WRITE_ROUTES))
def test_writes_are_off_by_default(redis, monkeypatch, board, route):
    client = _app(redis, monkeypatch).test_client()
    before = board.state()
    method, path = board.requests()[route]
    for headers in ({"Origin": "http://evil.example"}, {"Origin": HOST}, {}):
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 403, (path, response.data)
        assert "writes are off" in response.get_json()["error"]
    assert board.state() == before
    assert client.get_cookie("_csrf_token") is None  # no token to steal either


def test_a_plain_get_never_requeues(redis, monkeypatch, board):
    before = board.state()
    for writes in (False, True):
        client = _app(redis, monkeypatch, writes=writes).test_client()
        token = _token(client) if writes else ""
        headers = {"Origin": HOST, "X-CSRFToken": token}
        assert client.get("/requeue/optscan", headers=headers).status_code in (403, 405)
        assert client.get("/requeue/optscan").status_code in (403, 405)
    assert board.state() == before


@pytest.mark.parametrize("route", sorted(WRITE_ROUTES))
def test_with_writes_on_a_foreign_page_still_cannot_write(redis, monkeypatch, board, route):
    client = _app(redis, monkeypatch, writes=True).test_client()
    token = _token(client)
    before = board.state()
    method, path = board.requests()[route]
    attempts = {
        "cross-origin": ({"Origin": "http://evil.example"}, HOST),
        "cross-origin with the token": (
            {"Origin": "http://evil.example", "X-CSRFToken": token},
            HOST,
        ),
        "cross-origin referer": ({"Referer": "http://evil.example/x", "X-CSRFToken": token}, HOST),
        "same origin, no token": ({"Origin": HOST}, HOST),
        "same origin, wrong token": ({"Origin": HOST, "X-CSRFToken": token[:-1] + "x"}, HOST),
        "no origin at all": ({"X-CSRFToken": token}, HOST),
        "a null origin": ({"Origin": "null", "X-CSRFToken": token}, HOST),
        # DNS rebinding: evil.example resolves to 127.0.0.1, so origin and host agree
        "rebound host": (
            {"Origin": "http://evil.example:9181", "X-CSRFToken": token},
            "http://evil.example:9181",
        ),
    }
    for what, (headers, base_url) in attempts.items():
        response = client.open(path, method=method, headers=headers, base_url=base_url)
        assert response.status_code == 403, (what, response.data)
    assert board.state() == before


@pytest.mark.parametrize("route", sorted(WRITE_ROUTES))
def test_with_writes_on_the_dashboards_own_pages_can_write(redis, monkeypatch, board, route):
    client = _app(redis, monkeypatch, writes=True).test_client()
    token = _token(client)
    before = board.state()
    method, path = board.requests()[route]
    response = client.open(path, method=method, headers={"Origin": HOST, "X-CSRFToken": token})
    assert response.status_code == 200, response.data
    assert response.get_json()["status"] == "OK"
    assert board.state() != before


def test_a_referer_stands_in_for_a_missing_origin(redis, monkeypatch, board):
    client = _app(redis, monkeypatch, writes=True).test_client()
    referer = {"Referer": f"{HOST}/0/view/jobs", "X-CSRFToken": _token(client)}
    response = client.post("/requeue/optscan", headers=referer)
    assert response.status_code == 200 and response.get_json()["count"] == 2
    assert JsonQueue("optscan", connection=redis).failed_job_registry.get_job_ids() == []


def test_allowed_hosts_and_the_bind_address_are_served(redis, monkeypatch, board):
    client = _app(redis, monkeypatch, writes=True, allowed_hosts=["dash.example"]).test_client()
    token = _token(client)
    response = client.post(
        "/queue/optscan/compact",
        base_url="https://dash.example",
        headers={"Origin": "https://dash.example", "X-CSRFToken": token},
    )
    assert response.status_code == 200 and board.compacted == 1


def test_pages_cannot_be_framed_and_carry_a_strict_token(redis, monkeypatch):
    client = _app(redis, monkeypatch, writes=True).test_client()
    page = client.get("/0/view/queues", follow_redirects=True)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("_csrf_token=") and "SameSite=Strict" in cookie
    other = _app(redis, monkeypatch, writes=True).test_client()
    assert _token(other) != _token(client)  # one token per dashboard process


def test_read_only_pages_say_how_to_turn_writes_on(redis, monkeypatch):
    client = _app(redis, monkeypatch).test_client()
    page = client.get("/0/view/queues", follow_redirects=True).get_data(as_text=True)
    assert "[dashboard] writes = true" in page
    assert 'id="empty-btn"' not in page  # rq-dashboard hides its delete buttons too
