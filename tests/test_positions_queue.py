"""A queued scan with a positions file (``scan --queue --positions``, ``enqueue --set
holdings.file``, the web page's Scan now with ``--queue``): the client reads the file
and sends what it holds, never its path, so a worker that cannot read the file still
writes covered calls on its shares, the file's cash and skipped rows still reach the
result, and neither the path nor an account number is ever stored in Redis."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from optscan.models import Portfolio, ScanRequest

from .helpers import OPEN_INSTANT, redis_text, run_jobs
from .test_positions import ACCOUNT_SECRETS, FIXTURES, leaks

fakeredis = pytest.importorskip("fakeredis")
pytest.importorskip("lupa")

ACCOUNT = "Z24681357"
BAD_ROW = (
    '"MSFT","MICROSOFT CORP","nan","$400.00","$1.20","0.52%","$0.00","$0.00","0%",'
    '"$1,000.00","$0.00","0%","B","No","N/A","1%","Equity"'
)
"""A Schwab row whose quantity is no number: skipped, and a scan warning (line 6)."""
WARNING = "positions file ZXXXX-Positions.csv (holdings.file): line 6 skipped (bad_number)"
LOT = 'holdings.lots=[{symbol="AAPL", shares=100, cost_basis=180.0}]'
SCAN = ("--provider", "sim", "--as-of", OPEN_INSTANT.isoformat(), "--format", "json")


@pytest.fixture
def redis(monkeypatch):
    from optscan.queue import connection

    server = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    monkeypatch.setattr(connection, "connect", lambda settings, url=None: server)
    return server


@pytest.fixture
def positions(tmp_path: Path) -> Path:
    """Schwab's export (300 AAPL, one short AAPL call, 100 BRK/B, $12,345.67 cash, the
    account ``...482``) plus one bad row, named by its account as brokers name them."""
    lines = (FIXTURES / "schwab.csv").read_text().splitlines()
    path = tmp_path / "Downloads" / f"{ACCOUNT}-Positions.csv"
    path.parent.mkdir()
    path.write_text("\n".join([*lines[:5], BAD_ROW, *lines[5:]]) + "\n")
    return path


def cli(*args: str):
    from optscan.cli import cli as optscan

    return CliRunner().invoke(optscan, list(args), catch_exceptions=False)


def assert_nothing_of_the_file_in(text: str, path: Path) -> None:
    assert str(path.parent) not in text and path.name not in text
    assert 'holdings.file":' not in text.replace(" ", "")  # no such override in a job
    for secret in (*ACCOUNT_SECRETS, ACCOUNT, ACCOUNT[1:]):
        assert not leaks(secret.lstrip("."), text), secret


def test_a_queued_cc_scan_writes_on_the_files_shares_where_no_worker_can_read_it(
    redis, positions: Path, monkeypatch
):
    """The worker runs after the file is gone: AAPL's 300 shares of the file plus the
    client's 100 of ``lots`` less one short call leave 3 calls (the lots travel in the
    overrides too, and are not counted again on the worker), BRK/B's 100 leave 1; the
    skipped row is a warning; Redis holds neither the path nor the account."""
    from optscan.queue import enqueue as queue_enqueue

    real_wait = queue_enqueue.wait_for_scan

    def wait(store, scan_id, **kwargs):
        positions.unlink()  # this machine's file: the workers never see it
        run_jobs(redis)
        return real_wait(store, scan_id, **kwargs)

    monkeypatch.setattr(queue_enqueue, "wait_for_scan", wait)
    ran = cli(
        "--set", LOT, "--set", "queue.batch_size=1",
        "scan", "--queue", *SCAN, "--strategy", "cc", "--symbols", "AAPL,BRK.B",
        "--positions", str(positions),
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.stdout)
    assert {s["symbol"]: (s["status"], s["contracts_coverable"]) for s in result["symbols"]} == {
        "AAPL": ("ok", 3),
        "BRK-B": ("ok", 1),
    }
    assert WARNING in result["warnings"]
    assert not positions.exists()
    stored = redis_text(redis)
    assert '"coverable":{"AAPL":3,"BRK-B":1,"SCHD":0}' in stored.replace(" ", "")  # the jobs
    assert_nothing_of_the_file_in(stored, positions)
    assert_nothing_of_the_file_in(ran.stdout + ran.stderr, positions)


def test_the_embedded_scan_still_reads_the_file_itself(positions: Path):
    ran = cli(
        "--set", LOT, "scan", *SCAN, "--strategy", "cc", "--symbols", "AAPL,BRK.B",
        "--positions", str(positions),
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.stdout)
    assert [s["contracts_coverable"] for s in result["symbols"]] == [3, 1]
    assert WARNING in result["warnings"]


def test_enqueue_sends_the_files_cash_for_the_selection_and_its_warnings(redis, positions: Path):
    """``enqueue --set holdings.file``: a put scan without ``--cash`` selects for the
    file's cash, read on the client, after the file is gone."""
    queued = cli(
        "--set", f'holdings.file="{positions}"',
        "enqueue", *SCAN, "--symbols", "AAPL,AMD,F,INTC,SOFI",
    )  # fmt: skip
    assert queued.exit_code == 0, queued.output
    assert "holdings.file is not sent" not in queued.stderr  # it is sent, as its holdings
    positions.unlink()
    run_jobs(redis)
    doc = json.loads(cli("results", "--format", "json").stdout)
    assert math.isclose(doc["selection"]["cash"], 12345.67)
    assert WARNING in doc["warnings"]
    assert_nothing_of_the_file_in(redis_text(redis), positions)


