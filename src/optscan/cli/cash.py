"""The cash of ``scan --cash``'s selection when ``--cash`` is not given: a positions
file's cash, less the collateral its short puts already hold."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import click

from optscan.cli.exits import fail

if TYPE_CHECKING:
    from optscan.cli.env import Env


def cash_from_positions_file(env: Env, path: str | None) -> float | None:
    """The cash of ``--positions PATH`` (its errors exit 2), else of ``holdings.file``
    when this build can read positions files (its errors are a warning: the scan does
    not need it), else ``None`` (``[selection] cash`` then applies)."""
    from pathlib import Path

    from optscan.errors import OptscanError
    from optscan.rolls.positions import cash_from_positions, read_positions_file

    if path:
        try:
            return cash_from_positions(read_positions_file(Path(path).expanduser()))
        except OptscanError as exc:
            fail(str(exc))
    implicit = env.settings.holdings.file
    if not implicit or not _have_reader():
        return None
    try:
        return cash_from_positions(read_positions_file(Path(implicit).expanduser()))
    except OptscanError as exc:
        click.echo(f"optscan: warning: no cash from holdings.file: {exc}", err=True)
        return None


def _have_reader() -> bool:
    """Whether this build has the positions-file reader (``optscan.positions``)."""
    try:
        importlib.import_module("optscan.positions")
    except ImportError:
        return False
    return True
