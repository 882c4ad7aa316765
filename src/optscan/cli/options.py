"""Options shared by several commands, and the scan request they describe."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from optscan.cli.exits import fail

if TYPE_CHECKING:
    import datetime as dt

    from optscan.cli.env import Env
    from optscan.models import ScanRequest


FORMATS = ("table", "json", "csv")
"""What every command that prints data accepts (``table`` is the default)."""


def format_option(choices: tuple[str, ...] = FORMATS) -> Callable[..., Any]:
    """``--format`` with the first choice as default (output on stdout)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help="Output on stdout.",
    )


def columns_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--columns a,b,c``: the opportunity columns (JSON keys) of the table and CSV."""

    def parse(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
        from optscan.output.columns import parse_columns

        try:
            return parse_columns(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.option(
        "--columns",
        default=None,
        metavar="KEYS",
        callback=parse,
        help="The columns of the table and CSV, in order: comma-separated JSON keys, "
        "e.g. symbol,strike,bid,premium.",
    )(fn)


def key_part(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Scan ids and profiles become parts of Redis keys: refuse anything else than
    1-64 letters, digits, '_' or '-' before any key is read or written (exit 2)."""
    from optscan.symbols import SCAN_ID_PATTERN

    if value is not None and not SCAN_ID_PATTERN.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not valid: expected 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def parse_instant(text: str | None, option: str) -> dt.datetime | None:
    """An ISO 8601 instant; without an offset it is read in New York time (exit 2 if bad)."""
    if text is None:
        return None
    import datetime as dt
    from zoneinfo import ZoneInfo

    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not an ISO 8601 date-time (e.g. 2026-11-27T10:30-05:00)")
    if value.tzinfo is None:  # read in the exchange's time zone
        value = value.replace(tzinfo=ZoneInfo("America/New_York"))
    try:
        year = value.astimezone(dt.UTC).year
    except OverflowError:  # 0001-01-01 or 9999-12-31 with an offset
        year = 0
    if not YEARS[0] <= year <= YEARS[1]:
        fail(f"{option}: {text!r} is out of range: years {YEARS[0]} to {YEARS[1]}")
    return value


YEARS = (1970, 2200)
"""The years ``--as-of`` and ``--at`` may name (market calendars cover no more)."""


def _cash(_ctx: Any, _param: Any, value: str | None) -> float | None:
    """Dollars as people write them: ``50000``, ``50,000``, ``$50,000.00``."""
    import math

    if value is None:
        return None
    from optscan.positions.numbers import parse_number

    try:
        amount = None if "%" in value else parse_number(value)
    except ValueError:
        amount = None
    if amount is None or not (math.isfinite(amount) and 0 <= amount <= 1e10):
        raise click.BadParameter(
            f"{value!r}: must be an amount of dollars from 0 to 10,000,000,000 (e.g. 50000, "
            "$50,000.00)"
        )
    return amount


cash_option = click.option(
    "--cash",
    type=str,
    default=None,
    callback=_cash,
    metavar="AMOUNT",
    help="Add a `selection`: the cash-secured puts that earn the most annualized premium "
    "with their collateral within AMOUNT dollars (default: a positions file's cash, "
    "else [selection] cash).",
)


def fetch_options() -> list[Callable[..., Any]]:
    """``--as-of``, ``--record DIR``, ``--replay DIR``: how a command that fetches chains
    (``scan``, ``enqueue``, ``schedule add``, ``rolls``) pins its clock and its data."""
    return [
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


def scan_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options that describe a scan request (``scan``, ``enqueue``, ``schedule add``)."""
    options = [
        click.option(
            "--provider",
            default=None,
            help="Option data provider (default: scan.provider). See `optscan plugins`.",
        ),
        click.option(
            "--symbols",
            default=None,
            help="Symbols separated by commas or spaces ('AAPL,MSFT' or 'AAPL MSFT'; a class "
            "share as BRK.B, BRK/B or BRK-B); replaces the configured stock sources.",
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
        *fetch_options(),
        cash_option,
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_request(env: Env, **opts: Any) -> ScanRequest:
    """The :class:`ScanRequest` the scan options describe (exit 2 when it is invalid)."""
    from pydantic import ValidationError

    from optscan.config import format_validation_error
    from optscan.models import ScanRequest

    symbols = None
    if opts.get("symbols") is not None:
        from optscan.symbols import split_symbols

        symbols = split_symbols(opts["symbols"])
        if not symbols:
            fail("--symbols: no symbols given")
    try:
        return ScanRequest(
            profile=opts.get("profile") or env.settings.scan.profile,
            provider=opts.get("provider"),
            strategy=opts.get("strategy"),
            symbols=symbols,
            sinks=list(opts["sinks"]) if opts.get("sinks") else None,
            force=bool(opts.get("force")),
            as_of=parse_instant(opts.get("as_of"), "--as-of"),
            overrides=env.overrides,
            record_dir=opts.get("record_dir"),
            replay_dir=opts.get("replay_dir"),
            cash=opts.get("cash"),
        )
    except ValidationError as exc:
        fail(f"bad request: {format_validation_error(exc)}")


def _finite(_ctx: Any, _param: Any, value: float | None) -> float | None:
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter("must be a finite number of seconds")
    return value


def timeout_option(needs: str) -> Any:
    """``--timeout SECONDS`` for a client that waits for a queued scan."""
    return click.option(
        "--timeout",
        "timeout_s",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        callback=_finite,
        metavar="SECONDS",
        help=f"With {needs}: stop waiting after SECONDS and exit 1 naming the scan and "
        "its state (the scan goes on).",
    )
