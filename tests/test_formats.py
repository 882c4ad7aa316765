"""Every command that prints data takes ``--format table|json|csv`` (table by default),
and the commands say what a new user needs: no worker listening, a stale replay, a
scan held back by the open/close buffers."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner

from optscan.cli import cli

from .helpers import OPEN_INSTANT, run_jobs

fakeredis = pytest.importorskip("fakeredis")
pytest.importorskip("lupa")

AS_OF = "2026-11-18T11:00"
SIM = ("--provider", "sim", "--symbols", "S001,S002", "--as-of", AS_OF)


@pytest.fixture
def redis(monkeypatch):
    """The queue commands' Redis: a fakeredis with Lua, for this test only."""
    from optscan.queue import connection

    server = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    monkeypatch.setattr(connection, "connect", lambda settings, url=None: server)
    return server


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _same(text: str) -> str:
    """Output with what changes from run to run (scan ids, added/replaced) masked."""
    text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{6}", "<scan id>", text)
    return re.sub(r"^(added|replaced) ", "", text, flags=re.M)


def assert_formats(*args: str) -> None:
    """The command answers in all three formats: JSON parses, CSV has a header and rows,
    and the default is the table (not JSON)."""
    default = run(*args)
    assert default.exit_code == 0, default.output
    table = run(*args, "--format", "table")
    assert table.exit_code == 0 and _same(table.stdout) == _same(default.stdout)
    doc = run(*args, "--format", "json")
    assert doc.exit_code == 0, doc.output
    json.loads(doc.stdout)
    with pytest.raises(json.JSONDecodeError):
        json.loads(default.stdout)
    rows = list(csv.reader(io.StringIO(run(*args, "--format", "csv").stdout)))
    assert len(rows) >= 2 and len(rows[0]) >= 2, rows[:2]


@pytest.mark.parametrize(
    "args",
    [
        ("scan", *SIM),
        ("plugins",),
        ("config", "show"),
        ("market", "--at", AS_OF),
    ],
)
def test_local_data_commands_take_every_format(args):
    assert_formats(*args)


def test_queue_data_commands_take_every_format(redis):
    queued = run("enqueue", *SIM, "--format", "json")
    assert queued.exit_code == 0, queued.output
    scan_id = json.loads(queued.stdout)["scan_id"]
    assert_formats("status", "--scan-id", scan_id)
    run_jobs(redis)
    assert_formats("results")
    assert_formats("schedule", "add", "--cron", "0,30 10-15 * * 1-5", *SIM)
    assert_formats("schedule", "list")
    for fmt in ("table", "json", "csv"):
        assert run("lock", "clear", "--format", fmt).exit_code == 0


def test_results_follow_a_default_queued_scan(redis):
    """No --sink redis: the aggregator still keeps the profile's latest result."""
    scan_id = json.loads(run("enqueue", *SIM, "--format", "json").stdout)["scan_id"]
    run_jobs(redis)
    assert redis.exists("optscan:results:default")
    assert 0 < redis.ttl("optscan:results:default") <= 2700
    doc = json.loads(run("results", "--format", "json").stdout)
    assert doc["scan_id"] == scan_id and doc["symbols"]


def test_status_says_when_no_worker_listens(redis):
    scan_id = json.loads(run("enqueue", *SIM, "--format", "json").stdout)["scan_id"]
    doc = json.loads(run("status", "--scan-id", scan_id, "--format", "json").stdout)
    assert doc["state"] == "queued" and doc["workers"] == 0
    assert "no worker is listening" in run("status", "--scan-id", scan_id).stdout


def test_a_replay_far_from_its_recording_warns(tmp_path):
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    from .helpers import make_settings

    record = ScanRequest(
        provider="sim", symbols=["AAPL"], as_of=OPEN_INSTANT, record_dir=str(tmp_path), sinks=[]
    )
    settings = make_settings()
    perform_scan(record, PluginHost(load_entrypoints=False), settings=settings)

    def replay(as_of: str):
        request = ScanRequest(
            provider="sim",
            replay_dir=str(tmp_path),
            as_of=__import__("datetime").datetime.fromisoformat(as_of),
            sinks=[],
        )
        return perform_scan(request, PluginHost(load_entrypoints=False), settings=settings)

    assert replay("2026-11-19T11:00-05:00").warnings == []  # the next trading day
    stale = replay("2026-11-25T11:00-05:00")
    assert len(stale.warnings) == 1 and "5 trading days apart" in stale.warnings[0]


def test_a_scan_held_back_by_the_buffers_says_so():
    out = run(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL",
        "--as-of",
        "2026-11-18T09:40",
        "--set",
        "scan.open_buffer_min=15",
        "--set",
        "providers.sim.ignore_market_hours=false",
    )
    assert out.exit_code == 3, out.output
    assert "market open (nyse) but inside the scan buffers" in out.output
    assert "market closed" not in out.output
