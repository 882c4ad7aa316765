"""Inputs that once crashed with a traceback now end with one message and exit 2.

Each reported repro is a test here, with the rest of its kind: every numeric config key
has bounds (``nan``, ``inf`` and absurd sizes are refused naming the key), files optscan
reads (config, holdings, recordings) fail with the file named, and whatever error a
command does not handle ends as one scrubbed line (exit 1), never a traceback.
"""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from optscan.config import load_settings
from optscan.errors import ConfigError
from optscan.plugins import PluginHost

from .helpers import OPEN_INSTANT
from .invoke import invoke

CLOSED_REDIS = "redis://127.0.0.1:1/0"
"""Nothing listens on port 1: queue commands fail at once (exit 1) if they get that far."""


def clean_exit(proc, code: int = 2, *, names: str = "") -> None:
    """Exit ``code``, one ``optscan:`` line on stderr naming ``names``, no traceback,
    nothing on stdout."""
    assert proc.returncode == code, proc.report
    assert "Traceback" not in proc.text, proc.report
    assert proc.stdout == "", proc.report
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("optscan: "), proc.report
    assert names in lines[0], proc.report


def scan(*args: str, env: dict | None = None):
    return invoke(
        "scan", "--provider", "sim", "--symbols", "AAPL", "--as-of", OPEN_INSTANT.isoformat(),
        *args, env=env,
    )  # fmt: skip


# --------------------------------------------------------------------------- config files


