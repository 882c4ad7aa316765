"""The best cash-secured puts for the cash you have: an exact multiple-choice knapsack.

Among candidate puts, :func:`select_puts` chooses the set that maximizes **annualized
premium income**, the sum of ``bid x 100 x 365 / max(DTE, 1)`` (dollars a year) over
the contracts chosen, such that

* the total collateral (``strike x 100`` per contract) is within the cash,
* at most ``max_per_symbol`` contracts are chosen per underlying,
* each contract is chosen at most once (a contract symbol listed twice counts once).

Ties go to the least collateral, then to the smallest sorted list of contract symbols.
The answer is **optimal**, not greedy: greedy by return per dollar of collateral misses
the best set whenever a dearer contract fills the cash better.

Method: when the cash holds the dearest choice of every underlying, each underlying is
chosen on its own (its ``max_per_symbol`` best contracts). Otherwise an exact dynamic
programme over the collateral actually used (beyond :data:`MAX_CELLS` cells, the same
programme solved by HiGHS: :mod:`optscan.analytics.selection_milp`). Collaterals are
counted in whole multiples of ``g``, the greatest common divisor of every collateral in
cents (50 dollars for strikes on a 0.50 grid), so the table has ``cash / g + 1`` cells
(20,001 for a million dollars on that grid); each contract updates it with a few numpy
operations, and one bit a cell records whether taking the contract is optimal there.
Incomes are compared as whole hundredths of a cent (``round(income x 10,000)`` per
contract), so sums are exact integers and ties are real ties, not float noise.
Contracts are visited in symbol order (an underlying's OCC symbols are contiguous in
that order: the root is followed by digits), and the reconstruction takes a contract
whenever taking it still reaches the optimum: that yields the smallest sorted symbol
list among the optimal sets of least collateral. ``bench/bench_selection.py`` times it
(500 symbols, about 5,000 candidates, 1,000,000 of cash).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INCOME_UNITS_PER_DOLLAR = 10_000
"""Incomes are compared in hundredths of a cent (exact integer sums)."""
MAX_CASH = 1e10
"""The most cash a selection takes (ten billion): keeps every integer sum exact."""
MAX_CELLS = 2_000_000_000
"""The largest table (contracts x per-symbol limit x cash cells) solved exactly here
(about 250 MB of decision bits); beyond it HiGHS solves the same programme."""
_NEG = np.int64(-(2**62))
_VALID = np.int64(-(2**61))


class SelectionTooLarge(ValueError):
    """The instance would need more than :data:`MAX_CELLS` cells: say so, do not guess."""


@dataclass(frozen=True)
class Candidate:
    """One put that may be sold: prices per share, DTE in calendar days."""

    contract_symbol: str
    symbol: str
    strike: float
    bid: float
    dte: int

    @property
    def collateral(self) -> float:
        """Cash secured, dollars: strike x 100."""
        return self.strike * 100.0

    @property
    def annualized_income(self) -> float:
        """Dollars a year: bid x 100 x 365 / max(DTE, 1)."""
        return self.bid * 100.0 * 365.0 / max(self.dte, 1)


@dataclass(frozen=True)
class Chosen:
    """The optimum: the contracts (in symbol order) and their totals in dollars."""

    contracts: list[Candidate]
    collateral_used: float
    premium_total: float
    annualized_income: float


def income_units(candidate: Candidate) -> int:
    """The candidate's annualized income in hundredths of a cent (what is maximized)."""
    return round(candidate.annualized_income * INCOME_UNITS_PER_DOLLAR)


def collateral_cents(candidate: Candidate) -> int:
    """The candidate's collateral in cents (strike x 100 x 100)."""
    return round(candidate.strike * 10_000)


