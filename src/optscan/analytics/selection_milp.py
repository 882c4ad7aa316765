"""The selection's fallback for instances too large for the exact table: the same
multiple-choice knapsack as a mixed-integer programme, solved by HiGHS (``highspy``)
to a zero gap.

The table of :mod:`optscan.analytics.selection` has one cell per step of collateral,
the greatest common divisor of every collateral: one strike off the usual grid
(85.37 after an adjustment, 33.33 after a 3:1 split) makes that step a cent and a
million of cash a hundred million cells. HiGHS solves the programme without such a
table, in two stages that keep the table's rules:

1. maximize the annualized income (whole hundredths of a cent per contract, as the
   table compares it), with ``mip_rel_gap = 0`` and an absolute gap below one unit: the
   optimum, exactly;
2. with the income held at that optimum, minimize the collateral (whole cents): ties go
   to the least collateral.

A tie in both income and collateral goes to the set HiGHS returns (the table would
take the smallest sorted list of contract symbols); such ties need two sets with equal
income to the hundredth of a cent and equal collateral to the cent.
"""

from __future__ import annotations

import numpy as np


class SolverFailed(RuntimeError):
    """HiGHS did not prove an optimum (time limit, numerical trouble)."""


def solve_milp(
    groups: list[tuple[int, int]],
    weights: list[int],
    values: list[int],
    capacity: int,
    most: int,
    time_limit_s: float = 30.0,
) -> list[int]:
    """Indices of the chosen items: ``weights`` (collateral, cents) within
    ``capacity`` (cents), at most ``most`` per ``groups`` range ``(start, end)``,
    ``values`` (income units) maximized, then collateral minimized. Raises
    :class:`SolverFailed`."""
    import highspy

    n = len(weights)
    w = np.asarray(weights, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.5)  # integer objectives: below one unit is exact
    h.setOptionValue("time_limit", float(time_limit_s))
    none = np.array([], dtype=np.int32)
    h.addCols(n, v, np.zeros(n), np.ones(n), 0, none, none, np.array([]))
    h.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n)
    )
    every = np.arange(n, dtype=np.int32)
    h.addRow(-highspy.kHighsInf, float(capacity), n, every, w)
    for start, end in groups:
        if end - start > most:
            h.addRow(
                -highspy.kHighsInf,
                float(most),
                end - start,
                np.arange(start, end, dtype=np.int32),
                np.ones(end - start),
            )
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    best_income = round(_run(h) @ v)
    # stage 2: the same income, the least collateral
    h.addRow(float(best_income) - 0.5, highspy.kHighsInf, n, every, v)
    h.changeColsCost(n, every, w)
    h.changeObjectiveSense(highspy.ObjSense.kMinimize)
    chosen = _run(h)
    return [i for i in range(n) if chosen[i] > 0.5]


def _run(h: object) -> np.ndarray:
    import highspy

    h.run()  # type: ignore[attr-defined]
    status = h.getModelStatus()  # type: ignore[attr-defined]
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverFailed(f"HiGHS ended with {status}")
    return np.round(np.asarray(h.getSolution().col_value))  # type: ignore[attr-defined]
