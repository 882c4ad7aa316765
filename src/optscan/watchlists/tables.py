"""CSV watchlists (Finviz, thinkorswim, any CSV with a symbol column): the header, the
symbol column's cells, and the tables that are no watchlist."""

from __future__ import annotations

import csv

from optscan.errors import InputFileError
from optscan.positions.reader import ACCOUNT_SECTION
from optscan.positions.text import guess_delimiter, redact_line, row_text
from optscan.watchlists.model import (
    NOT_STOCK_MARKS,
    SYMBOL_HEADERS,
    Entry,
    Skipped,
    Watchlist,
    plausible,
)


def delimiter_of(lines: list[str]) -> str:
    """Tab or comma as the positions reader guesses them, or ``;`` (a European CSV)."""
    sample = "\n".join(ln for ln in lines[:30] if ln.strip())
    if ("\t" in sample and "," not in sample) or guess_delimiter(lines) == "\t":
        return "\t"
    if ";" in sample and "," not in sample:
        return ";"
    return ","


def cells_of(raw: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([raw], delimiter=delimiter), [])
    except csv.Error:
        return [raw]


def filled_cells(raw: str, delimiter: str) -> list[str]:
    return [c.strip() for c in cells_of(raw, delimiter) if c.strip()]


def described(rows: list[str], delimiter: str) -> bool:
    """Whether rows under a one-word header (``Symbol``) are a table whose other columns
    describe the symbol (``AAPL,Apple Inc``, ``AAPL,231.45``), not a list of symbols
    (``AAPL, MSFT``): some cell after the first is no upper-case ticker."""
    for raw in rows[:50]:
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        for cell in cells_of(raw, delimiter)[1:]:
            cell = cell.strip()
            if cell and not (cell == cell.upper() and plausible(cell)):
                return True
    return False


def header_names(column: str) -> list[str]:
    return [column.strip().lower(), *(h for h in SYMBOL_HEADERS if h != column.strip().lower())]


def find_header(lines: list[str], column: str, delimiter: str) -> tuple[int, int] | None:
    """``(line index, column index)`` of the header naming the symbol column. A header
    of one cell (``Symbol`` alone) counts only as the first line with content: further
    down, after symbols, it is a stray word of a plain list (skipped, the symbols above
    it kept)."""
    names = header_names(column)
    seen_content = False
    for i, raw in enumerate(lines[:50]):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = [c.strip().lower() for c in cells_of(raw, delimiter)]
        filled = [c for c in cells if c]
        for name in names:
            if name in cells and (len(filled) > 1 or not seen_content):
                return i, cells.index(name)
        seen_content = True
    return None


def read_csv(lines: list[str], header: tuple[int, int], column: str, delimiter: str) -> Watchlist:
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
    header_cells = [c.strip().lower() for c in cells_of(lines[at], delimiter)]
    columns = map_columns(cells_of(lines[at], delimiter))
    withheld = set(columns.withheld)
    numbered = [(n, raw, cells_of(raw, delimiter)) for n, raw in enumerate(lines, 1)]
    for number, raw, cells in numbered[at + 1 :]:
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        lowered = [c.strip().lower() for c in cells]
        if lowered == header_cells:
            result.skipped.append(Skipped(number, row_text(cells, withheld), "header"))
            continue
        filled = [c for c in cells if c.strip()]
        following = next((c for _n, r, c in numbered[number:] if r.strip()), None)
        if (
            len(filled) == 1
            and following is not None
            and [c.strip().lower() for c in following] == header_cells
        ):
            result.skipped.append(Skipped(number, ACCOUNT_SECTION, "account_section"))
            continue
        cell = cells[index].strip() if index < len(cells) else ""
        text = row_text(cells, withheld)
        if cell.lower() in header_names(column):  # a header repeated, shorter or longer
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


def refuse_table(shown: str, lines: list[str], delimiter: str, column: str) -> None:
    """A CSV table with no symbol column is no watchlist: a header row (3 or more cells,
    none a number) over rows of as many cells holding numbers or dates, or a header
    with a multi-word name. Rows of symbols alone (``AAPL,MSFT,AMD``) stay a list."""
    rows = [(i, cells_of(ln, delimiter)) for i, ln in enumerate(lines, 1) if ln.strip()]
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
        " " in c.strip() and not all(t == t.upper() and plausible(t) for t in c.split())
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
