"""The valuation plugin: the model by hand, Yahoo's recorded answer, scans and the command.

The recorded ``quoteSummary`` answer is read in place from ``../shared/data/market/``
(never copied here); those tests skip, saying why, when the folder is absent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from optscan_valuation.model import badge, intrinsic_value

from optscan import (
    PluginHost,
    ScanRequest,
    check_fundamentals,
    load_settings,
    perform_scan,
)

MARKET = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "market"
QUOTE_SUMMARY = MARKET / "yahoo_quotesummary" / "AAPL_quoteSummary_2024-11-14.json"
NY = dt.timezone(dt.timedelta(hours=-5))
OPEN = dt.datetime(2026, 11, 18, 11, 0, tzinfo=NY)  # a Wednesday, mid-session
DEFAULTS = {"growth_rate": 0.10, "discount_rate": 0.15, "terminal_multiple": 20.0, "years": 5}
KEYS = [
    "symbol",
    "price",
    "eps_ttm",
    "fcf_per_share",
    "intrinsic_value_eps",
    "intrinsic_value_fcf",
    "method",
    "intrinsic_value",
    "margin_of_safety_pct",
    "status",
    "error",
    "price_source",
]


def recorded_answer() -> Any:
    if not QUOTE_SUMMARY.is_file():
        pytest.skip(
            "recorded market data in ../shared/data/market is not available (a user's "
            "clone): the quoteSummary tests need yahoo_quotesummary/"
        )
    return json.loads(QUOTE_SUMMARY.read_text(encoding="utf-8"))


def settings(**overrides: Any) -> Any:
    enabled = {"enrichers.enabled": ["valuation"]}
    return load_settings(overrides={**enabled, **overrides}, use_env=False)


def provider_class(name: str) -> Any:
    return PluginHost(load_entrypoints=False).get_class("providers", name)


def host() -> PluginHost:
    import optscan_valuation

    return PluginHost(load_entrypoints=False, plugins=[optscan_valuation])


def scan(symbols: list[str] | None, **overrides: Any) -> Any:
    fields = {"provider": "sim", "symbols": symbols, "as_of": OPEN, **overrides.pop("req", {})}
    request = ScanRequest(**fields)
    return perform_scan(request, host(), settings=settings(**overrides))


# --------------------------------------------------------------------------- the model


def test_the_model_by_hand_for_apples_eps():
    # EPS 6.10, g 10 %, r 15 %, N 5, multiple 20:
    #   t=1: 6.10 x 1.1   = 6.710000 / 1.15     = 5.834783
    #   t=2: 6.10 x 1.1^2 = 7.381000 / 1.3225   = 5.581096
    #   t=3: 6.10 x 1.1^3 = 8.119100 / 1.520875 = 5.338440
    #   t=4: 6.10 x 1.1^4 = 8.931010 / 1.749006 = 5.106334
    #   t=5: 6.10 x 1.1^5 = 9.824111 / 2.011357 = 4.884319
    #   sum of the discounted years                = 26.744972
    #   terminal: 9.824111 x 20 = 196.48222 / 2.011357 = 97.686389
    #   intrinsic value = 26.744972 + 97.686389    = 124.431361
    years = [6.71 / 1.15, 7.381 / 1.3225, 8.1191 / 1.520875, 8.93101 / 1.74900625]
    years.append(9.824111 / 2.0113571875)
    by_hand = sum(years) + 9.824111 * 20 / 2.0113571875
    assert by_hand == pytest.approx(124.431361, abs=1e-5)
    assert intrinsic_value(6.1, **DEFAULTS) == pytest.approx(by_hand, abs=1e-5)


def test_a_negative_zero_or_missing_figure_gives_no_value():
    for figure in (-1.0, 0.0, None, float("nan")):
        assert intrinsic_value(figure, **DEFAULTS) is None


def test_badges_for_puts_and_calls():
    assert badge("put", 120.0, 124.43) == "good"
    assert badge("put", 124.43, 124.43) == "good"  # at the value: good
    assert badge("put", 125.0, 124.43) == "high"
    assert badge("call", 125.0, 124.43) == "good"
    assert badge("call", 120.0, 124.43) == "low"
    assert badge("put", 120.0, None) == "n/a"
    assert badge("call", 120.0, None) == "n/a"


# --------------------------------------------------------------------------- Yahoo's answer


def test_the_transform_gives_the_fundamentals_in_yahoos_answer():
    YFinanceProvider = provider_class("yfinance")
    # the core's invariants: JSON, left unmodified, Fundamentals of AAPL from yfinance
    found = check_fundamentals(
        YFinanceProvider(YFinanceProvider.Config()), "AAPL", recorded_answer()
    )
    assert found.price == 225.12
    assert found.eps_ttm == 6.1
    assert found.shares_outstanding == 15_115_799_552
    assert found.fcf_per_share == pytest.approx(110_846_001_152 / 15_115_799_552)
    assert found.fcf_method == "reported_ttm"
    assert found.currency == found.financial_currency == "USD"
    assert found.as_of == dt.date(2024, 9, 28)  # mostRecentQuarter 1727481600


def test_values_from_yahoos_answer_equal_the_model_by_hand():
    from optscan_valuation.config import ValuationConfig
    from optscan_valuation.model import value_of

    yahoo = provider_class("yfinance")
    found = yahoo(yahoo.Config()).transform_fundamentals(recorded_answer(), "AAPL")
    value = value_of(found, ValuationConfig(), price=found.price, price_source="fundamentals")
    # EPS: 124.431361 (test_the_model_by_hand_for_apples_eps)
    assert value.intrinsic_value_eps == pytest.approx(124.431361, abs=1e-5)
    # FCF per share: 110,846,001,152 / 15,115,799,552 = 7.333122
    #   t=1..5: 8.066434/1.15 + 8.873078/1.3225 + 9.760385/1.520875
    #           + 10.736424/1.749006 + 11.810066/2.011357
    #         = 7.014291 + 6.709321 + 6.417612 + 6.138585 + 5.871690 = 32.151499
    #   terminal: 11.810066 x 20 / 2.011357 = 117.433803
    #   intrinsic value = 149.585302
    fcf = 110_846_001_152 / 15_115_799_552
    by_hand = sum(fcf * 1.1**t / 1.15**t for t in range(1, 6)) + fcf * 1.1**5 * 20 / 1.15**5
    assert by_hand == pytest.approx(149.585302, abs=1e-5)
    assert value.intrinsic_value_fcf == pytest.approx(by_hand, abs=1e-5)
    assert value.method == "eps" and value.intrinsic_value == value.intrinsic_value_eps
    # margin of safety = (124.431361 - 225.12) / 124.431361 x 100 = -80.9186 %
    assert value.margin_of_safety_pct == pytest.approx(-80.9186, abs=1e-3)


def test_no_fcf_value_when_the_statements_are_in_another_currency():
    YFinanceProvider = provider_class("yfinance")
    raw = json.loads(json.dumps(recorded_answer()))
    raw["quoteSummary"]["result"][0]["financialData"]["financialCurrency"] = "TWD"  # an ADR
    found = YFinanceProvider(YFinanceProvider.Config()).transform_fundamentals(raw, "AAPL")
    assert found.fcf_per_share is None and found.eps_ttm == 6.1


def test_the_one_request_is_quotesummary_with_yfinances_modules(monkeypatch):
    import yfinance.data

    YFinanceProvider = provider_class("yfinance")
    asked: list[str] = []
    body = recorded_answer()

    class Response:
        status_code = 200
        headers: ClassVar[dict[str, str]] = {}

        def json(self) -> Any:
            return body

    def get(self: Any, url: str, params: Any = None, timeout: float = 30) -> Response:
        asked.append(url)
        return Response()

    monkeypatch.setattr(yfinance.data.YfData, "get", get)
    provider = YFinanceProvider(YFinanceProvider.Config())
    assert provider.extract_fundamentals("AAPL") == body
    assert asked == [
        "https://query2.finance.yahoo.com/v10/finance/quoteSummary/AAPL?modules="
        "financialData,quoteType,defaultKeyStatistics,assetProfile,summaryDetail"
        "&formatted=false"
    ]


# --------------------------------------------------------------------------- scans


def _aapl_puts() -> tuple[list[float], float]:
    """AAPL's put strikes in a plain sim scan, and its trailing EPS."""
    SimProvider = provider_class("sim")
    plain = perform_scan(
        ScanRequest(provider="sim", symbols=["AAPL"], as_of=OPEN),
        PluginHost(load_entrypoints=False),
        settings=settings(),
    )
    strikes = sorted({o.strike for o in plain.opportunities if o.kind == "put"})
    sim = SimProvider(SimProvider.Config())
    sim.as_of = OPEN
    eps = sim.transform_fundamentals(sim.extract_fundamentals("AAPL"), "AAPL").eps_ttm
    assert eps is not None and eps > 0
    return strikes, eps


