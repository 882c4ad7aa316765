"""The ``sim`` provider's synthetic fundamentals (its optional fundamentals part).

Seeded by (seed, symbol) like the rest of the synthetic market, and spread so that a
discounted-cash-flow value falls on either side of the listed put strikes: with the
valuation plugin's default model (growth 10 %, discount 15 %, 5 years, terminal
multiple 20: a value of about 20.4 x the per-share figure) the EPS value lies between
0.7 and 1.3 x the price, the free-cash-flow value between 0.6 and 1.4 x. About one
symbol in twelve has negative earnings and one in ten negative free cash flow (no
value from those); symbols in ``no_options`` have no fundamentals at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from optscan.errors import FundamentalsUnavailableError, MalformedPayloadError
from optscan.fundamentals import Fundamentals
from optscan.http_answers import raise_for_error_answer

VALUE_PER_FIGURE = 20.3986
"""The default DCF's value per unit of EPS or FCF per share (see the module docstring)."""


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
        return Fundamentals(
            symbol=symbol,
            provider=provider,
            price=raw["price"],
            eps_ttm=raw["eps_ttm"],
            fcf_per_share=round(float(raw["free_cash_flow"]) / shares, 4),
            fcf_method="reported_ttm",
            shares_outstanding=shares,
            currency=raw["currency"],
            financial_currency=raw["financial_currency"],
            as_of=dt.date.fromisoformat(raw["quarter_end"]),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise MalformedPayloadError(f"{symbol}: bad sim fundamentals: {exc!r}") from None
