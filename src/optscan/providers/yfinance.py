"""The ``yfinance`` provider: Yahoo Finance option chains, the default live source.

*Extract* goes through yfinance's own HTTP layer, ``yfinance.data.YfData.get`` (its
session, cookies, crumb and curl_cffi browser impersonation), and returns the raw body
of Yahoo's v7 options endpoint untouched. The undated answer carries the expiration
list *and* the nearest chain, so a scan costs one request per expiration, no more.

*Transform* is optscan's own parser of that body into a columnar
:class:`~optscan.models.OptionChain` (a test checks it agrees with yfinance's
``Ticker.option_chain()`` on the same bodies). Yahoo publishes no greeks: delta is
computed from the implied volatility. Outside market hours Yahoo answers with zero bids
and placeholder volatilities; those pass through here untouched and the analytics gate
rejects them with their reasons.

yfinance is imported lazily (about 0.6 s), only when a request is made.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field

from optscan.errors import (
    ExpirationNotListedError,
    MalformedPayloadError,
    NetworkUnreachableError,
    ProviderError,
    RateLimitedError,
    SymbolNotFoundError,
    TransientProviderError,
)
from optscan.protocols import JSON, OptionProvider, ProviderConfig

BASE_URL = "https://query2.finance.yahoo.com/v7/finance/options/"
NEW_YORK = ZoneInfo("America/New_York")
_cache_lock = threading.Lock()
_cache_set: str | None = None


class YFinanceConfig(ProviderConfig):
    max_concurrency: int = Field(default=4, ge=1, le=64)
    rate_limit_per_s: float = Field(default=2.0, ge=0)
    timeout_s: float = Field(default=10.0, gt=0)
    data_delay_s: float = Field(default=900.0, ge=0)
    cache_dir: str = Field(
        default="", description="yfinance's cookie/timezone cache; '' = user cache dir"
    )


def _epoch(day: dt.date) -> int:
    """Yahoo names an expiration by midnight UTC of its date."""
    return int(dt.datetime.combine(day, dt.time(0), dt.UTC).timestamp())


def _utc_date(epoch: Any) -> dt.date:
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()


def _set_cache_location(path: str) -> None:
    global _cache_set
    import yfinance

    with _cache_lock:
        if _cache_set != path:
            from pathlib import Path

            Path(path).mkdir(parents=True, exist_ok=True)
            yfinance.set_tz_cache_location(path)
            _cache_set = path


def _classify(exc: Exception, symbol: str) -> ProviderError:
    """Turn whatever yfinance or curl_cffi raised into a per-symbol outcome."""
    name = type(exc).__name__
    text = str(exc)
    if name == "YFRateLimitError" or "429" in text or "Too Many Requests" in text:
        return RateLimitedError(f"{symbol}: Yahoo rate limit (HTTP 429): {text}")
    lowered = text.lower()
    if "timeout" in name.lower() or "timed out" in lowered:
        return TransientProviderError(f"{symbol}: request to Yahoo timed out: {text}")
    if (
        "resolve host" in lowered
        or "connection" in name.lower()
        or "dnserror" in name.lower()
        or "network is unreachable" in lowered
        or "failed to connect" in lowered
    ):
        return NetworkUnreachableError(
            f"{symbol}: network unreachable ({name}: {text}); for an offline run use --provider sim"
        )
    return TransientProviderError(f"{symbol}: Yahoo request failed: {name}: {text}")


class YFinanceProvider(OptionProvider):
    """Yahoo Finance via yfinance; quotes delayed about 15 minutes."""

    name = "yfinance"
    Config = YFinanceConfig

    def __init__(self, config: YFinanceConfig) -> None:
        super().__init__(config)
        self.config: YFinanceConfig = config

    # ------------------------------------------------------------------ extract

    def _get(self, symbol: str, date: dt.date | None = None) -> JSON:
        from platformdirs import user_cache_dir

        _set_cache_location(self.config.cache_dir or user_cache_dir("optscan") + "/yfinance")
        from yfinance.data import YfData

        url = BASE_URL + symbol + (f"?date={_epoch(date)}" if date else "")
        try:
            response = YfData().get(url=url, timeout=self.config.timeout_s)
        except Exception as exc:
            raise _classify(exc, symbol) from None
        status = getattr(response, "status_code", 200)
        if status == 429:
            raise RateLimitedError(f"{symbol}: Yahoo rate limit (HTTP 429)")
        if status >= 500:
            raise TransientProviderError(f"{symbol}: Yahoo answered HTTP {status}")
        try:
            body = response.json()
        except Exception as exc:
            raise MalformedPayloadError(f"{symbol}: Yahoo's answer is not JSON: {exc}") from None
        if status == 404:
            raise SymbolNotFoundError(f"{symbol}: unknown to Yahoo (HTTP 404)")
        if not isinstance(body, dict) or "optionChain" not in body:
            raise MalformedPayloadError(f"{symbol}: unexpected answer (HTTP {status})")
        return body

    def extract_expirations(self, symbol: str) -> JSON:
        return self._get(symbol)

    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        try:
            options = listing["optionChain"]["result"][0]["options"]
            if options and options[0]["expirationDate"] == _epoch(expiration):
                return listing  # the undated answer already holds this chain
        except (KeyError, IndexError, TypeError):
            pass
        return self._get(symbol, expiration)

    # ------------------------------------------------------------------ transform

    @staticmethod
    def _result(raw: JSON, symbol: str) -> dict[str, Any]:
        try:
            chain = raw["optionChain"]
        except (KeyError, TypeError):
            raise MalformedPayloadError(f"{symbol}: no optionChain in Yahoo's answer") from None
        if not isinstance(chain, dict):
            raise MalformedPayloadError(f"{symbol}: optionChain is not an object")
        error = chain.get("error")
        results = chain.get("result") or []
        if error or not results:
            detail = error.get("description") if isinstance(error, dict) else error
            raise SymbolNotFoundError(f"{symbol}: unknown to Yahoo ({detail or 'no result'})")
        if not isinstance(results[0], dict):
            raise MalformedPayloadError(f"{symbol}: optionChain.result[0] is not an object")
        return results[0]

    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        result = self._result(raw, symbol)
        epochs = result.get("expirationDates") or []
        try:
            dates = sorted({_utc_date(e) for e in epochs})
        except (TypeError, ValueError, OverflowError):
            raise MalformedPayloadError(f"{symbol}: bad expirationDates {epochs!r:.80}") from None
        if not dates:
            raise SymbolNotFoundError(f"{symbol}: no listed options")
        return dates

    def transform_chain(self, raw: JSON, symbol: str, expiration: dt.date) -> Any:
        from optscan.models import OptionChain

        result = self._result(raw, symbol)
        options = result.get("options") or []
        if not options or options[0].get("expirationDate") != _epoch(expiration):
            raise ExpirationNotListedError(f"{symbol}: no chain for {expiration} in the answer")
        block = options[0]
        quote = result.get("quote") or {}
        price = quote.get("regularMarketPrice")
        if not isinstance(price, int | float) or not price > 0:
            raise MalformedPayloadError(f"{symbol}: quote.regularMarketPrice is {price!r}")
        times = [
            quote.get(k)
            for k in ("regularMarketTime", "preMarketTime", "postMarketTime")
            if isinstance(quote.get(k), int | float)
        ]
        if not times:
            raise MalformedPayloadError(f"{symbol}: the quote carries no time")
        quote_time = dt.datetime.fromtimestamp(max(times), dt.UTC)

        columns: dict[str, list[Any]] = {
            k: []
            for k in (
                "contract_symbol",
                "kind",
                "expiration",
                "strike",
                "bid",
                "ask",
                "last",
                "volume",
                "open_interest",
                "iv",
                "last_trade_time",
            )
        }
        for kind, rows in (("call", block.get("calls") or []), ("put", block.get("puts") or [])):
            for row in rows:
                try:
                    columns["contract_symbol"].append(str(row["contractSymbol"]))
                    columns["strike"].append(_number(row, "strike", symbol, required=True))
                except KeyError as exc:
                    raise MalformedPayloadError(f"{symbol}: contract without {exc}") from None
                columns["kind"].append(kind)
                columns["expiration"].append(_utc_date(row.get("expiration", _epoch(expiration))))
                columns["bid"].append(_number(row, "bid", symbol))
                columns["ask"].append(_number(row, "ask", symbol))
                columns["last"].append(_number(row, "lastPrice", symbol))
                columns["volume"].append(_number(row, "volume", symbol))
                columns["open_interest"].append(_number(row, "openInterest", symbol))
                columns["iv"].append(_number(row, "impliedVolatility", symbol))
                columns["last_trade_time"].append(_number(row, "lastTradeDate", symbol))
        if not columns["contract_symbol"]:
            raise ExpirationNotListedError(f"{symbol}: {expiration} has no contracts")
        earnings_start, earnings_end = _earnings(quote, quote_time)
        ex_div = quote.get("exDividendDate")
        dividend_yield = quote.get("trailingAnnualDividendYield")
        return OptionChain(
            symbol=symbol,
            provider=self.name,
            underlying_price=float(price),
            quote_time=quote_time,
            data_delay_s=self.config.data_delay_s,
            earnings_start=earnings_start,
            earnings_end=earnings_end,
            ex_dividend_date=_ny_date(ex_div) if isinstance(ex_div, int | float) else None,
            dividend_yield=dividend_yield
            if isinstance(dividend_yield, int | float) and dividend_yield >= 0
            else None,
            **columns,
        )


def _number(row: dict[str, Any], key: str, symbol: str, *, required: bool = False) -> float:
    value = row.get(key)
    if value is None:
        if required:
            raise KeyError(key)
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedPayloadError(f"{symbol}: {key} is {value!r:.40}, not a number")
    return float(value)


def _ny_date(epoch: float) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, NEW_YORK).date()


def _earnings(quote: dict[str, Any], now: dt.datetime) -> tuple[dt.date | None, dt.date | None]:
    """The next earnings window from the quote, ignoring one that is already past."""
    start = quote.get("earningsTimestampStart", quote.get("earningsTimestamp"))
    end = quote.get("earningsTimestampEnd", start)
    if not isinstance(start, int | float):
        return None, None
    end = end if isinstance(end, int | float) else start
    if end < now.timestamp():
        return None, None
    return _ny_date(start), _ny_date(end)
