"""The ``optscan`` command line. Thin: parse options, call the core, print.

Each command is defined, options and all, in one module and added to the group here:

* :mod:`~optscan.cli.scan` - ``scan`` (``--queue`` runs it on RQ workers);
* :mod:`~optscan.cli.info` - ``plugins``, ``config show``, ``market``;
* :mod:`~optscan.cli.queue` - ``enqueue``, ``status``, ``results``, ``lock clear``;
* :mod:`~optscan.cli.worker` - ``worker``, ``scheduler``, ``dashboard``;
* :mod:`~optscan.cli.schedule` - ``schedule add|list|remove``;
* :mod:`~optscan.cli.positions` - ``positions``, ``symbols`` (the trader's own files);
* :mod:`~optscan.cli.rolls` - ``rolls``;
* :mod:`~optscan.cli.web` - ``web`` (the results page, :mod:`optscan.web`).

Shared parts: :mod:`~optscan.cli.app` (the group), :mod:`~optscan.cli.env` (the common
options and the resolved settings), :mod:`~optscan.cli.exits` (exit codes),
:mod:`~optscan.cli.options`, :mod:`~optscan.cli.output`, :mod:`~optscan.cli.connect`,
:mod:`~optscan.cli.progress`. Only click is imported at start-up.
"""

from __future__ import annotations

from optscan.cli.app import cli
from optscan.cli.info import config, market, plugins
from optscan.cli.positions import positions, symbols
from optscan.cli.queue import enqueue, lock, results, status
from optscan.cli.rolls import rolls
from optscan.cli.scan import scan
from optscan.cli.schedule import schedule
from optscan.cli.web import web
from optscan.cli.worker import dashboard, scheduler, worker

for _command in (
    scan,
    plugins,
    config,
    market,
    enqueue,
    status,
    results,
    worker,
    schedule,
    scheduler,
    dashboard,
    lock,
    rolls,
    positions,
    symbols,
    web,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="optscan")


__all__ = ["cli", "main"]
