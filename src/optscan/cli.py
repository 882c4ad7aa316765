"""The ``optscan`` command line. Thin: parse options, call the core, print.

stdout carries only the command's output (a table, JSON or CSV); logs, progress bars
and warnings go to stderr. Exit codes: 0 ok, 1 scan failed, 2 bad usage or config,
3 market closed and not forced.

Only click is imported at module level; everything else is imported inside commands so
``optscan --help`` starts quickly.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CLOSED = 0, 1, 2, 3


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"optscan: {message}", err=True)
    sys.exit(code)


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--config``, ``--set``, ``--log-format`` and ``--log-level`` on every command."""
    fn = click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"]),
        default=None,
        help="Log level (stderr).",
    )(fn)
    fn = click.option(
        "--log-format",
        type=click.Choice(["console", "json"]),
        default=None,
        help="Log format on stderr: readable or JSON lines.",
    )(fn)
    fn = click.option(
        "--set",
        "set_pairs",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override any config key, e.g. --set scan.concurrency=4 (values are read as TOML).",
    )(fn)
    fn = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Config file (default: $OPTSCAN_CONFIG, ./config.toml, then the user config dir).",
    )(fn)
    return fn


def passes_env(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Call ``fn`` with ``env=Env(...)`` in place of the four common option values."""

    @functools.wraps(fn)
    def command(
        *args: Any,
        config_path: str | None,
        set_pairs: tuple[str, ...],
        log_format: str | None,
        log_level: str | None,
        **kwargs: Any,
    ) -> Any:
        ctx = click.get_current_context()
        env = Env(ctx, config_path, set_pairs, log_format, log_level)
        return fn(*args, env=env, **kwargs)

    return command


def with_env(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The common options on a command, which receives them resolved as ``env``: the
    settings loaded (a bad key exits 2 naming it) and logging set up, before its body."""
    return common_options(passes_env(fn))


class Env:
    """Settings and plugins resolved from the common options (and the group's)."""

    def __init__(
        self,
        ctx: click.Context,
        config_path: str | None,
        set_pairs: tuple[str, ...],
        log_format: str | None,
        log_level: str | None,
    ) -> None:
        from optscan.config import load_settings, parse_set
        from optscan.errors import ConfigError
        from optscan.logs import configure_logging

        root = ctx.find_root().params
        config_path = config_path or root.get("config_path")
        pairs = tuple(root.get("set_pairs") or ()) + tuple(set_pairs)
        try:
            self.overrides = parse_set(pairs)
            self.settings = load_settings(config_path, self.overrides)
        except ConfigError as exc:
            configure_logging()
            _fail(str(exc))
        self.log_level = log_level or root.get("log_level") or self.settings.logging.level
        configure_logging(
            self.log_level,
            log_format or root.get("log_format") or self.settings.logging.format,
        )
        self.config_path = config_path

    def host(self, **kwargs: Any) -> Any:
        from optscan.errors import PluginError
        from optscan.plugins import PluginHost

        try:
            return PluginHost.from_settings(self.settings, **kwargs)
        except PluginError as exc:
            _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="optscan")
def cli(
    config_path: str | None,
    set_pairs: tuple[str, ...],
    log_format: str | None,
    log_level: str | None,
) -> None:
    """optscan: scan option chains for wheel-strategy trades (cash-secured puts, covered calls).

    \b
    Exit codes: 0 ok, 1 scan failed, 2 bad usage or config, 3 market closed (not forced).
    Quick start, offline:  optscan scan --provider sim
    """


# --------------------------------------------------------------------------- scan


def _parse_instant(text: str | None, option: str) -> Any:
    if text is None:
        return None
    import datetime as dt
    from zoneinfo import ZoneInfo

    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{option}: {text!r} is not an ISO 8601 date-time (e.g. 2026-11-27T10:30-05:00)")
    if value.tzinfo is None:  # read in the exchange's time zone
        value = value.replace(tzinfo=ZoneInfo("America/New_York"))
    return value


