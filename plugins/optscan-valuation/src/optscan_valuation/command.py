"""``optscan value``: each symbol's intrinsic values, from its fundamentals.

Imported when the command line starts (``register_commands``), so only click and
optscan's light command helpers are imported here; the provider, the models and the
fetch load when the command runs.

``--format json`` prints ``{"values": [{"symbol", "price", "eps_ttm", "fcf_per_share",
"intrinsic_value_eps", "intrinsic_value_fcf", "method", "intrinsic_value",
"margin_of_safety_pct", "status", "error", "price_source"}]}`` (per share;
``margin_of_safety_pct`` = (value - price) / value x 100). There is no option chain
here, so ``price`` is the one the fundamentals answer carried (``price_source``
``"fundamentals"``: as fresh as that answer, a recording's with ``--replay``); a scan's
badges use the chain's price instead. ``error`` does not repeat the symbol. Exit 0
when at least one symbol had usable fundamentals, 1 when none had, 2 for bad usage or
config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from optscan import fail, format_option, print_doc, with_env

if TYPE_CHECKING:
    from optscan import Env
    from optscan_valuation.model import SymbolValue

HEADERS = ("Symbol", "Price", "EPS", "FCF/sh", "IV(EPS)", "IV(FCF)", "Value", "By", "MoS%")


@click.command(short_help="Intrinsic values from fundamentals (valuation plugin).")
@click.option(
    "--symbols",
    default=None,
    help="Comma-separated symbols (default: the recording's with --replay, else the "
    "configured stock sources).",
)
@click.option("--provider", default=None, help="Provider (default: scan.provider).")
@click.option(
    "--replay",
    "replay_dir",
    default=None,
    metavar="DIR",
    help="Read recorded fundamentals (DIR/<provider>/<SYMBOL>/fundamentals.json).",
)
@click.option(
    "--record",
    "record_dir",
    default=None,
    metavar="DIR",
    help="Save each fundamentals answer as DIR/<provider>/<SYMBOL>/fundamentals.json.",
)
@format_option()
@with_env
def value(
    symbols: str | None,
    provider: str | None,
    replay_dir: str | None,
    record_dir: str | None,
    fmt: str,
    env: Env,
) -> None:
    """Intrinsic value per symbol: discounted EPS and free cash flow per share with the
    assumptions of [enrichers.valuation], the preferred method's value and the margin
    of safety against the price."""
    from optscan import (
        ConfigError,
        UsageError,
        fundamentals_symbols,
        open_fundamentals,
    )
    from optscan_valuation.config import ValuationConfig
    from optscan_valuation.model import failed_value, value_of

    if replay_dir and record_dir:
        fail("--record and --replay: choose one")
    given = None
    if symbols is not None:
        given = [s for s in symbols.split(",") if s.strip()]
        if not given:
            fail("--symbols: no symbols given")
    host = env.host()
    try:
        config = host.plugin_config("enrichers", "valuation", env.settings)
        source = open_fundamentals(
            env.settings, host, provider=provider, replay_dir=replay_dir, record_dir=record_dir
        )
    except (ConfigError, UsageError) as exc:
        fail(str(exc))
    if not isinstance(config, ValuationConfig):  # another plugin took the name
        fail("enricher 'valuation' is not this plugin's; see optscan plugins")
    if replay_dir and given is None and not source.recorded:
        source.close()
        fail(
            f"--replay {replay_dir}: no fundamentals of provider {source.provider!r} recorded "
            f"there ({replay_dir}/{source.provider}/<SYMBOL>/fundamentals.json); give --symbols "
            "or record them first (optscan value --record DIR)"
        )
    try:
        wanted, problems = fundamentals_symbols(env.settings, host, given, source)
        for problem in problems:
            click.echo(f"optscan: warning: {problem}", err=True)
        if not wanted:
            fail("no symbols: give --symbols, or enable a stock source")
        fetched = source.fetcher.get(wanted)
    finally:
        source.close()
    rows: list[SymbolValue] = []
    for symbol in wanted:
        answer = fetched[symbol]
        if answer.fundamentals is None:
            rows.append(failed_value(symbol, answer.error, answer.reason))
        else:
            f = answer.fundamentals
            rows.append(value_of(f, config, price=f.price, price_source="fundamentals"))
    records = [row.as_row() for row in rows]
    print_doc({"values": records}, fmt, _lines(rows), records)
    if all(row.status in ("failed", "bad_number") for row in rows):
        raise SystemExit(1)


def _lines(rows: list[SymbolValue]) -> list[str]:
    """The table: one line per symbol, then why any had no value."""

    def num(value: float | None, spec: str = ",.2f") -> str:
        return "-" if value is None else format(value, spec)

    table = [HEADERS]
    for row in rows:
        table.append(
            (
                row.symbol,
                num(row.price),
                num(row.eps_ttm),
                num(row.fcf_per_share),
                num(row.intrinsic_value_eps),
                num(row.intrinsic_value_fcf),
                num(row.intrinsic_value),
                (row.method or "-").upper(),
                num(row.margin_of_safety_pct, ",.1f"),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = [
        "  ".join(
            c.ljust(w) if i in (0, 7) else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in table
    ]
    lines += [f"{row.symbol}: {row.error}" for row in rows if row.error]
    if any(row.price_source == "fundamentals" for row in rows):
        lines.append(
            "Price: what the fundamentals answer carried (as fresh as it; a scan values "
            "against its chain's price)"
        )
    return lines
