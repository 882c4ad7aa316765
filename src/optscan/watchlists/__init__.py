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

from typing import TYPE_CHECKING

from optscan.errors import InputFileError
from optscan.positions.text import read_text
from optscan.watchlists.exports import is_tradingview, positions_export, read_tradingview
from optscan.watchlists.model import SYMBOL_HEADERS, WHAT, Entry, Skipped, Watchlist
from optscan.watchlists.plain import read_plain
from optscan.watchlists.tables import (
    delimiter_of,
    described,
    filled_cells,
    find_header,
    header_names,
    read_csv,
    refuse_table,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["SYMBOL_HEADERS", "WHAT", "Entry", "Skipped", "Watchlist", "read_watchlist"]


def read_watchlist(path: Path, column: str = "symbol") -> Watchlist:
    """Read a watchlist file in any format above (``column``: the CSV header cell that
    names the symbol column, besides the usual ones)."""
    shown = str(path)
    text = read_text(path, WHAT)
    lines = text.splitlines()
    if is_tradingview(lines):
        result = read_tradingview(lines)
    else:
        exported = positions_export(text)
        if exported is not None:
            result = exported
        else:
            delimiter = delimiter_of(lines)
            header = find_header(lines, column, delimiter)
            if header is not None and (
                len(filled_cells(lines[header[0]], delimiter)) > 1
                or described(lines[header[0] + 1 :], delimiter)
            ):
                result = read_csv(lines, header, column, delimiter)
            elif header is not None:  # "Symbol" over a plain list: the list's rules
                result = read_plain(lines, header_names(column))
            else:
                refuse_table(shown, lines, delimiter, column)
                result = read_plain(lines, header_names(column))
    if not result.entries:
        first = next((i for i, ln in enumerate(lines, 1) if ln.strip()), 1)
        raise InputFileError(shown, first, f"no symbol in the file: expected {WHAT}")
    return result
