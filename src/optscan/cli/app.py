"""The ``optscan`` group.

stdout carries only the command's output (a table, JSON or CSV); logs, progress bars
and warnings go to stderr. Only click is imported here; every command imports what it
needs inside its body, so ``optscan --help`` starts quickly.

Every command runs under :meth:`OptscanGroup.main`'s guard: click's own usage errors
still exit 2 with click's message, and any other error, in any command, ends as one
scrubbed line on stderr and exit 1 (2 for a config or usage error), never a
traceback; ``--log-level debug`` adds the traceback for developers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from optscan.cli.env import common_options


class OptscanGroup(click.Group):
    """A click group whose ``main`` turns an uncaught error into one line and a code,
    and which adds plugins' commands (``register_commands``) when it first needs a
    name it does not hold (:mod:`optscan.cli.plugin_commands`)."""

    _plugins_added = False
    _builtin: frozenset[str] | None = None

    @property
    def builtin_names(self) -> frozenset[str]:
        """The group's own commands, not a plugin's."""
        return self._builtin if self._builtin is not None else frozenset(self.commands)

    def _add_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        self._builtin = frozenset(self.commands)
        from optscan.cli.env import CommonOptions
        from optscan.cli.plugin_commands import add_plugin_commands

        add_plugin_commands(self, ctx.find_object(CommonOptions))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._add_plugin_commands(ctx)
        return super().get_command(ctx, cmd_name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        except Exception as exc:  # click already handled its own errors and exits
            if not standalone_mode:
                raise
            from optscan.cli.exits import crash

            crash(exc, args)

    def invoke(self, ctx: click.Context) -> Any:
        """A Redis error that escapes a command (Redis full, gone, restarting) ends it
        with one line on stderr saying what it means and what to do, exit 1."""
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
    Exit codes: 0 ok, 1 scan failed, 2 bad usage or config,
                3 market closed (and not --force).
    Quick start, offline:  optscan scan --provider sim
    """
