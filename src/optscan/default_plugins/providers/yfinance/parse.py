"""The transform half: Yahoo's v7 options body -> expirations and a columnar chain.

Pure functions of the recorded payload (no network, no yfinance), so a replayed body
parses exactly as the live one did. The choices (regular-market price, latest quote
time, past earnings and ex-dividend dates dropped) are explained in the package
docstring. numpy and the chain model are imported when a chain is parsed.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from optscan.errors import ExpirationNotListedError, MalformedPayloadError, SymbolNotFoundError
from optscan.protocols import JSON

if TYPE_CHECKING:
    import numpy as np

    from optscan.chain import OptionChain

NEW_YORK = ZoneInfo("America/New_York")

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


def epoch(day: dt.date) -> int:
    """Yahoo names an expiration by midnight UTC of its date."""
    return int(dt.datetime.combine(day, dt.time(0), dt.UTC).timestamp())


def utc_date(value: float) -> dt.date:
    return dt.datetime.fromtimestamp(value, dt.UTC).date()


def ny_date(value: float) -> dt.date:
    return dt.datetime.fromtimestamp(value, NEW_YORK).date()


def is_number(value: Any) -> bool:
    """JSON numbers only: ``bool`` is an ``int`` subclass but never a price."""
    return type(value) in (int, float)


def option_result(raw: JSON, symbol: str) -> dict[str, Any]:
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


def expirations(raw: JSON, symbol: str) -> list[dt.date]:
    """The listed expirations, sorted; :class:`SymbolNotFoundError` when there are none."""
    result = option_result(raw, symbol)
    epochs = result.get("expirationDates")
    epochs = [] if epochs is None else epochs
    if not isinstance(epochs, list) or not all(is_number(e) for e in epochs):
        raise MalformedPayloadError(f"{symbol}: expirationDates is {epochs!r:.80}")
    try:
        dates = sorted({utc_date(e) for e in epochs})
    except (ValueError, OverflowError, OSError):
        raise MalformedPayloadError(f"{symbol}: bad expirationDates {epochs!r:.80}") from None
    if not dates:
        raise SymbolNotFoundError(f"{symbol}: no listed options")
    return dates


def chain(
    raw: JSON, symbol: str, expiration: dt.date, *, provider: str, data_delay_s: float
) -> OptionChain:
    """The chain of ``expiration`` in ``raw``, as an :class:`OptionChain` of ``provider``."""
    import numpy as np

    from optscan.chain import OptionChain

    result = option_result(raw, symbol)
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
    columns: dict[str, Any] = {column: _column(rows, key, symbol) for column, key in _FLOAT_FIELDS}
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
            provider=provider,
            underlying_price=price,
            quote_time=quote_time,
            data_delay_s=data_delay_s,
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


def _contracts(
    result: dict[str, Any], symbol: str, expiration: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The call and put rows of ``expiration``, or why the answer holds none."""
    wanted = epoch(expiration)
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
    if got != wanted:
        shown = utc_date(got) if is_number(got) and abs(got) < 1e11 else repr(got)
        raise ExpirationNotListedError(
            f"{symbol}: Yahoo answered with the {shown} chain, not {expiration}"
        )
    listed = result.get("expirationDates")
    if isinstance(listed, list) and listed and wanted not in listed:
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
    bad = next((v for v in values if not is_number(v)), None)
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
    if not is_number(value):
        raise MalformedPayloadError(f"{symbol}: quote.{key} is {value!r:.40}, not a number")
    try:
        return float(value)
    except OverflowError:
        raise MalformedPayloadError(f"{symbol}: quote.{key} is out of range") from None


def _date_of(value: float | None, to_date: Any, key: str, symbol: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return to_date(value)
    except (ValueError, OverflowError, OSError):
        raise MalformedPayloadError(f"{symbol}: quote.{key} is not a time: {value!r}") from None


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
        return None, None  # past: see the package docstring
    return (
        _date_of(start, ny_date, start_key, symbol),
        _date_of(end, ny_date, "earningsTimestampEnd", symbol),
    )


def _ex_dividend(quote: dict[str, Any], now: dt.datetime, symbol: str) -> dt.date | None:
    """The coming ex-dividend date (a midnight-UTC epoch), never the pay date."""
    day = _date_of(
        _quote_number(quote, "exDividendDate", symbol), utc_date, "exDividendDate", symbol
    )
    if day is None or day < now.astimezone(NEW_YORK).date():
        return None  # past: see the package docstring
    return day


def _dividend_yield(quote: dict[str, Any], symbol: str) -> float | None:
    value = _quote_number(quote, "trailingAnnualDividendYield", symbol)
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return value
