"""The two hooks a plugin needs to add value: ``register_enrichers`` and ``register_commands``,
and the provider's optional fundamentals part they read through the core's client."""

from __future__ import annotations

import csv
import json
from typing import Any

import click
import pytest
from click.testing import CliRunner

from optscan.events import PluginFailed
from optscan.fundamentals import Fundamentals
from optscan.hookspecs import hookimpl
from optscan.models import ScanRequest, ScanResult
from optscan.plugins import PluginHost
from optscan.protocols import Enricher, Enrichment, PluginConfig
from optscan.scan import perform_scan

from .helpers import OPEN_INSTANT, Recorder, make_settings


class MarkConfig(PluginConfig):
    word: str = "seen"


class Mark(Enricher[MarkConfig]):
    """Marks every opportunity and symbol; reads the fundamentals of each symbol."""

    name = "mark"

    def fundamentals_ttl(self) -> float | None:
        return 3600

    def enrich(self, opportunities, symbols, context):
        fetched = context.fundamentals.get([s.symbol for s in symbols], ttl_s=3600)
        return Enrichment(
            opportunities={o.contract_symbol: {"word": self.config.word} for o in opportunities},
            symbols={
                s.symbol: {
                    "eps": fetched[s.symbol].fundamentals.eps_ttm
                    if fetched[s.symbol].fundamentals
                    else None,
                    "error": fetched[s.symbol].error,
                }
                for s in symbols
            },
        )


class Broken(Enricher[PluginConfig]):
    name = "broken"

    def enrich(self, opportunities, symbols, context):
        raise RuntimeError("enricher bug")


class NotJson(Enricher[PluginConfig]):
    name = "notjson"

    def enrich(self, opportunities, symbols, context):
        return Enrichment(
            opportunities={o.contract_symbol: {"x": float("nan")} for o in opportunities}
        )


class Enrichers:
    __name__ = "enrichers-test"

    @hookimpl
    def register_enrichers(self, register):
        register(Mark)
        register(Broken)
        register(NotJson)


def _scan(enabled: list[str], *, plugins: tuple[Any, ...] = (), **overrides: Any) -> ScanResult:
    host = PluginHost(load_entrypoints=False, plugins=[Enrichers(), *plugins])
    settings = make_settings(**{"enrichers.enabled": enabled, **overrides})
    request = ScanRequest(provider="sim", symbols=["AAPL", "XYZ"], as_of=OPEN_INSTANT)
    return perform_scan(request, host, settings=settings)


def test_an_enricher_adds_facts_that_survive_the_json_round_trip():
    result = _scan(["mark"], **{"enrichers.mark.word": "hello"})
    assert result.success and result.errors == []
    assert result.opportunities
    assert all(o.extras == {"mark": {"word": "hello"}} for o in result.opportunities)
    assert {s.symbol: s.extras["mark"]["error"] for s in result.symbols} == {
        "AAPL": None,
        "XYZ": None,
    }
    assert all(isinstance(s.extras["mark"]["eps"], float) for s in result.symbols)
    document = result.to_json_dict()  # what sinks, Redis and the queue carry
    document.pop("scanned_count")
    again = ScanResult.model_validate_json(json.dumps(document))
    assert again.opportunities == result.opportunities and again.symbols == result.symbols


def test_enrichers_run_only_when_enabled_and_an_unknown_name_is_a_warning():
    result = _scan([])
    assert all(o.extras == {} for o in result.opportunities)
    result = _scan(["nosuch"])
    assert result.success and all(o.extras == {} for o in result.opportunities)
    host = PluginHost(load_entrypoints=False, plugins=[Enrichers()])
    warnings = host.validate_settings(make_settings(**{"enrichers.enabled": ["nosuch"]}))
    assert "enrichers.enabled: no installed enricher 'nosuch'" in warnings


def test_a_failing_enricher_is_reported_like_a_failing_sink():
    recorder = Recorder()
    result = _scan(["broken", "notjson", "mark"], plugins=(recorder,))
    assert result.success
    assert result.errors[0] == (
        "enricher 'broken' (plugin 'enrichers-test') failed: RuntimeError: enricher bug"
    )
    assert result.errors[1].startswith("enricher 'notjson' (plugin 'enrichers-test') failed: ")
    assert "not a finite number" in result.errors[1]
    assert len(result.errors) == 2
    # the failing ones left no facts; the good one after them still ran
    assert all(set(o.extras) == {"mark"} for o in result.opportunities)
    failed = [e for e in recorder.events if isinstance(e, PluginFailed)]
    assert [(e.plugin, e.hook) for e in failed] == [("enrichers-test", "enrich")] * 2


