"""``read_positions(path)``: a broker's positions export -> :class:`PositionsReading`.

Detects the format (or takes ``broker``), reads every row with the shared rules of
:mod:`optscan.positions.rows`, merges rows of one stock or one contract (several
accounts, several lots), matches OCC roots to the stocks held (``BRKB`` options
belong to ``BRK-B``) and counts the covered calls still writable. A file that cannot
be read as positions at all raises :class:`~optscan.errors.InputFileError` naming the
file, the line and what was expected; a single unreadable row is skipped and reported
in ``skipped``, never dropped silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from optscan.errors import InputFileError
from optscan.positions.columns import Columns, normalize_header
from optscan.positions.formats import (
    DISPLAY,
    LAYOUTS,
    Layout,
    columns_of,
    detect,
    find_header,
    strip_code,
)
from optscan.positions.ibkr_activity import has_positions, is_activity_statement, read_activity
from optscan.positions.models import (
    FORMATS,
    OptionPosition,
    PositionsReading,
    SkippedRow,
    StockPosition,
)
from optscan.positions.rows import CONTRACT_SIZE, Cash, Option, Row, Skip, Stock, read_row
from optscan.positions.text import (
    Line,
    csv_line,
    guess_delimiter,
    read_text,
    redact_line,
    row_text,
    split_lines,
)

if TYPE_CHECKING:
    from pathlib import Path

WHAT = "a positions export (CSV)"


def read_positions(path: Path, broker: str | None = None) -> PositionsReading:
    """Read a positions export. ``broker`` forces a format (one of
    :data:`~optscan.positions.models.FORMATS`); by default it is detected.

    Raises :class:`~optscan.errors.InputFileError` (a ``ConfigError``: exit 2) when the
    file is missing, not text, or holds no positions table of the format.
    """
    shown = str(path)
    if broker is not None and broker not in FORMATS:
        raise InputFileError(
            shown, None, f"unknown broker format {broker!r}; known: {', '.join(FORMATS)}"
        )
    text = read_text(path, WHAT)
    raw_lines = text.splitlines()
    lines = split_lines(text, guess_delimiter(raw_lines))
    if not any(not ln.blank for ln in lines):
        raise InputFileError(shown, 1, f"the file is empty: expected {WHAT}")
    if broker == "ibkr-activity" or (broker is None and is_activity_statement(lines)):
        if not has_positions(lines):
            raise InputFileError(
                shown,
                _first(lines),
                "not an Interactive Brokers activity statement with positions: expected an "
                '"Open Positions,Header,..." line',
            )
        return _assemble(shown, "ibkr-activity", read_activity(lines))
    name = broker or detect(lines)
    if name is None:
        raise InputFileError(
            shown, _first(lines), f"not {WHAT}: expected {LAYOUTS['generic'].expects}"
        )
    layout = LAYOUTS[name]
    index = find_header(lines, layout)
    if index is None and broker is None:  # a broker's title over another header
        name, layout = "generic", LAYOUTS["generic"]
        index = find_header(lines, layout)
    if index is None:
        raise InputFileError(
            shown, _first(lines), f"not a {DISPLAY[name]} export: expected {layout.expects}"
        )
    return _assemble(shown, name, read_table(lines, index, name))


FLEX_CODES = frozenset({"BOF", "EOF", "BOA", "EOA", "BOS", "EOS", "TRAILER"})
"""A Flex file's begin/end lines (with line codes on); their other cells name the account."""


def _code(line: Line) -> str:
    return line.cells[0].strip().upper() if line.cells else ""


def _first(lines: list[Line]) -> int:
    return next((ln.number for ln in lines if not ln.blank), 1)


ACCOUNT_SECTION = "(account section: name and number withheld)"
"""What a one-cell line right above a header is shown as: an export of several accounts
(Schwab's All-Accounts) opens each account's table with its name and number."""


def read_table(lines: list[Line], index: int, name: str) -> Iterator[tuple[Line, Row, str]]:
    """``(line, what it holds, its echo text)`` for every line with content of a table
    format's file whose header is ``lines[index]`` (the watchlist reader reads positions
    exports through it too)."""
    layout = LAYOUTS[name]
    header = lines[index]
    columns = columns_of(header, layout)
    in_account_summary = False
    # several tables, one per account (Schwab's All-Accounts): the one-cell line above
    # each header, the first one included, is that account's label
    several = any(
        _is_repeated_header(strip_code(ln).cells if layout.line_codes else ln.cells, columns)
        for ln in lines[index + 1 :]
    )
    for at, line in enumerate(lines[:index]):  # the preamble
        if line.blank:
            in_account_summary = False
            continue
        if name == "etrade" and line.raw.strip().strip('"').lower() == "account summary":
            in_account_summary = True
            yield line, Skip("preamble"), "Account Summary"
            continue
        if in_account_summary:
            text = "(account summary withheld)"
        elif layout.line_codes and _code(line) in FLEX_CODES:
            text = _code(line)  # BOF/BOA lines carry the account: only their code
        elif several and labels_a_table(lines, at, columns, layout):
            yield line, Skip("account_section"), ACCOUNT_SECTION
            continue
        else:
            text = redact_line(csv_line(line.filled))
        yield line, Skip("preamble"), text
    seen_rows = False
    withheld, numeric = set(columns.withheld), columns.numeric
    for at, line in enumerate(lines[index + 1 :], index + 1):
        if line.blank:
            continue
        cells = strip_code(line).cells if layout.line_codes else line.cells
        if layout.line_codes and _code(line) in FLEX_CODES:
            yield line, Skip("footer" if seen_rows else "preamble"), _code(line)
            continue
        if _is_repeated_header(cells, columns):
            yield line, Skip("header"), row_text(cells, set())
            continue
        if labels_a_table(lines, at, columns, layout):
            yield line, Skip("account_section"), ACCOUNT_SECTION
            continue
        row = read_row(cells, columns)
        if (
            len(line.filled) == 1
            and isinstance(row, Skip)
            and row.reason in ("invalid_symbol", "no_symbol", "no_quantity")
            and not _symbol_alone(line.filled[0], cells, columns)
        ):  # a title or a note, not a position
            title = not seen_rows or layout.preamble(line.filled[0])
            yield line, Skip("preamble" if title else "footer"), redact_line(csv_line(line.filled))
            continue
        seen_rows = True
        text = "" if isinstance(row, Stock) else row_text(cells, withheld, numeric)
        yield line, row, text