def test_a_value_between_two_listed_strikes_badges_one_put_good_and_another_high():
    strikes, eps = _aapl_puts()
    assert len(strikes) >= 2
    low, high = strikes[0], strikes[1]
    target = (low + high) / 2
    # the terminal multiple that puts AAPL's EPS value at `target` (g 10 %, r 15 %, N 5)
    years = sum(1.1**t / 1.15**t for t in range(1, 6))
    multiple = (target / eps - years) / (1.1**5 / 1.15**5)
    result = scan(["AAPL"], **{"enrichers.valuation.symbols.AAPL.terminal_multiple": multiple})
    assert result.success and result.errors == []
    badges = {o.strike: o.extras["valuation"] for o in result.opportunities if o.kind == "put"}
    assert badges[low]["value_badge"] == "good"
    assert badges[high]["value_badge"] == "high"
    assert badges[low]["intrinsic_value"] == pytest.approx(target, abs=0.01)
    assert badges[low]["value_method"] == "eps"
    summary = result.symbols[0].extras["valuation"]
    assert summary["any_good"] is True and summary["good"] >= 1
    assert summary["options"] == len(result.opportunities)
    # the facts survive the JSON round trip of the queue and Redis
    again = type(result).model_validate_json(result.model_dump_json())
    assert again.opportunities == result.opportunities and again.symbols == result.symbols


