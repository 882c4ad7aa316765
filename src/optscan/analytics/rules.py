"""A strategy's rules (``[strategies.<name>]``) as ``(reason, failing mask)`` pairs.

The delta rules are apart (:func:`delta_screen`) and applied last, because delta is
computed only for the contracts every other rule left alive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from optscan.analytics.metrics import Metrics
    from optscan.chain import OptionChain
    from optscan.config import StrategySection


def _max_call_delta(strategy: StrategySection, dte: np.ndarray) -> np.ndarray:
    """The covered-call delta cap for each contract's DTE (a step table)."""
    if strategy.max_delta_by_dte:
        steps = sorted(strategy.max_delta_by_dte, key=lambda s: s.max_dte)
        edges = np.array([s.max_dte for s in steps])
        caps = np.array([s.max_delta for s in steps])
        index = np.minimum(np.searchsorted(edges, dte, side="left"), len(caps) - 1)
        cap = caps[index]
        if strategy.max_delta is not None:
            cap = np.minimum(cap, strategy.max_delta)
        return cap
    return np.full(dte.shape, strategy.max_delta if strategy.max_delta is not None else 1.0)


def strategy_screen(
    chain: OptionChain,
    metrics: Metrics,
    strategy: StrategySection,
    *,
    cost_basis: float | None = None,
) -> list[tuple[str, np.ndarray]]:
    """The strategy's rules as ``(reason, failing mask)`` pairs, in order."""
    is_call = chain.is_call
    wants_call = strategy.type == "cc"
    dte = metrics.dte
    checks: list[tuple[str, np.ndarray]] = [("wrong_kind", is_call != wants_call)]
    if strategy.min_dte is not None or strategy.max_dte is not None:
        lo = strategy.min_dte if strategy.min_dte is not None else 0
        hi = strategy.max_dte if strategy.max_dte is not None else np.iinfo(np.int64).max
        checks.append(("dte_out_of_range", (dte < lo) | (dte > hi)))
    if strategy.earnings_blackout and (chain.earnings_start or chain.earnings_end):
        day = np.datetime64(chain.earnings_start or chain.earnings_end, "D")
        checks.append(("earnings_before_expiry", chain.expiration >= day))
    if strategy.ex_dividend_blackout and chain.ex_dividend_date is not None:
        day = np.datetime64(chain.ex_dividend_date, "D")
        checks.append(("ex_dividend_before_expiry", chain.expiration >= day))
    if wants_call and cost_basis is not None and strategy.strikes_at_or_above_cost_basis:
        checks.append(("below_cost_basis", chain.strike < cost_basis))
    with np.errstate(invalid="ignore"):
        checks.append(
            ("return_below_min", ~(metrics.annualized_return >= strategy.min_annualized_return))
        )
        if strategy.min_bid > 0:
            checks.append(("bid_below_min", chain.bid < strategy.min_bid))
        if strategy.min_open_interest > 0:
            checks.append(
                ("open_interest_below_min", ~(chain.open_interest >= strategy.min_open_interest))
            )
        if strategy.min_volume > 0:
            checks.append(("volume_below_min", ~(chain.volume >= strategy.min_volume)))
        if strategy.max_spread_pct > 0:
            checks.append(("spread_above_max", ~(metrics.spread_pct <= strategy.max_spread_pct)))
        if strategy.min_cushion_pct is not None:
            checks.append(("cushion_below_min", metrics.cushion_pct < strategy.min_cushion_pct))
        if strategy.max_collateral is not None and not wants_call:
            checks.append(("collateral_above_max", metrics.collateral > strategy.max_collateral))
    return checks


def delta_screen(
    delta: np.ndarray, dte: np.ndarray, strategy: StrategySection
) -> list[tuple[str, np.ndarray]]:
    """The delta rules, applied last: delta is computed only for the survivors."""
    with np.errstate(invalid="ignore"):
        checks = [("delta_missing", np.isnan(delta))]
        if strategy.type == "cc":
            checks.append(("delta_out_of_range", delta > _max_call_delta(strategy, dte)))
        elif strategy.min_delta is not None:
            checks.append(("delta_out_of_range", delta < strategy.min_delta))
        if strategy.max_delta is not None and strategy.type == "csp":
            checks.append(("delta_out_of_range", delta > strategy.max_delta))
    return checks
