"""Plugins' commands: the ``register_commands`` hook, called with a group that checks
each command's name. Light (click and pluggy only), for the command line's start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import click
import pluggy

from optscan.hookcalls import collecting, current_plugin

ENTRY_POINT_GROUP = "optscan"
Refuse = Callable[[str, str], None]
"""Called with ``(plugin, error)`` for a command that is refused."""


def add_commands(
    pm: pluggy.PluginManager,
    group: click.Group,
    reserved: Iterable[str] = (),
    refuse: Refuse | None = None,
) -> dict[str, str]:
    """Call ``register_commands`` with a stand-in for ``group``: each plugin's commands
    are added to ``group``, except one named like a ``reserved`` (built-in) command or
    like one another plugin added first, which is refused (``refuse(plugin, error)``).
    Returns ``{command name: plugin}``."""
    taken = set(reserved)
    owners: dict[str, str] = {}

    class Checked(click.Group):
        def add_command(self, cmd: click.Command, name: str | None = None) -> None:
            plugin = current_plugin() or "?"
            name = name or cmd.name or "?"
            if name in taken:
                first = f"from {owners[name]!r}" if name in owners else "a built-in one"
                if refuse is not None:
                    refuse(plugin, f"command {name!r} is already {first}")
                return
            taken.add(name)
            owners[name] = plugin
            group.add_command(cmd, name)

    with collecting():
        pm.hook.register_commands(cli=Checked(name=group.name))
    return owners
