"""The valuation plugin's prices, its guard against bad data, per-symbol keys, errors
and the ``sim`` demo: each test is a defect a tester found, with the right answer.

* a scan's price and margin of safety come from the scan's own chain, never from the
  (cached or recorded) fundamentals; ``optscan value`` uses the fundamentals' price and
  says so (``price_source``);
* figures no stock can have (an EPS of 1e300) give no value and status ``bad_number``;
* every per-symbol key the README promises is accepted, under any class-share spelling;
* an error printed after its symbol does not repeat it;
* a default ``sim`` put scan shows ``good`` and ``high`` puts on one symbol.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from optscan_valuation.config import Assumptions, SymbolOverride, ValuationConfig
from optscan_valuation.model import value_of

from optscan import (
    ConfigError,
    Fundamentals,
    ImplausibleFundamentalsError,
    PluginHost,
    ScanRequest,
    load_settings,
    perform_scan,
)

NY = dt.timezone(dt.timedelta(hours=-5))
OPEN = dt.datetime(2026, 11, 18, 11, 0, tzinfo=NY)  # a Wednesday, mid-session
PLUGIN_DIR = Path(__file__).resolve().parents[1]


def host() -> PluginHost:
    import optscan_valuation

    return PluginHost(load_entrypoints=False, plugins=[optscan_valuation])


def scan(symbols: list[str] | None, *, req: dict[str, Any] | None = None, **overrides: Any) -> Any:
    request = ScanRequest(provider="sim", symbols=symbols, as_of=OPEN, **(req or {}))
    settings = load_settings(
        overrides={"enrichers.enabled": ["valuation"], **overrides}, use_env=False
    )
    return perform_scan(request, host(), settings=settings)


def _value(*args: str) -> subprocess.CompletedProcess[str]:
    """``optscan value`` as a user runs it (the entry points as installed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTSCAN_")}
    return subprocess.run(
        [sys.executable, "-m", "optscan", "value", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


# --------------------------------------------------------------------------- prices


def test_a_replayed_scan_prices_the_margin_of_safety_at_its_chain_not_the_fundamentals(
    tmp_path,
):
    record = tmp_path / "rec"
    live = scan(["AAPL"], req={"record_dir": str(record)})
    chain_price = live.opportunities[0].underlying_price
    assert live.symbols[0].underlying_price == chain_price  # the outcome carries it
    # the recorded fundamentals say 150: stale, as a week-old cache or recording is
    path = record / "sim" / "AAPL" / "fundamentals.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    body = raw.get("payload", raw) if isinstance(raw, dict) else raw
    body["price"] = 150.0
    path.write_text(json.dumps(raw), encoding="utf-8")
    replayed = scan(None, req={"replay_dir": str(record)})
    facts = replayed.symbols[0].extras["valuation"]
    assert facts["price"] == chain_price
    value = facts["intrinsic_value"]
    assert facts["margin_of_safety_pct"] == pytest.approx(
        (value - chain_price) / value * 100, abs=0.01
    )
    assert f"price {chain_price:,.2f}" in facts["summary"] and "150.00" not in facts["summary"]


def test_a_scan_never_prices_from_the_fundamentals_even_without_a_chain_price():
    from optscan_valuation.enricher import ValuationEnricher

    from optscan import Fetched, SymbolOutcome

    class Source:
        def get(self, symbols: list[str], *, ttl_s: float | None = None) -> dict[str, Fetched]:
            f = Fundamentals(symbol="AAPL", provider="t", price=150.0, eps_ttm=10.0)
            return {s: Fetched(s, f) for s in symbols}

    class Context:
        fundamentals = Source()

    enricher = ValuationEnricher(ValuationConfig())
    outcome = SymbolOutcome(symbol="AAPL", status="ok")  # no chain arrived, no price
    answer = enricher.enrich([], [outcome], cast(Any, Context()))
    facts = answer.symbols["AAPL"]
    assert facts["intrinsic_value"] == pytest.approx(203.99, abs=0.01)
    assert facts["price"] is None and facts["margin_of_safety_pct"] is None
    assert "price" not in facts["summary"]


def test_optscan_value_says_its_price_is_the_fundamentals(tmp_path):
    done = _value("--provider", "sim", "--symbols", "AAPL", "--format", "json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["values"]
    assert row["price_source"] == "fundamentals" and row["price"] > 0
    table = _value("--provider", "sim", "--symbols", "AAPL")
    assert "Price: what the fundamentals answer carried" in table.stdout


# --------------------------------------------------------------------------- bad data

YAHOO = {
    "quoteSummary": {
        "result": [
            {
                "financialData": {
                    "currentPrice": 225.12,
                    "freeCashflow": 110846001152,
                    "financialCurrency": "USD",
                },
                "defaultKeyStatistics": {
                    "trailingEps": 6.1,
                    "sharesOutstanding": 15115799552,
                },
                "summaryDetail": {"currency": "USD"},
            }
        ],
        "error": None,
    }
}


def yahoo(**changes: Any) -> dict[str, Any]:
    """Yahoo's answer (Apple's figures) with ``module__key=value`` changes."""
    body = copy.deepcopy(YAHOO)
    result = body["quoteSummary"]["result"][0]
    for key, value in changes.items():
        module, field = key.split("__")
        result[module][field] = value
    return body


def transform(body: Any, symbol: str = "AAPL") -> Fundamentals:
    cls = PluginHost(load_entrypoints=False).get_class("providers", "yfinance")
    return cls(cls.Config()).transform_fundamentals(body, symbol)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"defaultKeyStatistics__trailingEps": 1e300}, "EPS 1e+300"),
        ({"defaultKeyStatistics__trailingEps": -1e300}, "EPS -1e+300"),
        ({"defaultKeyStatistics__trailingEps": 2e6}, "EPS 2e+06"),
        ({"defaultKeyStatistics__trailingEps": 250_000.0}, "more than 1,000 x the price"),
        ({"defaultKeyStatistics__trailingEps": math.inf}, "EPS inf"),
        ({"financialData__freeCashflow": 1e300}, "FCF per share"),
        ({"defaultKeyStatistics__sharesOutstanding": -5}, "shares outstanding -5"),
        ({"defaultKeyStatistics__sharesOutstanding": 1e-300}, "shares outstanding"),
        ({"defaultKeyStatistics__sharesOutstanding": 1e20}, "shares outstanding 1e+20"),
        ({"financialData__currentPrice": 1e300}, "price 1e+300"),
        ({"financialData__currentPrice": -3.0}, "price -3"),
    ],
)
def test_figures_no_stock_can_have_are_bad_numbers(changes, named):
    with pytest.raises(ImplausibleFundamentalsError, match=re.escape(named)) as caught:
        transform(yahoo(**changes))
    assert caught.value.reason == "bad_number"
    assert str(caught.value).startswith("AAPL: bad fundamentals")