def test_extras_refuse_what_json_cannot_hold():
    from pydantic import ValidationError

    from optscan.models import SymbolOutcome

    SymbolOutcome(symbol="AAPL", status="ok", extras={"p": {"a": [1, "x", None, {"b": 2.5}]}})
    for bad in ({"p": {"a": float("inf")}}, {"p": {"a": object()}}, {"p": "text"}):
        with pytest.raises(ValidationError):
            SymbolOutcome(symbol="AAPL", status="ok", extras=bad)


# --------------------------------------------------------------------------- fundamentals


def _client(**config: Any) -> Any:
    from optscan.scan.fetch import ProviderClient

    host = PluginHost(load_entrypoints=False)
    settings = make_settings(**{f"providers.sim.{k}": v for k, v in config.items()})
    provider = host.instantiate("providers", "sim", settings)
    provider.as_of = OPEN_INSTANT
    return ProviderClient(provider, provider.config, plugin="optscan.providers")


def test_fundamentals_go_through_the_client_with_its_retries_and_signals():
    from optscan.scan.enrich import FundamentalsFetcher

    client = _client(rate_limited=["AAPL"], retry_initial_s=0.0, retry_max_s=0.0)
    found = client.fundamentals("AAPL")  # the first request is refused with a 429
    assert isinstance(found, Fundamentals) and found.symbol == "AAPL"
    assert client.retries == 1
    refused = FundamentalsFetcher(_client(auth_refused=["AAPL"])).get(["AAPL"])["AAPL"]
    assert refused.fundamentals is None and refused.reason == "auth_failed"
    missing = FundamentalsFetcher(_client(no_options=["NOPE"])).get(["NOPE"])["NOPE"]
    assert missing.reason == "no_fundamentals"


def test_a_symbol_asked_twice_costs_one_request():
    from optscan.scan.enrich import FundamentalsFetcher

    client = _client()
    fetcher = FundamentalsFetcher(client)
    fetcher.get(["AAPL", "AAPL", "XYZ"])
    fetcher.get(["AAPL"])
    assert client.provider.requests == 2


def test_fundamentals_are_recorded_and_replayed(tmp_path):
    host = PluginHost(load_entrypoints=False, plugins=[Enrichers()])
    settings = make_settings(**{"enrichers.enabled": ["mark"]})
    live = perform_scan(
        ScanRequest(provider="sim", symbols=["AAPL"], as_of=OPEN_INSTANT, record_dir=str(tmp_path)),
        host,
        settings=settings,
    )
    path = tmp_path / "sim" / "AAPL" / "fundamentals.json"
    assert json.loads(path.read_text())["symbol"] == "AAPL"
    replayed = perform_scan(
        ScanRequest(provider="sim", replay_dir=str(tmp_path)), host, settings=settings
    )
    assert replayed.symbols[0].extras == live.symbols[0].extras
    path.unlink()
    gone = perform_scan(
        ScanRequest(provider="sim", replay_dir=str(tmp_path)), host, settings=settings
    )
    assert gone.success and "not recorded" in gone.symbols[0].extras["mark"]["error"]


def test_a_provider_without_fundamentals_says_so_once_per_symbol():
    from optscan.protocols import OptionProvider, provides_fundamentals

    class Bare(OptionProvider):
        name = "bare"

        def extract_expirations(self, symbol): ...
        def transform_expirations(self, raw, symbol): ...
        def extract_chain(self, symbol, expiration, listing): ...
        def transform_chain(self, raw, symbol, expiration): ...

    assert not provides_fundamentals(Bare(Bare.Config()))
    assert provides_fundamentals(_client().provider)


# --------------------------------------------------------------------------- queued scans


