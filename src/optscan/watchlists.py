"""Watchlist files, as the tools traders use write them: :func:`read_watchlist`.

* plain text: one or several symbols a line, separated by commas, spaces or tabs;
  ``#`` starts a comment;
* TradingView's export: ``EXCHANGE:SYMBOL`` items, comma-separated, with ``###Section``
  items between them (the exchange is dropped, sections are skipped);
* Finviz's CSV export (``"No.","Ticker","Company",...``), thinkorswim's watchlist export
  (title lines before the ``Symbol,Last,...`` header) and any CSV whose header names a
  symbol column (``Symbol``, ``Ticker``, or ``sources.file.column``): the column's cells
  are the symbols; lines before the header are skipped as ``preamble``.

A header cell or a preamble line is never taken for a symbol. Symbols come back as
written (with their line numbers); the scan upper-cases, canonicalizes and validates
them (:func:`optscan.symbols.normalize_symbol`). A file that cannot be a watchlist
(missing, binary, a spreadsheet, a table without a symbol column, no symbol at all)
raises :class:`~optscan.errors.InputFileError` naming the file and the line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from optscan.errors import InputFileError

if TYPE_CHECKING:
    from pathlib import Path

SYMBOL_HEADERS = ("symbol", "ticker", "symbols", "tickers", "sym", "instrument", "security")
"""Header cells that name the symbol column (compared in lower case)."""
WHAT = "a watchlist (symbols a line, a TradingView export, or a CSV with a Symbol column)"
_TRADINGVIEW_ITEM = re.compile(r"^[A-Z0-9_]+:[A-Z0-9._!/\-]+$", re.IGNORECASE)
_SPLIT = re.compile(r"[,\s]+")


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
    """What a watchlist file holds: ``format`` is ``text``, ``tradingview`` or
    ``csv``."""

    format: str
    entries: list[Entry] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        """The symbols as written, in file order."""
        return [e.text for e in self.entries]


def read_watchlist(path: Path, column: str = "symbol") -> Watchlist:
    """Read a watchlist file in any format above (``column``: the CSV header cell that
    names the symbol column, besides the usual ones)."""
    from optscan.positions.text import read_text

    shown = str(path)
    text = read_text(path, WHAT)
    lines = text.splitlines()
    if _is_tradingview(lines):
        result = _tradingview(lines)
    else:
        delimiter = _delimiter(lines)
        header = _find_header(lines, column, delimiter)
        if header is not None:
            result = _csv(lines, header, column, delimiter)
        else:
            _refuse_table(shown, lines, delimiter, column)
            result = _plain(lines)
    if not result.entries:
        first = next((i for i, ln in enumerate(lines, 1) if ln.strip()), 1)
        raise InputFileError(shown, first, f"no symbol in the file: expected {WHAT}")
    return result


def _is_tradingview(lines: list[str]) -> bool:
    items = [i.strip() for ln in lines for i in ln.split(",") if i.strip()]
    items = [i for i in items if not i.startswith("#")]
    return bool(items) and sum(bool(_TRADINGVIEW_ITEM.match(i)) for i in items) * 2 >= len(items)


def _tradingview(lines: list[str]) -> Watchlist:
    result = Watchlist("tradingview")
    for number, raw in enumerate(lines, 1):
        for item in (i.strip() for i in raw.lstrip("\ufeff").split(",")):
            if not item:
                continue
            if item.startswith("###"):
                result.skipped.append(Skipped(number, item[3:].strip() or item, "section"))
            elif item.startswith("#"):
                continue
            else:
                result.entries.append(Entry(number, item.split(":", 1)[-1]))
    return result


def _delimiter(lines: list[str]) -> str:
    sample = "\n".join(ln for ln in lines[:30] if ln.strip())
    if "\t" in sample and "," not in sample:
        return "\t"
    if ";" in sample and "," not in sample:
        return ";"
    return ","


def _cells(raw: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([raw], delimiter=delimiter), [])
    except csv.Error:
        return [raw]


def _names(column: str) -> list[str]:
    return [column.strip().lower(), *(h for h in SYMBOL_HEADERS if h != column.strip().lower())]


def _find_header(lines: list[str], column: str, delimiter: str) -> tuple[int, int] | None:
    """``(line index, column index)`` of the header naming the symbol column."""
    names = _names(column)
    for i, raw in enumerate(lines[:50]):
        cells = [c.strip().lower() for c in _cells(raw, delimiter)]
        for name in names:
            if name in cells:
                return i, cells.index(name)
    return None


def _csv(lines: list[str], header: tuple[int, int], column: str, delimiter: str) -> Watchlist:
    from optscan.positions.text import redact_line

    at, index = header
    result = Watchlist("csv")
    for number, raw in enumerate(lines[:at], 1):
        if raw.strip():
            result.skipped.append(Skipped(number, redact_line(raw), "preamble"))
    header_cells = [c.strip().lower() for c in _cells(lines[at], delimiter)]
    for number, raw in enumerate(lines[at + 1 :], at + 2):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = _cells(raw, delimiter)
        if [c.strip().lower() for c in cells] == header_cells:
            result.skipped.append(Skipped(number, redact_line(raw), "header"))
            continue
        cell = cells[index].strip() if index < len(cells) else ""
        if cell.lower() in _names(column):  # a header repeated, shorter or longer
            result.skipped.append(Skipped(number, redact_line(raw), "header"))
            continue
        if not cell:
            result.skipped.append(Skipped(number, redact_line(raw), "no_symbol"))
            continue
        result.entries.append(Entry(number, cell))
    return result


def _refuse_table(shown: str, lines: list[str], delimiter: str, column: str) -> None:
    """A CSV table with no symbol column is no watchlist: a header row (3 or more cells,
    none a number) over rows of as many cells holding numbers or dates, or a header
    with a multi-word name. Rows of symbols alone (``AAPL,MSFT,AMD``) stay a list."""
    rows = [(i, _cells(ln, delimiter)) for i, ln in enumerate(lines, 1) if ln.strip()]
    if len(rows) < 2:
        return
    first_line, first = rows[0]
    later = [r for _, r in rows[1:6]]
    if len(first) < 3 or any(len(r) != len(first) for r in later):
        return
    if any(c.strip()[:1].isdigit() for c in first):
        return  # numbers in the first row: data, not a header
    numbers = any(c.strip()[:1].isdigit() for r in later for c in r)
    worded = any(" " in c.strip() for c in first)
    if not (numbers or worded):
        return
    raise InputFileError(
        shown,
        first_line,
        f"a CSV table without a symbol column: expected a header naming {column!r}, "
        "Symbol or Ticker (sources.file.column names another)",
    )


def _plain(lines: list[str]) -> Watchlist:
    result = Watchlist("text")
    for number, raw in enumerate(lines, 1):
        body = raw.lstrip("\ufeff").split("#", 1)[0]
        for token in _SPLIT.split(body.strip()):
            token = token.strip().strip('"').strip("'")
            if not token:
                continue
            if token.lower() in SYMBOL_HEADERS:
                result.skipped.append(Skipped(number, token, "header"))
                continue
            result.entries.append(Entry(number, token))
    return result
