"""A scan's result as a table for people (``--format table``, the ``console`` sink).

The table fits the terminal: columns are kept by priority (symbol, contract, strike,
bid and annualized return first; see :mod:`optscan.output.columns`), every value kept
is shown whole, and a line says which columns were left out. Nothing that comes from
data or errors is read as rich markup: a symbol like ``[/X]`` or a message quoting
``[providers.marketdata]`` prints as it is. Times are New York time, zone shown.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import IO, TYPE_CHECKING
from zoneinfo import ZoneInfo

from optscan.output.columns import BY_KEY, COLUMNS, Column, cell
from optscan.output.extras import fact_columns, summaries, value_of
from optscan.symbols import printable

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from optscan.models import ScanResult, SymbolOutcome

NEW_YORK = ZoneInfo("America/New_York")
DEFAULT_COLUMNS: tuple[Column, ...] = tuple(c for c in COLUMNS if c.in_table)
TABLE_ORDER = (
    "symbol",
    "contract_symbol",
    "expiration",
    "dte",
    "underlying_price",
    "strike",
    "bid",
    "premium",
    "collateral",
    "breakeven",
    "delta",
    "annualized_return",
    "prob_otm",
    "cushion_pct",
    "iv",
    "open_interest",
)
"""The default table's left-to-right order (priority decides only what is left out)."""


def print_table(
    result: ScanResult,
    file: IO[str] | None = None,
    *,
    limit: int = 50,
    columns: list[Column] | None = None,
    width: int | None = None,
) -> None:
    """Print the result: a header, the opportunities (best first), what failed, and the
    summary. ``width`` defaults to the terminal's; piped output is never cut."""
    from rich.console import Console
    from rich.text import Text

    stream = file or sys.stdout
    interactive = hasattr(stream, "isatty") and stream.isatty()
    console = Console(
        file=stream,
        soft_wrap=False,
        highlight=False,
        width=width or (None if interactive else 200),
    )
    fit_to = width or (console.width if interactive else None)
    console.print(_header(result))
    if result.skipped:
        console.print(Text(result.message, style="yellow"))
        return
    shown = result.opportunities[:limit]
    if shown:
        chosen = columns or [
            *(BY_KEY[key] for key in TABLE_ORDER),
            *(c for c in fact_columns(shown) if c.in_table),
        ]
        explicit = columns is not None
        table, left_out = _fitted(console, result, chosen, fit_to, explicit=explicit, limit=limit)
        console.print(table)
        more = len(result.opportunities) - limit
        if more > 0:
            console.print(f"... and {more} more (use --format json or csv for all)")
        if left_out:
            names = ", ".join(c.key for c in left_out)
            console.print(
                Text(f"left out for width: {names} (widen the terminal or pick --columns)")
            )
        if any(c.key == "delta" for c in chosen if c not in left_out) and any(
            o.delta_source == "computed" for o in shown
        ):
            console.print("* delta computed from implied volatility (Black-Scholes-Merton)")
    elif result.scanned_count:
        console.print("No opportunities passed the screen.")
    elif result.symbols:
        console.print(Text("Nothing was screened: no symbol could be scanned.", style="red"))
    if result.selection is not None:
        for line in selection_lines(result):
            console.print(Text(line))
    for line in failure_lines(result.symbols):
        console.print(line)
    for text in summaries(result.symbols):
        console.print(Text(printable(text)))
    for label, texts, style in (
        ("error", result.errors, "red"),
        ("warning", result.warnings, "yellow"),
    ):
        for text in texts:
            line = Text(label, style=style)
            line.append(f" {text}")
            console.print(line)
    console.print(Text(result.message))


def _header(result: ScanResult) -> object:
    from rich.text import Text

    when = result.as_of.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")
    header = Text("optscan", style="bold")
    header.append(f" {result.scan_id} · {result.provider} · {result.strategy} · as of {when}")
    if result.synthetic:
        header.append(" (synthetic data)", style="yellow")
    if result.outside_market_hours and not result.skipped:
        header.append(" (outside market hours)", style="yellow")
    return header


def _table(result: ScanResult, columns: list[Column], *, limit: int, whole: bool) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in columns:
        table.add_column(
            column.header,
            justify="left" if column.kind in ("text", "date") else "right",
            no_wrap=whole,
            overflow="fold",
        )
    for opportunity in result.opportunities[:limit]:
        data = opportunity.model_dump()
        cells = []
        for column in columns:
            text = printable(cell(column, value_of(data, column.key)))
            if column.key == "delta" and opportunity.delta_source == "computed":
                text += "*"
            cells.append(Text(text))
        table.add_row(*cells)
    return table


