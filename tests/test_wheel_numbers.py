"""The wheel's numbers: extrinsic value and the annualized return on it, if-called
returns, probability of profit, expiry at the real close, duplicates counted once, and
``scan --cash``'s selection in embedded and queued scans."""

from __future__ import annotations

import datetime as dt
import json
import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from optscan.analytics.expiry import ExpiryCloses
from optscan.analytics.metrics import compute_metrics, prob_profit, years_to_expiry
from optscan.analytics.selection import Candidate, select_puts
from optscan.chain import OptionChain
from optscan.cli import cli
from optscan.config import load_settings
from optscan.default_plugins.calendars import builtin_calendar
from optscan.models import Opportunity
from tests.helpers import run_jobs
from tests.invoke import invoke
from tests.market_data import market_dir
from tests.test_analytics import chain, run

NY = ZoneInfo("America/New_York")
AS_OF = dt.datetime(2026, 11, 18, 11, 0, tzinfo=NY)
LOOSE = {"min_open_interest": 0, "max_spread_pct": 0, "min_annualized_return": 0}


# ------------------------------------------------------------------ extrinsic value


def test_itm_put_and_call_annualize_their_extrinsic_value() -> None:
    puts = chain([{"strike": 110.0, "bid": 10.40, "ask": 10.6}])  # 10 intrinsic
    [put] = run(puts, min_delta=-1.0, **LOOSE).opportunities
    assert put.extrinsic == pytest.approx(0.40)
    assert put.annualized_return == pytest.approx(0.40 / 110.0 * 365 / 2 * 100, rel=1e-6)
    calls = chain([{"kind": "call", "strike": 90.0, "bid": 10.5, "ask": 10.7}])
    strategy = {"max_delta": 1.0, "max_delta_by_dte": [], **LOOSE}
    [call] = run(calls, "cc", cost_basis=80.0, **strategy).opportunities
    assert call.extrinsic == pytest.approx(0.5)
    assert call.annualized_return == pytest.approx(0.5 / 100.0 * 365 / 2 * 100, rel=1e-6)
    assert call.if_called_return == pytest.approx((10.5 + 90.0 - 80.0) / 80.0 * 100)
    assert call.if_called_annualized == pytest.approx((10.5 + 90.0 - 100.0) / 100 * 365 / 2 * 100)
    [no_basis] = run(calls, "cc", **strategy).opportunities
    assert no_basis.if_called_return is None and no_basis.if_called_annualized is None


def test_an_otm_put_keeps_the_original_formula_and_a_negative_extrinsic_is_kept() -> None:
    [otm] = run(chain([{"strike": 95.0, "bid": 1.0}]), **LOOSE).opportunities
    assert otm.extrinsic == 1.0 and otm.if_called_return is None
    assert otm.annualized_return == pytest.approx(1.0 / 95 * 365 / 2 * 100, rel=1e-6)
    below = chain([{"strike": 110.0, "bid": 9.5, "ask": 9.6}])  # bid under intrinsic
    metrics = compute_metrics(below, AS_OF)
    assert metrics.extrinsic[0] == pytest.approx(-0.5) and metrics.annualized_return[0] < 0
    assert run(below, min_delta=-1.0, **LOOSE).rejected["return_below_min"] == 1


def test_the_recorded_deep_itm_aapl_call_no_longer_reads_5050_percent(tmp_path) -> None:
    from optscan.default_plugins.providers.yfinance import YFinanceProvider

    path = market_dir() / "yahoo_v7" / "AAPL_recorded-2025-02-24T0924Z.json"
    body = json.loads(path.read_text())
    provider = YFinanceProvider(YFinanceProvider.Config(cache_dir=str(tmp_path)))
    first = provider.transform_expirations(body, "AAPL")[0]
    recorded = provider.transform_chain(body, "AAPL", first)
    i = recorded.contract_symbol.tolist().index("AAPL250228C00110000")
    as_of = recorded.quote_time
    metrics = compute_metrics(recorded, as_of)
    spot, bid = recorded.underlying_price, recorded.bid[i]
    dte = (first - as_of.astimezone(NY).date()).days
    old = bid / spot * 365 / dte * 100
    assert old > 5000  # what 0.2 showed
    extrinsic = bid - (spot - 110.0)
    assert metrics.extrinsic[i] == pytest.approx(extrinsic)
    assert metrics.annualized_return[i] == pytest.approx(extrinsic / spot * 365 / dte * 100)
    assert metrics.annualized_return[i] < 20