def test_a_file_that_cannot_be_read_here_is_not_queued(redis, tmp_path: Path):
    missing = tmp_path / f"{ACCOUNT}.csv"
    ran = cli(
        "--set", f'holdings.file="{missing}"', "enqueue", *SCAN, "--strategy", "cc"
    )  # fmt: skip
    assert ran.exit_code == 2 and "ZXXXX.csv: cannot read it" in ran.stderr, ran.output
    assert redis.keys("*") == []


def test_web_scan_now_on_the_queue_sends_the_holdings_not_the_path(positions: Path, monkeypatch):
    from rq_dashboard import web

    from optscan.web.server import build_app

    from .webapp import web_settings

    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    monkeypatch.setattr(web, "from_url", lambda *a, **k: (None, redis))
    overrides = {"holdings.file": str(positions)}
    app = build_app(web_settings(**overrides), redis=redis, overrides=overrides)
    client = app.test_client()
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    token = page.split('<meta name="csrf-token" content="')[1].split('"')[0]
    answer = client.post(
        "/api/scans",
        json={"symbols": "AAPL", "strategy": "cc", "force": True},
        headers={"Origin": "http://localhost", "X-CSRF-Token": token},
    )
    assert answer.status_code == 202, answer.get_json()
    positions.unlink()
    run_jobs(redis)
    doc = client.get("/api/results/latest").get_json()
    assert [(s["symbol"], s["contracts_coverable"]) for s in doc["symbols"]] == [("AAPL", 2)]
    assert WARNING in doc["warnings"]
    assert_nothing_of_the_file_in(redis_text(redis), positions)


# --------------------------------------------------------------------------- the model


def test_the_carried_portfolio_is_the_whole_truth_on_the_worker(tmp_path: Path):
    """A request that carries a portfolio is not merged with this machine's file or
    lots; a put scan given ``--cash`` ignores it, as it ignores the file."""
    from optscan.scan.context import scan_portfolio

    from .helpers import make_settings

    settings = make_settings(
        **{
            "holdings.file": str(tmp_path / "not-here.csv"),
            "holdings.lots": [{"symbol": "AAPL", "shares": 500, "cost_basis": 1.0}],
        }
    )
    held = Portfolio(holdings={"AAPL": (200, 180.0)}, coverable={"AAPL": 2}, cash=-50.0)
    request = ScanRequest(portfolio=held)
    cc = scan_portfolio(settings, request, "cc")
    assert (cc.holdings, cc.coverable, cc.free_cash) == ({"AAPL": (200, 180.0)}, {"AAPL": 2}, 0)
    assert scan_portfolio(settings, request, "csp").cash == -50.0
    with_cash = request.model_copy(update={"cash": 1000.0})
    assert scan_portfolio(settings, with_cash, "csp").holdings == {}
    again = ScanRequest.model_validate_json(request.model_dump_json())
    assert again.portfolio == held


@pytest.mark.parametrize(
    "bad",
    [
        {"holdings": {"AAPL": [-1, 10.0]}},
        {"holdings": {"AAPL": [100, float("nan")]}},
        {"holdings": {"../etc": [100, 10.0]}},
        {"holdings": {"U1234567": [100, 10.0]}},
        {"coverable": {"AAPL": -1}},
        {"cash": float("inf")},
        {"put_collateral": -5.0},
        {"file": "/home/u/Z12345678-Positions.csv"},
    ],
)
def test_a_carried_portfolio_that_is_not_one_is_refused(bad: dict):
    with pytest.raises(ValidationError):
        ScanRequest.model_validate({"portfolio": bad})


def test_a_positions_path_never_travels_in_a_job(redis):
    from optscan.config import QueueSection
    from optscan.queue.connection import QueueError
    from optscan.queue.enqueue import enqueue_scan, job_overrides

    kept, dropped = job_overrides(
        {"holdings": {"file": "/tmp/x.csv", "broker": "schwab"}, "scan.concurrency": 2}
    )
    assert kept == {"holdings": {"broker": "schwab"}, "scan.concurrency": 2}
    assert dropped == ["holdings.file"]
    assert job_overrides({"holdings.file": "/tmp/x.csv"}) == ({}, ["holdings.file"])
    assert job_overrides({"holdings": {"file": "/tmp/x.csv"}}) == ({}, ["holdings.file"])
    request = ScanRequest(overrides={"holdings.file": "/tmp/x.csv"})
    with pytest.raises(QueueError, match=r"holdings\.file names a file"):
        enqueue_scan(redis, request, prefix="optscan:", cfg=QueueSection())
    scheduled = cli(
        "--set", 'holdings.file="/tmp/x.csv"',
        "schedule", "add", "--cron", "0 10 * * 1-5", "--provider", "sim",
    )  # fmt: skip
    assert scheduled.exit_code == 0, scheduled.output
    assert "--set holdings.file is not sent to workers" in scheduled.stderr
    assert "/tmp/x.csv" not in redis_text(redis)


def test_a_schedules_id_does_not_change_with_the_portfolio_field():
    """Ids hash the request; one without a portfolio hashes as before the field."""
    import hashlib

    from optscan.queue.schedule import schedule_id

    request = ScanRequest(profile="p", symbols=["AAPL"])
    before = {k: v for k, v in request.model_dump(mode="json").items() if k != "portfolio"}
    body = {"profile": "p", "cron": "0 10 * * 1-5", "request": before}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    assert schedule_id(request, "0  10 * * 1-5") == f"optscan-schedule-{digest[:16]}"
