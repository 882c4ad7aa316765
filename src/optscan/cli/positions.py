"""``optscan positions`` and ``optscan symbols``: what optscan reads in the trader's own
files, printed so it can be checked before a scan trusts it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from optscan.cli.env import Env, with_env
from optscan.cli.exits import fail
from optscan.cli.options import format_option

if TYPE_CHECKING:
    from optscan.positions import PositionsReading

BROKERS = ("schwab", "fidelity", "ibkr-activity", "ibkr-flex", "tastytrade", "etrade", "generic")
"""The ``--broker`` names (:data:`optscan.positions.FORMATS`, repeated here so that
``optscan --help`` needs no pydantic; a test keeps them equal)."""


@click.command(short_help="Read a broker's positions export: what optscan understood.")
@click.argument("path", required=False, metavar="[PATH]")
@click.option(
    "--broker",
    type=click.Choice(BROKERS),
    default=None,
    help="The export's format (default: detected from its header and preamble).",
)
@format_option()
@with_env
def positions(path: str | None, broker: str | None, fmt: str, env: Env) -> None:
    """Read a positions file downloaded from your broker (PATH, default holdings.file)
    and print the stock, options and cash optscan found in it, and every line it
    skipped with the reason.

    \b
    Formats: Schwab, Fidelity, Interactive Brokers (activity statement, Flex Open
    Positions), Tastytrade, E*Trade, or any CSV naming a symbol and a quantity column.
    contracts_coverable: covered calls still writable (100 shares each, less the short
    calls already in the file). A file that is no positions export exits 2.
    """
    from pathlib import Path

    from optscan.errors import ConfigError
    from optscan.positions import read_positions

    chosen = path or env.settings.holdings.file
    if not chosen:
        fail("positions: give the file (optscan positions PATH) or set holdings.file")
    try:
        reading = read_positions(
            Path(chosen).expanduser(), broker or env.settings.holdings.broker or None
        )
    except ConfigError as exc:
        fail(str(exc))
    _print_reading(reading, fmt)


def _print_reading(reading: PositionsReading, fmt: str) -> None:
    doc = reading.model_dump(mode="json")
    if fmt == "json":
        from optscan.output.jsondoc import dumps

        click.echo(dumps(doc, indent=2))
        return
    if fmt == "csv":
        from optscan.cli.output import records_csv

        rows: list[dict[str, Any]] = [{"type": "stock", **s} for s in doc["stocks"]]
        rows += [{"type": "option", **o} for o in doc["options"]]
        if doc["cash"] is not None:
            rows.append({"type": "cash", "symbol": "", "amount": doc["cash"]})
        if rows:
            click.echo(records_csv(rows), nl=False)
        for s in doc["skipped"]:
            click.echo(f"optscan: line {s['line']} skipped ({s['reason']}): {s['text']}", err=True)
        return
    _table(doc)


def _table(doc: dict[str, Any]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    console.print(Text(f"{doc['file']}: {doc['format']} format"))

    def money(value: float | None) -> str:
        return "-" if value is None else f"{value:,.2f}"

    stocks = Table(title="Stock", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("Symbol", "Shares", "Cost basis/sh", "Coverable calls"):
        stocks.add_column(name, justify="left" if name == "Symbol" else "right", no_wrap=True)
    for s in doc["stocks"]:
        stocks.add_row(
            Text(s["symbol"]),
            f"{s['shares']:,}",
            money(s["cost_basis"]),
            str(s["contracts_coverable"]),
        )
    console.print(stocks if doc["stocks"] else Text("Stock: none"))
    options = Table(title="Options", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("Contract", "Kind", "Strike", "Expires", "Qty", "Avg price/sh"):
        right = name in ("Strike", "Qty", "Avg price/sh")
        options.add_column(name, justify="right" if right else "left", no_wrap=True)
    for o in doc["options"]:
        options.add_row(
            Text(o["contract_symbol"]),
            o["kind"],
            money(o["strike"]),
            o["expiration"],
            str(o["quantity"]),
            money(o["average_price"]),
        )
    console.print(options if doc["options"] else Text("Options: none"))
    console.print(
        Text(f"Cash: {money(doc['cash']) if doc['cash'] is not None else 'not in the file'}")
    )
    if doc["skipped"]:
        # the line as CSV (quoted as needed), folded inside its own column: a narrow
        # terminal breaks it at the column's edge, never into the other columns
        skipped = Table(
            title=f"Skipped {len(doc['skipped'])} line(s)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
        )
        skipped.add_column("Line", justify="right", no_wrap=True)
        skipped.add_column("Reason", no_wrap=True)
        skipped.add_column("Text (as CSV)", overflow="fold")
        taken = max(len(str(s["line"])) for s in doc["skipped"]) + max(
            len(s["reason"]) for s in doc["skipped"]
        )
        width = max(20, console.width - taken - 10)
        for s in doc["skipped"]:
            skipped.add_row(str(s["line"]), s["reason"], Text(fold_csv(s["text"], width)))
        console.print(skipped)


def fold_csv(text: str, width: int) -> str:
    """A CSV line folded to ``width`` columns after the commas that separate its cells
    (never inside a quoted cell such as ``"$2,210.00"``); a cell longer than ``width`` is
    cut at the width."""
    pieces: list[str] = []
    start, quoted = 0, False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            pieces.append(text[start : i + 1])
            start = i + 1
    pieces.append(text[start:])
    lines: list[str] = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
        while len(lines[-1]) > width:
            lines[-1], rest = lines[-1][:width], lines[-1][width:]
            lines.append(rest)
    return "\n".join(line for line in lines if line)


@click.command(short_help="The symbols the configured sources give, and what they skip.")
@format_option(("table", "json"))
@with_env
def symbols(fmt: str, env: Env) -> None:
    """Print the symbols a scan of the configured stock sources (sources.enabled) would
    cover, canonical (BRK.B, BRK/B and, inside a CSV cell, BRK B are BRK-B), and every
    line or item skipped with its source, line and reason (title, header, total, cash,
    option, not_a_stock, unknown_exchange, account_section...). A watchlist file that
    is no watchlist exits 2."""
    from optscan.errors import ConfigError

    try:
        doc = collect_symbols(env)
    except ConfigError as exc:
        fail(str(exc))
    if fmt == "json":
        from optscan.output.jsondoc import dumps

        click.echo(dumps(doc, indent=2))
        return
    click.echo(" ".join(doc["symbols"]) if doc["symbols"] else "(no symbols)")
    for s in doc["skipped"]:
        where = f"{s['source']}" + (f", line {s['line']}" if s["line"] is not None else "")
        click.echo(f"skipped ({where}, {s['reason']}): {s['text']}")


def collect_symbols(env: Env) -> dict[str, Any]:
    """``{"symbols": [...], "skipped": [{"source", "line", "text", "reason"}]}`` for the
    enabled sources, as the scan resolves them (canonical, de-duplicated)."""
    from optscan.errors import OptscanError
    from optscan.secrets import scrub_exception
    from optscan.symbols import normalize_symbol, shorten

    settings = env.settings
    host = env.host()
    found: list[str] = []
    seen: set[str] = set()
    skipped: list[dict[str, Any]] = []
    for name in settings.enabled("sources"):
        entries: list[tuple[int | None, str]] = []
        try:
            source = host.instantiate("sources", name, settings)
            read = getattr(source, "read", None)
            if callable(read):
                listing = read()
                entries = [(e.line, e.text) for e in listing.entries]
                skipped += [
                    {"source": name, "line": s.line, "text": s.text, "reason": s.reason}
                    for s in listing.skipped
                ]
            else:
                entries = [(None, str(item)) for item in source.symbols()]
        except OptscanError:
            raise
        except Exception as exc:
            error = scrub_exception(exc, with_type=False)
            skipped.append({"source": name, "line": None, "text": error, "reason": "source_failed"})
            continue
        for line, text in entries:
            try:
                symbol = normalize_symbol(text)
            except ValueError:
                skipped.append(
                    {
                        "source": name,
                        "line": line,
                        "text": shorten(text.strip()),
                        "reason": "invalid_symbol",
                    }
                )
                continue
            if symbol not in seen:
                seen.add(symbol)
                found.append(symbol)
    return {"symbols": found, "skipped": skipped}