def test_old_stored_opportunities_get_their_extrinsic_value() -> None:
    stored = {
        "symbol": "X",
        "contract_symbol": "X261120C00090000",
        "kind": "call",
        "expiration": "2026-11-20",
        "dte": 2,
        "strike": 90.0,
        "bid": 10.5,
        "ask": None,
        "mid": None,
        "last": None,
        "volume": None,
        "open_interest": None,
        "iv": None,
        "delta": 0.9,
        "delta_source": "computed",
        "annualized_return": 1.0,
        "spread_pct": None,
        "cushion_pct": -10.0,
        "breakeven": 100.5,
        "collateral": 9000.0,
        "prob_otm": None,
        "underlying_price": 100.0,
        "quote_time": "2026-11-18T11:00:00-05:00",
        "data_delay_s": 0.0,
        "provider": "sim",
    }
    opportunity = Opportunity.model_validate(stored)
    assert opportunity.extrinsic == 0.5 and opportunity.prob_profit is None


# ------------------------------------------------------------------ probability of profit


@settings(max_examples=200, deadline=None)
@given(
    strike=st.floats(1, 500),
    bid=st.floats(0.01, 50),
    years=st.floats(1e-4, 3),
    iv=st.floats(0.01, 3),
    call=st.booleans(),
)
def test_prob_profit_is_never_below_prob_otm(strike, bid, years, iv, call) -> None:
    from optscan.analytics.greeks import prob_otm

    spot = 100.0
    otm = prob_otm(spot, np.array([strike]), years, iv, call, 0.04, 0.0)
    p = prob_profit(
        spot,
        np.array([strike]),
        np.array([bid]),
        np.array([years]),
        np.array([iv]),
        np.array([call]),
        0.04,
        0.0,
        otm,
    )
    assert 0.0 <= p[0] <= 1.0 and p[0] >= otm[0]
    if not call and bid >= strike:
        assert p[0] == 1.0


def test_every_sim_opportunity_has_prob_profit_at_least_prob_otm() -> None:
    ran = invoke(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL,AMD,F",
        "--as-of",
        "2026-11-18T11:00",
        "--format",
        "json",
    )
    opportunities = json.loads(ran.stdout)["opportunities"]
    assert opportunities
    for o in opportunities:
        assert o["prob_profit"] >= o["prob_otm"] and "extrinsic" in o


# ------------------------------------------------------------------ expiry at the real close


def test_time_to_expiry_runs_to_the_early_close() -> None:
    closes = ExpiryCloses(builtin_calendar("nyse"))
    assert closes.close_of(dt.date(2026, 11, 27)) == dt.datetime(2026, 11, 27, 13, tzinfo=NY)
    assert closes.close_of(dt.date(2026, 12, 24)) == dt.datetime(2026, 12, 24, 13, tzinfo=NY)
    assert closes.close_of(dt.date(2026, 11, 20)) == dt.datetime(2026, 11, 20, 16, tzinfo=NY)
    at = dt.datetime(2026, 12, 24, 12, 30, tzinfo=NY)
    days = np.array(["2026-12-24"], dtype="datetime64[D]")
    assert years_to_expiry(days, at, closes.close_of)[0] * 365 * 24 == pytest.approx(0.5)
    assert years_to_expiry(days, at)[0] * 365 * 24 == pytest.approx(3.5)  # no calendar
    assert ExpiryCloses(builtin_calendar("always-open")).close_of(dt.date(2026, 12, 24)).hour == 16


def _sim_chain(symbol: str, expiration: dt.date, as_of: dt.datetime) -> OptionChain:
    from optscan.default_plugins.providers.sim import SimConfig, SimProvider

    provider = SimProvider(SimConfig())
    provider.as_of = as_of
    listing = provider.extract_expirations(symbol)
    return provider.transform_chain(
        provider.extract_chain(symbol, expiration, listing), symbol, expiration
    )


