"""TradingView's ``EXCHANGE:SYMBOL`` items -> the symbol optscan scans (Yahoo's spelling).

A TradingView watchlist names every item by its exchange. Dropping the prefix blindly
scans the wrong thing: ``TSX:RY`` is Royal Bank on Toronto (Yahoo ``RY.TO``), not the
US listing ``RY``; ``TVC:DXY`` is an index and ``BINANCE:BTCUSDT`` a crypto pair, not
stocks. So:

* a US stock or ETF exchange (:data:`US_EXCHANGES`) keeps the symbol (``NYSE:BRK.B`` ->
  ``BRK.B``, made ``BRK-B`` by the scan);
* a known non-US exchange (:data:`YAHOO_SUFFIX`) gets Yahoo's suffix (``TSX:RY`` ->
  ``RY.TO``; a class share keeps its ``-``: ``TSX:BBD.B`` -> ``BBD-B.TO``);
* an exchange of indices, currencies, crypto or futures (:data:`NOT_STOCKS`), a
  continuous future (``ES1!``) or a spread (``AAPL/MSFT``) is skipped (``not_a_stock``);
* any other exchange is skipped (``unknown_exchange``): scanning a guessed listing would
  price the wrong company. Write such a symbol in Yahoo's spelling (``7203.T``) instead.

Sources: TradingView's exchange list (tradingview.com/symbols, "Exchanges") and Yahoo
Finance's exchange suffixes (help.yahoo.com, "Exchanges and data providers on Yahoo
Finance").
"""

from __future__ import annotations

import re
from typing import NamedTuple

US_EXCHANGES = frozenset(
    {
        "NASDAQ",
        "NYSE",
        "AMEX",
        "NYSEARCA",
        "NYSEAMERICAN",
        "NYSEMKT",
        "ARCA",
        "BATS",
        "CBOE",
        "CBOEBZX",
        "IEX",
        "OTC",
        "OTCMKTS",
        "PINK",
        "US",
    }
)
"""Exchanges whose symbols Yahoo writes as they are."""

YAHOO_SUFFIX = {
    "TSX": ".TO",
    "TSXV": ".V",
    "NEO": ".NE",
    "CSE": ".CN",
    "LSE": ".L",
    "LSIN": ".IL",
    "XETR": ".DE",
    "FWB": ".F",
    "SWB": ".SG",
    "MUN": ".MU",
    "SIX": ".SW",
    "MIL": ".MI",
    "BME": ".MC",
    "EURONEXT_PARIS": ".PA",
    "EURONEXTPAR": ".PA",
    "EURONEXT_AMSTERDAM": ".AS",
    "EURONEXT_BRUSSELS": ".BR",
    "EURONEXT_LISBON": ".LS",
    "VIE": ".VI",
    "OMXSTO": ".ST",
    "OMXHEX": ".HE",
    "OMXCOP": ".CO",
    "OMXICE": ".IC",
    "OSL": ".OL",
    "GPW": ".WA",
    "ASX": ".AX",
    "NZX": ".NZ",
    "HKEX": ".HK",
    "TSE": ".T",
    "SGX": ".SI",
    "NSE": ".NS",
    "BSE": ".BO",
    "KRX": ".KS",
    "TWSE": ".TW",
    "TPEX": ".TWO",
    "SSE": ".SS",
    "SZSE": ".SZ",
    "BMFBOVESPA": ".SA",
    "BMV": ".MX",
    "JSE": ".JO",
    "TASE": ".TA",
}
"""Non-US stock exchanges (TradingView's name) -> Yahoo's suffix."""

NOT_STOCKS = frozenset(
    {
        # indices and economic data
        "TVC",
        "INDEX",
        "SP",
        "DJ",
        "CBOE_INDEX",
        "ECONOMICS",
        "FRED",
        "QUANDL",
        # currencies
        "FX",
        "FX_IDC",
        "OANDA",
        "FOREXCOM",
        "FXCM",
        "SAXO",
        "CAPITALCOM",
        "PEPPERSTONE",
        "ICMARKETS",
        "EIGHTCAP",
        "BLACKBULL",
        "CURRENCYCOM",
        # crypto
        "BINANCE",
        "BINANCEUS",
        "COINBASE",
        "KRAKEN",
        "BITSTAMP",
        "BITFINEX",
        "BYBIT",
        "OKX",
        "GEMINI",
        "KUCOIN",
        "HUOBI",
        "HTX",
        "MEXC",
        "BITGET",
        "BITMEX",
        "DERIBIT",
        "POLONIEX",
        "CRYPTO",
        "CRYPTOCAP",
        # futures
        "CME",
        "CME_MINI",
        "CBOT",
        "CBOT_MINI",
        "COMEX",
        "COMEX_MINI",
        "NYMEX",
        "NYMEX_MINI",
        "ICEUS",
        "ICEEUR",
        "ICEENDEX",
        "EUREX",
        "CFE",
        "SGXFUT",
        "MCX",
    }
)
"""Exchanges of things that are not stocks (TradingView's names)."""

_CLASS = re.compile(r"^([A-Z][A-Z0-9]{0,6})[./]([A-Z])$")


class Item(NamedTuple):
    """An item read: the symbol to scan, or ``None`` with the machine reason and why."""

    symbol: str | None
    reason: str = ""
    detail: str = ""


def tradingview_symbol(item: str) -> Item:
    """The symbol to scan for one TradingView item (``EXCHANGE:SYMBOL`` or a bare
    symbol), or why it is skipped (``not_a_stock``, ``unknown_exchange``)."""
    exchange, _, symbol = item.strip().rpartition(":")
    exchange, symbol = exchange.strip().upper(), symbol.strip()
    if not symbol:
        return Item(None, "no_symbol", "an exchange without a symbol")
    if symbol.endswith("!") or ("/" in symbol and not _CLASS.fullmatch(symbol.upper())):
        return Item(None, "not_a_stock", "a continuous future or a spread")
    if not exchange or exchange in US_EXCHANGES:
        return Item(symbol)
    if exchange in NOT_STOCKS:
        return Item(None, "not_a_stock", f"{exchange} lists indices, currencies, crypto or futures")
    suffix = YAHOO_SUFFIX.get(exchange)
    if suffix is None:
        return Item(None, "unknown_exchange", f"exchange {exchange} is not known to optscan")
    match = _CLASS.fullmatch(symbol.upper())
    base = f"{match[1]}-{match[2]}" if match else symbol
    return Item(f"{base}{suffix}")