def test_a_config_file_that_is_not_utf8_exits_2_naming_it(tmp_path: Path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[scan]\nprofile = "d\xe9faut"\n'.encode("latin-1"))
    clean_exit(invoke("--config", str(path), "config", "show"), names="not UTF-8")
    clean_exit(invoke("config", "show", env={"OPTSCAN_CONFIG": str(path)}), names=str(path))


def test_a_config_nested_100000_deep_exits_2(tmp_path: Path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    clean_exit(invoke("--config", str(path), "scan"), names="nested too deeply")
    clean_exit(invoke("config", "show", "--set", "a=" + "[" * 5000), names="--set a")
    clean_exit(invoke("config", "show", env={"OPTSCAN_SCAN__X": "{a=" * 5000}), names="SCAN__X")


def test_a_config_that_is_a_folder_or_binary_exits_2(tmp_path: Path):
    clean_exit(invoke("config", "show", env={"OPTSCAN_CONFIG": str(tmp_path)}))
    (tmp_path / "bin.toml").write_bytes(b"\x00\x01\x02\xff" * 100)
    clean_exit(invoke("--config", str(tmp_path / "bin.toml"), "market"), names="bin.toml")


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("pair", "key"),
    [
        ("scan.max_dte=3000000", "scan.max_dte"),  # every symbol was blamed on the provider
        ("scan.min_dte=3000000", "scan.min_dte"),
        ("scan.concurrency=100000", "scan.concurrency"),
        ("providers.sim.rate_limit_per_s=1e-300", "providers.sim.rate_limit_per_s"),
        ("providers.sim.rate_limit_per_s=1e300", "providers.sim.rate_limit_per_s"),
        ("providers.sim.retry_max_s=1e300", "providers.sim.retry_max_s"),
        ("strategies.csp.min_annualized_return=nan", "min_annualized_return"),
        ("strategies.csp.min_annualized_return=inf", "min_annualized_return"),
        ("analytics.iv_cap=inf", "analytics.iv_cap"),
        ("analytics.dividend_yields={AAPL=nan}", "analytics.dividend_yields.AAPL"),
        ('holdings.lots=[{symbol="AAPL",shares=100,cost_basis=nan}]', "cost_basis"),
    ],
)
def test_absurd_numbers_in_the_config_exit_2_naming_the_key(pair, key):
    clean_exit(scan("--set", pair), names=key)


@pytest.mark.parametrize("key", ["state_ttl_s", "lock_ttl_s", "job_result_ttl_s"])
@pytest.mark.parametrize("value", ["1e20", "100000000000000000000", "nan"])
def test_huge_queue_ttls_exit_2_before_redis(key, value):
    """Redis refused ``EXPIRE`` with 10^20 s mid-enqueue (a traceback): now the config
    refuses it, before any connection (the URL is a closed port)."""
    proc = invoke(
        "enqueue", "--provider", "sim", "--symbols", "AAPL", "--set", f"queue.{key}={value}",
        env={"OPTSCAN_REDIS_URL": CLOSED_REDIS},
    )  # fmt: skip
    clean_exit(proc, names=f"queue.{key}")


def _numeric_keys(model: type[BaseModel], prefix: str) -> list[str]:
    """Dotted keys of the model's int and float fields (optional ones included)."""
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        kinds = set(typing.get_args(annotation)) or {annotation}
        if kinds & {int, float} and bool not in kinds:
            keys.append(f"{prefix}.{name}")
    return keys


def _every_numeric_key() -> list[str]:
    from optscan.config import (
        AnalyticsSection,
        QueueSection,
        RedisSection,
        ScanSection,
        StrategySection,
    )
    from optscan.default_plugins.providers.sim import SimConfig
    from optscan.default_plugins.providers.yfinance import YFinanceConfig

    return [
        *_numeric_keys(ScanSection, "scan"),
        *_numeric_keys(StrategySection, "strategies.csp"),
        *_numeric_keys(AnalyticsSection, "analytics"),
        *_numeric_keys(RedisSection, "redis"),
        *_numeric_keys(QueueSection, "queue"),
        *_numeric_keys(SimConfig, "providers.sim"),
        *_numeric_keys(YFinanceConfig, "providers.yfinance"),
        "sinks.console.limit",
        "sinks.redis.ttl_s",
    ]


def _refused(key: str, value: float) -> bool:
    try:
        settings = load_settings(overrides={key: value}, use_env=False)
        PluginHost(load_entrypoints=False).validate_settings(settings)
    except ConfigError as exc:
        assert key in str(exc), (key, value, str(exc))
        return True
    return False


def test_every_numeric_config_key_refuses_nan_inf_and_absurd_sizes():
    keys = _every_numeric_key()
    assert len(keys) > 40  # the walk found the sections' numbers
    unbounded = [
        (key, value)
        for key in keys
        for value in (float("nan"), float("inf"), float("-inf"), 1e20, -1e20, 10**20)
        if not _refused(key, value)
    ]
    assert unbounded == []


def test_the_shipped_defaults_are_within_the_bounds():
    settings = load_settings(Path(__file__).resolve().parents[1] / "config.toml", use_env=False)
    assert PluginHost(load_entrypoints=False).validate_settings(settings) == []


def test_retry_intervals_are_bounded():
    for value in ([10**9], [1] * 11, [], [-1]):
        with pytest.raises(ConfigError, match=r"queue\.retry_intervals_s"):
            load_settings(overrides={"queue.retry_intervals_s": value}, use_env=False)


# --------------------------------------------------------------------------- files


def test_record_into_a_place_that_cannot_hold_files_exits_2(tmp_path: Path):
    clean_exit(scan("--record", "/proc/x"), names="--record /proc/x")
    (tmp_path / "a-file").write_text("")
    clean_exit(scan("--record", str(tmp_path / "a-file" / "sub")), names="cannot write")


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (None, "No such file"),
        (b"\xff\xfe\x00garbage", "binary data"),
        (b"PK\x03\x04xlsx", "save or export it as CSV"),
        (b"", "line 1: the file is empty"),
        (b"name,amount\nAAPL,100\n", "line 1: not a positions export"),
    ],
)
def test_a_bad_holdings_file_exits_2_naming_it(tmp_path: Path, body, names):
    """A file that is no positions export at all exits 2 naming the key, the file and
    the line. (A single bad row is skipped and reported instead: test_positions.py.)"""
    path = tmp_path / "holdings.csv"
    if body is not None:
        path.write_bytes(body)
    proc = scan("--strategy", "cc", "--set", f'holdings.file="{path}"')
    clean_exit(proc, names=names)
    assert "holdings.file" in proc.stderr


def test_a_nan_cost_basis_cannot_switch_off_the_guard(tmp_path: Path):
    """Before: ``nan`` compared false with every strike, so calls below the cost basis
    passed. Now such a row is skipped as ``bad_number`` (test_positions.py), and a good
    file keeps the guard."""
    path = tmp_path / "holdings.csv"
    path.write_text("symbol,shares,cost_basis\nAAPL,200,100000\n")
    proc = scan("--strategy", "cc", "--set", f'holdings.file="{path}"', "--format", "json")
    assert proc.returncode == 0, proc.report
    assert '"below_cost_basis"' in proc.stdout
    assert '"opportunities": []' in proc.stdout


# --------------------------------------------------------------------------- the guard


def _crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    import optscan.scan

    def boom(*_args, **_kwargs):
        raise RuntimeError("boom at redis://:s3cret-pw@redis-host:6379/0\nsecond line")

    monkeypatch.setattr(optscan.scan, "perform_scan", boom)


def test_an_unhandled_error_is_one_scrubbed_line_and_exit_1(monkeypatch):
    _crashing(monkeypatch)
    proc = scan()
    clean_exit(proc, 1, names="error: RuntimeError: boom at redis://")
    assert "s3cret-pw" not in proc.text
    assert "second line" in proc.stderr  # one line: the newline is gone, not the text