def test_the_quoted_intc_early_close_delta_through_the_scan_context() -> None:
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan.context import prepare_scan

    at = dt.datetime(2026, 12, 24, 12, 30, tzinfo=NY)
    request = ScanRequest(provider="sim", symbols=["INTC"], as_of=at)
    ctx = prepare_scan(request, PluginHost(load_entrypoints=False), load_settings(use_env=False))
    intc = ctx.client.chain("INTC", dt.date(2026, 12, 24), ctx.client.expirations("INTC")[0])
    i = intc.contract_symbol.tolist().index("INTC261224P00192500")
    delta = compute_metrics(intc, at, close_of=ctx.expiry.close_of).delta[i]
    assert delta == pytest.approx(-0.005, abs=0.002)  # not -0.160 (a 16:00 close)
    assert compute_metrics(intc, at).delta[i] == pytest.approx(-0.16, abs=0.01)


def test_the_sim_market_prices_to_the_early_close() -> None:
    from optscan.analytics.greeks import bs_price

    at = dt.datetime(2026, 12, 24, 12, 30, tzinfo=NY)
    intc = _sim_chain("INTC", dt.date(2026, 12, 24), at)
    spot = intc.underlying_price
    puts = np.flatnonzero(~intc.is_call)
    i = int(puts[np.argmin(np.abs(intc.strike[puts] - spot))])  # the put at the money
    to_13 = float(bs_price(spot, intc.strike[i], 0.5 / 24 / 365, intc.iv[i], False, 0.04))
    to_16 = float(bs_price(spot, intc.strike[i], 3.5 / 24 / 365, intc.iv[i], False, 0.04))
    assert intc.bid[i] <= to_13 <= intc.ask[i] < to_16 / 2


def test_a_contract_is_expired_from_the_early_close_on() -> None:
    at = dt.datetime(2026, 12, 24, 13, 5, tzinfo=NY)
    ran = invoke(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "INTC,AAPL",
        "--as-of",
        at.isoformat(),
        "--force",
        "--format",
        "json",
    )
    doc = json.loads(ran.stdout)
    assert all(o["expiration"] != "2026-12-24" for o in doc["opportunities"])
    assert sum(s["rejected"].get("expired", 0) for s in doc["symbols"]) > 0


# ------------------------------------------------------------------ duplicates


def test_a_chain_with_every_row_three_times_is_counted_once() -> None:
    rows = [{"strike": s, "bid": b} for s, b in ((95.0, 1.0), (94.0, 0.8), (93.0, 0.7))]
    single = chain(rows)
    fields = {k: getattr(single, k) for k in type(single).model_fields}
    arrays = {k: np.tile(v, 3) for k, v in fields.items() if isinstance(v, np.ndarray)}
    tripled = OptionChain(**{**fields, **arrays})
    once, thrice = run(single, **LOOSE), run(tripled, **LOOSE)
    assert [o.contract_symbol for o in thrice.opportunities] == [
        o.contract_symbol for o in once.opportunities
    ]
    assert thrice.rejected["duplicate"] == 6
    assert thrice.contracts_seen == len(thrice.opportunities) + sum(thrice.rejected.values())


def test_the_recorded_yahoo_answer_with_a_put_twice_gives_one_opportunity(tmp_path) -> None:
    from optscan.analytics.screen import screen_chain
    from optscan.default_plugins.providers.yfinance import YFinanceProvider

    path = market_dir() / "yahoo_v7" / "AAPL_recorded-2025-02-24T0924Z.json"
    body = json.loads(path.read_text())
    options = body["optionChain"]["result"][0]["options"][0]
    row = next(p for p in options["puts"] if p["contractSymbol"] == "AAPL250228P00230000")
    row.update(bid=1.0, ask=1.05, impliedVolatility=0.31, openInterest=500)
    options["puts"].append(dict(row))
    provider = YFinanceProvider(YFinanceProvider.Config(cache_dir=str(tmp_path)))
    first = provider.transform_expirations(body, "AAPL")[0]
    recorded = provider.transform_chain(body, "AAPL", first)
    cfg = load_settings(
        overrides={f"strategies.csp.{k}": v for k, v in LOOSE.items()}, use_env=False
    )
    screened = screen_chain(
        recorded, strategy=cfg.strategies["csp"], analytics=cfg.analytics, as_of=recorded.quote_time
    )
    symbols = [o.contract_symbol for o in screened.opportunities]
    assert symbols.count("AAPL250228P00230000") == 1
    assert screened.rejected["duplicate"] == 1
    assert screened.contracts_seen == len(symbols) + sum(screened.rejected.values())


