"""The data-quality gate: contracts whose quotes cannot be trusted, with the reason.

Missing data never passes: a missing bid or IV rejects the contract (the original
defaulted a missing bid to 0.01 and a missing delta to 1). Neither do numbers no
quote can have: a contract the :class:`~optscan.chain.OptionChain` marked
``malformed`` (an infinite or negative price, a delta outside [-1, 1]...) is
``malformed_payload``, and a bid or ask above what the option can be worth (the
underlying's price for a call, the strike for a put) is ``implausible_quote``. Checks
come as ``(reason, failing mask)`` pairs in order of precedence;
:func:`optscan.analytics.screen.screen_chain` counts each rejected contract once, under
its first reason.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from optscan.analytics.occ import standard_root_mask

if TYPE_CHECKING:
    from optscan.analytics.metrics import Metrics
    from optscan.chain import OptionChain


# Yahoo's pre-market implied-volatility placeholders, learnt from the recorded v7
# payloads: they are the midpoints of a bisection on [1e-5, 1] that never moved off its
# low end (1e-5 + (1 - 1e-5) / 2**n: 0.500005, 0.2500075, 0.12500875, 0.062509375, ...)
# plus the lower bound 1e-5 itself.
YAHOO_IV_PLACEHOLDERS = np.array([1e-5] + [1e-5 + (1 - 1e-5) / 2**n for n in range(1, 21)])


def quality_gate(
    chain: OptionChain,
    metrics: Metrics,
    *,
    as_of: dt.datetime,
    iv_cap: float,
    max_quote_age_s: float,
    market_open: bool,
) -> list[tuple[str, np.ndarray]]:
    """Data-quality checks as ``(reason, failing mask)`` pairs, in order of precedence."""
    bid, ask, iv = chain.bid, chain.ask, chain.iv
    with np.errstate(invalid="ignore", over="ignore"):
        iv_placeholder = is_iv_placeholder(iv)
        malformed = [] if chain.malformed is None else [("malformed_payload", chain.malformed)]
        checks = [
            *malformed,
            ("expired", metrics.years <= 0),
            ("non_standard", ~standard_root_mask(chain.contract_symbol, chain.symbol)),
            ("no_bid", ~(bid > 0)),
            ("ask_below_bid", ask < bid),
            # a put is worth at most its strike, a call the stock
            ("implausible_quote", (bid > metrics.base) | (ask > metrics.base)),
            ("iv_missing", ~(iv > 0)),
            ("iv_placeholder", iv_placeholder),
            ("iv_above_cap", iv > iv_cap),
        ]
        if max_quote_age_s > 0 and market_open:
            age = as_of.timestamp() - chain.last_trade_time
            checks.append(("stale_quote", age > max_quote_age_s))
    return checks


def is_iv_placeholder(iv: np.ndarray) -> np.ndarray:
    """True where ``iv`` equals one of Yahoo's placeholders (to 1e-7 relative).

    The placeholders are ``lo + (1 - lo) / 2**n`` (``lo = 1e-5``, ``n`` = 1 to 20) and
    ``lo`` itself: in ``x = (iv - lo) / (1 - lo)`` they are powers of two, whose binary
    mantissa (``frexp``) is exactly 0.5, or a hair under 1 for a value a hair below.
    That picks out the few candidates in two comparisons per contract; only those get
    the exact test.
    """
    iv = np.asarray(iv, dtype=np.float64)
    lo = float(YAHOO_IV_PLACEHOLDERS[0])
    with np.errstate(invalid="ignore", over="ignore"):
        mantissa, _ = np.frexp((iv - lo) * (1.0 / (1.0 - lo)))
        near = (mantissa <= 0.5 + _MANTISSA_SLACK) | (mantissa >= 1.0 - _MANTISSA_SLACK)
        near |= iv < 2 * lo
    found = np.zeros(iv.shape, dtype=bool)
    candidates = np.flatnonzero(near)
    if len(candidates):
        found.reshape(-1)[candidates] = _placeholder_exact(iv.reshape(-1)[candidates], lo)
    return found


# The 1e-7 tolerance on ``iv`` is at most 1.2e-6 relative on ``x`` (at n = 20, where
# ``lo`` weighs most); the slack is wider, the exact test decides.
_MANTISSA_SLACK = 4e-6


def _placeholder_exact(iv: np.ndarray, lo: float) -> np.ndarray:
    """The exact test: the nearest placeholder, found from a base-2 logarithm."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        x = (iv - lo) / (1.0 - lo)  # 2**-n at the n-th placeholder
        candidate = (x > 0) & (x <= 0.5000001)
        n = np.rint(-np.log2(np.where(candidate, x, 1.0)))
        nearest = np.where(candidate & (n <= _PLACEHOLDER_STEPS), lo + (1 - lo) * np.exp2(-n), lo)
        return np.abs(iv - nearest) <= nearest * 1e-7


_PLACEHOLDER_STEPS = len(YAHOO_IV_PLACEHOLDERS) - 1
