"""``scan --cash``: the selection is the optimum (a brute force agrees), within the cash."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optscan.analytics.selection import (
    Candidate,
    SelectionTooLarge,
    collateral_cents,
    income_units,
    select_puts,
)


def brute_force(candidates: list[Candidate], cash: float, per_symbol: int) -> list[str]:
    """Every subset: the most income, then the least collateral, then the smallest
    sorted list of contract symbols."""
    unique = list({c.contract_symbol: c for c in reversed(candidates)}.values())
    best: tuple | None = None
    for r in range(len(unique) + 1):
        for subset in itertools.combinations(unique, r):
            if sum(collateral_cents(c) for c in subset) > round(cash * 100):
                continue
            counts: dict[str, int] = {}
            for c in subset:
                counts[c.symbol] = counts.get(c.symbol, 0) + 1
            if any(n > per_symbol for n in counts.values()):
                continue
            key = (
                -sum(income_units(c) for c in subset),
                sum(collateral_cents(c) for c in subset),
                sorted(c.contract_symbol for c in subset),
            )
            if best is None or key < best:
                best = key
    assert best is not None
    return best[2]


def put(symbol: str, day: int, strike: float, bid: float, dte: int) -> Candidate:
    occ = f"{symbol}2612{day:02d}P{round(strike * 1000):08d}"
    return Candidate(contract_symbol=occ, symbol=symbol, strike=strike, bid=bid, dte=dte)


candidate = st.builds(
    put,
    symbol=st.sampled_from(["AA", "AAPL", "F", "FA", "X"]),
    day=st.sampled_from([4, 11, 18]),
    strike=st.sampled_from([1.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0]),
    bid=st.sampled_from([0.05, 0.1, 0.25, 0.5, 1.0]),
    dte=st.sampled_from([3, 7, 14]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    candidates=st.lists(candidate, min_size=0, max_size=9),
    cash=st.sampled_from([0.0, 99.0, 250.0, 1000.0, 1999.99, 3000.0, 10_000.0]),
    per_symbol=st.integers(1, 3),
)
def test_the_selection_is_the_brute_force_optimum(candidates, cash, per_symbol) -> None:
    chosen = select_puts(candidates, cash, per_symbol)
    symbols = [c.contract_symbol for c in chosen.contracts]
    assert symbols == brute_force(candidates, cash, per_symbol)
    assert chosen.collateral_used <= cash
    assert len(set(symbols)) == len(symbols)


def test_greedy_is_not_optimal_here() -> None:
    # greedy by income per dollar takes A (best ratio) and then nothing fits; B + C pay more
    a = put("AAA", 4, 60.0, 1.00, 7)
    b = put("BBB", 4, 50.0, 0.80, 7)
    c = put("CCC", 4, 50.0, 0.80, 7)
    chosen = select_puts([a, b, c], 10_000.0)
    assert [x.contract_symbol for x in chosen.contracts] == [b.contract_symbol, c.contract_symbol]
    assert chosen.collateral_used == 10_000.0
    assert chosen.premium_total == 160.0
    assert chosen.annualized_income == pytest.approx(2 * 80 * 365 / 7, abs=0.01)


def test_ties_go_to_the_least_collateral_then_the_first_symbols() -> None:
    cheap = put("ZZZ", 4, 40.0, 1.00, 7)
    dear = put("AAA", 4, 50.0, 1.00, 7)
    assert [x.symbol for x in select_puts([dear, cheap], 5_000.0).contracts] == ["ZZZ"]
    twin = put("BBB", 4, 40.0, 1.00, 7)
    assert [x.symbol for x in select_puts([cheap, twin], 5_000.0).contracts] == ["BBB"]


def test_bad_cash_is_refused() -> None:
    with pytest.raises(ValueError, match="cash"):
        select_puts([], math.nan)
    with pytest.raises(ValueError, match="cash"):
        select_puts([], -1.0)


def test_an_instance_too_large_for_the_table_is_solved_by_highs() -> None:
    """One-cent collateral steps (strikes off the grid) made a million of cash a
    hundred million cells: the selection was refused. HiGHS solves it: all incomes
    equal, so the most contracts, then the least collateral (the cheapest ones)."""
    many = [put(f"S{i:03d}", 4, 1000.01 + i, 1.0, 7) for i in range(500)]  # 1-cent steps
    cash = 5e7  # under the 62.5 million they need together
    chosen = select_puts(many, cash)
    cheapest, used = [], 0.0
    for c in many:  # already cheapest first
        if used + c.collateral > cash:
            break
        cheapest.append(c.contract_symbol)
        used += c.collateral
    assert [c.contract_symbol for c in chosen.contracts] == cheapest
    assert chosen.collateral_used == pytest.approx(used)
    assert len(select_puts(many, 1e8).contracts) == 500  # all fit: no programme needed


def test_when_highs_cannot_prove_the_optimum_the_selection_says_so(monkeypatch) -> None:
    from optscan.analytics import selection_milp

    def give_up(*args, **kwargs):
        raise selection_milp.SolverFailed("HiGHS ended with kTimeLimit")

    monkeypatch.setattr(selection_milp, "solve_milp", give_up)
    many = [put(f"S{i:03d}", 4, 1000.01 + i, 1.0, 7) for i in range(500)]
    with pytest.raises(SelectionTooLarge, match="too large for the exact table, and HiGHS"):
        select_puts(many, 5e7)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    candidates=st.lists(candidate, min_size=0, max_size=9),
    cash=st.sampled_from([0.0, 99.0, 250.0, 1000.0, 1999.99, 3000.0, 10_000.0]),
    per_symbol=st.integers(1, 3),
)
def test_highs_finds_the_brute_force_optimum(candidates, cash, per_symbol) -> None:
    """The fallback, forced on small instances: the same income and collateral as the
    brute force (a tie in both may pick another set of the same worth)."""
    import optscan.analytics.selection as selection

    by_symbol = {c.contract_symbol: c for c in reversed(candidates)}  # first listing wins
    best = [by_symbol[s] for s in brute_force(candidates, cash, per_symbol)]
    cells = selection.MAX_CELLS
    selection.MAX_CELLS = 0
    try:
        chosen = select_puts(candidates, cash, per_symbol)
    finally:
        selection.MAX_CELLS = cells
    assert sum(income_units(c) for c in chosen.contracts) == sum(income_units(c) for c in best)
    assert sum(collateral_cents(c) for c in chosen.contracts) == sum(
        collateral_cents(c) for c in best
    )
    counts: dict[str, int] = {}
    for c in chosen.contracts:
        counts[c.symbol] = counts.get(c.symbol, 0) + 1
    assert all(n <= per_symbol for n in counts.values())
