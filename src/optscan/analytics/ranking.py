"""The one ranking of opportunities, for a chain's arrays and for a list of models alike.

``rank_by`` (``[strategies.<name>] rank_by``) names the key; bigger is better for every
key but ``dte`` (shorter first). A missing value (``None`` or NaN: no open interest, no
probability) ranks **last**, never as zero. Ties are broken by symbol, then contract
symbol, so the per-chain cut (:func:`rank_order`), the per-symbol cut and the scan's
order (:func:`rank_opportunities`) always agree.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, get_args

import numpy as np
from numpy.typing import NDArray

from optscan.analytics.opportunities import DIGITS
from optscan.config.sections import RankBy

if TYPE_CHECKING:
    from optscan.analytics.metrics import Metrics
    from optscan.chain import OptionChain
    from optscan.models import Opportunity

RANK_KEYS: tuple[str, ...] = get_args(RankBy)


def _score(rank_by: str, value: float | None) -> float:
    """The value as a score, bigger is better; missing is minus infinity."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return -math.inf
    return -float(value) if rank_by == "dte" else float(value)


def rank_opportunities(opportunities: list[Opportunity], rank_by: str) -> list[Opportunity]:
    """``opportunities`` best first (see the module docstring)."""
    if rank_by not in RANK_KEYS:
        raise ValueError(f"unknown rank_by {rank_by!r}; one of {', '.join(RANK_KEYS)}")
    return sorted(
        opportunities,
        key=lambda o: (-_score(rank_by, getattr(o, rank_by)), o.symbol, o.contract_symbol),
    )


def rank_scores(
    rank_by: str, metrics: Metrics, chain: OptionChain, rows: NDArray[np.intp]
) -> NDArray[np.float64]:
    """The score of each contract at ``rows`` (``metrics`` aligned with ``rows``).

    Metrics the models keep rounded are rounded the same way here, so two contracts
    whose models tie also tie here (and go by contract symbol), as in
    :func:`rank_opportunities`.
    """
    if rank_by == "dte":
        return -metrics.dte.astype(np.float64)
    source = {
        "annualized_return": metrics.annualized_return,
        "prob_otm": metrics.prob_otm,
        "cushion_pct": metrics.cushion_pct,
        "bid": chain.bid[rows],
        "open_interest": chain.open_interest[rows],
    }[rank_by]
    if rank_by in DIGITS:
        source = np.round(source, DIGITS[rank_by])
    return np.nan_to_num(source, nan=-np.inf)


def rank_order(
    rank_by: str, metrics: Metrics, chain: OptionChain, rows: NDArray[np.intp]
) -> NDArray[np.intp]:
    """Positions into ``rows``, best first; ties by contract symbol (one chain, one
    symbol), as :func:`rank_opportunities` orders them."""
    scores = rank_scores(rank_by, metrics, chain, rows)
    order: NDArray[np.intp] = np.lexsort((chain.contract_symbol[rows], -scores))
    return order
