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
from optscan.analytics.metrics import CloseOf, compute_metrics, survivor_metrics
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
    close_of: CloseOf | None = None,
    seen: set[str] | None = None,
) -> ChainScreen:
    """Metrics, gate and screen over a whole chain; models only for the survivors.

    ``close_of`` gives each expiration day's close (the market calendar's; default
    16:00 New York). A contract listed twice (in this chain, or in ``seen``: the
    contract symbols of the symbol's chains screened before) is screened once, and each
    copy is rejected as ``duplicate``; this chain's contract symbols are added to
    ``seen``. ``cost_basis`` (per share, of the shares a covered call is written on)
    guards the call strikes and gives the if-called returns.

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
    metrics = compute_metrics(
        chain, as_of, with_greeks=False, with_position=positional, close_of=close_of
    )
    checks = duplicate_check(chain, seen)
    checks += quality_gate(
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
    result.opportunities = build_opportunities(
        chain, rows[order], metrics.take(order), cost_basis=cost_basis
    )
    return result


def duplicate_check(chain: OptionChain, seen: set[str] | None) -> list[tuple[str, np.ndarray]]:
    """``("duplicate", mask)`` for every copy of a contract after its first listing (in
    this chain, or already in ``seen``), and ``seen`` updated; ``[]`` when none is."""
    symbols = chain.contract_symbol
    copies = None
    if seen or _may_repeat(symbols):  # exact, per contract, only when a copy may exist
        first: set[str] = set(seen or ())
        flags = []
        for name in symbols.tolist():
            flags.append(name in first)
            first.add(name)
        copies = np.array(flags, dtype=bool)
    if seen is not None:
        seen.update(symbols.tolist())
    return [("duplicate", copies)] if copies is not None and copies.any() else []


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _may_repeat(symbols: np.ndarray) -> bool:
    """Whether two contract symbols may be equal: a 64-bit hash of each (its characters
    narrowed to bytes), sorted, has a repeat. False means none is; True is checked
    exactly by the caller. About 50 ms for a million contracts."""
    n = len(symbols)
    if n < 2:
        return False
    width = symbols.dtype.itemsize // 4
    if width == 0:
        return True
    codes = symbols.view(np.uint32).reshape(n, width)
    words = (width + 7) // 8
    chars = np.zeros((n, words * 8), dtype=np.uint8)
    chars[:, :width] = codes  # wraps non-ASCII characters: a collision is checked exactly
    lanes = chars.view(np.uint64)
    digest = lanes[:, 0].copy()
    with np.errstate(over="ignore"):
        for j in range(1, words):
            digest *= _MIX
            digest ^= lanes[:, j]
    digest.sort()
    return bool((digest[1:] == digest[:-1]).any())


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
