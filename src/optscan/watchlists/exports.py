"""Watchlists that are other files: a broker's positions export (read by the positions
reader) and TradingView's export list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from optscan.positions.text import Line, guess_delimiter, split_lines
from optscan.watchlists.model import (
    TRADINGVIEW_ITEM,
    Entry,
    Skipped,
    Watchlist,
    add_tradingview_item,
    plausible,
)

if TYPE_CHECKING:
    from collections.abc import Callable

NUMBER_REASONS = frozenset({"no_quantity", "zero_quantity", "short_stock", "bad_number"})
"""A positions row refused for its numbers still names a stock to watch."""


def positions_export(text: str) -> Watchlist | None:
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
        elif row.reason in NUMBER_REASONS and plausible(symbol_of(line) or ""):
            result.entries.append(Entry(line.number, (symbol_of(line) or "").strip()))
        else:
            result.skipped.append(Skipped(line.number, echo, row.reason))
    return result


def is_tradingview(lines: list[str]) -> bool:
    items = [i.strip() for ln in lines for i in ln.split(",") if i.strip()]
    items = [i for i in items if not i.startswith("#")]
    return bool(items) and sum(bool(TRADINGVIEW_ITEM.match(i)) for i in items) * 2 >= len(items)


def read_tradingview(lines: list[str]) -> Watchlist:
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
                add_tradingview_item(result, number, item)
    return result
