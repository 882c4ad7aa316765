"""Watchlist files, as the tools traders use write them: :func:`read_watchlist`.

* plain text: one or several symbols a line, separated by commas, spaces or tabs;
  ``#`` starts a comment; a title line (several words separated by spaces, one in lower
  or mixed case or no ticker; a single mixed-case word) is skipped as ``title``, and a
  stray ``Symbol``/``Ticker`` word as ``header`` (the symbols around it kept);
* TradingView's export: ``EXCHANGE:SYMBOL`` items, comma-separated, with ``###Section``
  items between them; the exchange gives Yahoo's spelling or a reason to skip
  (:mod:`optscan.tradingview`);
* a broker's positions export (any format :mod:`optscan.positions` detects, the
  Interactive Brokers activity statement included): read by the positions reader, so
  account lines, sections, totals and cash are skipped exactly as ``optscan
  positions`` skips them; the stocks held are the symbols, option rows are skipped;
* Finviz's CSV export (``"No.","Ticker","Company",...``), thinkorswim's watchlist export
  (title lines before the ``Symbol,Last,...`` header) and any CSV whose header names a
  symbol column (``Symbol``, ``Ticker``, or ``sources.file.column``): the column's cells
  are the symbols (a cell may write a class share with a space, ``BRK B``); lines before
  the header are ``preamble``; totals, cash (:func:`optscan.positions.rows.summary_reason`)
  and option rows are skipped; account columns and account lines are withheld.

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
from optscan.positions.reader import ACCOUNT_SECTION
from optscan.positions.text import (
    Line,
    guess_delimiter,
    read_text,
    redact_line,
    row_text,
    shorten_text,
    split_lines,
)
from optscan.symbols import normalize_symbol
from optscan.tradingview import tradingview_symbol

if TYPE_CHECKING:
    from collections.abc import Callable
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
    """What a watchlist file holds: ``format`` is ``text``, ``tradingview``, ``csv``, or
    the positions format of a broker's export (``schwab``, ``ibkr-activity``...)."""

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
    shown = str(path)
    text = read_text(path, WHAT)
    lines = text.splitlines()
    if _is_tradingview(lines):
        result = _tradingview(lines)
    else:
        exported = _positions_export(text)
        if exported is not None:
            result = exported
        else:
            delimiter = _delimiter(lines)
            header = _find_header(lines, column, delimiter)
            if header is not None and len(_filled(lines[header[0]], delimiter)) > 1:
                result = _csv(lines, header, column, delimiter)
            elif header is not None:  # "Symbol" over a plain list: the list's rules
                result = _plain(lines, _names(column))
            else:
                _refuse_table(shown, lines, delimiter, column)
                result = _plain(lines, _names(column))
    if not result.entries:
        first = next((i for i, ln in enumerate(lines, 1) if ln.strip()), 1)
        raise InputFileError(shown, first, f"no symbol in the file: expected {WHAT}")
    return result


NOT_STOCK_MARKS = ("/", "$", "^")
"""How thinkorswim and Yahoo mark futures (``/ES``) and indices (``$SPX``, ``^VIX``)."""
NUMBER_REASONS = frozenset({"no_quantity", "zero_quantity", "short_stock", "bad_number"})
"""A positions row refused for its numbers still names a stock to watch."""


def _positions_export(text: str) -> Watchlist | None:
    """A broker's positions export (any format :mod:`optscan.positions` detects) read
    as a watchlist through the positions reader itself, so account lines, sections,
    summary rows and cash are skipped exactly as ``optscan positions`` skips them: the
    stocks held are the symbols; option, cash and summary lines are skipped. ``None``
    when the text is no positions export."""
    from optscan.positions.formats import LAYOUTS, columns_of, detect, find_header, strip_code
    from optscan.positions.ibkr_activity import is_activity_statement, read_activity
    from optscan.positions.reader import read_table
    from optscan.positions.rows import Cash, Option, Stock

    lines = split_lines(text, guess_delimiter(text.splitlines()))
    symbol_of: Callable[[Line], str | None] = lambda _line: None  # noqa: E731
    if is_activity_statement(lines):
        name = "ibkr-activity"
        rows = read_activity(lines)
    else:
        detected = detect(lines)
        index = None if detected is None else find_header(lines, LAYOUTS[detected])
        if detected is not None and index is None:  # a broker's title over another header
            detected = "generic"
            index = find_header(lines, LAYOUTS[detected])
        if detected is None or index is None:
            return None
        name, layout = detected, LAYOUTS[detected]
        columns = columns_of(lines[index], layout)
        rows = read_table(lines, index, name)

        def symbol_of(line: Line) -> str | None:
            return columns.get(
                strip_code(line).cells if layout.line_codes else line.cells, "symbol"
            )

    result = Watchlist(name)
    for line, row, echo in rows:
        if isinstance(row, Stock):
            result.entries.append(Entry(line.number, row.symbol))
        elif isinstance(row, Option):
            result.skipped.append(Skipped(line.number, echo, "option"))
        elif isinstance(row, Cash):
            result.skipped.append(Skipped(line.number, echo or "(cash line)", "cash"))
        elif row.reason in NUMBER_REASONS and _plausible(symbol_of(line) or ""):
            result.entries.append(Entry(line.number, (symbol_of(line) or "").strip()))
        else:
            result.skipped.append(Skipped(line.number, echo, row.reason))
    return result