def _fitted(
    console: Console,
    result: ScanResult,
    columns: list[Column],
    width: int | None,
    *,
    explicit: bool,
    limit: int = 50,
) -> tuple[Table, list[Column]]:
    """The table of ``columns`` without the least important ones that do not fit in
    ``width``: the default columns by their priority, an explicit ``--columns`` choice by
    its own order (the first is the most important)."""
    from rich.measure import Measurement

    kept = list(columns)
    left_out: list[Column] = []
    if width is None:
        return _table(result, kept, limit=limit, whole=True), left_out
    rank = {c.key: i for i, c in enumerate(columns)} if explicit else None
    while True:
        table = _table(result, kept, limit=limit, whole=True)
        unbounded = console.options.update_width(1_000_000)
        needed = Measurement.get(console, unbounded, table).maximum
        if needed <= width or len(kept) <= (1 if explicit else 5):
            break
        drop = max(kept, key=lambda c: rank[c.key] if rank else c.priority)
        kept.remove(drop)
        left_out.append(drop)
    if needed > width:  # even the most important do not fit: fold, never cut
        table = _table(result, kept, limit=limit, whole=False)
    order = (lambda c: rank[c.key]) if rank else (lambda c: c.priority)
    return table, sorted(left_out, key=order)


def failure_lines(outcomes: list[SymbolOutcome]) -> list[object]:
    """What failed, was skipped or is partial, one line per distinct error: symbols that
    failed the same way (a refused token) share a line instead of repeating it."""
    from rich.text import Text

    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    shown: dict[tuple[str, str], str] = {}
    for outcome in outcomes:
        if outcome.status != "ok":
            error = _without_symbol(outcome.error or outcome.reason or "", outcome.symbol)
            # the same failure names each symbol in its text: group on the text without it
            key = (outcome.status, error.replace(outcome.symbol, "\0"))
            groups[key].append(outcome.symbol)
            shown.setdefault(key, error)
        elif outcome.failed_expirations:
            failed = len(outcome.failed_expirations)
            total = len(outcome.expirations)
            first_day, first_error = next(iter(outcome.failed_expirations.items()))
            first_error = _without_symbol(first_error, f"{outcome.symbol} {first_day}")
            error = (
                f"{failed} of {total} expirations failed "
                f"(first, {first_day}: {_without_symbol(first_error, outcome.symbol)})"
            )
            key = ("partial", error.replace(outcome.symbol, "\0"))
            groups[key].append(outcome.symbol)
            shown.setdefault(key, error)
    lines: list[object] = []
    for key, symbols in groups.items():
        status, error = key[0], printable(shown[key])
        style = "yellow" if status in ("skipped", "partial") else "red"
        line = Text(status, style=style)
        if len(symbols) == 1:
            line.append(f" {printable(symbols[0])}: {error}")
        else:
            names = ", ".join(printable(s) for s in symbols[:8])
            names += f" and {len(symbols) - 8} more" if len(symbols) > 8 else ""
            if symbols[0] in shown[key]:  # the text names the first symbol only
                error += f" (as for {printable(symbols[0])})"
            line.append(f" {len(symbols)} symbols ({names}): {error}")
        lines.append(line)
    return lines


def _without_symbol(error: str, symbol: str) -> str:
    """``AAPL: no listed options`` shown after the symbol would repeat it."""
    prefix = f"{symbol}: "
    return error[len(prefix) :] if error.startswith(prefix) else error


def selection_lines(result: ScanResult) -> list[str]:
    """``scan --cash``: the selection as its own section (contracts with their numbers)."""
    selection = result.selection
    if selection is None:
        return []
    by_contract = {o.contract_symbol: o for o in result.opportunities}
    lines = [
        f"Selection for {selection.cash:,.2f} cash: {len(selection.contracts)} "
        f"contract{'' if len(selection.contracts) == 1 else 's'}, "
        f"collateral {selection.collateral_used:,.2f}, premium {selection.premium_total:,.2f}, "
        f"annualized income {selection.annualized_income:,.2f}",
    ]
    for chosen in selection.contracts:
        o = by_contract.get(chosen.contract_symbol)
        detail = (
            f"  strike {o.strike:,.2f}  bid {o.bid:,.2f}  DTE {o.dte}  "
            f"collateral {o.collateral * chosen.quantity:,.2f}"
            if o is not None
            else ""
        )
        lines.append(f"  {chosen.quantity} x {chosen.contract_symbol}{detail}")
    if not selection.contracts:
        lines.append("  no put opportunity fits the cash")
    return lines
