"""The ``optscan`` group.

stdout carries only the command's output (a table, JSON or CSV); logs, progress bars
and warnings go to stderr. Only click is imported here; every command imports what it
needs inside its body, so ``optscan --help`` starts quickly.
"""

from __future__ import annotations

from typing import Any

import click

from optscan.cli.env import common_options


class OptscanGroup(click.Group):
    """The group: a Redis error that escapes a command (Redis full, gone, restarting)
    ends it with one line on stderr and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from optscan.cli.exits import EXIT_FAILED, fail, redis_failure

            message = redis_failure(exc)
            if message is None:
                raise
            fail(message, EXIT_FAILED)


@click.group(cls=OptscanGroup, context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="optscan")
def cli() -> None:
    """optscan: scan option chains for wheel-strategy trades (cash-secured puts, covered calls).

    \b
    Exit codes: 0 ok, 1 scan failed, 2 bad usage or config, 3 market closed (not forced).
    Quick start, offline:  optscan scan --provider sim
    """
