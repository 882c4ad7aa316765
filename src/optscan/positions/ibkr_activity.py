"""Interactive Brokers' activity statement (CSV): sections of ``Name,Header,...`` and
``Name,Data,...`` lines.

The ``Open Positions`` section holds the positions (``Summary`` rows; ``Lot`` rows
repeat them lot by lot and are skipped as ``lot_detail``; ``Total``/``SubTotal`` rows as
``total``). The ``Cash Report``'s ``Ending Cash`` of the ``Base Currency Summary`` is
the cash line. Every other section (Statement, Account Information, Trades...) is
reported once, by its name only, as ``other_section``: the account's number and name
live there and are never echoed.
"""

from __future__ import annotations

from collections.abc import Iterator

from optscan.positions.columns import Columns, map_columns, normalize_header
from optscan.positions.numbers import parse_number
from optscan.positions.rows import Cash, Row, Skip, read_row
from optscan.positions.text import Line, row_text, shorten_text

POSITIONS = "open positions"
CASH_REPORT = "cash report"
KINDS = frozenset({"header", "data", "total", "subtotal", "notes", "metainfo"})


def is_activity_statement(lines: list[Line]) -> bool:
    """Whether the lines are an activity statement (sectioned ``Name,Header,...``)."""
    coded = [ln for ln in lines[:40] if len(ln.cells) >= 2 and not ln.blank]
    if not coded:
        return False
    sectioned = sum(ln.cells[1].strip().lower() in KINDS for ln in coded)
    return sectioned >= max(2, len(coded) // 2)


def has_positions(lines: list[Line]) -> bool:
    """Whether the statement holds an Open Positions header."""
    return any(_section(ln) == POSITIONS and _kind(ln) == "header" for ln in lines)


def read_activity(lines: list[Line]) -> Iterator[tuple[Line, Row, str]]:
    """``(line, what it holds, its echo text)`` for every line worth a word."""
    columns: Columns | None = None
    cash_columns: Columns | None = None
    reported: set[str] = set()
    for line in lines:
        if line.blank:
            continue
        section, kind = _section(line), _kind(line)
        cells = line.cells[2:]
        if section == POSITIONS:
            if kind == "header":
                columns = map_columns(cells)
            elif kind in ("total", "subtotal"):
                numeric = frozenset(i + 2 for i in columns.numeric) if columns else frozenset()
                yield line, Skip("total"), row_text(line.cells, set(), numeric)
            elif kind == "data" and columns is not None:
                withheld = {i + 2 for i in columns.withheld}
                numeric = frozenset(i + 2 for i in columns.numeric)
                yield line, read_row(cells, columns), row_text(line.cells, withheld, numeric)
            else:
                yield line, Skip("not_a_position"), row_text(line.cells, set())
        elif section == CASH_REPORT:
            if kind == "header":
                cash_columns = map_columns(cells)
            elif kind == "data" and cash_columns is not None:
                cash = _ending_cash(cells, cash_columns)
                if cash is not None:
                    yield line, cash, ""
        elif section not in reported:
            reported.add(section)
            count = sum(1 for ln in lines if _section(ln) == section)
            name = shorten_text(line.cells[0].strip(), 40) if line.cells else ""
            text = f"{name} ({count} line{'s' if count != 1 else ''})"
            yield line, Skip("other_section"), text


def _ending_cash(cells: list[str], columns: Columns) -> Cash | None:
    """The Cash Report's ``Ending Cash`` row of the ``Base Currency Summary``."""
    names = [normalize_header(c) for c in columns.header]
    row = {n: (cells[i].strip() if i < len(cells) else "") for i, n in enumerate(names)}
    if row.get("currency summary", "").lower() != "ending cash":
        return None
    if row.get("currency", "").lower() != "base currency summary":
        return None
    try:
        amount = parse_number(row.get("total"))
    except ValueError:
        return None
    return None if amount is None else Cash(amount)


def _section(line: Line) -> str:
    return line.cells[0].strip().lower() if line.cells else ""


def _kind(line: Line) -> str:
    return line.cells[1].strip().lower() if len(line.cells) > 1 else ""
