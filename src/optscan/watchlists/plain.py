"""Plain-text watchlists: symbols separated by commas, spaces, tabs or lines; titles and
stray header words skipped."""

from __future__ import annotations

import re

from optscan.positions.text import redact_line, shorten_text
from optscan.watchlists.model import (
    NOT_STOCK_MARKS,
    TRADINGVIEW_ITEM,
    Entry,
    Skipped,
    Watchlist,
    add_tradingview_item,
    plausible,
)

_SPLIT = re.compile(r"[,\s]+")


def read_plain(lines: list[str], headers: list[str]) -> Watchlist:
    """Symbols separated by commas, spaces or tabs. A line of several words separated
    by spaces alone, one of them in lower or mixed case or no ticker at all (``My wheel
    watchlist``, ``NOT A TICKER!!``), or a single word in mixed case (``Watchlist``), is
    a title: skipped and reported, never scanned. ``Symbol``/``Ticker`` is a stray
    header word: skipped, the symbols around it kept."""
    result = Watchlist("text")
    for number, raw in enumerate(lines, 1):
        body = raw.lstrip("\ufeff").split("#", 1)[0]
        tokens = [t.strip().strip('"').strip("'") for t in _SPLIT.split(body.strip())]
        tokens = [t for t in tokens if t]
        if _is_title(body, tokens, headers):
            result.skipped.append(Skipped(number, redact_line(body.strip()), "title"))
            continue
        for token in tokens:
            if token.lower() in headers:
                result.skipped.append(Skipped(number, token, "header"))
                continue
            if token.startswith(NOT_STOCK_MARKS):
                result.skipped.append(Skipped(number, shorten_text(token), "not_a_stock"))
                continue
            if ":" in token:  # a TradingView item among plain symbols
                add_tradingview_item(result, number, token)
                continue
            result.entries.append(Entry(number, token))
    return result


def _is_title(body: str, tokens: list[str], headers: list[str]) -> bool:
    words = [t for t in tokens if t.lower() not in headers]
    if not words:
        return False
    if any(_mixed_case(t) for t in words):
        return True
    if len(tokens) < 2 or "," in body or "\t" in body:
        return False  # a list written with commas or tabs: symbols, even lower-case
    return any(t != t.upper() or not _listable(t) for t in words)


def _listable(token: str) -> bool:
    """Whether a token can stand in a list of symbols: a ticker, a TradingView item, or
    a future or an index (skipped later, but no sign of a title)."""
    return (
        plausible(token) or bool(TRADINGVIEW_ITEM.match(token)) or token.startswith(NOT_STOCK_MARKS)
    )


def _mixed_case(token: str) -> bool:
    letters = [c for c in token if c.isalpha()]
    return any(c.isupper() for c in letters) and any(c.islower() for c in letters)