def test_the_aggregator_enriches_and_caches_fundamentals_in_redis_with_a_ttl(tmp_path):
    fakeredis = pytest.importorskip("fakeredis")
    pytest.importorskip("lupa")
    from optscan.config import QueueSection
    from optscan.queue.connection import Keys
    from optscan.queue.enqueue import enqueue_scan
    from optscan.queue.jobs import JobRuntime, use_runtime
    from optscan.queue.store import ScanStore

    from .helpers import run_jobs

    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    cfg = QueueSection(batch_size=1)
    log = tmp_path / "requests.log"
    runtime = JobRuntime(
        make_host=lambda s: PluginHost.from_settings(
            s, load_entrypoints=False, plugins=[Enrichers()]
        )
    )

    def queued() -> dict[str, Any]:
        req = ScanRequest(
            provider="sim",
            symbols=["AAPL", "XYZ"],
            as_of=OPEN_INSTANT,
            overrides={"enrichers.enabled": ["mark"], "providers.sim.request_log": str(log)},
        )
        with use_runtime(runtime):
            scan_id, _ = enqueue_scan(redis, req, prefix="optscan:", cfg=cfg)
            run_jobs(redis)
        result = ScanStore(redis, Keys("optscan:"), cfg).result(scan_id)
        assert result is not None
        return result

    first = queued()
    assert first["errors"] == []
    # each batch fetched its symbol's fundamentals ahead (one request each), in turn
    asked = [line.split()[2:4] for line in log.read_text().splitlines()]
    assert asked.count(["AAPL", "fundamentals"]) == asked.count(["XYZ", "fundamentals"]) == 1
    assert asked.index(["AAPL", "fundamentals"]) < asked.index(["XYZ", "expirations"])
    assert all(o["extras"] == {"mark": {"word": "seen"}} for o in first["opportunities"])
    key = "optscan:fundamentals:sim:AAPL"
    cached = json.loads(redis.get(key))
    assert cached["symbol"] == "AAPL" and 3590 <= redis.ttl(key) <= 3600
    # the next scan reads the cache (the fundamentals, not what a plugin made of them)
    redis.set(key, json.dumps({**cached, "eps_ttm": 1.25}), keepttl=True)
    second = queued()
    asked = [line.split()[2:4] for line in log.read_text().splitlines()]
    assert asked.count(["AAPL", "fundamentals"]) == 1  # the cache answered
    aapl = next(s for s in second["symbols"] if s["symbol"] == "AAPL")
    assert aapl["extras"]["mark"]["eps"] == 1.25
    embedded = _scan(["mark"])
    assert [o["extras"] for o in first["opportunities"]] == [
        o.extras for o in embedded.opportunities
    ]


# --------------------------------------------------------------------------- commands


@click.command()
def hello() -> None:
    """Say hello (a plugin's command)."""
    click.echo("hello from a plugin")


@click.command("scan")
def fake_scan() -> None:
    """Would shadow the built-in scan."""


class Commands:
    __name__ = "commands-test"

    @hookimpl
    def register_commands(self, cli):
        cli.add_command(hello)
        cli.add_command(fake_scan)


def test_register_commands_adds_commands_and_refuses_a_builtin_name():
    from optscan.cli import cli

    host = PluginHost(load_entrypoints=False, plugins=[Commands()])
    group = click.Group("optscan", commands={"scan": cli.commands["scan"]})
    owners = host.add_commands(group, reserved=set(group.commands))
    assert owners == {"hello": "commands-test"}
    assert group.commands["scan"] is cli.commands["scan"]  # not replaced
    assert [(f.plugin, f.stage) for f in host.failures] == [("commands-test", "register_commands")]
    assert "command 'scan' is already a built-in one" in host.failures[0].error
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"
    described = host.describe(reserved={"scan"})
    mine = next(p for p in described["plugins"] if p["name"] == "commands-test")
    assert mine["commands"] == ["hello"] and mine["hooks"] == ["register_commands"]


def test_the_command_line_adds_entry_point_commands_lazily(monkeypatch):
    import importlib.metadata
    from importlib.metadata import EntryPoint

    from optscan.cli import cli

    def entry_points(group: str | None = None, **_kw):
        eps = [EntryPoint("cmds", "tests.test_enrichment:commands_plugin", "optscan")]
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.setattr(cli, "_plugins_added", False, raising=False)
    monkeypatch.setattr(cli, "_builtin", None, raising=False)
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    done = CliRunner().invoke(cli, ["hello"])
    assert done.exit_code == 0 and done.output == "hello from a plugin\n"
    assert cli.commands["scan"].callback is not fake_scan.callback
    listed = CliRunner().invoke(cli, ["--help"])
    assert "hello" in listed.output
    del cli.commands["hello"]
    cli._plugins_added = False
    monkeypatch.setenv("OPTSCAN_PLUGINS__DISABLED", '["cmds"]')
    done = CliRunner().invoke(cli, ["hello"])
    assert done.exit_code == 2 and "No such command" in done.output


commands_plugin = Commands()


# --------------------------------------------------------------------------- yfinance


