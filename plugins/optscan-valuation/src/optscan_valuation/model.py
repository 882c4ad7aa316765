"""The intrinsic-value model of optscan's ancestor, and the badges it puts on options.

For a per-share figure ``x`` (trailing-twelve-month EPS, or free cash flow per share),
growth ``g``, discount rate ``r`` (fractions a year), ``N`` years and a terminal
multiple ``m``:

* projected value for year ``t`` = ``x * (1 + g)**t`` for ``t = 1..N``;
* terminal value = year-``N`` value ``* m``, discounted at ``(1 + r)**N``;
* intrinsic value = the sum of the projected values, each discounted at ``(1 + r)**t``,
  plus the discounted terminal value.

With the defaults (g 10 %, r 15 %, N 5, m 20) the value is about 20.40 x the figure.
A figure that is missing, zero or negative gives **no value** (``None``), never a made-up
one. Values are per share, in the figure's currency.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from optscan import Fundamentals
    from optscan_valuation.config import Assumptions, ValuationConfig

Badge = Literal["good", "high", "low", "n/a"]


def intrinsic_value(
    figure: float | None,
    *,
    growth_rate: float,
    discount_rate: float,
    terminal_multiple: float,
    years: int,
) -> float | None:
    """The discounted value of ``figure`` (module docstring), or ``None`` without one."""
    if figure is None or not math.isfinite(figure) or figure <= 0:
        return None
    projected = [figure * (1 + growth_rate) ** t for t in range(1, years + 1)]
    present = sum(v / (1 + discount_rate) ** t for t, v in enumerate(projected, start=1))
    terminal = projected[-1] * terminal_multiple / (1 + discount_rate) ** years
    value = present + terminal
    return value if math.isfinite(value) else None


def failed_value(symbol: str, error: str | None, reason: str | None) -> SymbolValue:
    """The row of a symbol whose fundamentals did not come (``reason`` ``bad_number``:
    they came with a figure no stock can have), ``error`` without the symbol."""
    from optscan import without_symbol

    status: Literal["bad_number", "failed"] = "bad_number" if reason == "bad_number" else "failed"
    text = without_symbol(error or "", symbol) or None
    return SymbolValue(symbol=symbol, status=status, error=text)


def badge(kind: str, strike: float, value: float | None) -> Badge:
    """``good`` when assignment is at or better than the value (a put's strike at or
    below it: you would buy the stock at most at its worth; a call's strike at or above
    it: you would sell at least at its worth), else ``high`` (put) or ``low`` (call);
    ``n/a`` without a value."""
    if value is None:
        return "n/a"
    if kind == "put":
        return "good" if strike <= value else "high"
    return "good" if strike >= value else "low"


@dataclass(frozen=True)
class SymbolValue:
    """One symbol's values: the row of ``optscan value --format json``.

    ``status``: ``ok`` (a value), ``no_value`` (fundamentals, but no positive figure for
    any allowed method), ``bad_number`` (the provider sent a figure no stock can have,
    such as an EPS of 1e300: no value, ``error`` names it), ``failed`` (no fundamentals:
    ``error`` says why). ``error`` does not repeat the symbol.
    ``margin_of_safety_pct`` = (value - price) / value x 100, against ``price``;
    ``price_source`` says where that price is from: ``"chain"`` (a scan: the underlying
    price of the scan's own option chain) or ``"fundamentals"`` (``optscan value``: the
    price the fundamentals answer carried, as fresh as that answer).
    """

    symbol: str
    price: float | None = None
    eps_ttm: float | None = None
    fcf_per_share: float | None = None
    intrinsic_value_eps: float | None = None
    intrinsic_value_fcf: float | None = None
    method: str | None = None
    intrinsic_value: float | None = None
    margin_of_safety_pct: float | None = None
    status: Literal["ok", "no_value", "bad_number", "failed"] = "failed"
    error: str | None = None
    price_source: Literal["chain", "fundamentals"] | None = None

    def as_row(self) -> dict[str, Any]:
        """The JSON row, money and percents rounded to 4 decimals."""
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _value(figure: float | None, assumptions: Assumptions) -> float | None:
    return intrinsic_value(
        figure,
        growth_rate=assumptions.growth_rate,
        discount_rate=assumptions.discount_rate,
        terminal_multiple=assumptions.terminal_multiple,
        years=assumptions.years,
    )


def value_of(
    fundamentals: Fundamentals,
    config: ValuationConfig,
    *,
    price: float | None,
    price_source: Literal["chain", "fundamentals"],
) -> SymbolValue:
    """A symbol's values from its fundamentals with the config's assumptions for it;
    the margin of safety is against ``price`` (from ``price_source``): a scan passes its
    chain's underlying price, never the fundamentals' (those may be cached for days)."""
    assumptions = config.for_symbol(fundamentals.symbol)
    by_eps = _value(fundamentals.eps_ttm, assumptions)
    by_fcf = _value(fundamentals.fcf_per_share, assumptions)
    values = {"eps": by_eps, "fcf": by_fcf}
    order = [assumptions.method] + (
        [m for m in ("eps", "fcf") if m != assumptions.method] if assumptions.fallback else []
    )
    method = next((m for m in order if values[m] is not None), None)
    value = values[method] if method else None
    margin = (value - price) / value * 100 if value and price is not None else None
    error = None
    if value is None:
        allowed = " or ".join(m.upper() for m in order)
        error = f"no positive {allowed} figure: no value"
    return SymbolValue(
        symbol=fundamentals.symbol,
        price=price,
        price_source=price_source if price is not None else None,
        eps_ttm=fundamentals.eps_ttm,
        fcf_per_share=fundamentals.fcf_per_share,
        intrinsic_value_eps=by_eps,
        intrinsic_value_fcf=by_fcf,
        method=method,
        intrinsic_value=value,
        margin_of_safety_pct=margin,
        status="ok" if value is not None else "no_value",
        error=error,
    )
