"""Read-only commands: ``optscan plugins``, ``optscan config show``, ``optscan market``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from optscan.cli.env import Env, with_env
from optscan.cli.exits import fail
from optscan.cli.options import FORMATS, format_option, parse_instant
from optscan.cli.output import print_doc

if TYPE_CHECKING:
    from optscan.models import MarketStatus


@click.command(short_help="Plugins, what they provide, load failures.")
@format_option()
@with_env
def plugins(fmt: str, env: Env) -> None:
    """List plugins: name, version, hooks, what they provide, and load failures."""
    root = click.get_current_context().find_root().command
    info = env.host().describe(reserved=getattr(root, "builtin_names", ()))
    if fmt != "table":
        print_doc(info, fmt, [], rows=info["plugins"] + info["failures"])
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("Plugin", no_wrap=True)
    table.add_column("Version", no_wrap=True)
    console = Console(highlight=False)
    longest_hook = max((len(h) for p in info["plugins"] for h in p["hooks"]), default=5)
    # at 80 columns or more every hook name fits whole; narrower, they fold
    table.add_column(
        "Hooks", overflow="fold", min_width=longest_hook if console.width >= 80 else None
    )
    table.add_column("Provides", overflow="fold")
    for p in info["plugins"]:
        provides = "\n".join(
            f"{family[:-1]}:{name}"
            for family in ("providers", "sinks", "sources", "enrichers", "calendars", "commands")
            for name in p[family]
        )
        table.add_row(
            Text(p["name"]),
            Text("built-in" if p["builtin"] else (p["version"] or "-")),
            Text("\n".join(p["hooks"]), overflow="fold"),
            Text(provides, overflow="fold"),
        )
    console.print(table)
    for failure in info["failures"]:
        line = Text("failed", style="red")
        line.append(f" {failure['plugin']} ({failure['stage']}): {failure['error']}")
        console.print(line)


@click.group()
def config() -> None:
    """Inspect the effective configuration."""


@config.command("show")
@format_option((*FORMATS, "toml"))
@with_env
def config_show(fmt: str, env: Env) -> None:
    """Print the effective config (file + environment + --set) with secrets masked:
    a table of dotted keys, JSON, CSV (key,value) or TOML."""
    from optscan.errors import ConfigError, UsageError
    from optscan.plugins import Family
    from optscan.secrets import mask

    host = env.host()
    families: tuple[Family, ...] = ("providers", "sinks", "sources", "enrichers")
    try:
        warnings = host.validate_settings(env.settings)
        data = mask(env.settings)
        for family in families:
            for name in host.names(family):
                data[family][name] = mask(host.plugin_config(family, name, env.settings))
    except (ConfigError, UsageError) as exc:
        fail(str(exc))
    for warning in warnings:
        click.echo(f"optscan: warning: {warning}", err=True)
    if fmt == "toml":
        import tomli_w

        text = tomli_w.dumps(_no_nulls(data))
        click.echo("# keys with no value (null) are left out\n" + text, nl=False)
        return
    pairs = dict(_dotted(data))
    shown = {key: v if isinstance(v, str) else json.dumps(v) for key, v in pairs.items()}
    rows = [{"key": key, "value": value} for key, value in shown.items()]
    width = max(len(key) for key in shown)
    lines = [f"{key:<{width}}  {value}" for key, value in shown.items()]
    print_doc(json.loads(json.dumps(data, default=str)), fmt, lines, rows)


def _dotted(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, leaf value)`` pairs of a config tree (lists are leaves)."""
    if isinstance(value, dict) and value:
        return [pair for key, child in value.items() for pair in _dotted(child, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), value)]


def _no_nulls(value: Any) -> Any:
    """TOML has no null: drop ``None`` values (a key left out means "not set")."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value if v is not None]
    return value


@click.command(short_help="Is the market open? Session and next open.")
@click.option(
    "--at",
    "at",
    default=None,
    metavar="ISO8601",
    help="The instant to ask about (default: now). Without an offset it is read "
    "in the exchange's time zone.",
)
@click.option(
    "--calendar", "calendar_name", default=None, help="Calendar name (default: scan.calendar)."
)
@format_option()
@with_env
def market(at: str | None, calendar_name: str | None, fmt: str, env: Env) -> None:
    """Is the market open? Session, early close, open/close times and the next open."""
    import datetime as dt

    from optscan.errors import UsageError

    instant = parse_instant(at, "--at") or dt.datetime.now(dt.UTC)
    try:
        calendar = env.host().calendar(calendar_name or env.settings.scan.calendar)
    except UsageError as exc:
        fail(str(exc))
    status = calendar.status(instant)
    doc = market_document(status)
    state = "OPEN" if status.is_open else "CLOSED"
    lines = [f"{status.calendar}: {state} at {doc['at']}"]
    if status.session:
        close_note = " (early close)" if status.early_close else ""
        lines.append(
            f"session {doc['session']}: {doc['opens_at']} - {doc['closes_at']}{close_note}"
        )
    lines.append(f"next open: {doc['next_open']}")
    print_doc(doc, fmt, lines)


def market_document(status: MarketStatus) -> dict[str, Any]:
    """The JSON contract of ``optscan market --format json``."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "at": iso(status.at),
        "is_open": status.is_open,
        "session": iso(status.session),
        "early_close": status.early_close,
        "opens_at": iso(status.opens_at),
        "closes_at": iso(status.closes_at),
        "next_open": iso(status.next_open),
        "calendar": status.calendar,
    }
