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
    checks = trust_checks(
        chain, metrics, analytics, as_of=as_of, market_open=market_open, seen=seen
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


def trust_checks(
    chain: OptionChain,
    metrics: Metrics,
    analytics: AnalyticsSection,
    *,
    as_of: dt.datetime,
    market_open: bool,
    seen: set[str] | None,
) -> list[tuple[str, np.ndarray]]:
    """The checks every screen starts with, in order of precedence: a copy of a
    contract listed before it (:func:`duplicate_check`), then the data-quality gate
    (:func:`~optscan.analytics.gate.quality_gate`, with ``[analytics]``'s IV cap and
    quote age). ``(reason, failing mask)`` pairs; the scan's screen and the rolls both
    use it, so a quote one trusts the other does too."""
    checks = duplicate_check(chain, seen)
    checks += quality_gate(
        chain,
        metrics,
        as_of=as_of,
        iv_cap=analytics.iv_cap,
        max_quote_age_s=analytics.max_quote_age_s,
        market_open=market_open,
    )
    return checks


def duplicate_check(chain: OptionChain, seen: set[str] | None) -> list[tuple[str, np.ndarray]]:
    """``("duplicate", mask)`` for every copy of a contract after its first listing (in
    this chain, or already in ``seen``), and ``seen`` updated; ``[]`` when none is."""
    symbols = chain.contract_symbol
    copies = _repeats(symbols)
    if seen is not None:  # a set lookup per contract: cheaper than a sort of them all
        names = symbols.tolist()
        if seen:
            earlier = np.fromiter((name in seen for name in names), dtype=bool, count=len(names))
            copies = earlier if copies is None else copies | earlier
        seen.update(names)
    return [("duplicate", copies)] if copies is not None and copies.any() else []


_FMIX1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX2 = np.uint64(0xC4CEB9FE1A85EC53)
_33 = np.uint64(33)


def _repeats(symbols: np.ndarray) -> np.ndarray | None:
    """True for each contract symbol equal to an earlier one; ``None`` when none is.

    Vectorized: the symbols narrowed to bytes (as the OCC check does) and read as
    overlapping 8-byte words give a 64-bit hash each; a chain whose sorted hashes never
    repeat has no copy (the usual case). Otherwise rows are grouped by hash, each
    group's first listing leads it, and a row is a copy when its words equal its
    lead's (ASCII symbols; else the strings are compared); a true hash collision (two
    different symbols, one hash) falls back to an exact check of every row.
    """
    n = len(symbols)
    if n < 2:
        return None
    words = _words_of(symbols)
    digest = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for word in words:  # MurmurHash3's 64-bit finalizer after each word
            digest ^= word
            digest ^= digest >> _33
            digest *= _FMIX1
            digest ^= digest >> _33
            digest *= _FMIX2
            digest ^= digest >> _33
    if not (np.diff(np.sort(digest)) == 0).any():
        return None
    order = np.argsort(digest)
    ranked = digest[order]
    starts = np.flatnonzero(np.concatenate(([True], ranked[1:] != ranked[:-1])))
    sizes = np.diff(np.append(starts, n))
    leads = np.minimum.reduceat(order, starts)  # the first listing of each hash
    lead_of = np.repeat(leads, sizes)  # aligned with order
    if int(symbols.view(np.uint32).max(initial=0)) < 128:  # the bytes are the symbols
        same = np.ones(n, dtype=bool)
        for word in words:
            same &= word[order] == word[lead_of]
    else:
        same = symbols[order] == symbols[lead_of]
    if not same.all():  # a hash collision: decide exactly, row by row
        listed: set[str] = set()
        flags = []
        for name in symbols.tolist():
            flags.append(name in listed)
            listed.add(name)
        return np.array(flags, dtype=bool)
    copies = np.ones(n, dtype=bool)
    copies[leads] = False
    return copies


def _words_of(symbols: np.ndarray) -> list[np.ndarray]:
    """Every symbol's bytes as overlapping 8-byte words (views: no copy past the one
    narrowing); characters above 127 are clamped (the caller checks)."""
    from optscan.analytics.occ import _ascii_matrix, _words

    width = symbols.dtype.itemsize // 4
    chars = _ascii_matrix(np.ascontiguousarray(symbols)) if width else None
    if width < 8:  # short symbols: pad to one word
        padded = np.zeros((len(symbols), 8), dtype=np.uint8)
        if chars is not None:
            padded[:, :width] = chars
        chars, width = padded, 8
    offsets = sorted({*range(0, width - 7, 8), width - 8})
    return [_words(chars, offset) for offset in offsets]


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
