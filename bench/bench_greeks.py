"""``bs_delta`` over 1,000,000 contracts: the scan needs more than 2M contracts/s on one core.

Inputs are random but realistic (one spot per underlying, strikes within +-40 % of
spot, 1 to 730 days, IV 5-150 %, calls and puts mixed, a few missing IVs) with a fixed
seed, so runs are comparable. The figure is the best of a few timed calls, after a
warm-up, in contracts per second. Run it alone (``python bench/bench_greeks.py``) or
through ``bench/run.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np

TARGET = 2_000_000  # contracts per second


def make_inputs(n: int, seed: int = 20240208) -> dict[str, np.ndarray]:
    """Columns shaped like a scan's: float64 arrays and a bool ``is_call``."""
    rng = np.random.default_rng(seed)
    spot = rng.choice(rng.uniform(5.0, 800.0, 500), n)
    iv = rng.uniform(0.05, 1.5, n)
    iv[rng.random(n) < 0.01] = np.nan  # providers leave some IVs out
    return {
        "spot": spot,
        "strike": np.round(spot * rng.uniform(0.6, 1.4, n), 1),
        "years": rng.integers(1, 731, n) / 365.0,
        "iv": iv,
        "is_call": rng.random(n) < 0.5,
    }


def run(quick: bool = False) -> list[tuple[str, str, str]]:
    from optscan.analytics.greeks import bs_delta

    n = 200_000 if quick else 1_000_000
    inputs = make_inputs(n)
    bs_delta(**{k: v[:1000] for k, v in inputs.items()}, rate=0.04)  # warm-up
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        delta = bs_delta(**inputs, rate=0.04, dividend_yield=0.0)
        best = min(best, time.perf_counter() - t0)
    assert delta.shape == (n,) and np.isnan(delta).sum() == np.isnan(inputs["iv"]).sum()
    rate = n / best
    return [
        (
            f"bs_delta over {n:,} contracts",
            f"{best:.3f} s",
            f"{rate / 1e6:.2f} M contracts/s (target >= {TARGET / 1e6:.0f})",
        ),
    ]


if __name__ == "__main__":
    for row in run():
        print(*row, sep="\t")
