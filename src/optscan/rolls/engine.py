"""The roll candidates of one short position, vectorized over its later chains.

A roll buys the position back at its current **ask** and sells a later expiration of
the same kind: puts at the same or a lower strike, calls at the same or a higher
strike and never below the shares' cost basis when it is known. Every candidate passes
the scan's data-quality gate (:func:`~optscan.analytics.gate.quality_gate`: a missing
bid or IV, a crossed or implausible quote... never passes), the roll strategy's
liquidity keys, its delta bounds, and ``net_credit >= min_net_credit`` (and above 0:
a roll for a debit is not a roll). Formulas (per share unless said):

* ``net_credit = new bid - old ask``; ``net_credit_total = net_credit x 100 x contracts``
  (dollars); ``days_added = new expiration - old expiration`` (days);
* ``annualized_return = net_credit / collateral x 365 / days_added x 100`` (percent),
  the collateral being the new strike for puts and the stock price for calls;
* ``breakeven`` = new strike - (average_price + net_credit) for puts, new strike +
  (average_price + net_credit) for calls, with average_price 0 when unknown;
* ``delta`` and ``prob_otm`` of the new contract, as the scan computes them (time to
  the expiration day's close by the market calendar).

The position is flagged ``itm`` when in the money now, and ``early_assignment_risk``
when it is a short in-the-money call whose extrinsic value (bid - intrinsic) is below
the dividend due before its expiry: the next ex-dividend date from the provider, the
amount estimated as a quarter of the annual dividend yield x the stock price (US
payers pay quarterly); unknown (null) when the provider gives neither.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from optscan.analytics.metrics import compute_metrics, days_to_expiry
from optscan.analytics.screen import trust_checks
from optscan.rolls.models import PositionRolls, Roll

if TYPE_CHECKING:
    from optscan.analytics.metrics import CloseOf, Metrics
    from optscan.chain import OptionChain
    from optscan.config import AnalyticsSection, RollStrategySection
    from optscan.rolls.models import ShortPosition

NEW_YORK = ZoneInfo("America/New_York")


def failed(position: ShortPosition, error: str, close_ask: float | None = None) -> PositionRolls:
    """The answer for a position that cannot be judged (its own reason; others go on)."""
    return PositionRolls(
        **_terms(position),
        close_ask=close_ask,
        status="failed",
        error=error,
        itm=None,
        early_assignment_risk=None,
    )


def _terms(position: ShortPosition) -> dict[str, object]:
    return {
        "contract_symbol": position.contract_symbol,
        "symbol": position.symbol,
        "kind": position.kind,
        "strike": position.strike,
        "expiration": position.expiration,
        "quantity": position.quantity,
        "average_price": position.average_price,
    }


def _row_of(chain: OptionChain, position: ShortPosition) -> int | None:
    """The position's row in its expiration's chain: by contract symbol, else (a
    broker's own notation) the standard contract of its kind and strike."""
    for i, name in enumerate(chain.contract_symbol.tolist()):
        if "".join(name.split()) == position.contract_symbol:
            return i
    from optscan.analytics.occ import standard_root_mask

    same = (
        standard_root_mask(chain.contract_symbol, chain.symbol)
        & (chain.is_call == (position.kind == "call"))
        & (np.abs(chain.strike - position.strike) < 1e-6)
    )
    rows = np.flatnonzero(same)
    return int(rows[0]) if len(rows) == 1 else None


def position_rolls(
    position: ShortPosition,
    old_chain: OptionChain,
    new_chains: list[OptionChain],
    *,
    strategy: RollStrategySection,
    analytics: AnalyticsSection,
    as_of: dt.datetime,
    close_of: CloseOf | None = None,
    market_open: bool = True,
) -> PositionRolls:
    """The position's standing and its rolls, best first (see the module's doc).

    ``old_chain`` is the answer for the position's own expiration (its ask is the
    buy-back price); ``new_chains`` the answers for later expirations.
    """
    row = _row_of(old_chain, position)
    if row is None:
        return failed(
            position,
            f"no quote for {position.contract_symbol}: the provider's "
            f"{position.expiration.isoformat()} chain does not list it",
        )
    ask = float(old_chain.ask[row])
    if not (math.isfinite(ask) and ask > 0):
        return failed(
            position, f"no ask for {position.contract_symbol}: its buy-back price is unknown"
        )
    spot = old_chain.underlying_price
    is_call = position.kind == "call"
    itm = spot > position.strike if is_call else spot < position.strike
    risk = _early_assignment_risk(position, old_chain, row, itm, as_of, analytics)
    rolls = _candidates(
        position,
        ask,
        new_chains,
        strategy=strategy,
        analytics=analytics,
        as_of=as_of,
        close_of=close_of,
        market_open=market_open,
    )
    return PositionRolls(
        **_terms(position),
        close_ask=ask,
        status="ok",
        error=None,
        itm=bool(itm),
        early_assignment_risk=risk,
        rolls=rolls,
    )


def _early_assignment_risk(
    position: ShortPosition,
    chain: OptionChain,
    row: int,
    itm: bool,
    as_of: dt.datetime,
    analytics: AnalyticsSection,
) -> bool | None:
    if position.kind != "call" or not itm:
        return False
    ex_date = chain.ex_dividend_date
    dividend_yield = analytics.dividend_yields.get(chain.symbol, chain.dividend_yield)
    if ex_date is None or dividend_yield is None:
        return None  # the provider does not say: unknown, not "no risk"
    today = as_of.astimezone(NEW_YORK).date()
    if not today <= ex_date <= position.expiration:
        return False
    dividend = dividend_yield * chain.underlying_price / 4.0
    if not dividend > 0:
        return False  # no dividend to capture by exercising early
    bid = float(chain.bid[row])
    price = bid if math.isfinite(bid) else 0.0
    extrinsic = price - max(chain.underlying_price - position.strike, 0.0)
    return bool(extrinsic < dividend)


def _candidates(
    position: ShortPosition,
    close_ask: float,
    chains: list[OptionChain],
    *,
    strategy: RollStrategySection,
    analytics: AnalyticsSection,
    as_of: dt.datetime,
    close_of: CloseOf | None,
    market_open: bool,
) -> list[Roll]:
    from optscan.chain import OptionChain

    chains = [c for c in chains if len(c)]
    if not chains:
        return []
    chain = OptionChain.concat(chains)
    dividend_yield = analytics.dividend_yields.get(chain.symbol, chain.dividend_yield or 0.0)
    metrics = compute_metrics(
        chain,
        as_of,
        rate=analytics.risk_free_rate,
        dividend_yield=dividend_yield,
        close_of=close_of,
    )
    checks = trust_checks(
        chain, metrics, analytics, as_of=as_of, market_open=market_open, seen=None
    )
    is_call = position.kind == "call"
    old_expiration = np.datetime64(position.expiration, "D")
    dte = days_to_expiry(chain.expiration, as_of)
    net_credit = np.round(chain.bid - close_ask, 6)
    with np.errstate(invalid="ignore"):
        checks += [
            ("wrong_kind", chain.is_call != is_call),
            ("not_later", chain.expiration <= old_expiration),
            ("dte_out_of_range", (dte < strategy.min_dte) | (dte > strategy.max_dte)),
            (
                "strike_not_allowed",
                chain.strike < position.strike if is_call else chain.strike > position.strike,
            ),
        ]
        if is_call and position.cost_basis is not None:
            checks.append(("below_cost_basis", chain.strike < position.cost_basis))
        if strategy.min_open_interest > 0:
            checks.append(
                ("open_interest_below_min", ~(chain.open_interest >= strategy.min_open_interest))
            )
        if strategy.min_volume > 0:
            checks.append(("volume_below_min", ~(chain.volume >= strategy.min_volume)))
        if strategy.min_bid > 0:
            checks.append(("bid_below_min", chain.bid < strategy.min_bid))
        if strategy.max_spread_pct > 0:
            checks.append(("spread_above_max", ~(metrics.spread_pct <= strategy.max_spread_pct)))
        checks.append(("delta_missing", np.isnan(metrics.delta)))
        if is_call and strategy.max_call_delta is not None:
            checks.append(("delta_out_of_range", metrics.delta > strategy.max_call_delta))
        if not is_call and strategy.min_put_delta is not None:
            checks.append(("delta_out_of_range", metrics.delta < strategy.min_put_delta))
        checks.append(
            ("credit_below_min", ~((net_credit >= strategy.min_net_credit) & (net_credit > 0)))
        )
    alive = np.ones(len(chain), dtype=bool)
    for _reason, failing in checks:
        alive &= ~failing
    rows = np.flatnonzero(alive)
    return _rolls(position, chain, rows, net_credit, metrics, strategy)


def _rolls(
    position: ShortPosition,
    chain: OptionChain,
    rows: np.ndarray,
    net_credit: np.ndarray,
    metrics: Metrics,
    strategy: RollStrategySection,
) -> list[Roll]:
    spot = chain.underlying_price
    is_call = position.kind == "call"
    average = position.average_price or 0.0
    out = []
    for i in rows.tolist():
        expiration = chain.expiration[i].astype(dt.date)
        credit = float(net_credit[i])
        strike = float(chain.strike[i])
        days_added = (expiration - position.expiration).days
        collateral = spot if is_call else strike
        prob = float(metrics.prob_otm[i])
        out.append(
            Roll(
                contract_symbol="".join(str(chain.contract_symbol[i]).split()),
                expiration=expiration,
                strike=strike,
                bid=float(chain.bid[i]),
                net_credit=round(credit, 4),
                net_credit_total=round(credit * 100.0 * position.quantity, 2),
                days_added=days_added,
                annualized_return=round(credit / collateral * 365.0 / days_added * 100.0, 4),
                delta=round(float(metrics.delta[i]), 6),
                breakeven=round(
                    strike + (average + credit) if is_call else strike - (average + credit), 4
                ),
                prob_otm=None if math.isnan(prob) else round(prob, 6),
            )
        )
    key = strategy.rank_by
    out.sort(key=lambda r: (-_score(getattr(r, key)), r.contract_symbol))
    if strategy.top_per_position:
        out = out[: strategy.top_per_position]
    return out


def _score(value: float | None) -> float:
    return -math.inf if value is None else float(value)