def _plausible(token: str) -> bool:
    """Whether ``token`` can be a ticker as written (any case)."""
    try:
        normalize_symbol(token)
    except ValueError:
        return False
    return True


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
                read = tradingview_symbol(item)
                if read.symbol is None:
                    result.skipped.append(Skipped(number, shorten_text(item), read.reason))
                else:
                    result.entries.append(Entry(number, read.symbol))
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


def _filled(raw: str, delimiter: str) -> list[str]:
    return [c.strip() for c in _cells(raw, delimiter) if c.strip()]


def _names(column: str) -> list[str]:
    return [column.strip().lower(), *(h for h in SYMBOL_HEADERS if h != column.strip().lower())]


def _find_header(lines: list[str], column: str, delimiter: str) -> tuple[int, int] | None:
    """``(line index, column index)`` of the header naming the symbol column. A header
    of one cell (``Symbol`` alone) counts only as the first line with content: further
    down, after symbols, it is a stray word of a plain list (skipped, the symbols above
    it kept)."""
    names = _names(column)
    seen_content = False
    for i, raw in enumerate(lines[:50]):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = [c.strip().lower() for c in _cells(raw, delimiter)]
        filled = [c for c in cells if c]
        for name in names:
            if name in cells and (len(filled) > 1 or not seen_content):
                return i, cells.index(name)
        seen_content = True
    return None


def _csv(lines: list[str], header: tuple[int, int], column: str, delimiter: str) -> Watchlist:
    """The symbol column's cells under the header; title lines above it, account lines,
    repeated headers, summary rows (totals, cash), options and empty cells skipped."""
    from optscan.positions.columns import map_columns
    from optscan.positions.notation import parse_option
    from optscan.positions.rows import summary_reason

    at, index = header
    result = Watchlist("csv")
    for number, raw in enumerate(lines[:at], 1):
        if raw.strip():
            result.skipped.append(Skipped(number, redact_line(raw), "preamble"))
    header_cells = [c.strip().lower() for c in _cells(lines[at], delimiter)]
    columns = map_columns(_cells(lines[at], delimiter))
    withheld = set(columns.withheld)
    cells_of = [(n, raw, _cells(raw, delimiter)) for n, raw in enumerate(lines, 1)]
    for number, raw, cells in cells_of[at + 1 :]:
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        lowered = [c.strip().lower() for c in cells]
        if lowered == header_cells:
            result.skipped.append(Skipped(number, row_text(cells, withheld), "header"))
            continue
        filled = [c for c in cells if c.strip()]
        following = next((c for _n, r, c in cells_of[number:] if r.strip()), None)
        if (
            len(filled) == 1
            and following is not None
            and [c.strip().lower() for c in following] == header_cells
        ):
            result.skipped.append(Skipped(number, ACCOUNT_SECTION, "account_section"))
            continue
        cell = cells[index].strip() if index < len(cells) else ""
        text = row_text(cells, withheld)
        if cell.lower() in _names(column):  # a header repeated, shorter or longer
            result.skipped.append(Skipped(number, text, "header"))
            continue
        if not cell:
            result.skipped.append(Skipped(number, text, "no_symbol"))
            continue
        kind = (columns.get(cells, "type") or "") if "type" in columns.index else ""
        summary = summary_reason(cell, kind)
        if summary == "cash" and cell.strip().lower() == "cash" and len(filled) * 2 > len(cells):
            summary = None  # CASH, a ticker, in a full row (an E*Trade cash line is bare)
        if summary is not None:
            result.skipped.append(Skipped(number, text, summary))
            continue
        try:
            option = parse_option(cell.upper())
        except ValueError:
            option = None
        if option is not None:
            result.skipped.append(Skipped(number, text, "option"))
            continue
        if cell.startswith(NOT_STOCK_MARKS):
            result.skipped.append(Skipped(number, text, "not_a_stock"))
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
    worded = any(  # a name of words ("Market Cap"), not symbols a line ("MSFT AMD")
        " " in c.strip() and not all(t == t.upper() and _plausible(t) for t in c.split())
        for c in first
    )
    if not (numbers or worded):
        return
    raise InputFileError(
        shown,
        first_line,
        f"a CSV table without a symbol column: expected a header naming {column!r}, "
        "Symbol or Ticker (sources.file.column names another)",
    )


def _plain(lines: list[str], headers: list[str]) -> Watchlist:
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
                read = tradingview_symbol(token)
                if read.symbol is None:
                    result.skipped.append(Skipped(number, shorten_text(token), read.reason))
                    continue
                token = read.symbol
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
        _plausible(token)
        or bool(_TRADINGVIEW_ITEM.match(token))
        or token.startswith(NOT_STOCK_MARKS)
    )


def _mixed_case(token: str) -> bool:
    letters = [c for c in token if c.isalpha()]
    return any(c.isupper() for c in letters) and any(c.islower() for c in letters)