def select_puts(candidates: list[Candidate], cash: float, max_per_symbol: int = 1) -> Chosen:
    """The optimal set (see the module's doc). ``cash`` in dollars, 0 to :data:`MAX_CASH`.

    Raises ``ValueError`` for a negative, non-finite or too large cash or a
    ``max_per_symbol`` below 1, and :class:`SelectionTooLarge` when an instance beyond
    :data:`MAX_CELLS` also defeats HiGHS (its 30 s limit).
    """
    if not (math.isfinite(cash) and 0 <= cash <= MAX_CASH):
        raise ValueError(f"cash must be a finite amount from 0 to {MAX_CASH:,.0f}, got {cash!r}")
    if max_per_symbol < 1:
        raise ValueError("max_per_symbol must be at least 1")
    cash_cents = math.floor(round(cash * 100, 6))
    unique = {c.contract_symbol: c for c in reversed(candidates)}  # first listing wins
    items = sorted(
        (
            c
            for c in unique.values()
            # a put's bid above its strike is no quote (and would void the bounds)
            if 0 < c.bid <= c.strike and collateral_cents(c) <= cash_cents
        ),
        key=lambda c: c.contract_symbol,
    )
    groups = _groups(items)
    items = [c for group in groups for c in group]
    if not items:
        return _chosen([])
    cents = [collateral_cents(c) for c in items]
    unit = math.gcd(*cents)
    weights = np.array([w // unit for w in cents], dtype=np.int64)
    values = np.array([income_units(c) for c in items], dtype=np.int64)
    reach = sum(
        sum(sorted(weights[i : i + len(g)].tolist(), reverse=True)[:max_per_symbol])
        for i, g in _offsets(groups)
    )
    if cash_cents // unit >= reach:  # any choice fits: each underlying on its own
        return _chosen(_best_per_group(groups, max_per_symbol))
    capacity = cash_cents // unit
    layers = min(max_per_symbol, max(len(g) for g in groups))
    if len(items) * layers * (capacity + 1) > MAX_CELLS:
        return _chosen(_by_milp(items, groups, cents, values, cash_cents, max_per_symbol, unit))
    starts = {i for i, _g in _offsets(groups)}
    taken = _solve(weights, values, starts, layers, capacity)
    return _chosen([items[i] for i in taken])


def _by_milp(
    items: list[Candidate],
    groups: list[list[Candidate]],
    cents: list[int],
    values: np.ndarray,
    cash_cents: int,
    most: int,
    unit: int,
) -> list[Candidate]:
    """Too large for the table: HiGHS (:mod:`optscan.analytics.selection_milp`), or
    :class:`SelectionTooLarge` when it cannot prove the optimum."""
    from optscan.analytics.selection_milp import SolverFailed, solve_milp

    ranges = [(start, start + len(g)) for start, g in _offsets(groups)]
    try:
        taken = solve_milp(ranges, cents, values.tolist(), cash_cents, most)
    except SolverFailed as exc:
        raise SelectionTooLarge(
            f"{len(items):,} candidates x {cash_cents // unit + 1:,} cash steps of "
            f"{unit / 100:,.2f} is too large for the exact table, and {exc}; lower the "
            "cash or the candidates"
        ) from None
    return [items[i] for i in taken]


def _best_per_group(groups: list[list[Candidate]], most: int) -> list[Candidate]:
    """When the cash holds any choice: per underlying, the ``most`` contracts of the
    highest income, ties to the least collateral, then the first symbols."""
    return [
        c
        for group in groups
        for c in sorted(
            group, key=lambda c: (-income_units(c), collateral_cents(c), c.contract_symbol)
        )[:most]
    ]


def _groups(items: list[Candidate]) -> list[list[Candidate]]:
    """Candidates by underlying, each in symbol order; groups by their first symbol."""
    by_symbol: dict[str, list[Candidate]] = {}
    for c in items:
        by_symbol.setdefault(c.symbol, []).append(c)
    return sorted(by_symbol.values(), key=lambda g: g[0].contract_symbol)


def _offsets(groups: list[list[Candidate]]) -> list[tuple[int, list[Candidate]]]:
    out, start = [], 0
    for g in groups:
        out.append((start, g))
        start += len(g)
    return out


def _solve(
    weights: np.ndarray, values: np.ndarray, starts: set[int], layers: int, capacity: int
) -> list[int]:
    """Indices of the chosen items (see the module's doc for the programme)."""
    n = len(weights)
    size = capacity + 1
    empty = np.full(size, _NEG, dtype=np.int64)
    empty[0] = 0
    # value[k][c]: best income of the items still to visit with exactly c collateral
    # units, k contracts of the current underlying already taken (k == layers: full)
    value = [empty] * (layers + 1)
    bits = np.zeros((n, layers, (size + 7) // 8), dtype=np.uint8)
    take = np.empty(size, dtype=np.int64)
    better = np.empty(size, dtype=bool)
    for i in range(n - 1, -1, -1):
        if i + 1 in starts or i == n - 1:  # leaving the next underlying: a fresh count
            tail = value[0]
            value = [tail] * (layers + 1)
        w, v = int(weights[i]), values[i]
        new = list(value)
        for k in range(layers):
            # Unreachable cells hold NEG plus at most the income of contracts whose
            # collateral fits the cash (< 365 x MAX_CASH in income units), so they stay
            # below VALID; the reconstruction only visits reachable cells, where taking
            # is marked exactly when it reaches the optimum (ties: take).
            take[:w] = _NEG
            np.add(value[k + 1][: size - w], v, out=take[w:])
            np.greater_equal(take, value[k], out=better)
            bits[i, k] = np.packbits(better)
            new[k] = np.maximum(value[k], take)
        value = new
    best = value[0]
    c = int(np.argmax(best))  # the first maximum: the least collateral
    chosen: list[int] = []
    k = 0
    for i in range(n):
        if i in starts:
            k = 0
        if k < layers and (bits[i, k, c >> 3] >> (7 - (c & 7))) & 1:
            chosen.append(i)
            c -= int(weights[i])
            k += 1
    return chosen


def _chosen(contracts: list[Candidate]) -> Chosen:
    contracts = sorted(contracts, key=lambda c: c.contract_symbol)
    return Chosen(
        contracts=contracts,
        collateral_used=round(sum(c.collateral for c in contracts), 2),
        premium_total=round(sum(c.bid * 100.0 for c in contracts), 2),
        annualized_income=round(sum(c.annualized_income for c in contracts), 2),
    )


__all__ = [
    "Candidate",
    "Chosen",
    "SelectionTooLarge",
    "collateral_cents",
    "income_units",
    "select_puts",
]
