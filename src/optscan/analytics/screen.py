"""``screen_chain``: metrics, data-quality gate and strategy screen over one chain.

It is the one function a scan calls per chain. It works on the
:class:`~optscan.chain.OptionChain`'s numpy arrays end to end and builds
:class:`~optscan.models.Opportunity` models only for contracts that pass, so a chain of
a million contracts costs a handful of vector operations, not a million Python
iterations. Every contract that does not become an opportunity is counted once, under
its first reason, in the symbol's ``rejected`` map.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from optscan.analytics.gate import quality_gate
from optscan.analytics.greeks import bs_delta
from optscan.analytics.metrics import compute_metrics, survivor_metrics
from optscan.analytics.opportunities import build_opportunities
from optscan.analytics.ranking import rank_order
from optscan.analytics.rules import delta_screen, strategy_screen

if TYPE_CHECKING:
    from optscan.analytics.metrics import Metrics
    from optscan.chain import OptionChain
    from optscan.config import AnalyticsSection, StrategySection
    from optscan.models import Opportunity


@dataclass
class ChainScreen:
    """What :func:`screen_chain` found in one chain."""

    contracts_seen: int
    opportunities: list[Opportunity] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)


def _first_reasons(
    checks: list[tuple[str, np.ndarray]], n: int, alive: np.ndarray | None = None
) -> tuple[np.ndarray, Counter]:
    """Apply checks in order; count each rejected contract once, under its first reason."""
    alive = np.ones(n, dtype=bool) if alive is None else alive
    counts: Counter[str] = Counter()
    for reason, failing in checks:
        hit = alive & failing
        count = int(np.count_nonzero(hit))
        if count:
            counts[reason] += count
            alive &= ~hit
    return alive, counts


def screen_chain(
    chain: OptionChain,
    *,
    strategy: StrategySection,
    analytics: AnalyticsSection,
    as_of: dt.datetime,
    market_open: bool = True,
    cost_basis: float | None = None,
) -> ChainScreen:
    """Metrics, gate and screen over a whole chain; models only for the survivors.

    The cheap chain-wide metrics, the gate and the strategy's rules run on every
    contract; delta is then computed only for the contracts still alive (a few percent
    of a real chain) and the delta rules applied to them; and every other metric
    (probability OTM, the position metrics the screen did not need) only for the few
    that passed.
    """
    n = len(chain)
    result = ChainScreen(contracts_seen=n)
    if n == 0:
        return result
    dividend_yield = analytics.dividend_yields.get(chain.symbol, chain.dividend_yield or 0.0)
    rate = analytics.risk_free_rate
    # cushion, breakeven and collateral for every contract only if the screen uses them
    positional = strategy.min_cushion_pct is not None or (
        strategy.max_collateral is not None and strategy.type != "cc"
    )
    metrics = compute_metrics(chain, as_of, with_greeks=False, with_position=positional)
    checks = quality_gate(
        chain,
        metrics,
        as_of=as_of,
        iv_cap=analytics.iv_cap,
        max_quote_age_s=analytics.max_quote_age_s,
        market_open=market_open,
    )
    checks += strategy_screen(chain, metrics, strategy, cost_basis=cost_basis)
    alive, counts = _first_reasons(checks, n)
    index = np.flatnonzero(alive)
    delta = _delta_at(chain, index, metrics, rate, dividend_yield)
    alive, delta_counts = _first_reasons(
        delta_screen(delta, metrics.dte[index], strategy), len(index)
    )
    counts.update(delta_counts)
    rows = index[alive]
    metrics = survivor_metrics(chain, metrics, rows, delta[alive], rate, dividend_yield)
    order = rank_order(strategy.rank_by, metrics, chain, rows)
    if strategy.top_per_symbol and len(order) > strategy.top_per_symbol:
        counts["rank_cut"] += len(order) - strategy.top_per_symbol
        order = order[: strategy.top_per_symbol]
    result.rejected = counts
    result.opportunities = build_opportunities(chain, rows[order], metrics.take(order))
    return result


def _delta_at(
    chain: OptionChain, index: np.ndarray, metrics: Metrics, rate: float, dividend_yield: float
) -> np.ndarray:
    """Delta of the contracts at ``index``: the provider's where it gave one, else computed."""
    given = chain.delta[index]
    computed = bs_delta(
        chain.underlying_price,
        chain.strike[index],
        metrics.years[index],
        chain.iv[index],
        chain.is_call[index],
        rate,
        dividend_yield,
    )
    return np.where(np.isnan(given), computed, given)