@pytest.mark.parametrize(
    ("raw", "error", "reason"),
    [
        (
            {"error_answer": None},  # replaced below by a real 404 error answer
            "FundamentalsUnavailableError",
            "no_fundamentals",
        ),
        ({"quoteSummary": {"result": [], "error": None}}, "FundamentalsUnavailableError", None),
        ({"quoteSummary": {"result": [{}], "error": None}}, "FundamentalsUnavailableError", None),
        ({"quoteSummary": {"result": ["x"], "error": None}}, "MalformedPayloadError", None),
        ({"nope": 1}, "MalformedPayloadError", "malformed_payload"),
    ],
)
def test_yahoos_fundamentals_errors_map_to_the_right_errors(raw, error, reason):
    from optscan.http_answers import error_answer

    yahoo = PluginHost(load_entrypoints=False).get_class("providers", "yfinance")
    if "error_answer" in raw:
        body = {"quoteSummary": {"result": None, "error": {"code": "Not Found"}}}
        raw = error_answer(404, {}, body)
    with pytest.raises(Exception) as caught:
        yahoo(yahoo.Config()).transform_fundamentals(raw, "ZZZZ")
    assert type(caught.value).__name__ == error
    if reason:
        assert caught.value.reason == reason


def test_yahoos_rate_limit_and_refusal_are_the_core_signals():
    from optscan.errors import AuthenticationError, RateLimitedError
    from optscan.http_answers import error_answer

    yahoo = PluginHost(load_entrypoints=False).get_class("providers", "yfinance")
    provider = yahoo(yahoo.Config())
    with pytest.raises(RateLimitedError) as limited:
        provider.transform_fundamentals(error_answer(429, {"Retry-After": "7"}, None), "AAPL")
    assert limited.value.retry_after == 7
    with pytest.raises(AuthenticationError):
        provider.transform_fundamentals(error_answer(401, {}, "no"), "AAPL")


def test_check_fundamentals_holds_for_sim_and_names_a_broken_transform():
    from optscan import check_fundamentals

    sim = _client().provider
    found = check_fundamentals(sim, "AAPL", sim.extract_fundamentals("AAPL"))
    assert found.price is not None and found.currency == "USD"

    class Wrong(type(sim)):
        def transform_fundamentals(self, raw, symbol):
            return super().transform_fundamentals(raw, "MSFT")

    wrong = Wrong(sim.config)
    wrong.as_of = OPEN_INSTANT
    with pytest.raises(AssertionError, match="asked for AAPL, got fundamentals of MSFT"):
        check_fundamentals(wrong, "AAPL", sim.extract_fundamentals("AAPL"))


def test_a_fundamentals_request_draws_on_the_rate_limit_like_a_chain_request():
    from optscan.scan.fetch import ProviderClient

    class Counting:
        def __init__(self) -> None:
            self.taken: list[str] = []

        def try_acquire(self, name: str) -> bool:
            self.taken.append(name)
            return True

    sim = _client().provider
    limiter = Counting()
    client = ProviderClient(sim, sim.config, plugin="optscan.providers", limiter=limiter)
    client.expirations("AAPL")
    client.fundamentals("AAPL")
    assert limiter.taken == ["optscan.providers", "optscan.providers"]  # one token each


# --------------------------------------------------------------------------- output


class Badger(Enricher[PluginConfig]):
    name = "badger"

    def enrich(self, opportunities, symbols, context):
        return Enrichment(
            opportunities={
                o.contract_symbol: {"risk_badge": "calm", "score": 1.5} for o in opportunities
            },
            symbols={s.symbol: {"summary": f"{s.symbol} looks calm"} for s in symbols},
        )


class Badgers:
    __name__ = "badgers"

    @hookimpl
    def register_enrichers(self, register):
        register(Badger)


def test_facts_show_in_the_table_and_the_csv():
    import io

    from optscan.output.columns import parse_columns
    from optscan.output.csvdoc import result_csv
    from optscan.output.table import print_table

    result = _scan(["badger"], plugins=(Badgers(),))
    out = io.StringIO()
    print_table(result, file=out, width=80)
    text = out.getvalue()
    header = next(line for line in text.splitlines() if "Symbol" in line)
    assert header.split()[-1] == "Risk"  # the badge column, kept at 80 columns
    assert "calm" in text and "badger.score" not in header
    assert "badger AAPL: AAPL looks calm" in text  # the symbol's summary fact
    rows = list(csv.DictReader(io.StringIO(result_csv(result))))
    assert rows[0]["badger.risk_badge"] == "calm" and rows[0]["badger.score"] == "1.50"
    chosen = parse_columns("symbol,badger.risk_badge")
    assert [c.key for c in chosen] == ["symbol", "badger.risk_badge"]
    rows = list(csv.DictReader(io.StringIO(result_csv(result, chosen))))
    assert set(rows[0]) == {"symbol", "badger.risk_badge"}
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        parse_columns("symbol,nope")