def test_a_symbol_without_fundamentals_is_na_and_the_scan_succeeds(tmp_path):
    record = tmp_path / "rec"
    recorded = scan(["AAPL", "XYZ"], req={"record_dir": str(record)})
    assert (record / "sim" / "AAPL" / "fundamentals.json").is_file()
    (record / "sim" / "XYZ" / "fundamentals.json").unlink()
    replayed = scan(None, req={"replay_dir": str(record)})
    assert replayed.success and replayed.errors == []
    by_symbol = {s.symbol: s for s in replayed.symbols}
    assert by_symbol["XYZ"].status == "ok"
    assert by_symbol["XYZ"].extras["valuation"]["intrinsic_value"] is None
    assert by_symbol["XYZ"].extras["valuation"]["any_good"] is False
    assert "not recorded" in by_symbol["XYZ"].extras["valuation"]["error"]
    xyz = [o for o in replayed.opportunities if o.symbol == "XYZ"]
    assert xyz and all(o.extras["valuation"]["value_badge"] == "n/a" for o in xyz)
    aapl = [o for o in replayed.opportunities if o.symbol == "AAPL"]
    assert aapl == [o for o in recorded.opportunities if o.symbol == "AAPL"]  # same facts


def test_a_config_change_applies_at_once(tmp_path):
    first = scan(["AAPL"])
    second = scan(["AAPL"], **{"enrichers.valuation.growth_rate": 0.2})
    v1 = first.symbols[0].extras["valuation"]["intrinsic_value"]
    v2 = second.symbols[0].extras["valuation"]["intrinsic_value"]
    assert v2 > v1


