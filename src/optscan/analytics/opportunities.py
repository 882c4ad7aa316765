"""Opportunity models for the contracts that passed: the only per-contract Python work."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optscan.analytics.metrics import Metrics
    from optscan.chain import OptionChain
    from optscan.models import Opportunity


DIGITS = {
    "delta": 6,
    "annualized_return": 4,
    "spread_pct": 4,
    "cushion_pct": 4,
    "breakeven": 4,
    "prob_otm": 6,
    "mid": 4,
}
"""Decimal places the models keep of each rounded metric (the ranking of a chain's
arrays rounds the same way, so it orders contracts exactly as the models do)."""


def _opt(value: float) -> float | None:
    return None if value != value else value  # NaN -> None


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return np.round(values, digits).tolist()


def build_opportunities(
    chain: OptionChain, rows: np.ndarray, metrics: Metrics
) -> list[Opportunity]:
    """Models for the contracts at ``rows`` (the only per-contract Python work).

    ``metrics`` is aligned with ``rows``. Columns are turned into Python lists once, so
    each model costs one pydantic validation and nothing else.
    """
    from optscan.models import Opportunity

    if len(rows) == 0:
        return []
    columns = {
        "contract_symbol": chain.contract_symbol[rows].tolist(),
        "kind": chain.kind[rows].tolist(),
        "expiration": chain.expiration[rows].astype(dt.date).tolist(),
        "dte": metrics.dte.tolist(),
        "strike": chain.strike[rows].tolist(),
        "bid": chain.bid[rows].tolist(),
        "premium": _rounded(chain.bid[rows] * 100.0, 2),
        "ask": chain.ask[rows].tolist(),
        "mid": _rounded(metrics.mid, DIGITS["mid"]),
        "last": chain.last[rows].tolist(),
        "volume": chain.volume[rows].tolist(),
        "open_interest": chain.open_interest[rows].tolist(),
        "iv": chain.iv[rows].tolist(),
        "delta": _rounded(metrics.delta, DIGITS["delta"]),
        "provided": metrics.delta_from_provider.tolist(),
        "annualized_return": _rounded(metrics.annualized_return, DIGITS["annualized_return"]),
        "spread_pct": _rounded(metrics.spread_pct, DIGITS["spread_pct"]),
        "cushion_pct": _rounded(metrics.cushion_pct, DIGITS["cushion_pct"]),
        "breakeven": _rounded(metrics.breakeven, DIGITS["breakeven"]),
        "collateral": metrics.collateral.tolist(),
        "prob_otm": _rounded(metrics.prob_otm, DIGITS["prob_otm"]),
    }
    shared = {
        "symbol": chain.symbol,
        "underlying_price": chain.underlying_price,
        "quote_time": chain.quote_time,
        "data_delay_s": chain.data_delay_s,
        "provider": chain.provider,
    }
    optional = ("ask", "mid", "last", "volume", "open_interest", "iv", "spread_pct", "prob_otm")
    out = []
    for row in zip(*columns.values(), strict=True):
        values = dict(zip(columns, row, strict=True))
        for key in optional:
            values[key] = _opt(values[key])
        values["delta_source"] = "provider" if values.pop("provided") else "computed"
        out.append(Opportunity(**shared, **values))
    return out
