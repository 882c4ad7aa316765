"""Per-contract metrics as arrays aligned with a chain's columns.

Conventions (the README's "Numbers and conventions"):

* **Time to expiry** (for greeks) runs from the as-of instant to the expiration day's
  16:00 America/New_York close, in years of 365 days.
* **DTE** (for annualizing) is calendar days from the as-of date in New York to the
  expiration date; DTE 0 annualizes as one day.
* **Annualized return** (percent): puts ``bid / strike * 365 / DTE * 100`` (the
  original formula: premium over the cash secured); calls ``bid / underlying price *
  365 / DTE * 100``.
* **Spread** (percent): ``(ask - bid) / mid * 100``.
* **Cushion** (percent): how far out of the money, in percent of the underlying price
  (puts ``(S - K) / S``, calls ``(K - S) / S``); negative when in the money.
* **Breakeven** (per share): puts ``K - bid``, calls ``K + bid``; **collateral** (per
  contract): ``K * 100``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from optscan.analytics.greeks import bs_delta, prob_otm

if TYPE_CHECKING:
    from optscan.chain import OptionChain


NEW_YORK = ZoneInfo("America/New_York")
SECONDS_PER_YEAR = 365.0 * 86400.0
_NAN = np.full(1, np.nan)
_NAN.flags.writeable = False  # one NaN behind every "not computed" column


@dataclass
class Metrics:
    """Per-contract metrics as arrays, aligned with the chain's columns."""

    dte: np.ndarray
    years: np.ndarray
    base: np.ndarray
    """What the bid is a return on, per share: the strike for puts, the underlying's
    price for calls (no premium can exceed it)."""
    mid: np.ndarray
    spread_pct: np.ndarray
    annualized_return: np.ndarray
    cushion_pct: np.ndarray
    breakeven: np.ndarray
    collateral: np.ndarray
    delta: np.ndarray
    delta_from_provider: np.ndarray
    prob_otm: np.ndarray

    def take(self, index: np.ndarray) -> Metrics:
        """The metrics of the contracts at ``index``, in that order."""
        return Metrics(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def days_to_expiry(expiration: np.ndarray, as_of: dt.datetime) -> np.ndarray:
    """Calendar days from the as-of date (in New York) to each expiration."""
    today = np.datetime64(as_of.astimezone(NEW_YORK).date(), "D")
    return (expiration - today).astype(np.int64)


def years_to_expiry(expiration: np.ndarray, as_of: dt.datetime) -> np.ndarray:
    """Years (of 365 days) from ``as_of`` to each expiration's 16:00 New York close.

    The close's UTC offset is taken per expiration date, so daylight-saving changes
    between now and expiry are honoured. Each distinct date is converted once: through
    a table indexed by day when the dates are dense (linear time, no sort), else
    through the sorted distinct dates (a small chain spanning years).
    """
    if len(expiration) == 0:
        return np.zeros(0)
    days = expiration.astype("datetime64[D]").view(np.int64)
    first, last = int(days.min()), int(days.max())
    if last - first + 1 <= len(days):
        wanted, where = range(first, last + 1), days - first
    else:
        distinct, where = np.unique(days, return_inverse=True)
        wanted = distinct.tolist()
    epoch = dt.date(1970, 1, 1)
    now = as_of.timestamp()
    table = np.array(
        [
            dt.datetime.combine(epoch + dt.timedelta(days=d), dt.time(16), NEW_YORK).timestamp()
            - now
            for d in wanted
        ]
    )
    table /= SECONDS_PER_YEAR
    return table[where]


def compute_metrics(
    chain: OptionChain,
    as_of: dt.datetime,
    *,
    rate: float = 0.0,
    dividend_yield: float = 0.0,
    with_greeks: bool = True,
    with_position: bool = True,
) -> Metrics:
    """Every metric for every contract, vectorized.

    ``with_greeks=False`` leaves delta and probability OTM as NaN, and
    ``with_position=False`` cushion, breakeven and collateral (as read-only NaN views,
    which cost nothing): :func:`screen_chain` computes those only for the contracts
    still alive after the cheap checks.
    """
    spot = chain.underlying_price
    strike, bid, ask = chain.strike, chain.bid, chain.ask
    is_call = chain.is_call
    n = len(strike)
    dte = days_to_expiry(chain.expiration, as_of)
    years = years_to_expiry(chain.expiration, as_of)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # (ask - bid) / mid * 100, in place. Bid and ask are >= 0 or NaN (OptionChain
        # checks), so a zero mid means bid = ask = 0: 0 / 0 is NaN, no spread.
        mid = bid + ask
        spread_pct = np.subtract(ask, bid)
        spread_pct /= mid
        spread_pct *= 200.0
        mid *= 0.5
        # bid / (strike for puts, spot for calls) * 365 / max(DTE, 1) * 100
        base = np.where(is_call, spot, strike)
        annualized = np.maximum(dte, 1).astype(np.float64)
        annualized *= base
        np.divide(bid, annualized, out=annualized)
        annualized *= 365.0 * 100.0
    nothing = np.ndarray((n,), dtype=np.float64, buffer=_NAN, strides=(0,))  # read-only
    metrics = Metrics(
        dte=dte,
        years=years,
        base=base,
        mid=mid,
        spread_pct=spread_pct,
        annualized_return=annualized,
        cushion_pct=nothing,
        breakeven=nothing,
        collateral=nothing,
        delta=nothing,
        delta_from_provider=~np.isnan(chain.delta),
        prob_otm=nothing,
    )
    if with_position:
        metrics.cushion_pct, metrics.breakeven, metrics.collateral = _position(
            spot, strike, bid, is_call
        )
    if with_greeks:
        computed = bs_delta(spot, strike, years, chain.iv, is_call, rate, dividend_yield)
        metrics.delta = np.where(metrics.delta_from_provider, chain.delta, computed)
        metrics.prob_otm = prob_otm(spot, strike, years, chain.iv, is_call, rate, dividend_yield)
    return metrics


def _position(
    spot: float, strike: np.ndarray, bid: np.ndarray, is_call: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cushion (% out of the money), breakeven and collateral (strike x 100)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        cushion = np.where(is_call, strike - spot, spot - strike) / spot * 100
        breakeven = np.where(is_call, strike + bid, strike - bid)
    return cushion, breakeven, strike * 100.0


def survivor_metrics(
    chain: OptionChain,
    metrics: Metrics,
    rows: np.ndarray,
    delta: np.ndarray,
    rate: float,
    dividend_yield: float,
) -> Metrics:
    """Every metric for the contracts at ``rows``, as arrays aligned with ``rows``.

    The chain-wide metrics are gathered; delta (already computed for the delta rules)
    is reused; probability OTM and the position metrics are computed for these
    contracts only.
    """
    spot = chain.underlying_price
    strike, bid, iv, is_call = (
        chain.strike[rows],
        chain.bid[rows],
        chain.iv[rows],
        chain.is_call[rows],
    )
    years = metrics.years[rows]
    cushion, breakeven, collateral = _position(spot, strike, bid, is_call)
    return Metrics(
        dte=metrics.dte[rows],
        years=years,
        base=metrics.base[rows],
        mid=metrics.mid[rows],
        spread_pct=metrics.spread_pct[rows],
        annualized_return=metrics.annualized_return[rows],
        cushion_pct=cushion,
        breakeven=breakeven,
        collateral=collateral,
        delta=delta,
        delta_from_provider=metrics.delta_from_provider[rows],
        prob_otm=prob_otm(spot, strike, years, iv, is_call, rate, dividend_yield),
    )
