"""Ticker symbols and ids that become parts of paths and Redis keys.

Symbols are upper-cased and validated once, where they enter optscan (a source, the
command line, a holdings file), so nothing downstream ever sees a path, a shell
fragment or a key trick. Scan ids and profile names are checked the same way before
they are used in a Redis key.
"""

from __future__ import annotations

import re

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
"""A letter, then up to nine letters, digits, dots or dashes (``BRK-B``, ``BTC-USD``)."""
SCAN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
"""1-64 letters, digits, ``_`` or ``-``, starting with a letter or digit."""


ACCOUNT_LIKE = re.compile(r"\d{5}")
"""No ticker holds 5 digits in a row; an account number (``U1234567``) does."""
CLASS_SHARE = re.compile(r"^([A-Z][A-Z0-9]{0,6})(?:\.|/| +|-)([A-Z])$")
"""A class share in any broker's spelling: a base, then ``.``, ``/``, spaces or ``-``
and a one-letter class (``BRK.B``, ``BRK/B``, ``BRK B``, ``BRK-B``). A longer suffix
(``RY.TO``, ``BTC-USD``) is not a class."""


def split_symbols(text: str) -> list[str]:
    """The symbols of a typed list (``--symbols``; the web form's box should use it
    too): commas and whitespace both separate them, so ``"AAPL MSFT"`` is two symbols and
    ``"JPM C"`` is JPMorgan and Citigroup, never ``JPM-C``. Write a class share with
    ``.``, ``/`` or ``-`` (``BRK.B``); the spelling with a space (``BRK B``) is read only
    inside one cell of a CSV file (a positions export, a watchlist column) or one item
    of a list (the config's ``symbols = [...]``, a JSON list, ``ScanRequest.symbols``),
    where nothing else can separate. Empty items are dropped."""
    return [s for s in re.split(r"[,\s]+", text) if s]


def canonical_symbol(raw: str) -> str:
    """The one spelling optscan uses for a ticker: upper case, and a class share written
    with ``-`` (``BRK.B``, ``BRK/B`` and ``BRK B`` become ``BRK-B``, Yahoo's spelling).

    Only spelling: nothing is validated here (:func:`normalize_symbol` does both).
    """
    symbol = raw.strip().upper()
    match = CLASS_SHARE.fullmatch(symbol)
    return f"{match[1]}-{match[2]}" if match else symbol


def class_share(symbol: str) -> tuple[str, str] | None:
    """``(base, class)`` of a canonical class-share symbol (``("BRK", "B")`` for
    ``BRK-B``), else None. Providers use it to write the symbol their own way."""
    match = CLASS_SHARE.fullmatch(symbol)
    return (match[1], match[2]) if match else None


def provider_spelling(symbol: str, separator: str) -> str:
    """A canonical symbol as a provider spells it: a class share's ``-`` becomes
    ``separator`` (``"."`` gives ``BRK.B``, ``"/"`` gives ``BRK/B``, ``""`` gives the
    OCC root ``BRKB``); any other symbol is returned unchanged."""
    parts = class_share(symbol)
    return f"{parts[0]}{separator}{parts[1]}" if parts else symbol


def without_symbol(error: str, symbol: str) -> str:
    """``error`` without the leading symbol it carries, for a line that already starts
    with the symbol: ``AAPL: no listed options`` -> ``no listed options``, ``AAPL
    fundamentals: unreadable`` -> ``fundamentals: unreadable``, ``AAPL fundamentals not
    recorded`` -> ``fundamentals not recorded``. Provider errors name
    their symbol so that they stand alone in logs and ``errors``; printed after the
    symbol they would repeat it (``AAPL: AAPL: ...``)."""
    if error.startswith(f"{symbol}: "):
        return error[len(symbol) + 2 :]
    if error.startswith((f"{symbol} fundamentals: ", f"{symbol} fundamentals not ")):
        return error[len(symbol) + 1 :]
    return error


def normalize_symbol(raw: str) -> str:
    """Upper-case, canonicalize and validate a ticker symbol; raise ``ValueError`` with
    the reason.

    Class shares in every spelling become one symbol (:func:`canonical_symbol`:
    ``BRK.B``, ``BRK/B``, ``BRK B`` -> ``BRK-B``). The pattern (a letter, then up to
    nine letters, digits, dots or dashes) admits crypto pairs (``BTC-USD``) and other
    exchanges' suffixes (``RY.TO``), and rejects anything that could be a path, a shell
    fragment or a Redis key trick.
    """
    if not isinstance(raw, str):
        raise ValueError(f"symbol must be text, got {type(raw).__name__}")
    symbol = canonical_symbol(raw)
    if not symbol:
        raise ValueError("empty symbol")
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise ValueError(
            f"invalid symbol {shorten(symbol)!r}: expected a letter followed by up to 9 "
            "letters, digits, '.' or '-'"
        )
    if ACCOUNT_LIKE.search(symbol):
        # not echoed: in a broker's file this is an account number in the wrong column
        raise ValueError("invalid symbol: 5 or more digits in a row are an account number")
    return symbol


def shorten(text: str, limit: int = 24) -> str:
    """``text`` made printable and cut to ``limit`` characters with ``...`` (for echoing
    bad input)."""
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), so echoing input
    can never clear a terminal, set its title or move its cursor."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def check_key_part(value: str) -> str:
    """``value`` if it may be part of a Redis key (a scan id, a profile), else
    ``ValueError`` saying what is allowed."""
    if not SCAN_ID_PATTERN.fullmatch(value):
        raise ValueError(
            "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit "
            "(it is used in Redis keys)"
        )
    return value
