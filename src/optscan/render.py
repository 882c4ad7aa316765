"""Render a :class:`ScanResult` as a rich table, JSON or CSV.

Shared by the CLI (which writes to stdout) and the ``console``/``json``/``csv`` sinks,
so every output of a scan looks the same wherever it goes.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optscan.models import ScanResult

CSV_COLUMNS = (
    "symbol",
    "contract_symbol",
    "kind",
    "expiration",
    "dte",
    "strike",
    "bid",
    "ask",
    "mid",
    "iv",
    "delta",
    "delta_source",
    "annualized_return",
    "prob_otm",
    "cushion_pct",
    "breakeven",
    "collateral",
    "spread_pct",
    "volume",
    "open_interest",
    "underlying_price",
    "quote_time",
    "data_delay_s",
    "provider",
)


_STREAMED = ("symbols", "opportunities")


def result_json(result: ScanResult, indent: int | None = 2) -> str:
    """The scan's JSON document (``ScanResult.to_json_dict``) as one string."""
    if indent is None:
        return json.dumps(result.to_json_dict(), allow_nan=False)
    buffer = io.StringIO()
    write_result_json(result, buffer, indent=indent)
    return buffer.getvalue()


def write_result_json(result: ScanResult, out: IO[str], indent: int = 2) -> None:
    """Write the same text as ``json.dumps(result.to_json_dict(), indent=indent)``,
    one symbol and one opportunity at a time.

    A 3,000-symbol scan has some ten thousand opportunities: dumping them all into one
    dict tree first, then one string, cost more memory than the scan itself.
    """
    pad = " " * indent
    head = result.model_dump(mode="json", exclude=set(_STREAMED))
    head["scanned_count"] = result.scanned_count
    fields = [*type(result).model_fields, "scanned_count"]
    out.write("{")
    for i, name in enumerate(fields):
        out.write(("\n" if i == 0 else ",\n") + pad + json.dumps(name) + ": ")
        if name in _STREAMED:
            _write_list(out, getattr(result, name), indent, pad)
        else:
            text = json.dumps(head[name], indent=indent, allow_nan=False)
            out.write(text.replace("\n", "\n" + pad))
    out.write("\n}")


def _write_list(out: IO[str], items: list[Any], indent: int, pad: str) -> None:
    if not items:
        out.write("[]")
        return
    inner = pad * 2
    out.write("[")
    for j, item in enumerate(items):
        text = json.dumps(item.model_dump(mode="json"), indent=indent, allow_nan=False)
        out.write(("\n" if j == 0 else ",\n") + inner + text.replace("\n", "\n" + inner))
    out.write("\n" + pad + "]")


def result_csv(result: ScanResult) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for opp in result.opportunities:
        writer.writerow(opp.model_dump(mode="json"))
    return buffer.getvalue()


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def print_table(result: ScanResult, file: IO[str] | None = None, limit: int = 50) -> None:
    """A human summary: market, opportunities (best first), and symbols that failed."""
    from rich.console import Console
    from rich.table import Table

    stream = file or sys.stdout
    interactive = hasattr(stream, "isatty") and stream.isatty()
    # Piped output keeps every column whole instead of folding to 80 characters.
    console = Console(file=stream, soft_wrap=False, width=None if interactive else 160)
    label = " [yellow](synthetic data)[/]" if result.synthetic else ""
    if result.outside_market_hours and not result.skipped:
        label += " [yellow](outside market hours)[/]"
    console.print(
        f"[bold]optscan[/] {result.scan_id} · {result.provider} · {result.strategy} · "
        f"as of {result.as_of:%Y-%m-%d %H:%M %Z}{label}"
    )
    if result.skipped:
        console.print(f"[yellow]{result.message}[/]")
        return
    table = Table(show_lines=False, header_style="bold")
    for column, justify in (
        ("Symbol", "left"),
        ("Contract", "left"),
        ("Exp", "left"),
        ("DTE", "right"),
        ("Strike", "right"),
        ("Bid", "right"),
        ("Ask", "right"),
        ("IV", "right"),
        ("Delta", "right"),
        ("Ann.%", "right"),
        ("P(OTM)", "right"),
        ("Cushion%", "right"),
        ("OI", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for opp in result.opportunities[:limit]:
        table.add_row(
            opp.symbol,
            opp.contract_symbol,
            opp.expiration.isoformat(),
            str(opp.dte),
            _fmt(opp.strike),
            _fmt(opp.bid),
            _fmt(opp.ask),
            _fmt(opp.iv * 100 if opp.iv is not None else None, 1),
            f"{opp.delta:+.3f}" + ("" if opp.delta_source == "provider" else "*"),
            _fmt(opp.annualized_return, 1),
            _fmt(opp.prob_otm * 100 if opp.prob_otm is not None else None, 1),
            _fmt(opp.cushion_pct, 1),
            _fmt(opp.open_interest, 0),
        )
    if result.opportunities:
        console.print(table)
        more = len(result.opportunities) - limit
        if more > 0:
            console.print(f"... and {more} more (use --format json or csv for all)")
        console.print("* delta computed from implied volatility (Black-Scholes-Merton)")
    else:
        console.print("No opportunities passed the screen.")
    for outcome in result.symbols:
        if outcome.status != "ok":
            console.print(f"[red]{outcome.status}[/] {outcome.symbol}: {outcome.error}")
    for error in result.errors:
        console.print(f"[red]error[/] {error}")
    console.print(result.message)
