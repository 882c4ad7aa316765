"""What a watchlist reading holds (:class:`Watchlist`) and the words and marks every
reader of :mod:`optscan.watchlists` shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from optscan.symbols import normalize_symbol

SYMBOL_HEADERS = ("symbol", "ticker", "symbols", "tickers", "sym", "instrument", "security")
"""Header cells that name the symbol column (compared in lower case)."""
WHAT = "a watchlist (symbols a line, a TradingView export, or a CSV with a Symbol column)"
TRADINGVIEW_ITEM = re.compile(r"^[A-Z0-9_]+:[A-Z0-9._!/\-]+$", re.IGNORECASE)
NOT_STOCK_MARKS = ("/", "$", "^")
"""How thinkorswim and Yahoo mark futures (``/ES``) and indices (``$SPX``, ``^VIX``)."""


@dataclass(frozen=True)
class Entry:
    """One symbol as written, and the line it is on."""

    line: int
    text: str


@dataclass(frozen=True)
class Skipped:
    """A line (or an item) that is not a symbol, and why."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class Watchlist:
    """What a watchlist file holds: ``format`` is ``text``, ``tradingview``, ``csv``, or
    the positions format of a broker's export (``schwab``, ``ibkr-activity``...)."""

    format: str
    entries: list[Entry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        """The symbols as written, in file order."""
        return [e.text for e in self.entries]


def plausible(token: str) -> bool:
    """Whether ``token`` can be a ticker as written (any case)."""
    try:
        normalize_symbol(token)
    except ValueError:
        return False
    return True


def add_tradingview_item(result: Watchlist, number: int, item: str) -> None:
    """Add a TradingView ``EXCHANGE:SYMBOL`` item: its symbol in Yahoo's spelling, or the
    item skipped with the reason (:func:`optscan.tradingview.tradingview_symbol`)."""
    from optscan.positions.text import shorten_text
    from optscan.tradingview import tradingview_symbol

    read = tradingview_symbol(item)
    if read.symbol is None:
        result.skipped.append(Skipped(number, shorten_text(item), read.reason))
    else:
        result.entries.append(Entry(number, read.symbol))
