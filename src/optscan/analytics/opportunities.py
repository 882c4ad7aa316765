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
    "prob_profit": 6,
    "mid": 4,
    "extrinsic": 4,
    "if_called_return": 4,
    "if_called_annualized": 4,
}
"""Decimal places the models keep of each rounded metric (the ranking of a chain's
arrays rounds the same way, so it orders contracts exactly as the models do)."""


def _opt(value: float) -> float | None:
    return None if value != value else value  # NaN -> None


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return np.round(values, digits).tolist()


def if_called(
    bid: np.ndarray,
    strike: np.ndarray,
    spot: float,
    dte: np.ndarray,
    cost_basis: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """A covered call's returns if the shares are called away at expiry, in percent.

    ``if_called_return`` (not annualized) ``(bid + strike - cost basis) / cost basis x
    100``, the whole gain on the shares' cost; ``if_called_annualized`` ``(bid + strike
    - stock price) / stock price x 365 / max(DTE, 1) x 100``, what writing the call
    earns from today's price. Both NaN without a cost basis above 0.
    """
    if cost_basis is None or not cost_basis > 0:
        nan = np.full(len(bid), np.nan)
        return nan, nan.copy()
    total = (bid + strike - cost_basis) / cost_basis * 100.0
    annualized = (bid + strike - spot) / spot * 365.0 / np.maximum(dte, 1) * 100.0
    return total, annualized


def build_opportunities(
    chain: OptionChain,
    rows: np.ndarray,
    metrics: Metrics,
    *,
    cost_basis: float | None = None,
) -> list[Opportunity]:
    """Models for the contracts at ``rows`` (the only per-contract Python work).

    ``metrics`` is aligned with ``rows``. Columns are turned into Python lists once, so
    each model costs one pydantic validation and nothing else. ``cost_basis`` (per
    share) gives calls their if-called returns.
    """
    from optscan.analytics.metrics import intrinsic_value
    from optscan.models import OPTIONAL_NUMBERS, Opportunity

    if len(rows) == 0:
        return []
    bid, strike, is_call = chain.bid[rows], chain.strike[rows], chain.is_call[rows]
    spot = chain.underlying_price
    extrinsic = (
        metrics.extrinsic
        if metrics.extrinsic is not None
        else bid - intrinsic_value(spot, strike, is_call)
    )
    called_total, called_annualized = if_called(bid, strike, spot, metrics.dte, cost_basis)
    called_total = np.where(is_call, called_total, np.nan)
    called_annualized = np.where(is_call, called_annualized, np.nan)
    prob_profit = metrics.prob_profit if metrics.prob_profit is not None else metrics.prob_otm
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
        "prob_profit": _rounded(prob_profit, DIGITS["prob_profit"]),
        "extrinsic": _rounded(extrinsic, DIGITS["extrinsic"]),
        "if_called_return": _rounded(called_total, DIGITS["if_called_return"]),
        "if_called_annualized": _rounded(called_annualized, DIGITS["if_called_annualized"]),
    }
    shared = {
        "symbol": chain.symbol,
        "underlying_price": chain.underlying_price,
        "quote_time": chain.quote_time,
        "data_delay_s": chain.data_delay_s,
        "provider": chain.provider,
    }
    out = []
    for row in zip(*columns.values(), strict=True):
        values = dict(zip(columns, row, strict=True))
        for key in OPTIONAL_NUMBERS:
            values[key] = _opt(values[key])
        values["delta_source"] = "provider" if values.pop("provided") else "computed"
        out.append(Opportunity(**shared, **values))
    return out
