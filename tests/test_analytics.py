"""Analytics: metrics, the data-quality gate and the strategy screens, on whole chains."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optscan.analytics.gate import YAHOO_IV_PLACEHOLDERS, is_iv_placeholder
from optscan.analytics.metrics import compute_metrics, years_to_expiry
from optscan.analytics.screen import screen_chain
from optscan.config import load_settings
from optscan.models import OptionChain

NY = dt.timezone(dt.timedelta(hours=-5))
AS_OF = dt.datetime(2026, 11, 18, 11, 0, tzinfo=NY)  # Wednesday
FRIDAY = "2026-11-20"


def chain(rows: list[dict], *, symbol: str = "XYZ", spot: float = 100.0, **extra) -> OptionChain:
    """A chain from row dicts; defaults make a liquid, well-formed put."""
    defaults = {
        "kind": "put",
        "expiration": FRIDAY,
        "strike": 95.0,
        "bid": 1.0,
        "ask": 1.1,
        "iv": 0.6,
        "delta": math.nan,
        "open_interest": 500.0,
        "volume": 50.0,
        "last": 1.05,
    }
    rows = [{**defaults, **r} for r in rows]
    columns = {k: [r[k] for r in rows] for k in defaults}
    columns["contract_symbol"] = []
    for r in rows:  # rows of one strike get distinct symbols: a repeat is a duplicate
        name = r.get("contract_symbol") or _occ(symbol, r, 0)
        tick = 0
        while name in columns["contract_symbol"] and "contract_symbol" not in r:
            tick += 1
            name = _occ(symbol, r, tick)
        columns["contract_symbol"].append(name)
    return OptionChain(
        symbol=symbol, provider="test", underlying_price=spot, quote_time=AS_OF, **columns, **extra
    )


def _occ(symbol: str, r: dict, tick: int) -> str:
    day = r["expiration"]
    kind = "C" if r["kind"] == "call" else "P"
    return f"{symbol}{day[2:4]}{day[5:7]}{day[8:]}{kind}{round(r['strike'] * 1000) + tick:08d}"


def strategy(name: str = "csp", **overrides):
    over = {f"strategies.{name}.{k}": v for k, v in overrides.items()}
    settings = load_settings(overrides=over, use_env=False)
    return settings.strategies[name], settings.analytics


def run(c: OptionChain, name: str = "csp", cost_basis=None, as_of=AS_OF, **overrides):
    strat, analytics = strategy(name, **overrides)
    return screen_chain(c, strategy=strat, analytics=analytics, as_of=as_of, cost_basis=cost_basis)


def test_original_put_rule_and_metrics():
    # DTE 2; bid 1.0 on strike 95 -> 1/95*365/2*100 = 192.1 %
    result = run(chain([{}]))
    (opp,) = result.opportunities
    assert opp.dte == 2
    assert opp.annualized_return == pytest.approx(1.0 / 95 * 365 / 2 * 100, rel=1e-6)
    assert opp.mid == pytest.approx(1.05)
    assert opp.spread_pct == pytest.approx(0.1 / 1.05 * 100, rel=1e-4)
    assert opp.cushion_pct == pytest.approx(5.0)
    assert opp.breakeven == pytest.approx(94.0)
    assert opp.collateral == pytest.approx(9500.0)
    assert opp.delta_source == "computed" and -0.2 <= opp.delta < 0
    assert 0.5 < opp.prob_otm < 1


def test_dte_zero_annualizes_as_one_day():
    c = chain([{"expiration": "2026-11-18"}])
    result = run(c)
    (opp,) = result.opportunities
    assert opp.dte == 0
    assert opp.annualized_return == pytest.approx(1.0 / 95 * 365 * 100, rel=1e-6)


def test_time_runs_to_the_4pm_new_york_close():
    exp = np.array(["2026-11-20"], dtype="datetime64[D]")
    years = years_to_expiry(exp, AS_OF)[0]
    assert years * 365 * 24 == pytest.approx(2 * 24 + 5)  # Wed 11:00 -> Fri 16:00
    # across the November clock change the close is still 16:00 local
    before = dt.datetime(2026, 10, 30, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    exp = np.array(["2026-11-06"], dtype="datetime64[D]")
    assert years_to_expiry(exp, before)[0] * 365 * 24 == pytest.approx(7 * 24 + 1)


def test_sparse_and_dense_expirations_give_the_same_years():
    """A few dates spread over years take the distinct-date path, a full chain the table."""
    sparse = np.array(["2028-01-21", "2026-11-20", "2027-03-19", "2026-11-20"], "datetime64[D]")
    every_day = np.arange(np.datetime64("2026-11-18"), np.datetime64("2028-01-22"))
    dense = years_to_expiry(np.concatenate([sparse, every_day]), AS_OF)[: len(sparse)]
    np.testing.assert_array_equal(years_to_expiry(sparse, AS_OF), dense)
    assert dense[1] == dense[3] and dense[1] < dense[2] < dense[0]


def test_missing_data_never_passes():
    rows = [
        {"bid": math.nan},  # no bid (the original made it 0.01)
        {"bid": 0.0},
        {"iv": math.nan},  # no IV -> no computed delta (the original made it 1)
        {"ask": 0.5},  # ask below bid
        {"iv": 0.2500075},  # Yahoo placeholder
        {"iv": 7.0},  # above the sanity cap
        {"contract_symbol": "XYZ1261120P00095000"},  # adjusted contract
        {"expiration": "2026-11-13"},  # expired
    ]
    result = run(chain(rows))
    assert result.opportunities == []
    assert dict(result.rejected) == {
        "no_bid": 2,
        "iv_missing": 1,
        "ask_below_bid": 1,
        "iv_placeholder": 1,
        "iv_above_cap": 1,
        "non_standard": 1,
        "expired": 1,
    }


def test_provider_delta_is_used_as_given():
    result = run(chain([{"delta": -0.15}, {"delta": -0.35, "strike": 96.0}]))
    assert [o.delta for o in result.opportunities] == [-0.15]
    assert result.opportunities[0].delta_source == "provider"
    assert result.rejected == {"delta_out_of_range": 1}


def test_every_contract_is_counted_once():
    rows = [
        {"kind": "call", "strike": 105.0},
        {"bid": 0.0},
        {"strike": 80.0, "bid": 0.01},
        {},
        {"open_interest": 3.0},
        {"ask": 2.0},
    ]
    result = run(chain(rows))
    assert result.contracts_seen == 6
    assert len(result.opportunities) + sum(result.rejected.values()) == 6
    assert result.rejected["wrong_kind"] == 1
    assert result.rejected["open_interest_below_min"] == 1
    assert result.rejected["spread_above_max"] == 1


def test_liquidity_defaults_can_be_turned_off():
    c = chain([{"open_interest": 0.0, "ask": 3.0}])
    assert run(c).opportunities == []
    assert len(run(c, min_open_interest=0, max_spread_pct=0).opportunities) == 1


def test_optional_csp_limits():
    c = chain([{"strike": 95.0}, {"strike": 99.0, "bid": 1.5, "ask": 1.6}])
    (kept,) = run(c, min_cushion_pct=3.0).opportunities
    # computed for the whole chain when the screen needs them, else for survivors only:
    # the same numbers either way
    (lazy,) = [o for o in run(c).opportunities if o.strike == 95.0]
    for opp in (kept, lazy):
        assert opp.strike == 95.0 and opp.cushion_pct == pytest.approx(5.0)
        assert opp.breakeven == pytest.approx(94.0) and opp.collateral == pytest.approx(9500.0)
    assert len(run(c, max_collateral=9600).opportunities) == 1
    assert run(c, min_dte=7).rejected == {"dte_out_of_range": 2}
    assert run(c, min_bid=1.2).rejected["bid_below_min"] == 1


def test_covered_calls_cost_basis_and_delta_table():
    rows = [{"kind": "call", "strike": s, "bid": 0.8, "ask": 0.9} for s in (98.0, 104.0, 110.0)]
    c = chain(rows)
    result = run(c, "cc", cost_basis=100.0)
    assert result.rejected["below_cost_basis"] == 1
    strikes = [o.strike for o in result.opportunities]
    assert 98.0 not in strikes
    for opp in result.opportunities:
        assert opp.kind == "call" and opp.delta <= 0.20  # DTE 2 -> cap 0.20
        assert opp.annualized_return == pytest.approx(0.8 / 100 * 365 / 2 * 100, rel=1e-6)
    # selling below the basis can be allowed explicitly
    allowed = run(c, "cc", cost_basis=100.0, strikes_at_or_above_cost_basis=False)
    assert "below_cost_basis" not in allowed.rejected


def test_call_delta_cap_grows_with_dte():
    strat, _ = strategy("cc")
    from optscan.analytics.rules import _max_call_delta

    caps = _max_call_delta(strat, np.array([0, 7, 8, 14, 21, 28, 29, 400]))
    assert caps.tolist() == [0.20, 0.20, 0.24, 0.24, 0.28, 0.32, 0.36, 0.36]


def test_earnings_and_ex_dividend_blackouts():
    rows = [{"expiration": "2026-11-20", "iv": 0.4}, {"expiration": "2026-11-27", "iv": 0.4}]
    c = chain(rows, earnings_start=dt.date(2026, 11, 24), earnings_end=dt.date(2026, 11, 26))
    result = run(c)
    assert result.rejected == {"earnings_before_expiry": 1}
    assert [o.expiration.isoformat() for o in result.opportunities] == ["2026-11-20"]
    assert len(run(c, earnings_blackout=False).opportunities) == 2
    c = chain(rows, ex_dividend_date=dt.date(2026, 11, 20))
    assert run(c).rejected == {"ex_dividend_before_expiry": 2}


def test_ranking_and_top_n():
    rows = [
        {"strike": s, "bid": b, "ask": b + 0.05} for s, b in ((90.0, 0.5), (92.0, 0.8), (94.0, 1.2))
    ]
    result = run(chain(rows), top_per_symbol=2)
    assert [o.strike for o in result.opportunities] == [94.0, 92.0]
    assert result.rejected["rank_cut"] == 1
    by_cushion = run(chain(rows), rank_by="cushion_pct")
    assert [o.strike for o in by_cushion.opportunities] == [90.0, 92.0, 94.0]


def test_placeholders_match_the_recorded_values():
    for value in (1e-05, 0.2500075, 0.12500875, 0.062509375, 0.0312596875, 0.500005):
        assert is_iv_placeholder(np.array([value]))[0], value
    for value in (0.25, 0.5, 0.2501, 0.3, 1.2500037499999999, 0.0):
        assert not is_iv_placeholder(np.array([value]))[0], value
    assert len(YAHOO_IV_PLACEHOLDERS) == 21


def test_metrics_are_nan_safe():
    c = chain([{"iv": math.nan}, {"bid": math.nan}])
    m = compute_metrics(c, AS_OF)
    assert np.isnan(m.delta[0]) and np.isnan(m.annualized_return[1])


_maybe = st.one_of(st.just(math.nan), st.floats(0, 50, allow_nan=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "kind": st.sampled_from(["put", "call"]),
                "strike": st.floats(1, 300),
                "bid": _maybe,
                "ask": _maybe,
                "iv": st.one_of(
                    st.just(math.nan),
                    st.just(0.0),
                    st.just(1e-5),
                    st.floats(0, 20, allow_nan=False),
                ),
                "delta": st.one_of(st.just(math.nan), st.floats(-1, 1)),
                "open_interest": _maybe,
                "expiration": st.sampled_from(
                    ["2026-11-13", "2026-11-18", "2026-11-20", "2027-01-15", "2028-12-15"]
                ),
            }
        ),
        max_size=40,
    ),
    spot=st.floats(1, 300),
    name=st.sampled_from(["csp", "cc"]),
)
def test_any_chain_screens_without_crashing_and_accounts_for_every_contract(rows, spot, name):
    c = chain(rows, spot=spot)
    result = run(c, name, cost_basis=spot if name == "cc" else None)
    assert len(result.opportunities) + sum(result.rejected.values()) == len(rows)
    for opp in result.opportunities:
        assert opp.bid > 0 and opp.iv is not None and opp.iv > 0
        assert math.isfinite(opp.delta) and math.isfinite(opp.annualized_return)


def _placeholder_reference(value: float) -> bool:
    return any(abs(value - p) <= p * 1e-7 for p in YAHOO_IV_PLACEHOLDERS)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-1e-3, 2.0),
        st.builds(
            lambda i, rel: float(YAHOO_IV_PLACEHOLDERS[i]) * (1 + rel),
            st.integers(0, len(YAHOO_IV_PLACEHOLDERS) - 1),
            st.floats(-3e-7, 3e-7),
        ),
    )
)
def test_placeholder_test_agrees_with_the_plain_definition(value: float) -> None:
    """The mantissa prefilter never drops a placeholder the plain comparison finds."""
    assert bool(is_iv_placeholder(np.array([value]))[0]) == _placeholder_reference(value)


def test_is_call_reads_the_kind_column() -> None:
    c = chain([{"kind": "put"}, {"kind": "call"}, {"kind": "call"}, {"kind": "put"}])
    assert c.is_call.tolist() == [False, True, True, False]
    picked = c.select(np.array([3, 1]))
    assert picked.is_call.tolist() == [False, True]
    fields = {name: getattr(c, name) for name in OptionChain.model_fields}
    wide = OptionChain(**{**fields, "kind": np.array(["put", "call", "call", "put"], "<U8")})
    assert wide.is_call.tolist() == [False, True, True, False]