def test_real_extremes_are_plausible():
    # Berkshire's A shares: ~700,000 a share, EPS in the tens of thousands; losses stay
    brk = transform(
        yahoo(financialData__currentPrice=700_000.0, defaultKeyStatistics__trailingEps=60_000.0)
    )
    assert brk.eps_ttm == 60_000.0
    assert transform(yahoo(defaultKeyStatistics__trailingEps=-40.0)).eps_ttm == -40.0
    # Yahoo's 0 price or share count means "not known": no figure, no error
    unknown = transform(
        yahoo(financialData__currentPrice=0, defaultKeyStatistics__sharesOutstanding=0)
    )
    assert unknown.price is None and unknown.shares_outstanding is None
    assert unknown.fcf_per_share is None


def test_the_model_refuses_bad_numbers_from_any_provider():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Fundamentals(symbol="X", provider="t", price=10.0, eps_ttm=1e300)
    assert caught.value.errors()[0]["type"] == "bad_number"


def test_optscan_value_gives_no_value_for_bad_numbers_and_keeps_its_table_narrow(tmp_path):
    for symbol, body in (
        ("HUGE", yahoo(defaultKeyStatistics__trailingEps=1e300)),
        ("AAPL", YAHOO),
    ):
        folder = tmp_path / "yfinance" / symbol
        folder.mkdir(parents=True)
        (folder / "fundamentals.json").write_text(json.dumps(body), encoding="utf-8")
    done = _value("--provider", "yfinance", "--replay", str(tmp_path), "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["symbol"]: r for r in json.loads(done.stdout)["values"]}
    huge = rows["HUGE"]
    assert huge["status"] == "bad_number" and huge["intrinsic_value"] is None
    assert huge["eps_ttm"] is None and huge["margin_of_safety_pct"] is None
    assert huge["error"] == "bad fundamentals: EPS 1e+300 is larger " + ("than 1,000,000 a share")
    assert rows["AAPL"]["status"] == "ok"
    table = _value("--provider", "yfinance", "--replay", str(tmp_path))
    assert all(len(line) < 100 for line in table.stdout.splitlines()[:3])
    assert "HUGE: bad fundamentals" in table.stdout
    only_bad = _value("--provider", "yfinance", "--replay", str(tmp_path), "--symbols", "HUGE")
    assert only_bad.returncode == 1  # no usable fundamentals at all


def test_a_scan_with_bad_fundamentals_badges_n_a_and_succeeds(tmp_path):
    record = tmp_path / "rec"
    scan(["AAPL"], req={"record_dir": str(record)})
    path = record / "sim" / "AAPL" / "fundamentals.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    body = raw.get("payload", raw)
    body["eps_ttm"] = 1e300
    path.write_text(json.dumps(raw), encoding="utf-8")
    replayed = scan(None, req={"replay_dir": str(record)})
    assert replayed.success and replayed.errors == []
    assert replayed.opportunities
    assert {o.extras["valuation"]["value_badge"] for o in replayed.opportunities} == {"n/a"}
    facts = replayed.symbols[0].extras["valuation"]
    assert facts["intrinsic_value"] is None
    assert facts["summary"].startswith("no intrinsic value (bad fundamentals")
    assert "AAPL" not in facts["summary"]


# --------------------------------------------------------------------------- config


def test_every_assumption_can_be_set_per_symbol():
    assert set(SymbolOverride.model_fields) == set(Assumptions.model_fields)
    section = set(ValuationConfig.model_fields) - {"enabled"}
    assert section - set(SymbolOverride.model_fields) == {"symbols", "cache_ttl_s"}
    readme = (PLUGIN_DIR / "README.md").read_text(encoding="utf-8")
    assert "cache_ttl_s" in readme.split("per-symbol overrides")[1].split("```")[0]


def test_a_per_symbol_fallback_under_any_class_share_spelling():
    loss = Fundamentals(symbol="BRK-B", provider="t", price=50.0, eps_ttm=-1.0, fcf_per_share=2.0)
    for key in ("BRK.B", "BRK-B", "BRK/B", "brk.b"):
        config = ValuationConfig.model_validate({"symbols": {key: {"fallback": False}}})
        row = value_of(loss, config, price=50.0, price_source="fundamentals")
        assert row.intrinsic_value is None and row.status == "no_value", key
        assert config.for_symbol("BRK.B").fallback is False
        assert config.for_symbol("BRK-B").fallback is False
    # (a --set key is split at its dots: there, BRK/B or BRK-B spell it)
    for overrides in (
        {"enrichers.valuation.symbols": {"BRK.B": {"fallback": False}}},
        {"enrichers.valuation.symbols.BRK/B.fallback": False},
    ):
        settings = load_settings(overrides=overrides, use_env=False)
        config = host().plugin_config("enrichers", "valuation", settings)
        assert config.for_symbol("BRK.B").fallback is False


def test_two_spellings_of_one_symbol_are_a_config_error():
    settings = load_settings(
        overrides={"enrichers.valuation.symbols": {"BRK.B": {"years": 3}, "BRK-B": {"years": 4}}},
        use_env=False,
    )
    with pytest.raises(ConfigError, match=r"enrichers\.valuation\.symbols.*BRK-B"):
        host().plugin_config("enrichers", "valuation", settings)


def test_a_per_symbol_fallback_in_a_config_file_is_accepted(tmp_path):
    config = tmp_path / "optscan.toml"
    config.write_text(
        '[enrichers]\nenabled = ["valuation"]\n'
        '[enrichers.valuation.symbols."BRK.B"]\nfallback = false\nmethod = "fcf"\n',
        encoding="utf-8",
    )
    done = _value("--config", str(config), "--provider", "sim", "--symbols", "BRK.B")
    assert done.returncode == 0, done.stderr
    assert "unknown key" not in done.stderr


# --------------------------------------------------------------------------- errors


def test_optscan_value_does_not_repeat_the_symbol_in_its_errors(tmp_path):
    bodies = {
        "ERR": {"quoteSummary": {"result": None, "error": {"code": "Not Found"}}},
        "LIST": [1, 2],
        "EMPTY": None,
    }
    for symbol, body in bodies.items():
        folder = tmp_path / "yfinance" / symbol
        folder.mkdir(parents=True)
        text = "" if body is None else json.dumps(body)
        (folder / "fundamentals.json").write_text(text, encoding="utf-8")
    done = _value("--provider", "yfinance", "--replay", str(tmp_path))
    assert done.returncode == 1
    for symbol in bodies:
        assert f"{symbol}: {symbol}" not in done.stdout, done.stdout
    assert "ERR: Yahoo has no fundamentals (Not Found)" in done.stdout
    gone = _value("--provider", "yfinance", "--replay", str(tmp_path), "--symbols", "GONE")
    assert "GONE: fundamentals not recorded" in gone.stdout, gone.stdout
    rows = _value("--provider", "yfinance", "--replay", str(tmp_path), "--format", "json")
    for row in json.loads(rows.stdout)["values"]:
        assert not row["error"].startswith(row["symbol"]), row


# --------------------------------------------------------------------------- the sim demo


def test_a_default_sim_put_scan_shows_good_and_high_puts_on_one_symbol():
    result = scan(None, req={"force": True})  # the default watchlist and strategy
    assert result.success and result.errors == []
    split = [
        s.symbol
        for s in result.symbols
        if {"good", "high"}
        <= {
            o.extras["valuation"]["value_badge"]
            for o in result.opportunities
            if o.symbol == s.symbol
        }
    ]
    assert split, [s.extras.get("valuation", {}).get("summary") for s in result.symbols]
    facts = next(s for s in result.symbols if s.symbol == split[0]).extras["valuation"]
    assert 0 < facts["good"] < facts["options"]


def test_no_fcf_value_for_a_stock_priced_in_pence_that_reports_in_pounds():
    london = yahoo(summaryDetail__currency="GBp", financialData__financialCurrency="GBP")
    found = transform(london, "AAPL")
    assert found.fcf_per_share is None and found.fcf_method is None
    assert (found.currency, found.financial_currency) == ("GBp", "GBP")
    assert transform(YAHOO).fcf_per_share == pytest.approx(110846001152 / 15115799552)
