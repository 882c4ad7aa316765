"""A scan's own price reaches every symbol outcome, and a queued scan's valuation uses it,
never the price in fundamentals cached for days; errors printed after their symbol do
not repeat it."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from optscan.errors import ImplausibleFundamentalsError
from optscan.fundamentals import Fundamentals
from optscan.models import ScanRequest
from optscan.plugins import PluginHost
from optscan.scan import perform_scan
from optscan.symbols import without_symbol

from .helpers import OPEN_INSTANT, make_settings


def test_every_scanned_symbol_carries_its_chains_underlying_price():
    result = perform_scan(
        ScanRequest(provider="sim", symbols=["AAPL", "MSFT", "NOPE"], as_of=OPEN_INSTANT),
        PluginHost(load_entrypoints=False),
        settings=make_settings(**{"providers.sim.no_options": ["NOPE"]}),
    )
    by_symbol = {s.symbol: s for s in result.symbols}
    for o in result.opportunities:
        assert by_symbol[o.symbol].underlying_price == o.underlying_price
    assert by_symbol["MSFT"].underlying_price and by_symbol["MSFT"].underlying_price > 0
    assert by_symbol["NOPE"].status == "failed" and by_symbol["NOPE"].underlying_price is None
    again = type(result).model_validate_json(result.model_dump_json())
    assert again.symbols == result.symbols  # survives the queue's JSON round trip


def test_a_queued_scan_prices_the_valuation_at_its_chain_not_the_cached_fundamentals(tmp_path):
    optscan_valuation = pytest.importorskip("optscan_valuation")
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
    runtime = JobRuntime(
        make_host=lambda s: PluginHost.from_settings(
            s, load_entrypoints=False, plugins=[optscan_valuation]
        )
    )

    def queued() -> dict[str, Any]:
        req = ScanRequest(
            provider="sim",
            symbols=["AAPL"],
            as_of=OPEN_INSTANT,
            overrides={"enrichers.enabled": ["valuation"]},
        )
        with use_runtime(runtime):
            scan_id, _ = enqueue_scan(redis, req, prefix="optscan:", cfg=cfg)
            run_jobs(redis)
        result = ScanStore(redis, Keys("optscan:"), cfg).result(scan_id)
        assert result is not None and result["errors"] == []
        return result

    first = queued()
    key = "optscan:fundamentals:sim:AAPL"
    cached = json.loads(redis.get(key))
    # a week later the cached price is stale: the chain says otherwise
    redis.set(key, json.dumps({**cached, "price": 150.0}), keepttl=True)
    second = queued()
    (aapl,) = second["symbols"]
    chain_price = aapl["underlying_price"]
    assert chain_price == first["symbols"][0]["underlying_price"] != 150.0
    assert all(o["underlying_price"] == chain_price for o in second["opportunities"])
    facts = aapl["extras"]["valuation"]
    assert facts["price"] == chain_price
    value = facts["intrinsic_value"]
    assert facts["margin_of_safety_pct"] == pytest.approx(
        (value - chain_price) / value * 100, abs=0.01
    )
    assert f"price {chain_price:,.2f}" in facts["summary"] and "150.00" not in facts["summary"]
    assert facts == first["symbols"][0]["extras"]["valuation"]


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        ("AAPL: no listed options", "no listed options"),
        ("AAPL fundamentals: unreadable recording", "fundamentals: unreadable recording"),
        ("AAPL fundamentals not recorded (x)", "fundamentals not recorded (x)"),
        ("Yahoo has no fundamentals (AAPL)", "Yahoo has no fundamentals (AAPL)"),
        ("AAPLX: not ours", "AAPLX: not ours"),
        ("", ""),
    ],
)
def test_an_error_shown_after_its_symbol_does_not_repeat_it(error, shown):
    assert without_symbol(error, "AAPL") == shown


def test_optscan_status_lists_failures_without_repeating_the_symbol():
    from optscan.cli.output import status_lines

    lines = status_lines(
        {
            "scan_id": "s1",
            "profile": "default",
            "state": "finished",
            "symbols_done": 2,
            "symbols_total": 2,
            "symbols_failed": 1,
            "failures": {"NOPE": "NOPE: no listed options"},
        }
    )
    assert "  NOPE: no listed options" in lines


def test_fundamentals_refuse_bad_numbers_from_any_provider_and_any_cache():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Fundamentals(symbol="X", provider="t", price=10.0, eps_ttm=1e300)
    assert caught.value.errors()[0]["type"] == "bad_number"
    # a cached copy from before the check is not used: it is fetched again
    from optscan.scan.enrich import FundamentalsFetcher

    fetcher = FundamentalsFetcher.__new__(FundamentalsFetcher)
    stale = {"symbol": "X", "provider": "t", "price": 10.0, "eps_ttm": 1e300}
    assert fetcher._cached("X", stale) is None


def test_a_third_party_transform_with_bad_numbers_is_a_bad_number_not_a_plugin_bug():
    from optscan.protocols import ProviderConfig
    from optscan.scan.fetch import ProviderClient

    class Careless:
        name = "careless"

        def extract_fundamentals(self, symbol: str) -> Any:
            return {"eps": 1e300}

        def transform_fundamentals(self, raw: Any, symbol: str) -> Fundamentals:
            return Fundamentals(symbol=symbol, provider="careless", eps_ttm=raw["eps"])

    client = ProviderClient(cast(Any, Careless()), ProviderConfig(), plugin="careless")
    with pytest.raises(ImplausibleFundamentalsError, match="EPS 1e\\+300") as caught:
        client.fundamentals("AAPL")
    assert caught.value.reason == "bad_number"
