"""The one ranking (optscan.analytics.ranking): missing values last, ties by symbol then
contract, and the per-chain cut agreeing with the ranking of the models."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optscan.analytics.metrics import Metrics
from optscan.analytics.ranking import RANK_KEYS, rank_opportunities, rank_order
from optscan.analytics.screen import screen_chain
from optscan.chain import OptionChain
from optscan.models import Opportunity

from .helpers import make_settings

NY = dt.timezone(dt.timedelta(hours=-5))
AS_OF = dt.datetime(2026, 11, 18, 11, 0, tzinfo=NY)  # a Wednesday
EXPIRATIONS = ["2026-11-20", "2026-11-27", "2026-12-18"]
# loose enough that every well-formed put passes: what is left to decide is the order
LOOSE = {"min_delta": -1.0, "max_spread_pct": 0, "min_open_interest": 0, "min_annualized_return": 0}


def occ(symbol: str, expiration: str, kind: str, strike: float) -> str:
    day = dt.date.fromisoformat(expiration)
    letter = "C" if kind == "call" else "P"
    return f"{symbol}{day:%y%m%d}{letter}{round(strike * 1000):08d}"


def make_chain(rows: list[dict[str, Any]], symbol: str = "XYZ", spot: float = 100.0) -> OptionChain:
    defaults = {
        "kind": "put",
        "expiration": EXPIRATIONS[0],
        "strike": 95.0,
        "bid": 1.0,
        "ask": 1.1,
        "iv": 0.5,
        "open_interest": 500.0,
        "volume": 50.0,
    }
    rows = [{**defaults, **r} for r in rows]
    columns = {k: [r[k] for r in rows] for k in defaults}
    columns["contract_symbol"] = [
        occ(symbol, r["expiration"], r["kind"], r["strike"]) for r in rows
    ]
    return OptionChain(
        symbol=symbol, provider="test", underlying_price=spot, quote_time=AS_OF, **columns
    )


def screen(chain: OptionChain, rank_by: str, top: int = 0, **rules: Any) -> list[Opportunity]:
    overrides = {f"strategies.csp.{k}": v for k, v in {**LOOSE, **rules}.items()}
    overrides["strategies.csp.rank_by"] = rank_by
    overrides["strategies.csp.top_per_symbol"] = top
    cfg = make_settings(**overrides)
    return screen_chain(
        chain, strategy=cfg.strategies["csp"], analytics=cfg.analytics, as_of=AS_OF
    ).opportunities


def contracts(opportunities: list[Opportunity]) -> list[str]:
    return [o.contract_symbol for o in opportunities]


# --------------------------------------------------------------------------- missing values


def test_a_missing_open_interest_ranks_last_everywhere():
    """0.1.0 ranked a missing open interest as 0 in one place and as minus infinity in
    another, so the per-chain cut and the scan's order disagreed. Missing is last."""
    chain = make_chain(
        [
            {"strike": 90.0, "open_interest": math.nan},
            {"strike": 91.0, "open_interest": 0.0},
            {"strike": 92.0, "open_interest": 7.0},
            {"strike": 93.0, "open_interest": math.nan},
        ]
    )
    found = screen(chain, "open_interest")
    assert [o.open_interest for o in found] == [7.0, 0.0, None, None]
    # the two missing ones tie: by contract symbol
    assert [o.strike for o in found] == [92.0, 91.0, 90.0, 93.0]
    assert rank_opportunities(list(reversed(found)), "open_interest") == found
    # the per-chain cut keeps the zero, never a missing one
    assert [o.strike for o in screen(chain, "open_interest", top=2)] == [92.0, 91.0]


def _opportunity(symbol: str, strike: float, **fields: Any) -> Opportunity:
    body: dict[str, Any] = {
        "symbol": symbol,
        "contract_symbol": occ(symbol, EXPIRATIONS[0], "put", strike),
        "kind": "put",
        "expiration": dt.date.fromisoformat(EXPIRATIONS[0]),
        "dte": 2,
        "strike": strike,
        "bid": 1.0,
        "ask": 1.1,
        "mid": 1.05,
        "last": None,
        "volume": None,
        "open_interest": 100.0,
        "iv": 0.5,
        "delta": -0.2,
        "delta_source": "computed",
        "annualized_return": 50.0,
        "spread_pct": 9.5,
        "cushion_pct": 5.0,
        "breakeven": strike - 1.0,
        "collateral": strike * 100,
        "prob_otm": 0.8,
        "underlying_price": 100.0,
        "quote_time": AS_OF,
        "data_delay_s": 0.0,
        "provider": "test",
    }
    return Opportunity(**{**body, **fields})


