"""Printing results and documents on stdout, and the exit code a result means."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from optscan.cli.exits import EXIT_CLOSED, EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from optscan.models import ScanResult
    from optscan.output.columns import Column

EXIT_BY_STATE = {
    "finished": EXIT_OK,
    "failed": EXIT_FAILED,
    "lost": EXIT_FAILED,
    "skipped": EXIT_CLOSED,
}
"""A queued scan's final state -> the exit code ``optscan scan`` gives the same outcome."""


def exit_with_result(result: ScanResult, fmt: str, columns: list[Column] | None = None) -> NoReturn:
    """Print a scan's result and exit with its code (0 ok, 1 failed, 3 market closed)."""
    print_result(result, fmt, columns)
    if result.skipped:
        if fmt != "table":  # the table says it already, on stdout
            click.echo(f"optscan: {result.message}", err=True)
        click.echo("optscan: use --force to scan anyway", err=True)
        sys.exit(EXIT_CLOSED)
    if not result.success and fmt != "table":  # JSON or CSV on stdout: say it on stderr
        click.echo(f"optscan: the scan failed: {result.message}", err=True)
    sys.exit(EXIT_OK if result.success else EXIT_FAILED)


def print_result(result: ScanResult, fmt: str, columns: list[Column] | None = None) -> None:
    """The result on stdout as a table, the JSON document or CSV (``columns`` choose
    the table's and the CSV's columns; JSON is always the whole document)."""
    if fmt == "json":
        from optscan.output.jsondoc import write_result_json

        write_result_json(result, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()
    elif fmt == "csv":
        from optscan.output.csvdoc import result_csv

        click.echo(result_csv(result, columns), nl=False)
    else:
        from optscan.output.table import print_table

        print_table(result, file=sys.stdout, columns=columns)


def print_doc(
    doc: dict[str, Any], fmt: str, lines: list[str], rows: list[dict[str, Any]] | None = None
) -> None:
    """``doc`` as JSON, ``rows`` as CSV (default: ``doc`` as one row), or ``lines`` of
    text for ``table``."""
    if fmt == "json":
        from optscan.output.jsondoc import dumps

        click.echo(dumps(doc, indent=2))
    elif fmt == "csv":
        click.echo(records_csv(rows if rows is not None else [doc]), nl=False)
    else:
        for line in lines:
            click.echo(line)


def records_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV with a header (the keys of the first row, then any new ones); lists
    and tables inside a value are joined with ``; ``."""
    import csv
    import io

    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _flat(v) for k, v in row.items()})
    return buffer.getvalue()


def _flat(value: Any) -> Any:
    if isinstance(value, bool):  # as JSON writes them
        return "true" if value else "false"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(str(_flat(v)) for v in value)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value


def status_lines(status: dict[str, Any]) -> list[str]:
    """A queued scan's status as text."""
    lines = [
        f"scan {status['scan_id']} (profile {status.get('profile') or '?'}): {status['state']}",
        f"symbols: {status['symbols_done']}/{status['symbols_total']} done, "
        f"{status['symbols_failed']} failed",
    ]
    for key in ("started_at", "finished_at", "message", "error"):
        if status.get(key):
            lines.append(f"{key.replace('_', ' ')}: {status[key]}")
    from optscan.symbols import without_symbol

    for symbol, reason in status.get("failures", {}).items():
        lines.append(f"  {symbol}: {without_symbol(str(reason), symbol)}")
    if "workers" in status:
        lines.append(f"workers listening on queue {status['queue']!r}: {status['workers']}")
        if not status["workers"] and status["state"] in ("queued", "running"):
            lines.append("no worker is listening: start one with `optscan worker`")
    return lines
