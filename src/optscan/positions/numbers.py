"""Numbers as brokers write them in their exports.

``$1,234.50``, ``-$1,234.50``, ``$-1,234.50``, ``(12.00)`` (negative), ``+1.20``,
``5.00%``, ``1,200`` and plain ``1200.5`` are numbers; ``--``, ``-``, ``N/A``, ``n/a``
and an empty cell are *no value* (``None``). Anything else, and anything not finite
(``nan``, ``inf``, ``1e999``), is a :class:`ValueError` naming the text.
"""

from __future__ import annotations

import math
import re

EMPTY = frozenset({"", "-", "--", "---", "n/a", "na", "none", "null", "\u2014", "\u2013"})
"""Cells that mean "no value" (lower-cased, spaces removed)."""
_NUMBER = re.compile(
    r"""
    (?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?   # 1,234.50 or 1234.50 or 1234.
    (?:[eE][+-]?\d+)?                        # 1.5e3
    |\.\d+(?:[eE][+-]?\d+)?                  # .5
    """,
    re.VERBOSE | re.ASCII,  # 0-9 only: no full-width or Arabic-Indic digits
)


def parse_number(text: str | None) -> float | None:
    """The number a cell holds, ``None`` for an empty marker; ``ValueError`` otherwise.

    Currency signs (``$``, ``USD``), percent signs, thousands separators and spaces are
    dropped; parentheses or a minus (before or after the ``$``) make it negative. The
    result is always finite.
    """
    if text is None:
        return None
    cell = text.strip().replace("\u00a0", " ").replace("\ufeff", "")
    if cell.replace(" ", "").lower() in EMPTY:
        return None
    body = cell
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1].strip()
    body = body.replace("USD", "").replace(" ", "")
    if body.endswith("%"):
        body = body[:-1]
    body = body.removeprefix("$")  # a sign and a $ in either order: -$1.00, $-1.00
    if body[:1] in ("-", "+"):
        negative ^= body[0] == "-"
        body = body[1:].removeprefix("$")
    if body.endswith("-") and not negative:  # 1,234.50- (a trailing minus)
        negative, body = True, body[:-1]
    if not _NUMBER.fullmatch(body):
        raise ValueError(f"{_short(cell)!r} is not a number")
    value = float(body.replace(",", ""))
    if not math.isfinite(value):
        raise ValueError(f"{_short(cell)!r} is not a finite number")
    return -value if negative else value


def _short(text: str, limit: int = 24) -> str:
    from optscan.symbols import shorten

    return shorten(text, limit)