def test_a_bad_key_in_the_section_names_it():
    from optscan import ConfigError

    with pytest.raises(ConfigError, match=r"enrichers\.valuation\.growth_rat"):
        scan(["AAPL"], **{"enrichers.valuation.growth_rat": 0.1})


# --------------------------------------------------------------------------- optscan value


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


def test_optscan_value_prints_the_contract(tmp_path):
    record = tmp_path / "rec"
    scan(["AAPL", "MSFT"], req={"record_dir": str(record)})
    done = _value("--provider", "sim", "--replay", str(record), "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["values"]
    assert [r["symbol"] for r in rows] == ["AAPL", "MSFT"]
    for row in rows:
        assert list(row) == KEYS
        if row["intrinsic_value"] is not None:
            value, price = row["intrinsic_value"], row["price"]
            assert row["margin_of_safety_pct"] == pytest.approx(
                (value - price) / value * 100, abs=1e-3
            )
            assert row["status"] == "ok"


def test_optscan_value_without_any_fundamentals_exits_1(tmp_path):
    record = tmp_path / "rec"
    scan(["AAPL"], req={"record_dir": str(record)})
    shutil.rmtree(record / "sim" / "AAPL")
    done = _value("--provider", "sim", "--replay", str(record), "--symbols", "AAPL")
    assert done.returncode == 1
    assert "not recorded" in done.stdout


def test_optscan_value_bad_usage_exits_2():
    done = _value("--provider", "nosuch", "--symbols", "AAPL")
    assert done.returncode == 2 and "unknown provider 'nosuch'" in done.stderr
    assert "Traceback" not in done.stderr


def test_optscan_value_records_and_replays_the_same_values(tmp_path):
    record = str(tmp_path / "rec")
    live = _value(
        "--provider", "sim", "--symbols", "AAPL,MSFT", "--record", record, "--format", "json"
    )
    assert live.returncode == 0, live.stderr
    assert (tmp_path / "rec" / "sim" / "MSFT" / "fundamentals.json").is_file()
    replayed = _value("--provider", "sim", "--replay", record, "--format", "json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout) == json.loads(live.stdout)


def test_sims_values_fall_on_both_sides_of_its_strikes():
    symbols = ["AAPL", "MSFT", "XYZ", "AMD", "NVDA", "KO", "T", "F", "INTC", "PEP"]
    result = scan(symbols)
    badges = {o.extras["valuation"]["value_badge"] for o in result.opportunities}
    assert {"good", "high"} <= badges
    for outcome in result.symbols:
        facts = outcome.extras["valuation"]
        if facts["value_method"] == "eps":  # sim: the EPS value is 0.7 to 1.3 x the price
            assert 0.69 <= facts["intrinsic_value"] / facts["price"] <= 1.31


def test_the_preferred_method_and_the_fallback():
    from optscan_valuation.config import ValuationConfig
    from optscan_valuation.model import value_of

    from optscan import Fundamentals

    loss = Fundamentals(symbol="LOSS", provider="t", price=50.0, eps_ttm=-1.0, fcf_per_share=2.0)
    # EPS preferred, negative: FCF gives the value
    by_fcf = value_of(loss, ValuationConfig(), price=50.0, price_source="fundamentals")
    assert by_fcf.method == "fcf" and by_fcf.intrinsic_value_eps is None
    assert by_fcf.intrinsic_value == pytest.approx(intrinsic_value(2.0, **DEFAULTS))
    strict = value_of(
        loss, ValuationConfig(fallback=False), price=50.0, price_source="fundamentals"
    )
    assert strict.intrinsic_value is None and strict.status == "no_value"
    assert strict.error == "no positive EPS figure: no value"
    overridden = ValuationConfig.model_validate({"symbols": {"loss": {"method": "fcf"}}})
    assert value_of(loss, overridden, price=50.0, price_source="fundamentals").method == "fcf"
    assert overridden.for_symbol("LOSS").method == "fcf"  # tickers are normalized
