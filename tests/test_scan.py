"""perform_scan(): orchestration, events, isolation of failures, concurrency."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from optscan.default_plugins.providers.sim import SimProvider
from optscan.errors import SymbolNotFoundError, TransientProviderError, UsageError
from optscan.hookspecs import hookimpl
from optscan.models import ScanRequest
from optscan.plugins import PluginHost
from optscan.scan import perform_scan

from .helpers import OPEN_INSTANT, Recorder, make_settings

SATURDAY = dt.datetime(2026, 11, 21, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


def _scan(symbols, *, plugins=(), as_of=OPEN_INSTANT, **overrides):
    settings = make_settings(**{"scan.provider": "sim", **overrides})
    host = PluginHost(load_entrypoints=False, plugins=plugins)
    request = ScanRequest(symbols=symbols, as_of=as_of)
    return perform_scan(request, host, settings=settings)


def test_sim_scan_finds_opportunities_with_the_original_rule():
    result = _scan(["AAPL", "MSFT", "AMD"])
    assert result.success and result.synthetic
    assert [s.status for s in result.symbols] == ["ok", "ok", "ok"]
    assert result.opportunities, "the synthetic market should offer some puts"
    for opp in result.opportunities:
        assert opp.kind == "put"
        assert opp.annualized_return >= 30
        assert opp.delta >= -0.20
        assert opp.delta_source == "computed"
        days = max(opp.dte, 1)
        assert opp.annualized_return == pytest.approx(
            opp.bid / opp.strike * 365 / days * 100, rel=1e-3
        )
        assert 0 <= opp.dte <= 28
    # ranked best first
    returns = [o.annualized_return for o in result.opportunities]
    assert returns == sorted(returns, reverse=True)
    # every contract is accounted for: opportunity or counted rejection
    for outcome in result.symbols:
        assert outcome.contracts_seen == outcome.opportunities + sum(outcome.rejected.values())


def test_events_arrive_in_order():
    recorder = Recorder()
    _scan(["AAPL", "bad/sym", "MSFT"], plugins=[recorder])
    types = [e.type for e in recorder.events]
    assert types[0] == "scan_started" and types[-1] == "scan_finished"
    middle = recorder.events[1:-1]
    assert sorted(e.symbol for e in middle) == ["AAPL", "BAD/SYM", "MSFT"]
    assert [e.done for e in middle] == [1, 2, 3]
    assert all(e.total == 3 for e in middle)
    assert recorder.events[0].symbols_total == 3
    assert len({e.scan_id for e in recorder.events}) == 1


def test_invalid_symbols_are_skipped_and_the_rest_scan():
    result = _scan(["aapl", "../../etc/passwd", "$(id)", "", "AAPL", "TOOLONGSYMBOL1"])
    statuses = {s.symbol: s.status for s in result.symbols}
    assert statuses["AAPL"] == "ok"
    assert list(statuses).count("AAPL") == 1  # de-duplicated after upper-casing
    skipped = [s for s in result.symbols if s.status == "skipped"]
    assert len(skipped) == 4
    assert all(s.reason == "invalid_symbol" and s.error for s in skipped)
    assert result.success


class FlakyProvider(SimProvider):
    """Fails in chosen ways for chosen symbols."""

    name = "flaky"

    def extract_expirations(self, symbol):
        if symbol == "NOPE":
            raise SymbolNotFoundError(f"{symbol}: unknown symbol")
        if symbol == "DOWN":
            raise TransientProviderError("server down")
        if symbol == "CRASH":
            raise RuntimeError("provider bug")
        return super().extract_expirations(symbol)

    def transform_chain(self, raw, symbol, expiration):
        if symbol == "GARBAGE":
            return {"not": "a chain"}
        if symbol == "BADROWS":
            raw = dict(raw, strike=[-1.0] * len(raw["strike"]))
        return super().transform_chain(raw, symbol, expiration)


class FlakyPlugin:
    @hookimpl
    def register_option_providers(self, register):
        register(FlakyProvider)


def test_failing_symbols_are_isolated_and_reported():
    result = _scan(
        ["AAPL", "NOPE", "DOWN", "CRASH", "GARBAGE", "BADROWS"],
        plugins=[FlakyPlugin()],
        **{
            "scan.provider": "flaky",
            "providers.flaky.retry_initial_s": 0.0,
            "providers.flaky.retry_max_s": 0.0,
            "providers.flaky.ignore_market_hours": True,
        },
    )
    by = {s.symbol: s for s in result.symbols}
    assert by["AAPL"].status == "ok"
    assert by["NOPE"].status == "failed" and by["NOPE"].reason == "no_options"
    assert by["DOWN"].status == "failed" and "server down" in by["DOWN"].error
    assert by["CRASH"].reason == "plugin_error" and "FlakyPlugin" in by["CRASH"].error
    assert "FlakyPlugin" in by["GARBAGE"].error and "not an OptionChain" in by["GARBAGE"].error
    # every contract of every chain holds a strike no contract can have: the payload's
    # fault, not the plugin's (one such contract among good ones fails alone)
    assert by["BADROWS"].reason == "malformed_payload"
    assert "every contract holds values no quote can have" in by["BADROWS"].error
    assert "strike -1.0" in by["BADROWS"].error
    assert result.success  # one good symbol: the scan completed


def test_transient_errors_are_retried():
    result = _scan(
        [f"S{i}" for i in range(30)],
        **{
            "providers.sim.error_rate": 0.2,
            "providers.sim.retry_initial_s": 0.0,
            "providers.sim.retry_max_s": 0.0,
            "providers.sim.retry_attempts": 6,
        },
    )
    ok = sum(s.status == "ok" for s in result.symbols)
    assert ok >= 28  # P(6 straight failures) = 0.2**6 per request


def test_unknown_provider_or_strategy_is_a_usage_error():
    with pytest.raises(UsageError, match="available"):
        _scan(["AAPL"], **{"scan.provider": "nope"})
    with pytest.raises(UsageError, match="unknown strategy 'wild'; available: cc, csp"):
        _scan(["AAPL"], **{"scan.strategy": "wild"})


def test_closed_market_skips_unless_forced():
    recorder = Recorder()
    overrides = {"providers.sim.ignore_market_hours": False, "scan.calendar": "weekdays"}
    result = _scan(["AAPL"], plugins=[recorder], as_of=SATURDAY, **overrides)
    assert result.skipped and not result.success and not result.symbols
    assert "next open 2026-11-23T09:30:00-05:00" in result.message
    assert [e.type for e in recorder.events] == ["scan_skipped"]
    forced = _scan(["AAPL"], as_of=SATURDAY, **overrides)
    assert forced.skipped  # not forced yet
    settings = make_settings(**{"scan.provider": "sim", **overrides})
    host = PluginHost(load_entrypoints=False)
    forced = perform_scan(
        ScanRequest(symbols=["AAPL"], as_of=SATURDAY, force=True), host, settings=settings
    )
    assert forced.success and forced.outside_market_hours and not forced.skipped
    assert "outside market hours" in forced.message


def test_sim_ignores_market_hours_by_default():
    result = _scan(["AAPL"], as_of=SATURDAY, **{"scan.calendar": "weekdays"})
    assert result.success and result.outside_market_hours


class SlowProvider(SimProvider):
    """Counts requests in flight to check the concurrency bounds."""

    name = "slow"
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def _serve(self, symbol, what, answer):
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.peak = max(cls.peak, cls.in_flight)
        try:
            time.sleep(0.02)
            return answer()
        finally:
            with cls.lock:
                cls.in_flight -= 1


class SlowPlugin:
    @hookimpl
    def register_option_providers(self, register):
        register(SlowProvider)


@pytest.mark.parametrize(("concurrency", "cap", "expected"), [(8, 32, 8), (32, 3, 3)])
def test_concurrency_is_bounded_by_scan_and_provider(concurrency, cap, expected):
    SlowProvider.peak = 0
    _scan(
        [f"S{i}" for i in range(12)],
        plugins=[SlowPlugin()],
        **{
            "scan.provider": "slow",
            "scan.concurrency": concurrency,
            "providers.slow.max_concurrency": cap,
            "providers.slow.ignore_market_hours": True,
        },
    )
    assert SlowProvider.peak == expected


def test_results_do_not_depend_on_concurrency():
    """Overlapping requests change how fast a scan runs, never what it finds.

    That requests really overlap is asserted by counting them in flight
    (test_concurrency_is_bounded_by_scan_and_provider); how much faster that makes
    a scan is measured by `just bench`, not timed here."""
    symbols = [f"S{i}" for i in range(10)]
    over = {"providers.sim.latency_ms": 5, "scan.max_dte": 21}
    serial = _scan(symbols, **over, **{"scan.concurrency": 1})
    parallel = _scan(symbols, **over, **{"scan.concurrency": 20})
    assert serial.opportunities and serial.opportunities == parallel.opportunities
    assert [s.model_dump() for s in serial.symbols] == [s.model_dump() for s in parallel.symbols]


def test_sinks_receive_the_result_and_a_failing_sink_is_reported(tmp_path):
    received = []

    class Collect(__import__("optscan.protocols").protocols.ResultSink):
        name = "collect"

        def publish(self, result):
            received.append(result.scan_id)

    class Broken(__import__("optscan.protocols").protocols.ResultSink):
        name = "broken"

        def publish(self, result):
            raise OSError("disk full")

    class Sinks:
        @hookimpl
        def register_result_sinks(self, register):
            register(Collect)
            register(Broken)

    result = _scan(
        ["AAPL"],
        plugins=[Sinks()],
        **{
            "sinks.enabled": ["broken", "collect", "json"],
            "sinks.json.path": str(tmp_path / "out-{profile}.json"),
        },
    )
    assert received == [result.scan_id]
    assert any("broken" in e and "disk full" in e for e in result.errors)
    assert (tmp_path / "out-default.json").is_file()
    assert result.success


def test_file_source(tmp_path):
    listing = tmp_path / "symbols.txt"
    listing.write_text("# my list\naapl\nMSFT  # big tech\n\n../bad\n")
    result = _scan(None, **{"sources.enabled": ["file"], "sources.file.path": str(listing)})
    assert [(s.symbol, s.status) for s in result.symbols] == [
        ("../BAD", "skipped"),
        ("AAPL", "ok"),
        ("MSFT", "ok"),
    ]
    csv_file = tmp_path / "symbols.csv"
    csv_file.write_text("name,symbol\nApple,AAPL\nAMD,amd\n")
    result = _scan(None, **{"sources.enabled": ["file"], "sources.file.path": str(csv_file)})
    assert [s.symbol for s in result.symbols] == ["AAPL", "AMD"]


def test_scan_is_deterministic_on_sim():
    first = _scan(["AAPL", "NVDA"])
    second = _scan(["AAPL", "NVDA"])
    assert first.opportunities == second.opportunities


@pytest.mark.parametrize(
    ("symbols", "as_of"),
    [
        (["AAPL", "MSFT", "BAD$", "BTC-USD"], OPEN_INSTANT),  # opportunities, failures
        (["AAPL"], dt.datetime(2026, 11, 26, 11, 0, tzinfo=OPEN_INSTANT.tzinfo)),  # skipped
    ],
)
def test_streamed_json_is_the_json_contract_byte_for_byte(symbols, as_of):
    """The CLI streams ``--format json`` a row at a time; it must print exactly what
    ``json.dumps(result.to_json_dict(), indent=2)`` would."""
    import io
    import json

    from optscan.output.jsondoc import result_json, write_result_json

    settings = make_settings(**{"providers.sim.ignore_market_hours": False})
    request = ScanRequest(provider="sim", symbols=symbols, as_of=as_of)
    result = perform_scan(request, PluginHost(load_entrypoints=False), settings=settings)
    expected = json.dumps(result.to_json_dict(), indent=2, allow_nan=False)
    out = io.StringIO()
    write_result_json(result, out)
    assert out.getvalue() == expected == result_json(result)
    assert result_json(result, indent=None) == json.dumps(result.to_json_dict())


@pytest.mark.parametrize(("concurrency", "expected"), [(1, 4), (8, 16), (32, 64), (256, 64)])
def test_symbols_in_flight_are_bounded_whatever_the_concurrency(monkeypatch, concurrency, expected):
    """Memory grows with the symbols in flight (each holds its chains until screened):
    2 x scan.concurrency of them, never more than MAX_SYMBOLS_IN_FLIGHT (the
    3,000-symbol scan at the maximum concurrency is in test_scale.py)."""
    import asyncio
    import types

    from optscan.models import SymbolOutcome
    from optscan.scan import per_symbol

    active = peak = 0

    async def counted(ctx, symbol, executor):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.001)
        active -= 1
        return SymbolOutcome(symbol=symbol, status="ok"), []

    monkeypatch.setattr(per_symbol, "scan_symbol", counted)
    settings = make_settings(**{"scan.concurrency": concurrency})
    ctx = types.SimpleNamespace(settings=settings, client=types.SimpleNamespace(plugin="x"))
    done = []
    results = per_symbol.run_symbols(ctx, [f"S{i:03d}" for i in range(300)], done.append)
    assert len(results) == len(done) == 300
    assert peak == expected <= per_symbol.MAX_SYMBOLS_IN_FLIGHT