def test_log_level_debug_shows_the_traceback(monkeypatch):
    _crashing(monkeypatch)
    proc = scan("--log-level", "debug")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "boom at" in proc.stderr
    assert "s3cret-pw" not in proc.text


def test_clicks_own_usage_errors_still_exit_2():
    proc = invoke("scan", "--no-such-option")
    assert proc.returncode == 2 and "No such option" in proc.stderr, proc.report
    assert "Traceback" not in proc.text


@pytest.mark.slow  # two interpreters start: about 2 s
def test_a_real_process_shows_one_line_and_the_exit_code(tmp_path: Path):
    """The guard in the real entry point (``python -m optscan`` and the console script
    share ``main``): a crash and a bad file, each one line on stderr."""
    import subprocess
    import sys

    crash = (
        "import sys, optscan.scan as s\n"
        "def boom(*a, **k): raise KeyError('boom')\n"
        "s.perform_scan = boom\n"
        "from optscan.cli import main\n"
        "sys.argv = ['optscan', 'scan', '--provider', 'sim', '--symbols', 'AAPL']\n"
        "main()\n"
    )
    (tmp_path / "latin1.toml").write_bytes("x = 'd\xe9faut'\n".encode("latin-1"))
    runs = [
        ([sys.executable, "-c", crash], 1, "optscan: error: KeyError: 'boom'"),
        (
            [sys.executable, "-m", "optscan", "--config", "latin1.toml", "plugins"],
            2,
            "not UTF-8",
        ),
    ]
    for command, code, text in runs:
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == code, done.stderr
        assert done.stdout == "" and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and text in done.stderr, done.stderr


# --------------------------------------------------------------------------- found nearby


@pytest.mark.parametrize(
    ("cron", "names"),
    [
        ("0 0 31 2 *", "never fires"),  # crashed: AttributeError on the missing next run
        ("* * * * * * *", "expected 5 fields"),  # crontab's seconds: a scan every second
        ("60 25 * * *", "out of range"),
    ],
)
def test_a_cron_that_cannot_serve_exits_2_before_redis(cron, names):
    proc = invoke(
        "schedule", "add", "--provider", "sim", "--symbols", "AAPL", "--cron", cron,
        env={"OPTSCAN_REDIS_URL": CLOSED_REDIS},
    )  # fmt: skip
    clean_exit(proc, names=names)


def test_a_stored_result_that_cannot_be_read_exits_1(redis_url):
    """A result stored by another version (or damaged: 0.1.0 could store an infinite
    return) is named, not a crash; its JSON is still printed valid."""
    import json as json_

    import redis as redis_py

    env = {"OPTSCAN_REDIS_URL": redis_url}
    scan = invoke(
        "scan", "--provider", "sim", "--symbols", "AAPL", "--as-of", OPEN_INSTANT.isoformat(),
        "--sink", "redis", env=env,
    )  # fmt: skip
    assert scan.returncode == 0, scan.report
    client = redis_py.Redis.from_url(redis_url)
    stored = json_.loads(client.hget("optscan:results:default", "result"))
    stored["opportunities"][0]["annualized_return"] = float("inf")  # json writes Infinity
    client.hset("optscan:results:default", "result", json_.dumps(stored))
    clean_exit(invoke("results", env=env), 1, names="the stored result cannot be read")
    shown = invoke("results", "--format", "json", env=env)
    assert shown.returncode == 0
    assert (
        json_.loads(shown.stdout, parse_constant=pytest.fail)["opportunities"][0][
            "annualized_return"
        ]
        is None
    )


def test_a_crash_in_optscan_is_not_blamed_on_the_provider(monkeypatch):
    """``scan.max_dte=3000000`` once failed every symbol as ``plugin 'optscan.providers':
    OverflowError``: optscan's own date arithmetic broke, not the provider. A crash of
    the provider's code is the plugin's (``tests/test_scan.py``); one of optscan's is
    ``error`` and says what it was."""
    import optscan.analytics.screen

    def broken(*_args, **_kwargs):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(optscan.analytics.screen, "screen_chain", broken)
    proc = scan("--format", "json")
    assert proc.returncode == 1, proc.report
    import json as json_

    (outcome,) = json_.loads(proc.stdout)["symbols"]
    assert outcome["reason"] == "error"
    assert outcome["error"] == "OverflowError: date value out of range"
    assert "symbol_crashed" in proc.stderr and "Traceback" not in proc.stderr
    debug = scan("--format", "json", "--log-level", "debug")
    assert "Traceback" in debug.stderr  # for developers