@pytest.mark.parametrize("key", ["open_interest", "prob_otm"])
def test_missing_values_rank_last_across_symbols(key):
    opportunities = [
        _opportunity("BBB", 90.0, **{key: None}),
        _opportunity("AAA", 91.0, **{key: 0.0}),
        _opportunity("CCC", 92.0, **{key: 0.5}),
        _opportunity("AAA", 93.0, **{key: None}),
        _opportunity("AAA", 94.0, **{key: math.nan}) if key == "prob_otm" else None,
    ]
    ranked = rank_opportunities([o for o in opportunities if o is not None], key)
    assert [(o.symbol, o.strike) for o in ranked][:2] == [("CCC", 92.0), ("AAA", 91.0)]
    # missing (None, or NaN where the model allows it) last, ties by symbol then contract
    tail = [(o.symbol, o.strike) for o in ranked][2:]
    expected = [("AAA", 93.0), ("AAA", 94.0), ("BBB", 90.0)] if key == "prob_otm" else None
    assert tail == (expected or [("AAA", 93.0), ("BBB", 90.0)])


def test_a_missing_probability_ranks_last_in_a_chain():
    chain = make_chain([{"strike": s} for s in (90.0, 91.0, 92.0)])
    rows = np.arange(3)
    nan = np.full(3, np.nan)
    metrics = Metrics(
        dte=np.array([2, 2, 2]),
        years=np.full(3, 0.01),
        base=np.array([90.0, 91.0, 92.0]),
        mid=nan,
        spread_pct=nan,
        annualized_return=nan,
        cushion_pct=nan,
        breakeven=nan,
        collateral=nan,
        delta=nan,
        delta_from_provider=np.zeros(3, dtype=bool),
        prob_otm=np.array([np.nan, 0.0, 0.9]),
    )
    assert rank_order("prob_otm", metrics, chain, rows).tolist() == [2, 1, 0]


def test_shorter_dte_ranks_first_and_ties_go_by_contract():
    chain = make_chain(
        [
            {"expiration": EXPIRATIONS[2], "strike": 90.0},
            {"expiration": EXPIRATIONS[0], "strike": 92.0},
            {"expiration": EXPIRATIONS[1], "strike": 90.0},
            {"expiration": EXPIRATIONS[0], "strike": 91.0},
        ]
    )
    found = screen(chain, "dte")
    assert [(o.dte, o.strike) for o in found] == [(2, 91.0), (2, 92.0), (9, 90.0), (30, 90.0)]
    assert rank_opportunities(list(reversed(found)), "dte") == found


def test_unknown_rank_key_is_refused():
    with pytest.raises(ValueError, match="unknown rank_by 'volume'"):
        rank_opportunities([], "volume")


# --------------------------------------------------------------------------- agreement

STRIKES = [round(60 + 0.5 * i, 1) for i in range(80)]  # 60 .. 99.5


@st.composite
def chains(draw: st.DrawFn) -> OptionChain:
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(EXPIRATIONS), st.sampled_from(STRIKES)),
            min_size=1,
            max_size=24,
            unique=True,
        )
    )
    rows = []
    for expiration, strike in keys:
        bid = draw(st.sampled_from([0.05, 0.1, 0.15, 0.3, 0.45, 1.0, 1.5, 2.0, 3.0]))
        rows.append(
            {
                "expiration": expiration,
                "strike": strike,
                "bid": bid,
                "ask": bid + draw(st.sampled_from([0.01, 0.05, 0.1])),
                "iv": draw(st.sampled_from([0.2, 0.35, 0.5, 0.8])),
                "open_interest": draw(st.sampled_from([math.nan, 0.0, 1.0, 10.0, 500.0])),
            }
        )
    return make_chain(rows)


@given(chain=chains(), top=st.integers(min_value=1, max_value=5), seed=st.integers(0, 2**16))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_per_chain_order_agrees_with_the_models_ranking(chain, top, seed):
    for rank_by in RANK_KEYS:
        everything = screen(chain, rank_by)  # the chain's array order (rank_order)
        assert everything, "the loose screen lets well-formed puts through"
        shuffled = list(everything)
        random.Random(seed).shuffle(shuffled)
        assert contracts(rank_opportunities(shuffled, rank_by)) == contracts(everything), rank_by
        cut = screen(chain, rank_by, top=top)  # the per-chain cut (top_per_symbol)
        assert contracts(cut) == contracts(everything)[:top], rank_by