def test_a_contract_in_two_answers_of_one_symbol_is_counted_once() -> None:
    seen: set[str] = set()
    first = run_seen(chain([{"strike": 95.0}]), seen)
    again = run_seen(chain([{"strike": 95.0}, {"strike": 94.0}]), seen)
    assert len(first.opportunities) == 1 and again.rejected["duplicate"] == 1
    assert [o.strike for o in again.opportunities] == [94.0]


def run_seen(c: OptionChain, seen: set[str]):
    from optscan.analytics.screen import screen_chain

    cfg = load_settings(
        overrides={f"strategies.csp.{k}": v for k, v in LOOSE.items()}, use_env=False
    )
    return screen_chain(
        c, strategy=cfg.strategies["csp"], analytics=cfg.analytics, as_of=AS_OF, seen=seen
    )


# ------------------------------------------------------------------ scan --cash


SIM = ("--provider", "sim", "--symbols", "AAPL,AMD,F,INTC,SOFI", "--as-of", "2026-11-18T11:00")


def _check_selection(doc: dict, cash: float) -> None:
    selection = doc["selection"]
    assert set(selection) == {
        "cash",
        "collateral_used",
        "premium_total",
        "annualized_income",
        "contracts",
    }
    puts = {o["contract_symbol"]: o for o in doc["opportunities"] if o["kind"] == "put"}
    chosen = [c["contract_symbol"] for c in selection["contracts"]]
    assert selection["cash"] == cash and chosen
    assert set(chosen) <= set(puts) and all(c["quantity"] == 1 for c in selection["contracts"])
    assert selection["collateral_used"] == pytest.approx(
        sum(puts[c]["strike"] * 100 for c in chosen)
    )
    assert selection["collateral_used"] <= cash
    expected = select_puts(
        [
            Candidate(o["contract_symbol"], o["symbol"], o["strike"], o["bid"], o["dte"])
            for o in puts.values()
        ],
        cash,
    )
    assert chosen == [c.contract_symbol for c in expected.contracts]
    symbols = [puts[c]["symbol"] for c in chosen]
    assert len(symbols) == len(set(symbols))  # max_contracts_per_symbol = 1


def test_scan_cash_adds_an_optimal_selection() -> None:
    ran = invoke("scan", *SIM, "--cash", "30000", "--format", "json")
    assert ran.returncode == 0, ran.report
    _check_selection(json.loads(ran.stdout), 30000.0)
    table = invoke("scan", *SIM, "--cash", "30000")
    assert "Selection for 30,000.00 cash" in table.stdout
    plain = json.loads(invoke("scan", *SIM, "--format", "json").stdout)
    assert plain["selection"] is None
    configured = invoke("scan", *SIM, "--format", "json", "--set", "selection.cash=30000")
    _check_selection(json.loads(configured.stdout), 30000.0)
    for bad in ("-1", "nan", "inf", "1e11", "lots"):
        refused = invoke("scan", *SIM, "--cash", bad)
        assert refused.returncode == 2 and "--cash" in refused.stderr, refused.report


fakeredis = pytest.importorskip("fakeredis")


@pytest.fixture
def redis(monkeypatch):
    from optscan.queue import connection

    server = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    monkeypatch.setattr(connection, "connect", lambda settings, url=None: server)
    return server


def test_a_queued_scans_aggregator_computes_the_selection(redis) -> None:
    runner = CliRunner()
    queued = runner.invoke(
        cli, ["enqueue", *SIM, "--cash", "30000", "--format", "json"], catch_exceptions=False
    )
    assert queued.exit_code == 0, queued.output
    run_jobs(redis)
    doc = json.loads(runner.invoke(cli, ["results", "--format", "json"]).stdout)
    _check_selection(doc, 30000.0)
    assert math.isfinite(doc["selection"]["annualized_income"])