def scan_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that describe a scan request (shared by ``scan`` and ``enqueue``)."""
    options = [
        click.option(
            "--provider",
            default=None,
            help="Option data provider (default: scan.provider). See `optscan plugins`.",
        ),
        click.option(
            "--symbols",
            default=None,
            help="Comma-separated symbols; replaces the configured stock sources.",
        ),
        click.option(
            "--strategy",
            default=None,
            help="Strategy from [strategies.<name>] (default: scan.strategy, i.e. csp).",
        ),
        click.option(
            "--sink",
            "sinks",
            multiple=True,
            help="Publish to this sink (repeatable); replaces sinks.enabled.",
        ),
        click.option("--profile", default=None, help="Scan profile name (default: scan.profile)."),
        click.option(
            "--force",
            is_flag=True,
            help="Scan even when the market is closed "
            "(results are labelled as taken outside market hours).",
        ),
        click.option(
            "--as-of",
            "as_of",
            default=None,
            metavar="ISO8601",
            help="Pin the clock (calendar and days to expiry). Without an offset it "
            "is read in New York time.",
        ),
        click.option(
            "--record",
            "record_dir",
            default=None,
            type=click.Path(file_okay=False),
            help="Save every raw provider payload under DIR.",
        ),
        click.option(
            "--replay",
            "replay_dir",
            default=None,
            type=click.Path(file_okay=False, exists=True),
            help="Serve provider payloads from a recording in DIR (no network).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_request(env: Env, **opts: Any) -> Any:
    from pydantic import ValidationError

    from optscan.models import ScanRequest

    symbols = None
    if opts.get("symbols") is not None:
        symbols = [s.strip() for s in opts["symbols"].split(",") if s.strip()]
        if not symbols:
            _fail("--symbols: no symbols given")
    try:
        return ScanRequest(
            profile=opts.get("profile") or env.settings.scan.profile,
            provider=opts.get("provider"),
            strategy=opts.get("strategy"),
            symbols=symbols,
            sinks=list(opts["sinks"]) if opts.get("sinks") else None,
            force=bool(opts.get("force")),
            as_of=_parse_instant(opts.get("as_of"), "--as-of"),
            overrides=env.overrides,
            record_dir=opts.get("record_dir"),
            replay_dir=opts.get("replay_dir"),
        )
    except ValidationError as exc:
        from optscan.config import format_validation_error

        _fail(f"bad request: {format_validation_error(exc)}")


@cli.command()
@scan_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    help="Output on stdout.",
)
@with_env
def scan(
    fmt: str,
    env: Env,
    **opts: Any,
) -> None:
    """Scan option chains in this process (no Redis needed) and print the opportunities."""
    from optscan.errors import ConfigError, OptscanError, UsageError
    from optscan.scan import perform_scan

    request = build_request(env, **opts)
    listeners = []
    if fmt == "table" and sys.stderr.isatty():
        from optscan.progress import ProgressListener

        listeners.append(ProgressListener())
    host = env.host(plugins=listeners)
    try:
        result = perform_scan(request, host, settings=env.settings)
    except (UsageError, ConfigError) as exc:
        _fail(str(exc))
    except OptscanError as exc:
        _fail(str(exc), EXIT_FAILED)
    finally:
        for listener in listeners:
            listener.close()
    finish_scan(result, fmt)


def finish_scan(result: Any, fmt: str) -> NoReturn:
    """Print a scan's result and exit with its code (0 ok, 1 failed, 3 market closed)."""
    _print_result(result, fmt)
    if result.skipped:
        click.echo(f"optscan: {result.message}; use --force to scan anyway", err=True)
        sys.exit(EXIT_CLOSED)
    sys.exit(EXIT_OK if result.success else EXIT_FAILED)


def _print_result(result: Any, fmt: str) -> None:
    from optscan.render import print_table, result_csv, write_result_json

    if fmt == "json":
        write_result_json(result, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()
    elif fmt == "csv":
        click.echo(result_csv(result), nl=False)
    else:
        print_table(result, file=sys.stdout)


# --------------------------------------------------------------------------- plugins


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_env
def plugins(
    fmt: str,
    env: Env,
) -> None:
    """List plugins: name, version, hooks, what they provide, and load failures."""
    info = env.host().describe()
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("Plugin", "Version", "Built-in", "Hooks", "Provides"):
        table.add_column(column)
    for p in info["plugins"]:
        provides = ", ".join(
            f"{family[:-1]}:{name}"
            for family in ("providers", "sinks", "sources")
            for name in p[family]
        )
        table.add_row(
            p["name"],
            p["version"] or "-",
            "yes" if p["builtin"] else "",
            ", ".join(p["hooks"]),
            provides,
        )
    console = Console()
    console.print(table)
    for failure in info["failures"]:
        console.print(
            f"[red]failed[/] {failure['plugin']} ({failure['stage']}): {failure['error']}"
        )


# --------------------------------------------------------------------------- config


@cli.group()
def config() -> None:
    """Inspect the effective configuration."""


@config.command("show")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="json")
@with_env
def config_show(
    fmt: str,
    env: Env,
) -> None:
    """Print the effective config (file + environment + --set) with secrets masked."""
    from optscan.config import masked
    from optscan.errors import ConfigError, UsageError

    host = env.host()
    try:
        warnings = host.validate_settings(env.settings)
        data = masked(env.settings)
        for family in ("providers", "sinks", "sources"):
            section = data[family]
            for name in host.names(family):
                cfg = host.plugin_config(family, name, env.settings)
                section[name] = masked(cfg)
    except (ConfigError, UsageError) as exc:
        _fail(str(exc))
    for warning in warnings:
        click.echo(f"optscan: warning: {warning}", err=True)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        from optscan.tomlout import dumps

        click.echo(dumps(data), nl=False)


# --------------------------------------------------------------------------- market


@cli.command()
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
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@with_env
def market(
    at: str | None,
    calendar_name: str | None,
    fmt: str,
    env: Env,
) -> None:
    """Is the market open? Session, early close, open/close times and the next open."""
    import datetime as dt

    from optscan.errors import UsageError

    instant = _parse_instant(at, "--at") or dt.datetime.now(dt.UTC)
    try:
        calendar = env.host().calendar(calendar_name or env.settings.scan.calendar)
    except UsageError as exc:
        _fail(str(exc))
    status = calendar.status(instant)
    doc = market_document(status)
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
        return
    state = "OPEN" if status.is_open else "CLOSED"
    click.echo(f"{status.calendar}: {state} at {doc['at']}")
    if status.session:
        close_note = " (early close)" if status.early_close else ""
        click.echo(f"session {doc['session']}: {doc['opens_at']} - {doc['closes_at']}{close_note}")
    click.echo(f"next open: {doc['next_open']}")


def market_document(status: Any) -> dict[str, Any]:
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


from optscan import cli_queue  # noqa: E402, F401  (registers queue commands)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="optscan")


if __name__ == "__main__":  # pragma: no cover
    main()
