"""``optscan rolls``: roll candidates for short options held."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from optscan.cli.env import Env, with_env
from optscan.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, fail
from optscan.cli.options import fetch_options, format_option, parse_instant

if TYPE_CHECKING:
    from collections.abc import Callable

    from optscan.rolls.models import ShortPosition


def _fetching(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(fetch_options()):
        fn = option(fn)
    return fn


@click.command(short_help="Roll candidates for short options you hold.")
@click.option(
    "--positions",
    "positions_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Your broker's positions export (check it with `optscan positions PATH`): every "
    "short option in it (default: holdings.file when no --position is given).",
)
@click.option(
    "--position",
    "position_texts",
    multiple=True,
    metavar="CONTRACT[:QTY][@PRICE]",
    help="A short option: its OCC symbol (a class share's written on its ticker, e.g. "
    "BRK-B261127P00410000), the short contracts (default 1) and the premium received per "
    "share (optional), e.g. AAPL261127P00230000:2@1.35. Repeatable.",
)
@click.option("--provider", default=None, help="Option data provider (default: scan.provider).")
@click.option(
    "--strategy",
    default="roll",
    show_default=True,
    help="The [strategies.<name>] of type roll to screen with.",
)
@_fetching
@format_option()
@with_env
def rolls(
    positions_path: str | None,
    position_texts: tuple[str, ...],
    provider: str | None,
    strategy: str,
    as_of: str | None,
    record_dir: str | None,
    replay_dir: str | None,
    fmt: str,
    env: Env,
) -> None:
    """For each short option held, the later expirations to roll it to for a credit:
    buy it back at its ask, sell a later contract of the same kind (puts at the same or
    a lower strike, calls at the same or a higher one, never below the shares' cost
    basis). Screened by [strategies.roll]; exit 1 when no position could be judged."""
    from pydantic import ValidationError

    from optscan.config import format_validation_error
    from optscan.errors import ConfigError, OptscanError, UsageError
    from optscan.rolls.run import perform_rolls, rolls_request

    try:
        positions, long = _positions(env, positions_path, position_texts)
        request = rolls_request(
            env.settings,
            positions,
            provider=provider,
            overrides=env.overrides,
            as_of=parse_instant(as_of, "--as-of"),
            record_dir=record_dir,
            replay_dir=replay_dir,
        )
        result = perform_rolls(
            positions,
            request,
            env.host(),
            env.settings,
            strategy_name=strategy,
            long_options=long,
        )
    except ValidationError as exc:
        fail(f"bad request: {format_validation_error(exc)}")
    except (UsageError, ConfigError) as exc:
        fail(str(exc))
    except OptscanError as exc:
        fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    _print(result, fmt)
    if result.positions and all(p.status == "failed" for p in result.positions):
        if fmt != "table":
            click.echo("optscan: no position could be judged", err=True)
        raise SystemExit(EXIT_FAILED)


def _positions(
    env: Env, path: str | None, texts: tuple[str, ...]
) -> tuple[list[ShortPosition], list[str]]:
    """The short positions to roll, and the OCC symbols of the file's long options
    (named on stderr here, and in the document as ``long_options_not_rolled``)."""
    from pathlib import Path

    from optscan.errors import UsageError
    from optscan.positions import read_positions
    from optscan.rolls.positions import (
        long_options,
        not_rolled_note,
        parse_position,
        short_positions,
    )
    from optscan.scan.holdings import load_holdings

    if path and texts:
        raise UsageError("give --positions PATH or --position CONTRACT, not both")
    if texts:
        basis = {symbol: held[1] for symbol, held in load_holdings(env.settings).items()}
        return [parse_position(text, basis) for text in texts], []
    path = path or env.settings.holdings.file
    if not path:
        raise UsageError(
            "no positions: give --position CONTRACT[:QTY] or --positions PATH "
            "(or set holdings.file)"
        )
    reading = read_positions(Path(path).expanduser(), env.settings.holdings.broker or None)
    positions = short_positions(reading)
    long = long_options(reading)
    if long:  # said, not silently dropped: a roll buys back what was sold
        click.echo(f"optscan: {not_rolled_note(long)}", err=True)
    if not positions:
        raise UsageError(f"--positions {path!r}: the file holds no short option")
    return positions, long


def _print(result: Any, fmt: str) -> None:
    from optscan.cli.output import print_doc
    from optscan.output.rolls import rolls_csv_rows, rolls_json, rolls_lines

    print_doc(rolls_json(result), fmt, rolls_lines(result), rolls_csv_rows(result))
