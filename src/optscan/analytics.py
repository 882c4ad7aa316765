"""The scan's analytics: metrics, data-quality gate and strategy screen, columnar.

:func:`screen_chain` is the one function :func:`optscan.scan.perform_scan` calls per
symbol. It works on the :class:`~optscan.models.OptionChain`'s numpy arrays end to end
and builds :class:`~optscan.models.Opportunity` models only for contracts that pass, so
a chain of a million contracts costs a handful of vector operations, not a million
Python iterations.

Conventions (documented in the README):

* **Time to expiry** (for greeks) runs from the as-of instant to the expiration day's
  16:00 America/New_York close, in years of 365 days.
* **DTE** (for annualizing) is calendar days from the as-of date in New York to the
  expiration date; DTE 0 annualizes as one day.
* **Annualized return**: puts ``bid / strike * 365 / DTE * 100`` (the original formula:
  premium over the cash secured); calls ``bid / underlying price * 365 / DTE * 100``.
* **Cushion**: how far out of the money, in percent of the underlying price (puts
  ``(S - K) / S``, calls ``(K - S) / S``); negative when in the money.
* Missing data never passes: a missing bid, IV or delta rejects the contract (the
  original defaulted a missing bid to 0.01 and a missing delta to 1).

Every contract that does not become an opportunity is counted once, under its first
reason, in the symbol's ``rejected`` map.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from optscan.greeks import bs_delta, prob_otm
from optscan.occ import standard_root_mask

if TYPE_CHECKING:
    from optscan.config import AnalyticsSection, StrategySection
    from optscan.models import Opportunity, OptionChain

NEW_YORK = ZoneInfo("America/New_York")
SECONDS_PER_YEAR = 365.0 * 86400.0

# Yahoo's pre-market implied-volatility placeholders, learnt from the recorded v7
# payloads: they are the midpoints of a bisection on [1e-5, 1] that never moved off its
# low end (1e-5 + (1 - 1e-5) / 2**n: 0.500005, 0.2500075, 0.12500875, 0.062509375, ...)
# plus the lower bound 1e-5 itself.
YAHOO_IV_PLACEHOLDERS = np.array([1e-5] + [1e-5 + (1 - 1e-5) / 2**n for n in range(1, 21)])

_NAN = np.full(1, np.nan)
_NAN.flags.writeable = False  # one NaN behind every "not computed" column

GATE_REASONS = (
    "expired",
    "non_standard",
    "no_bid",
    "ask_below_bid",
    "iv_missing",
    "iv_placeholder",
    "iv_above_cap",
    "stale_quote",
)


@dataclass
class ChainScreen:
    """What :func:`screen_chain` found in one chain."""

    contracts_seen: int
    opportunities: list[Opportunity] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)


@dataclass
class Metrics:
    """Per-contract metrics as arrays, aligned with the chain's columns."""

    dte: np.ndarray
    years: np.ndarray
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
    with np.errstate(divide="ignore", invalid="ignore"):
        # (ask - bid) / mid * 100, in place. Bid and ask are >= 0 or NaN (OptionChain
        # checks), so a zero mid means bid = ask = 0: 0 / 0 is NaN, no spread.
        mid = bid + ask
        spread_pct = np.subtract(ask, bid)
        spread_pct /= mid
        spread_pct *= 200.0
        mid *= 0.5
        # bid / (strike for puts, spot for calls) * 365 / max(DTE, 1) * 100
        annualized = np.maximum(dte, 1).astype(np.float64)
        annualized *= np.where(is_call, spot, strike)
        np.divide(bid, annualized, out=annualized)
        annualized *= 365.0 * 100.0
    nothing = np.ndarray((n,), dtype=np.float64, buffer=_NAN, strides=(0,))  # read-only
    metrics = Metrics(
        dte=dte,
        years=years,
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
    with np.errstate(invalid="ignore"):
        cushion = np.where(is_call, strike - spot, spot - strike) / spot * 100
        breakeven = np.where(is_call, strike + bid, strike - bid)
    return cushion, breakeven, strike * 100.0


def _survivor_metrics(
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
    with np.errstate(invalid="ignore"):
        iv_placeholder = is_iv_placeholder(iv)
        checks = [
            ("expired", metrics.years <= 0),
            ("non_standard", ~standard_root_mask(chain.contract_symbol, chain.symbol)),
            ("no_bid", ~(bid > 0)),
            ("ask_below_bid", ask < bid),
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


def _max_call_delta(strategy: StrategySection, dte: np.ndarray) -> np.ndarray:
    """The covered-call delta cap for each contract's DTE (a step table)."""
    if strategy.max_delta_by_dte:
        steps = sorted(strategy.max_delta_by_dte, key=lambda s: s.max_dte)
        edges = np.array([s.max_dte for s in steps])
        caps = np.array([s.max_delta for s in steps])
        index = np.minimum(np.searchsorted(edges, dte, side="left"), len(caps) - 1)
        cap = caps[index]
        if strategy.max_delta is not None:
            cap = np.minimum(cap, strategy.max_delta)
        return cap
    return np.full(dte.shape, strategy.max_delta if strategy.max_delta is not None else 1.0)


def strategy_screen(
    chain: OptionChain,
    metrics: Metrics,
    strategy: StrategySection,
    *,
    cost_basis: float | None = None,
) -> list[tuple[str, np.ndarray]]:
    """The strategy's rules as ``(reason, failing mask)`` pairs, in order."""
    is_call = chain.is_call
    wants_call = strategy.type == "cc"
    dte = metrics.dte
    checks: list[tuple[str, np.ndarray]] = [("wrong_kind", is_call != wants_call)]
    if strategy.min_dte is not None or strategy.max_dte is not None:
        lo = strategy.min_dte if strategy.min_dte is not None else 0
        hi = strategy.max_dte if strategy.max_dte is not None else np.iinfo(np.int64).max
        checks.append(("dte_out_of_range", (dte < lo) | (dte > hi)))
    if strategy.earnings_blackout and (chain.earnings_start or chain.earnings_end):
        day = np.datetime64(chain.earnings_start or chain.earnings_end, "D")
        checks.append(("earnings_before_expiry", chain.expiration >= day))
    if strategy.ex_dividend_blackout and chain.ex_dividend_date is not None:
        day = np.datetime64(chain.ex_dividend_date, "D")
        checks.append(("ex_dividend_before_expiry", chain.expiration >= day))
    if wants_call and cost_basis is not None and strategy.strikes_at_or_above_cost_basis:
        checks.append(("below_cost_basis", chain.strike < cost_basis))
    with np.errstate(invalid="ignore"):
        checks.append(
            ("return_below_min", ~(metrics.annualized_return >= strategy.min_annualized_return))
        )
        if strategy.min_bid > 0:
            checks.append(("bid_below_min", chain.bid < strategy.min_bid))
        if strategy.min_open_interest > 0:
            checks.append(
                ("open_interest_below_min", ~(chain.open_interest >= strategy.min_open_interest))
            )
        if strategy.min_volume > 0:
            checks.append(("volume_below_min", ~(chain.volume >= strategy.min_volume)))
        if strategy.max_spread_pct > 0:
            checks.append(("spread_above_max", ~(metrics.spread_pct <= strategy.max_spread_pct)))
        if strategy.min_cushion_pct is not None:
            checks.append(("cushion_below_min", metrics.cushion_pct < strategy.min_cushion_pct))
        if strategy.max_collateral is not None and not wants_call:
            checks.append(("collateral_above_max", metrics.collateral > strategy.max_collateral))
    return checks


def delta_screen(
    delta: np.ndarray, dte: np.ndarray, strategy: StrategySection
) -> list[tuple[str, np.ndarray]]:
    """The delta rules, applied last: delta is computed only for the survivors."""
    with np.errstate(invalid="ignore"):
        checks = [("delta_missing", np.isnan(delta))]
        if strategy.type == "cc":
            checks.append(("delta_out_of_range", delta > _max_call_delta(strategy, dte)))
        elif strategy.min_delta is not None:
            checks.append(("delta_out_of_range", delta < strategy.min_delta))
        if strategy.max_delta is not None and strategy.type == "csp":
            checks.append(("delta_out_of_range", delta > strategy.max_delta))
    return checks


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


def rank_key(
    strategy: StrategySection, metrics: Metrics, chain: OptionChain, rows: np.ndarray
) -> np.ndarray:
    """Bigger is better for every ranking key but DTE (shorter first).

    ``metrics`` is aligned with ``rows``, the contracts' positions in ``chain``.
    """
    key = strategy.rank_by
    if key == "dte":
        return -metrics.dte.astype(np.float64)
    source = {
        "annualized_return": metrics.annualized_return,
        "prob_otm": metrics.prob_otm,
        "cushion_pct": metrics.cushion_pct,
        "bid": chain.bid[rows],
        "open_interest": chain.open_interest[rows],
    }[key]
    return np.nan_to_num(source, nan=-np.inf)


def screen_chain(
    chain: OptionChain,
    *,
    strategy: StrategySection,
    analytics: AnalyticsSection,
    as_of: dt.datetime,
    market_open: bool = True,
    cost_basis: float | None = None,
) -> ChainScreen:
    """Metrics, gate and screen over a whole chain; models only for the survivors.

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
    metrics = compute_metrics(chain, as_of, with_greeks=False, with_position=positional)
    checks = quality_gate(
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
    metrics = _survivor_metrics(chain, metrics, rows, delta[alive], rate, dividend_yield)
    order = np.argsort(-rank_key(strategy, metrics, chain, rows), kind="stable")
    if strategy.top_per_symbol and len(order) > strategy.top_per_symbol:
        counts["rank_cut"] += len(order) - strategy.top_per_symbol
        order = order[: strategy.top_per_symbol]
    result.rejected = counts
    result.opportunities = build_opportunities(chain, rows[order], metrics.take(order))
    return result


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


def _opt(value: float) -> float | None:
    return None if value != value else value  # NaN -> None


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return np.round(values, digits).tolist()


def build_opportunities(
    chain: OptionChain, rows: np.ndarray, metrics: Metrics
) -> list[Opportunity]:
    """Models for the contracts at ``rows`` (the only per-contract Python work).

    ``metrics`` is aligned with ``rows``. Columns are turned into Python lists once, so
    each model costs one pydantic validation and nothing else.
    """
    from optscan.models import Opportunity

    if len(rows) == 0:
        return []
    columns = {
        "contract_symbol": chain.contract_symbol[rows].tolist(),
        "kind": chain.kind[rows].tolist(),
        "expiration": chain.expiration[rows].astype(dt.date).tolist(),
        "dte": metrics.dte.tolist(),
        "strike": chain.strike[rows].tolist(),
        "bid": chain.bid[rows].tolist(),
        "ask": chain.ask[rows].tolist(),
        "mid": metrics.mid.tolist(),
        "last": chain.last[rows].tolist(),
        "volume": chain.volume[rows].tolist(),
        "open_interest": chain.open_interest[rows].tolist(),
        "iv": chain.iv[rows].tolist(),
        "delta": _rounded(metrics.delta, 6),
        "provided": metrics.delta_from_provider.tolist(),
        "annualized_return": _rounded(metrics.annualized_return, 4),
        "spread_pct": _rounded(metrics.spread_pct, 4),
        "cushion_pct": _rounded(metrics.cushion_pct, 4),
        "breakeven": _rounded(metrics.breakeven, 4),
        "collateral": metrics.collateral.tolist(),
        "prob_otm": _rounded(metrics.prob_otm, 6),
    }
    shared = {
        "symbol": chain.symbol,
        "underlying_price": chain.underlying_price,
        "quote_time": chain.quote_time,
        "data_delay_s": chain.data_delay_s,
        "provider": chain.provider,
    }
    optional = ("ask", "mid", "last", "volume", "open_interest", "iv", "spread_pct", "prob_otm")
    out = []
    for row in zip(*columns.values(), strict=True):
        values = dict(zip(columns, row, strict=True))
        for key in optional:
            values[key] = _opt(values[key])
        values["delta_source"] = "provider" if values.pop("provided") else "computed"
        out.append(Opportunity(**shared, **values))
    return out
