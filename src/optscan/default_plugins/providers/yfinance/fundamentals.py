"""Yahoo's fundamentals for the ``yfinance`` provider: one ``quoteSummary`` GET.

*Extract* asks, through yfinance's HTTP layer like the chains,
``/v10/finance/quoteSummary/<SYMBOL>?modules=financialData,quoteType,defaultKeyStatistics,assetProfile,summaryDetail&formatted=false``
(the modules yfinance's ``Ticker.info`` asks for, without its second request) and keeps
the JSON body as Yahoo sent it. *Transform* reads:

* ``eps_ttm``: ``defaultKeyStatistics.trailingEps``;
* ``fcf_per_share``: ``financialData.freeCashflow`` / ``defaultKeyStatistics.sharesOutstanding``
  (``fcf_method`` ``"reported_ttm"``). Yahoo's ``freeCashflow`` is its own trailing
  figure, **not** operating cash flow minus capital expenditure summed over the last
  four quarterly statements as optscan's ancestor computed it; a provider that has the
  statements can supply that instead (``"ocf_minus_capex"``). There is no FCF value when
  ``financialData.financialCurrency`` differs from the trading currency
  (``summaryDetail.currency``, else ``price.currency``): an ADR reports in its home
  currency, and a per-share figure in another currency than the price means nothing.
  The codes are compared as Yahoo writes them: a London stock trades in ``GBp``
  (pence) and reports in ``GBP``, a hundredfold apart, so it has no FCF value either;
* ``price``: ``financialData.currentPrice``; ``shares_outstanding``,
  ``currency``, ``financial_currency``; ``as_of``: ``defaultKeyStatistics.mostRecentQuarter``
  (the end of the latest quarter the trailing figures include, a UTC date).

A figure no stock can have (an EPS of 1e300, a negative share count: see
:func:`optscan.fundamentals.implausible`) is
:class:`~optscan.errors.ImplausibleFundamentalsError` (``bad_number``): bad data, no
value from any of it. A price or share count of 0 is Yahoo's "not known" (``None``).

Yahoo's own error body (``{"quoteSummary": {"error": {"code": "Not Found"}}}``) is
:class:`~optscan.errors.FundamentalsUnavailableError`, as is an answer without the
modules (an index, a currency).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote as url_quote

from optscan.errors import FundamentalsUnavailableError, MalformedPayloadError
from optscan.fundamentals import Fundamentals, check_figures
from optscan.protocols import JSON

BASE_URL = "https://query2.finance.yahoo.com/v10/finance/quoteSummary/"
MODULES = "financialData,quoteType,defaultKeyStatistics,assetProfile,summaryDetail"


def url(symbol: str) -> str:
    """The one request: ``quoteSummary`` with yfinance's modules, plain numbers."""
    return f"{BASE_URL}{url_quote(symbol, safe='')}?modules={MODULES}&formatted=false"


def check_body(body: Any, symbol: str) -> JSON:
    """``body`` if it is a ``quoteSummary`` answer, else :class:`MalformedPayloadError`."""
    if not isinstance(body, dict) or not isinstance(body.get("quoteSummary"), dict):
        raise MalformedPayloadError(f"{symbol}: Yahoo's answer has no quoteSummary object")
    return body


def _number(module: dict[str, Any], key: str) -> float | None:
    value = module.get(key)
    if isinstance(value, dict):  # formatted=true shape: {"raw": 6.1, "fmt": "6.10"}
        value = value.get("raw")
    return float(value) if type(value) in (int, float) else None


def _text(module: dict[str, Any], key: str) -> str | None:
    """The text as Yahoo wrote it, case kept: its ``GBp`` (pence) is not ``GBP``."""
    value = module.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _module(result: dict[str, Any], name: str) -> dict[str, Any]:
    module = result.get(name)
    return module if isinstance(module, dict) else {}


def parse(raw: JSON, symbol: str, provider: str) -> Fundamentals:
    """The fundamentals in a ``quoteSummary`` body (see the module docstring)."""
    summary = check_body(raw, symbol)["quoteSummary"]
    error, results = summary.get("error"), summary.get("result")
    if error or not results:
        detail = error.get("description") or error.get("code") if isinstance(error, dict) else error
        raise FundamentalsUnavailableError(
            f"{symbol}: Yahoo has no fundamentals ({detail or 'no result'})"
        )
    if not isinstance(results, list) or not isinstance(results[0], dict):
        raise MalformedPayloadError(f"{symbol}: quoteSummary.result[0] is not an object")
    result = results[0]
    financial = _module(result, "financialData")
    stats = _module(result, "defaultKeyStatistics")
    if not financial and not stats:
        raise FundamentalsUnavailableError(f"{symbol}: Yahoo sent no financial data")
    currency = _text(_module(result, "summaryDetail"), "currency") or _text(
        _module(result, "price"), "currency"
    )
    financial_currency = _text(financial, "financialCurrency")
    shares = _number(stats, "sharesOutstanding")
    shares = None if shares == 0 else shares  # Yahoo's 0: not known
    fcf_total = _number(financial, "freeCashflow")
    same_currency = financial_currency is not None and financial_currency == currency
    fcf = fcf_total / shares if fcf_total is not None and shares and same_currency else None
    price = _number(financial, "currentPrice")
    price = None if price == 0 else price
    eps = _number(stats, "trailingEps")
    check_figures(symbol, price=price, eps_ttm=eps, fcf_per_share=fcf, shares_outstanding=shares)
    quarter = _number(stats, "mostRecentQuarter")
    try:
        as_of = dt.datetime.fromtimestamp(quarter, dt.UTC).date() if quarter else None
    except (ValueError, OverflowError, OSError):
        as_of = None
    return Fundamentals(
        symbol=symbol,
        provider=provider,
        price=price,
        eps_ttm=eps,
        fcf_per_share=fcf,
        fcf_method="reported_ttm" if fcf is not None else None,
        shares_outstanding=shares,
        currency=currency,
        financial_currency=financial_currency,
        as_of=as_of,
    )
