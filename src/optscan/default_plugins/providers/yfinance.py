"""The ``yfinance`` provider: Yahoo Finance option chains, the default live source.

*Extract* goes through yfinance's own HTTP layer, ``yfinance.data.YfData.get`` (a
process-wide singleton holding the session, cookie, crumb and curl_cffi browser
impersonation Yahoo insists on), and returns the raw body of Yahoo's v7 options endpoint
untouched. The undated answer carries the expiration list *and* the nearest chain, so a
scan costs one request per expiration, no more.

*Transform* is optscan's own parser of that body into a columnar
:class:`~optscan.models.OptionChain`, one list per column turned into numpy arrays once;
yfinance's DataFrame code is not used (a test checks the two agree on recorded bodies).
Yahoo publishes no greeks, so delta is NaN here and computed downstream from the implied
volatility. Outside market hours Yahoo answers with zero bids and placeholder
volatilities (1e-05, 0.25..., 0.125...); those pass through untouched, because the
analytics gate rejects them with reasons a user can read.

Choices worth knowing:

* ``underlying_price`` is ``quote.regularMarketPrice`` with no fallback to pre- or
  post-market prices: Yahoo's option quotes are formed in the regular session, so the
  regular price is the one consistent with the bids, asks and IVs (before the open it
  is the previous close, which is what the stale option quotes were priced against).
  A quote without it is :class:`MalformedPayloadError`.
* ``quote_time`` is the latest of the quote's regular/pre/post market times: it says
  how fresh Yahoo's answer is, not which session the price came from.
* Earnings and ex-dividend dates that already lie behind ``quote_time`` are dropped:
  the strategy screen blacks out every expiration on or after the given date, so a
  past date (Yahoo keeps the last earnings in ``earningsTimestamp`` and sometimes in
  the start/end pair) would reject the whole chain.
* Yahoo's ``dividendDate`` is the *pay* date; only ``exDividendDate`` is used. Both are
  date-valued epochs at midnight UTC, so they are read as UTC dates, while earnings
  timestamps are real instants and are read as New York dates.

yfinance is imported lazily (about 0.6 s) on the first request, so the CLI starts fast.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator

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

if TYPE_CHECKING:
    import numpy as np

    from optscan.chain import OptionChain

BASE_URL = "https://query2.finance.yahoo.com/v7/finance/options/"
NEW_YORK = ZoneInfo("America/New_York")

# yfinance's caches (cookie, ticker time zone, ISIN) live in module-level state, so the
# location is process-wide: remember what was set and set it again only on a change.
_cache_lock = threading.Lock()
_cache_location: str | None = None

# Contract fields read into float columns: (OptionChain column, Yahoo key).
_FLOAT_FIELDS = (
    ("strike", "strike"),
    ("bid", "bid"),
    ("ask", "ask"),
    ("last", "lastPrice"),
    ("volume", "volume"),
    ("open_interest", "openInterest"),
    ("iv", "impliedVolatility"),
    ("last_trade_time", "lastTradeDate"),
)

# curl error codes (CurlECode) that mean "a connection was made and then dropped":
# GOT_NOTHING, SEND_ERROR, RECV_ERROR, PARTIAL_FILE, HTTP2_STREAM. A retry may help.
_DROPPED_CURL_CODES = frozenset({52, 55, 56, 18, 92})
# ... and those that mean the host or proxy cannot be reached at all:
# COULDNT_RESOLVE_PROXY, COULDNT_RESOLVE_HOST, COULDNT_CONNECT, PROXY.
_UNREACHABLE_CURL_CODES = frozenset({5, 6, 7, 97})
_UNREACHABLE_TEXT = (
    "could not resolve",
    "couldn't resolve",
    "name resolution",
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "failed to connect",
    "couldn't connect",
    "network is unreachable",
    "no route to host",
    "connection refused",
)
_DROPPED_TEXT = ("connection reset", "connection aborted", "remotedisconnected", "broken pipe")


def _epoch(day: dt.date) -> int:
    """Yahoo names an expiration by midnight UTC of its date."""
    return int(dt.datetime.combine(day, dt.time(0), dt.UTC).timestamp())


def _utc_date(epoch: float) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date()


def _ny_date(epoch: float) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, NEW_YORK).date()


def _is_number(value: Any) -> bool:
    """JSON numbers only: ``bool`` is an ``int`` subclass but never a price."""
    return type(value) in (int, float)


def _use_cache_dir(path: str) -> None:
    """Point yfinance's cookie and time-zone caches at ``path`` (once per location).

    In yfinance 1.7 ``set_tz_cache_location`` moves all of its caches (time zone, cookie,
    ISIN) together; the directory is created by yfinance on first use, and if it cannot
    be, yfinance falls back to no cache rather than failing.
    """
    global _cache_location
    with _cache_lock:
        if _cache_location != path:
            import yfinance

            yfinance.set_tz_cache_location(path)
            _cache_location = path


class YFinanceProvider(OptionProvider):
    """Yahoo Finance via yfinance's HTTP layer; quotes delayed about 15 minutes."""

    name = "yfinance"

    class Config(ProviderConfig):
        """``[providers.yfinance]``: gentle defaults, since Yahoo rate-limits eagerly."""

        max_concurrency: int = Field(default=4, ge=1, le=1024)
        rate_limit_per_s: float = Field(
            default=2.0, ge=0, description="Client-side request rate cap; 0 = unlimited."
        )
        timeout_s: float = Field(default=10.0, gt=0, description="Per-request timeout.")
        cache_dir: str | None = Field(
            default=None,
            description="yfinance's cookie/time-zone cache; unset = <user cache>/optscan/yfinance",
        )
        data_delay_s: float = Field(
            default=900.0, ge=0, description="How late Yahoo's option quotes are."
        )

        @field_validator("cache_dir", mode="before")
        @classmethod
        def _blank_is_default(cls, value: Any) -> Any:
            """TOML has no null, so the shipped file spells "use the default" as ``""``."""
            return None if isinstance(value, str) and not value.strip() else value

    def __init__(self, config: YFinanceProvider.Config) -> None:
        super().__init__(config)
        self.config: YFinanceProvider.Config = config

    # ------------------------------------------------------------------ extract

    def _cache_dir(self) -> str:
        if self.config.cache_dir:
            return str(Path(self.config.cache_dir).expanduser())
        from platformdirs import user_cache_dir

        return str(Path(user_cache_dir("optscan")) / "yfinance")

    def _get(self, symbol: str, expiration: dt.date | None = None) -> JSON:
        """One GET of the v7 options endpoint through yfinance; the JSON body, untouched."""
        _use_cache_dir(self._cache_dir())
        from yfinance.data import YfData

        url = BASE_URL + url_quote(symbol, safe="")
        if expiration is not None:
            url += f"?date={_epoch(expiration)}"
        try:
            response = YfData().get(url=url, timeout=self.config.timeout_s)
        except Exception as exc:
            raise _classify(exc, symbol, self.config.timeout_s) from exc
        return _body(response, symbol)

    def extract_expirations(self, symbol: str) -> JSON:
        return self._get(symbol)

    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        try:
            options = listing["optionChain"]["result"][0]["options"]
            if options and options[0]["expirationDate"] == _epoch(expiration):
                return listing  # the undated answer already holds this chain
        except (KeyError, IndexError, TypeError):
            pass  # a listing we cannot read: ask for the chain itself
        return self._get(symbol, expiration)

    # ------------------------------------------------------------------ transform

    @staticmethod
    def _result(raw: JSON, symbol: str) -> dict[str, Any]:
        """``optionChain.result[0]``, or the error saying why there is none."""
        chain = raw.get("optionChain") if isinstance(raw, dict) else None
        if not isinstance(chain, dict):
            raise MalformedPayloadError(f"{symbol}: no optionChain object in Yahoo's answer")
        error = chain.get("error")
        results = chain.get("result")
        if error or not results:
            detail = error.get("description") if isinstance(error, dict) else error
            raise SymbolNotFoundError(f"{symbol}: unknown to Yahoo ({detail or 'no result'})")
        if not isinstance(results, list) or not isinstance(results[0], dict):
            raise MalformedPayloadError(f"{symbol}: optionChain.result[0] is not an object")
        return results[0]

    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        result = self._result(raw, symbol)
        epochs = result.get("expirationDates")
        epochs = [] if epochs is None else epochs
        if not isinstance(epochs, list) or not all(_is_number(e) for e in epochs):
            raise MalformedPayloadError(f"{symbol}: expirationDates is {epochs!r:.80}")
        try:
            dates = sorted({_utc_date(e) for e in epochs})
        except (ValueError, OverflowError, OSError):
            raise MalformedPayloadError(f"{symbol}: bad expirationDates {epochs!r:.80}") from None
        if not dates:
            raise SymbolNotFoundError(f"{symbol}: no listed options")
        return dates

    def transform_chain(self, raw: JSON, symbol: str, expiration: dt.date) -> OptionChain:
        import numpy as np

        from optscan.chain import OptionChain

        result = self._result(raw, symbol)
        calls, puts = _contracts(result, symbol, expiration)
        quote = result.get("quote")
        if not isinstance(quote, dict):
            raise MalformedPayloadError(f"{symbol}: Yahoo's answer has no quote object")
        price = _quote_number(quote, "regularMarketPrice", symbol)
        if price is None or not math.isfinite(price) or price <= 0:
            raise MalformedPayloadError(
                f"{symbol}: quote.regularMarketPrice is {quote.get('regularMarketPrice')!r:.40}"
            )
        times = [
            t
            for key in ("regularMarketTime", "preMarketTime", "postMarketTime")
            if (t := _quote_number(quote, key, symbol)) is not None
        ]
        try:
            quote_time = dt.datetime.fromtimestamp(max(times), dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise MalformedPayloadError(f"{symbol}: the quote carries no usable time") from None

        rows = calls + puts
        columns: dict[str, Any] = {
            column: _column(rows, key, symbol) for column, key in _FLOAT_FIELDS
        }
        if np.isnan(columns["strike"]).any():
            raise MalformedPayloadError(f"{symbol}: a contract has no strike")
        names = [row.get("contractSymbol") for row in rows]
        if not all(isinstance(s, str) and s for s in names):
            bad = next(s for s in names if not (isinstance(s, str) and s))
            raise MalformedPayloadError(f"{symbol}: contractSymbol is {bad!r:.40}")
        kinds = ["call"] * len(calls) + ["put"] * len(puts)
        earnings_start, earnings_end = _earnings(quote, quote_time, symbol)
        try:
            return OptionChain(
                symbol=symbol,
                provider=self.name,
                underlying_price=price,
                quote_time=quote_time,
                data_delay_s=self.config.data_delay_s,
                earnings_start=earnings_start,
                earnings_end=earnings_end,
                ex_dividend_date=_ex_dividend(quote, quote_time, symbol),
                dividend_yield=_dividend_yield(quote, symbol),
                contract_symbol=names,
                kind=kinds,
                expiration=np.full(len(rows), np.datetime64(expiration, "D")),
                delta=np.full(len(rows), np.nan),
                **columns,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "chain"
            raise MalformedPayloadError(
                f"{symbol}: Yahoo's {expiration} chain is invalid: {where}: {first['msg']}"
            ) from None


# ---------------------------------------------------------------------- extract helpers


def _body(response: Any, symbol: str) -> JSON:
    """The JSON body of a finished request, or the per-symbol error its status means."""
    status = getattr(response, "status_code", 200)
    if status == 429:
        raise RateLimitedError(f"{symbol}: Yahoo rate limit (HTTP 429)")
    if status >= 500:
        raise TransientProviderError(f"{symbol}: Yahoo answered HTTP {status}")
    if status in (401, 403):
        # yfinance already retried once with its other cookie strategy; a later attempt
        # mints a fresh crumb, so this is worth retrying.
        raise TransientProviderError(f"{symbol}: Yahoo refused the cookie/crumb (HTTP {status})")
    if status == 404:
        raise SymbolNotFoundError(f"{symbol}: unknown to Yahoo (HTTP 404)")
    try:
        body = response.json()
    except Exception as exc:
        raise MalformedPayloadError(
            f"{symbol}: Yahoo's answer (HTTP {status}) is not JSON: {exc}"
        ) from None
    if status >= 400:
        raise ProviderError(f"{symbol}: Yahoo answered HTTP {status}: {body!r:.120}")
    if not isinstance(body, dict) or not isinstance(body.get("optionChain"), dict):
        raise MalformedPayloadError(f"{symbol}: Yahoo's answer has no optionChain object")
    return body


def _mro_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _classify(exc: BaseException, symbol: str, timeout_s: float) -> ProviderError:
    """Turn what yfinance, curl_cffi (or requests, yfinance's fallback) raised into an outcome.

    Classes are matched by name along the MRO, as yfinance itself does, so both HTTP
    backends are covered without importing either.
    """
    names = _mro_names(exc)
    text = str(exc)
    lowered = text.lower()
    shown = f"{type(exc).__name__}: {text[:200]}"
    code = getattr(exc, "code", None)
    if "YFRateLimitError" in names or "429" in text or "too many requests" in lowered:
        return RateLimitedError(f"{symbol}: Yahoo rate limit (HTTP 429): {shown}")
    if names & {"Timeout", "TimeoutError", "ReadTimeout", "ConnectTimeout"} or (
        "timed out" in lowered
    ):
        return TransientProviderError(f"{symbol}: no answer from Yahoo in {timeout_s:g} s")
    if (
        code in _DROPPED_CURL_CODES
        or names & {"ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError"}
        or any(t in lowered for t in _DROPPED_TEXT)
    ):
        return TransientProviderError(f"{symbol}: connection to Yahoo dropped: {shown}")
    if "SSLError" in names:
        return TransientProviderError(f"{symbol}: TLS with Yahoo failed: {shown}")
    if (
        code in _UNREACHABLE_CURL_CODES
        or names & {"ConnectionError", "DNSError", "ProxyError", "gaierror"}
        or any(t in lowered for t in _UNREACHABLE_TEXT)
    ):
        return NetworkUnreachableError(
            f"{symbol}: the network is unreachable (cannot reach Yahoo: {shown}); "
            "for an offline run use --provider sim"
        )
    if isinstance(exc, OSError) or "RequestException" in names:
        return TransientProviderError(f"{symbol}: request to Yahoo failed: {shown}")
    return ProviderError(f"{symbol}: yfinance failed: {shown}")


# -------------------------------------------------------------------- transform helpers


def _contracts(
    result: dict[str, Any], symbol: str, expiration: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The call and put rows of ``expiration``, or why the answer holds none."""
    epoch = _epoch(expiration)
    options = result.get("options")
    options = [] if options is None else options
    if not isinstance(options, list):
        raise MalformedPayloadError(f"{symbol}: options is not a list")
    if not options:
        raise ExpirationNotListedError(f"{symbol}: Yahoo's answer holds no chain for {expiration}")
    block = options[0]
    if not isinstance(block, dict):
        raise MalformedPayloadError(f"{symbol}: options[0] is not an object")
    got = block.get("expirationDate")
    if got != epoch:
        shown = _utc_date(got) if _is_number(got) and abs(got) < 1e11 else repr(got)
        raise ExpirationNotListedError(
            f"{symbol}: Yahoo answered with the {shown} chain, not {expiration}"
        )
    listed = result.get("expirationDates")
    if isinstance(listed, list) and listed and epoch not in listed:
        raise ExpirationNotListedError(
            f"{symbol}: {expiration} is not among the {len(listed)} listed expirations"
        )
    calls = block.get("calls")
    calls = [] if calls is None else calls
    puts = block.get("puts")
    puts = [] if puts is None else puts
    for side, rows in (("calls", calls), ("puts", puts)):
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise MalformedPayloadError(f"{symbol}: options[0].{side} is not a list of objects")
    if not calls and not puts:
        raise ExpirationNotListedError(f"{symbol}: {expiration} has no contracts")
    return calls, puts


def _column(rows: list[dict[str, Any]], key: str, symbol: str) -> np.ndarray:
    """One float column; missing or null values become NaN, anything else is an error."""
    import numpy as np

    values = [row.get(key) for row in rows]
    values = [math.nan if v is None else v for v in values]
    bad = next((v for v in values if not _is_number(v)), None)
    if bad is not None:
        raise MalformedPayloadError(f"{symbol}: {key} is {bad!r:.40}, not a number")
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:
        raise MalformedPayloadError(f"{symbol}: {key} holds a number out of range") from None


def _quote_number(quote: dict[str, Any], key: str, symbol: str) -> float | None:
    """A numeric quote field, ``None`` when absent; a string there is an error."""
    value = quote.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise MalformedPayloadError(f"{symbol}: quote.{key} is {value!r:.40}, not a number")
    try:
        return float(value)
    except OverflowError:
        raise MalformedPayloadError(f"{symbol}: quote.{key} is out of range") from None


def _date_of(epoch: float | None, to_date: Any, key: str, symbol: str) -> dt.date | None:
    if epoch is None:
        return None
    try:
        return to_date(epoch)
    except (ValueError, OverflowError, OSError):
        raise MalformedPayloadError(f"{symbol}: quote.{key} is not a time: {epoch!r}") from None


def _earnings(
    quote: dict[str, Any], now: dt.datetime, symbol: str
) -> tuple[dt.date | None, dt.date | None]:
    """The next earnings window as New York dates; ``(None, None)`` if none or already past."""
    start = _quote_number(quote, "earningsTimestampStart", symbol)
    start_key = "earningsTimestampStart"
    if start is None:
        start, start_key = _quote_number(quote, "earningsTimestamp", symbol), "earningsTimestamp"
    if start is None:
        return None, None
    end = _quote_number(quote, "earningsTimestampEnd", symbol)
    if end is None or end < start:
        end = start
    if end < now.timestamp():
        return None, None  # past: see the module docstring
    return (
        _date_of(start, _ny_date, start_key, symbol),
        _date_of(end, _ny_date, "earningsTimestampEnd", symbol),
    )


def _ex_dividend(quote: dict[str, Any], now: dt.datetime, symbol: str) -> dt.date | None:
    """The coming ex-dividend date (a midnight-UTC epoch), never the pay date."""
    day = _date_of(
        _quote_number(quote, "exDividendDate", symbol), _utc_date, "exDividendDate", symbol
    )
    if day is None or day < now.astimezone(NEW_YORK).date():
        return None  # past: see the module docstring
    return day


def _dividend_yield(quote: dict[str, Any], symbol: str) -> float | None:
    value = _quote_number(quote, "trailingAnnualDividendYield", symbol)
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return value


YFinanceConfig = YFinanceProvider.Config
"""Module-level name of the provider's config model (older imports use it)."""
