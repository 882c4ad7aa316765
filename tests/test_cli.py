"""The optscan command: output contracts, exit codes, stdout purity, start-up cost.

Most commands run in this process (``invoke``: click's runner, reset as a fresh process
would be); the tests whose point is the process itself (what reaches the real stdout,
the interpreter's exit code, what start-up imports) run ``python -m optscan``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .helpers import OPEN_INSTANT
from .invoke import invoke


def run(*args: str, env: dict | None = None, check_rc: int | None = None):
    """``optscan *args`` in this process."""
    proc = invoke(*args, env={"COLUMNS": "200", **(env or {})})
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.report
    return proc


def run_process(*args: str, check_rc: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m optscan *args``: a real process, for what only a process shows."""
    proc = subprocess.run(
        [sys.executable, "-m", "optscan", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    if check_rc is not None:
        assert proc.returncode == check_rc, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def test_scan_json_contract_and_stdout_purity():
    proc = run_process(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL,MSFT,bad/one",
        "--as-of",
        OPEN_INSTANT.isoformat(),
        "--format",
        "json",
        "--log-level",
        "debug",
        check_rc=0,
    )
    doc = json.loads(proc.stdout)  # nothing but the JSON document on stdout
    assert {
        "scan_id",
        "as_of",
        "provider",
        "strategy",
        "market",
        "symbols",
        "opportunities",
    } <= set(doc)
    assert doc["provider"] == "sim" and doc["strategy"] == "csp"
    assert "is_open" in doc["market"]
    assert proc.stderr  # the debug logs went to stderr
    for symbol in doc["symbols"]:
        assert {"symbol", "status", "error", "contracts_seen", "rejected"} <= set(symbol)
        assert symbol["status"] in ("ok", "failed", "skipped")
        assert all(isinstance(v, int) for v in symbol["rejected"].values())
    assert [s["status"] for s in doc["symbols"]] == ["skipped", "ok", "ok"]
    assert doc["opportunities"]
    required = {
        "symbol",
        "contract_symbol",
        "kind",
        "expiration",
        "dte",
        "strike",
        "bid",
        "ask",
        "iv",
        "delta",
        "delta_source",
        "annualized_return",
        "quote_time",
        "data_delay_s",
    }
    for opp in doc["opportunities"]:
        assert required <= set(opp)
        for key in ("dte", "strike", "bid", "ask", "iv", "delta", "annualized_return"):
            assert isinstance(opp[key], int | float), key
        assert len(opp["expiration"]) == 10 and opp["expiration"][4] == "-"


def test_scan_table_and_csv():
    table = run(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL",
        "--as-of",
        OPEN_INSTANT.isoformat(),
        check_rc=0,
    )
    assert "AAPL" in table.stdout and "synthetic" in table.stdout
    csv_out = run(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL",
        "--as-of",
        OPEN_INSTANT.isoformat(),
        "--format",
        "csv",
        check_rc=0,
    )
    header = csv_out.stdout.splitlines()[0]
    assert header.startswith("symbol,contract_symbol,kind,expiration")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "--provider", "nope"], "unknown provider 'nope'; available:"),
        (["scan", "--provider", "sim", "--strategy", "wild"], "unknown strategy 'wild'"),
        (["scan", "--provider", "sim", "--sink", "nowhere"], "unknown sink 'nowhere'"),
        (["scan", "--set", "scan.concurrency=lots"], "scan.concurrency"),
        (["scan", "--set", "scan.concurency=1"], "scan.concurency: unknown key"),
        (["scan", "--as-of", "yesterday"], "--as-of"),
        (
            ["--set", "providers.sim.latency_ms=-1", "scan", "--provider", "sim"],
            "providers.sim.latency_ms",
        ),
    ],
)
def test_usage_and_config_errors_exit_2(args, message):
    proc = run(*args, check_rc=2)
    assert message in proc.stderr
    assert proc.stdout == ""


def test_market_closed_exits_3_unless_forced():
    args = (
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL",
        "--as-of",
        "2026-11-26T11:00",
        "--set",
        "providers.sim.ignore_market_hours=false",
        "--format",
        "json",
    )
    closed = run_process(*args, check_rc=3)  # Thanksgiving: the interpreter's exit code
    assert "next open" in closed.stderr and "2026-11-27T09:30:00-05:00" in closed.stderr
    forced = run(*args, "--force", check_rc=0)
    doc = json.loads(forced.stdout)
    assert doc["outside_market_hours"] is True and doc["market"]["is_open"] is False


def test_all_symbols_failing_exits_1():
    run(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "BTC-USD",
        "--as-of",
        OPEN_INSTANT.isoformat(),
        check_rc=1,
    )


def test_plugins_json():
    doc = json.loads(run("plugins", "--format", "json", check_rc=0).stdout)
    names = {p["name"] for p in doc["plugins"]}
    assert "optscan.providers" in names
    assert all("version" in p and "hooks" in p for p in doc["plugins"])
    assert isinstance(doc["failures"], list)


def test_config_show_masks_secrets():
    proc = run(
        "config",
        "show",
        "--format",
        "json",
        env={"OPTSCAN_REDIS_URL": "redis://:s3cr3t@localhost:6379/0"},
        check_rc=0,
    )
    assert "s3cr3t" not in proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["redis"]["url"] == "redis://:***@localhost:6379/0"
    assert doc["providers"]["sim"]["latency_ms"] == 0.0
    toml_out = run("config", "show", "--format", "toml", check_rc=0).stdout
    import tomllib

    assert tomllib.loads(toml_out)["scan"]["concurrency"] == 32


def test_market_command_json():
    proc = run("market", "--at", "2026-11-27T12:59", "--format", "json", check_rc=0)
    doc = json.loads(proc.stdout)
    assert doc["is_open"] is True and doc["early_close"] is True
    assert doc["session"] == "2026-11-27"
    assert doc["closes_at"] == "2026-11-27T13:00:00-05:00"
    closed = json.loads(
        run("market", "--at", "2026-11-27T13:00-05:00", "--format", "json", check_rc=0).stdout
    )
    assert closed["is_open"] is False
    assert closed["next_open"] == "2026-11-30T09:30:00-05:00"


def test_help_imports_no_heavy_library():
    code = (
        "import sys, runpy; sys.argv = ['optscan', '--help'];\n"
        "try:\n    runpy.run_module('optscan', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('numpy', 'yfinance', 'exchange_calendars', 'pandas', 'redis',"
        " 'rq', 'pydantic', 'rich') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_every_scan_log_line_carries_the_scan_id():
    proc = run(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL,MSFT,NVDA",
        "--as-of",
        OPEN_INSTANT.isoformat(),
        "--set",
        "providers.sim.error_rate=0.3",
        "--set",
        "providers.sim.retry_initial_s=0.001",
        "--log-level",
        "info",
        "--log-format",
        "json",
        "--format",
        "json",
        check_rc=0,
    )
    scan_id = json.loads(proc.stdout)["scan_id"]
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    retries = [line for line in lines if line["event"] == "retrying"]
    assert retries, "a 30% error rate should cause retries"
    scan_lines = [
        line for line in lines if line["event"] in ("retrying", "scan_finished", "symbols_scanned")
    ]
    assert scan_lines and all(line["scan_id"] == scan_id for line in scan_lines)
    assert all(line["symbol"] in ("AAPL", "MSFT", "NVDA") for line in retries)
