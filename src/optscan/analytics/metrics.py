"""Per-contract metrics as arrays aligned with a chain's columns.

Conventions (the README's "Numbers and conventions"):

* **Time to expiry** (for greeks) runs from the as-of instant to the expiration day's
  close by the market calendar (:mod:`optscan.analytics.expiry`: 13:00 New York on
  early-close days, 16:00 otherwise), in years of 365 days; a contract is expired from
  that close on.
* **DTE** (for annualizing) is calendar days from the as-of date in New York to the
  expiration date; DTE 0 annualizes as one day.
* **Extrinsic value** (per share): ``bid - intrinsic``, the intrinsic value being
  ``max(K - S, 0)`` for puts and ``max(S - K, 0)`` for calls; negative when the bid is
  below the intrinsic value.
* **Annualized return** (percent): the return if the stock price is unchanged at
  expiry, ``extrinsic / base * 365 / max(DTE, 1) * 100`` with the strike as base for
  puts (the cash secured) and the underlying price for calls. For an out-of-the-money
  contract the extrinsic value is the whole bid, so puts keep the original formula
  ``bid / strike * 365 / DTE * 100``; an in-the-money option's intrinsic value is given
  back at expiry, so it is not income.
* **Probability of profit** (fraction): the option alone held to expiry, under the
  same model as probability OTM: puts ``P(S_T > K - bid)``, calls ``P(S_T < K + bid)``;
  never below probability OTM.
* **Spread** (percent): ``(ask - bid) / mid * 100``.
* **Cushion** (percent): how far out of the money, in percent of the underlying price
  (puts ``(S - K) / S``, calls ``(K - S) / S``); negative when in the money.
* **Breakeven** (per share): puts ``K - bid``, calls ``K + bid``; **collateral** (per
  contract): ``K * 100``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
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
    extrinsic: np.ndarray | None = None
    """Bid minus intrinsic value, per share (``None``: not computed)."""
    prob_profit: np.ndarray | None = None
    """Probability the short option alone ends in profit, a fraction (``None``: not
    computed)."""

    def take(self, index: np.ndarray) -> Metrics:
        """The metrics of the contracts at ``index``, in that order."""
        return Metrics(
            **{
                f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[index]
                for f in fields(self)
            }
        )


CloseOf = Callable[[dt.date], dt.datetime]
"""The close of the market on an expiration day (an aware instant):
:meth:`optscan.analytics.expiry.ExpiryCloses.close_of`."""


def _regular_close(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(16), NEW_YORK)


def intrinsic_value(spot: float, strike: np.ndarray, is_call: np.ndarray) -> np.ndarray:
    """Per share: ``max(S - K, 0)`` for calls, ``max(K - S, 0)`` for puts."""
    return np.maximum(np.where(is_call, spot - strike, strike - spot), 0.0)


def days_to_expiry(expiration: np.ndarray, as_of: dt.datetime) -> np.ndarray:
    """Calendar days from the as-of date (in New York) to each expiration."""
    today = np.datetime64(as_of.astimezone(NEW_YORK).date(), "D")
    return (expiration - today).astype(np.int64)


def years_to_expiry(
    expiration: np.ndarray, as_of: dt.datetime, close_of: CloseOf | None = None
) -> np.ndarray:
    """Years (of 365 days) from ``as_of`` to each expiration day's close.

    ``close_of(day)`` gives the close (the market calendar's: 13:00 New York on an
    early-close day); without it, 16:00 New York. The close's UTC offset is taken per
    expiration date, so daylight-saving changes between now and expiry are honoured.
    Each distinct date is converted once: through a table indexed by day when the
    dates are dense (linear time, no sort), else through the sorted distinct dates (a
    small chain spanning years).
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
    close = close_of or _regular_close
    table = np.array([close(epoch + dt.timedelta(days=d)).timestamp() - now for d in wanted])
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
    close_of: CloseOf | None = None,
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
    years = years_to_expiry(chain.expiration, as_of, close_of)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # (ask - bid) / mid * 100, in place. Bid and ask are >= 0 or NaN (OptionChain
        # checks), so a zero mid means bid = ask = 0: 0 / 0 is NaN, no spread.
        mid = bid + ask
        spread_pct = np.subtract(ask, bid)
        spread_pct /= mid
        spread_pct *= 200.0
        mid *= 0.5
        # extrinsic / (strike for puts, spot for calls) * 365 / max(DTE, 1) * 100
        base = np.where(is_call, spot, strike)
        extrinsic = bid - intrinsic_value(spot, strike, is_call)
        annualized = np.maximum(dte, 1).astype(np.float64)
        annualized *= base
        np.divide(extrinsic, annualized, out=annualized)
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
        extrinsic=extrinsic,
        prob_profit=nothing,
    )
    if with_position:
        metrics.cushion_pct, metrics.breakeven, metrics.collateral = _position(
            spot, strike, bid, is_call
        )
    if with_greeks:
        computed = bs_delta(spot, strike, years, chain.iv, is_call, rate, dividend_yield)
        metrics.delta = np.where(metrics.delta_from_provider, chain.delta, computed)
        metrics.prob_otm = prob_otm(spot, strike, years, chain.iv, is_call, rate, dividend_yield)
        metrics.prob_profit = prob_profit(
            spot, strike, bid, years, chain.iv, is_call, rate, dividend_yield, metrics.prob_otm
        )
    return metrics


def prob_profit(
    spot: float,
    strike: np.ndarray,
    bid: np.ndarray,
    years: np.ndarray,
    iv: np.ndarray,
    is_call: np.ndarray,
    rate: float,
    dividend_yield: float,
    otm: np.ndarray,
) -> np.ndarray:
    """Probability that a short option alone ends in profit at expiry, a fraction.

    Under the model of :func:`~optscan.analytics.greeks.prob_otm` with the breakeven in
    place of the strike: puts ``P(S_T > K - bid)``, calls ``P(S_T < K + bid)``. A put
    whose bid reaches its strike cannot lose (1). It is never below ``otm``, the
    probability OTM (the breakeven lies beyond the strike); NaN where that is NaN.
    """
    with np.errstate(invalid="ignore"):
        breakeven = np.where(is_call, strike + bid, strike - bid)
        p = prob_otm(spot, breakeven, years, iv, is_call, rate, dividend_yield)
        p = np.where(~is_call & (breakeven <= 0) & ~np.isnan(otm), 1.0, p)
        return np.where(np.isnan(otm), np.nan, np.maximum(p, otm))


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
    otm = prob_otm(spot, strike, years, iv, is_call, rate, dividend_yield)
    extrinsic = (
        metrics.extrinsic[rows]
        if metrics.extrinsic is not None
        else bid - intrinsic_value(spot, strike, is_call)
    )
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
        prob_otm=otm,
        extrinsic=extrinsic,
        prob_profit=prob_profit(spot, strike, bid, years, iv, is_call, rate, dividend_yield, otm),
    )
