"""The ``sim`` provider's synthetic fundamentals (its optional fundamentals part).

Seeded by (seed, symbol) like the rest of the synthetic market, and spread so that
some strikes fall on each side of the value: with the valuation plugin's default model
(growth 10 %, discount 15 %, 5 years, terminal multiple 20: a value of about 20.4 x the
per-share figure) two symbols in three have an EPS value between 0.84 and 0.92 x the
price, among the strikes a default put scan finds (so one symbol shows both ``good``
and ``high`` puts), the others between 0.7 and 1.3 x; the free-cash-flow value lies
between 0.6 and 1.4 x. About one
symbol in twelve has negative earnings and one in ten negative free cash flow (no
value from those); symbols in ``no_options`` have no fundamentals at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from optscan.errors import FundamentalsUnavailableError, MalformedPayloadError
from optscan.fundamentals import Fundamentals, check_figures
from optscan.http_answers import raise_for_error_answer

VALUE_PER_FIGURE = 20.3986
"""The default DCF's value per unit of EPS or FCF per share (see the module docstring)."""


NEAR_SHARE = 2 / 3
"""The share of symbols whose EPS value is put among the usual put strikes."""
NEAR_LOW, NEAR_HIGH = 0.84, 0.92
"""Where those values lie, as a fraction of the price: the strikes a default put scan
finds (deltas of about -0.10 to -0.30, one to four weeks out) lie some 4 to 20 %
below the price, so such a value falls between them: the puts below it ``good``, the
ones above ``high`` on the same symbol."""


def _draw(*parts: object) -> float:
    """A uniform draw in [0, 1) seeded by ``parts``."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def quarter_end(day: dt.date) -> dt.date:
    """The last calendar-quarter end strictly before ``day``'s quarter."""
    first = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return first - dt.timedelta(days=1)


def payload(seed: int, symbol: str, spot: float, today: dt.date) -> dict[str, Any]:
    """The synthetic answer: what a fundamentals endpoint would send for ``symbol``."""
    if _draw(seed, symbol, "near") < NEAR_SHARE:  # a value among the usual put strikes
        eps_ratio = NEAR_LOW + (NEAR_HIGH - NEAR_LOW) * _draw(seed, symbol, "eps")
    else:
        eps_ratio = 0.7 + 0.6 * _draw(seed, symbol, "eps")
    fcf_ratio = 0.6 + 0.8 * _draw(seed, symbol, "fcf")
    eps = round(spot * eps_ratio / VALUE_PER_FIGURE, 2)
    fcf = round(spot * fcf_ratio / VALUE_PER_FIGURE, 2)
    if _draw(seed, symbol, "loss") < 1 / 12:
        eps = -abs(eps)
    if _draw(seed, symbol, "burn") < 0.1:
        fcf = -abs(fcf)
    shares = 1e8 * (1 + round(99 * _draw(seed, symbol, "shares")))
    return {
        "symbol": symbol,
        "price": spot,
        "eps_ttm": eps,
        "free_cash_flow": round(fcf * shares, 0),
        "shares_outstanding": shares,
        "currency": "USD",
        "financial_currency": "USD",
        "quarter_end": quarter_end(today).isoformat(),
    }


def parse(raw: Any, symbol: str, provider: str) -> Fundamentals:
    """The synthetic answer as :class:`Fundamentals` (its error answer as its error)."""
    raise_for_error_answer(raw, f"{symbol} fundamentals", not_found=FundamentalsUnavailableError)
    try:
        shares = float(raw["shares_outstanding"])
        price, eps = float(raw["price"]), float(raw["eps_ttm"])
        fcf = round(float(raw["free_cash_flow"]) / shares, 4)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise MalformedPayloadError(f"{symbol}: bad sim fundamentals: {exc!r}") from None
    check_figures(symbol, price=price, eps_ttm=eps, fcf_per_share=fcf, shares_outstanding=shares)
    try:
        return Fundamentals(
            symbol=symbol,
            provider=provider,
            price=price,
            eps_ttm=eps,
            fcf_per_share=fcf,
            fcf_method="reported_ttm",
            shares_outstanding=shares,
            currency=raw["currency"],
            financial_currency=raw["financial_currency"],
            as_of=dt.date.fromisoformat(raw["quarter_end"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedPayloadError(f"{symbol}: bad sim fundamentals: {exc!r}") from None
