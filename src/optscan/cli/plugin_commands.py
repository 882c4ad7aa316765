"""Plugins' own commands (the ``register_commands`` hook), added to the group lazily.

:class:`~optscan.cli.app.OptscanGroup` calls :func:`add_plugin_commands` only when it
needs a name it does not hold: ``optscan --help`` (which lists every command),
``optscan value`` (a plugin's command) or a misspelt command; ``optscan scan`` never
loads plugins for its name. Only the entry-point plugins are loaded here (the built-ins
add no command), through the same guarded views as a scan's, and ``[plugins]``
(``disabled``, ``allow``, the top-level ``disabled_plugins``) is read raw from the
config found the usual way: no pydantic model is built, so ``optscan --help`` stays
fast with plugins installed. A plugin that fails to load or to add its commands is left
out here and reported by ``optscan plugins``; a config that does not load is reported
by the command that reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import click

    from optscan.cli.env import CommonOptions


def add_plugin_commands(group: click.Group, common: CommonOptions | None) -> dict[str, str]:
    """Add every enabled plugin's commands to ``group`` (never replacing one it has);
    returns ``{command name: plugin}``."""
    from importlib.metadata import entry_points

    import pluggy

    from optscan import hookspecs
    from optscan.hookcalls import Guards
    from optscan.plugin_commands import ENTRY_POINT_GROUP, add_commands

    disabled, allow = _choices(common)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    guards = Guards(lambda failure: None)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in disabled or (allow and ep.name not in allow) or pm.has_plugin(ep.name):
            continue
        try:
            pm.register(guards.view(pm, ep.load(), ep.name), name=ep.name)
            pm.check_pending()
        except Exception:  # optscan plugins reports it
            continue
    return add_commands(pm, group, reserved=set(group.commands))


def _choices(common: CommonOptions | None) -> tuple[set[str], set[str]]:
    """``(disabled, allow)`` from the raw config; none when it does not load."""
    from optscan.config_sources import parse_set, raw_config
    from optscan.errors import ConfigError

    try:
        overrides = parse_set(common.set_pairs) if common is not None else {}
        data = raw_config(common.config_path if common else None, overrides)
    except ConfigError:
        return set(), set()
    plugins: Any = data.get("plugins") or {}
    plugins = plugins if isinstance(plugins, dict) else {}
    disabled = [*_names(plugins.get("disabled")), *_names(data.get("disabled_plugins"))]
    return set(disabled), set(_names(plugins.get("allow")))


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