def _is_repeated_header(cells: list[str], columns: Columns) -> bool:
    """Whether a row is the table's header again (compared cell by cell, stopping at the
    first difference: a data row costs one comparison)."""
    return len(cells) == len(columns.header) and all(
        normalize_header(c) == h for c, h in zip(cells, columns.header, strict=True)
    )


def labels_a_table(lines: list[Line], at: int, columns: Columns, layout: Layout) -> bool:
    """Whether line ``at`` is one cell right above a header line (no blank line between):
    an account's label opening its table."""
    if len(lines[at].filled) != 1 or at + 1 >= len(lines):
        return False
    following = lines[at + 1]
    cells = strip_code(following).cells if layout.line_codes else following.cells
    return _is_repeated_header(cells, columns)


def _symbol_alone(text: str, cells: list[str], columns: Columns) -> bool:
    """Whether a row's one filled cell is a symbol in the symbol column (a position
    missing its numbers), not a title or a note."""
    from optscan.symbols import normalize_symbol

    if columns.get(cells, "symbol") != text:
        return False
    try:
        normalize_symbol(text)
    except ValueError:
        return False
    return True


def _assemble(shown: str, name: str, rows: Iterator[tuple[Line, Row, str]]) -> PositionsReading:
    stocks: dict[str, list[Stock]] = defaultdict(list)
    options: dict[tuple[str, bool], list[Option]] = defaultdict(list)
    cash: float | None = None
    skipped: list[SkippedRow] = []
    for line, row, text in rows:
        if isinstance(row, Stock):
            stocks[row.symbol].append(row)
        elif isinstance(row, Option):
            options[row.contract.occ_symbol(), row.quantity < 0].append(row)
        elif isinstance(row, Cash):
            cash = (cash or 0.0) + row.amount
        else:
            skipped.append(SkippedRow(line=line.number, text=text, reason=row.reason))
    held = {_root(symbol): symbol for symbol in stocks}
    # rows of one contract merge, but a short and a long one (two accounts) stay apart:
    # a call bought in one account does not cancel one written against shares in another
    merged_options = [_merge_option(rows, held) for rows in options.values()]
    short_calls: dict[str, int] = defaultdict(int)
    for option in merged_options:
        if option.kind == "call" and option.quantity < 0:
            short_calls[option.symbol] += -option.quantity
    return PositionsReading(
        file=shown,
        format=name,  # type: ignore[arg-type]
        stocks=[
            _merge_stock(symbol, rows, short_calls[symbol])
            for symbol, rows in sorted(stocks.items())
        ],
        options=sorted(
            merged_options, key=lambda o: (o.symbol, o.expiration, o.kind, o.strike, o.quantity)
        ),
        cash=None if cash is None else round(cash, 2),
        skipped=skipped,
    )


def _root(symbol: str) -> str:
    from optscan.analytics.occ import expected_root

    return expected_root(symbol)


def _merge_stock(symbol: str, rows: list[Stock], short_calls: int) -> StockPosition:
    shares = sum(r.shares for r in rows)
    known = [r for r in rows if r.cost_basis is not None]
    basis = None
    if known and len(known) == len(rows):
        basis = round(sum(r.shares * (r.cost_basis or 0.0) for r in known) / shares, 6)
    whole: int | float = int(shares) if float(shares).is_integer() else round(shares, 6)
    uncovered = shares - short_calls * CONTRACT_SIZE
    return StockPosition(
        symbol=symbol,
        shares=whole,
        cost_basis=basis,
        contracts_coverable=max(0, int(uncovered // CONTRACT_SIZE)),
    )


def _merge_option(rows: list[Option], held: dict[str, str]) -> OptionPosition:
    contract = rows[0].contract
    symbol = held.get(contract.underlying, contract.underlying)
    if symbol != contract.underlying and contract.underlying not in held.values():
        contract = contract._replace(underlying=symbol)
    quantity = sum(r.quantity for r in rows)
    priced = [r for r in rows if r.average_price is not None]
    price = None
    if priced and len(priced) == len(rows):
        weight = sum(abs(r.quantity) for r in rows)
        price = round(sum(abs(r.quantity) * (r.average_price or 0.0) for r in rows) / weight, 6)
    return OptionPosition(
        contract_symbol=contract.occ_symbol(),
        symbol=contract.underlying,
        kind=contract.kind,
        strike=contract.strike,
        expiration=contract.expiration,
        quantity=quantity,
        average_price=price,
    )
