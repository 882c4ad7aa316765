"""The four common options (``--config``, ``--set``, ``--log-format``, ``--log-level``)
and the :class:`Env` every command receives.

The options are accepted on the group and on every command (``optscan --set a=1 scan``
and ``optscan scan --set a=1`` mean the same). Each value is stored in click's
``ctx.obj`` (one :class:`CommonOptions` shared by the group's and the command's
contexts: a command's value wins, ``--set`` pairs add up), and :func:`with_env` hands
the command an :class:`Env` built from it: the settings loaded (a bad key exits 2
naming it) and logging configured, before the command's body runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from optscan.config import Settings
    from optscan.plugins import PluginHost


@dataclass
class CommonOptions:
    """The common options' values, gathered from the group and the command."""

    config_path: str | None = None
    set_pairs: list[str] = field(default_factory=list)
    log_format: str | None = None
    log_level: str | None = None


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        common = ctx.ensure_object(CommonOptions)
        if name == "set_pairs":
            common.set_pairs.extend(value or ())
        elif value is not None:
            setattr(common, name, value)
        return value

    return callback


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the four common options; their values go to ``ctx.obj``, not to ``fn``."""
    options = [
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False),
            default=None,
            expose_value=False,
            callback=_store("config_path"),
            help="Config file (default: $OPTSCAN_CONFIG, ./config.toml, then the user config dir).",
        ),
        click.option(
            "--set",
            "set_pairs",
            multiple=True,
            metavar="KEY=VALUE",
            expose_value=False,
            callback=_store("set_pairs"),
            help="Override any config key, e.g. --set scan.concurrency=4 (values are read "
            "as TOML).",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["console", "json"]),
            default=None,
            expose_value=False,
            callback=_store("log_format"),
            help="Log format on stderr: readable or JSON lines.",
        ),
        click.option(
            "--log-level",
            type=click.Choice(["debug", "info", "warning", "error"]),
            default=None,
            expose_value=False,
            callback=_store("log_level"),
            help="Log level (stderr).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


class Env:
    """Settings and logging resolved from the common options."""

    def __init__(self, common: CommonOptions) -> None:
        from optscan.cli.exits import fail
        from optscan.config import load_settings, parse_set
        from optscan.errors import ConfigError
        from optscan.logs import configure_logging

        try:
            self.overrides: dict[str, Any] = parse_set(common.set_pairs)
            self.settings: Settings = load_settings(common.config_path, self.overrides)
        except ConfigError as exc:
            configure_logging()
            fail(str(exc))
        self.log_level: str = common.log_level or self.settings.logging.level
        self.log_format: str = common.log_format or self.settings.logging.format
        chosen = common.log_level is not None or "level" in self.settings.logging.model_fields_set
        # a long-running process (worker, scheduler) says what it does unless told otherwise
        self.service_log_level: str = self.log_level if chosen else "info"
        configure_logging(self.log_level, self.log_format)
        self.config_path = common.config_path

    def for_service(self) -> None:
        """Log at ``service_log_level`` (info unless a level was chosen): a worker or a
        scheduler prints each job, its start and its stop."""
        from optscan.logs import configure_logging

        configure_logging(self.service_log_level, self.log_format)

    def host(self, **kwargs: Any) -> PluginHost:
        """A plugin host for these settings (a fatal plugin failure exits 2)."""
        from optscan.cli.exits import fail
        from optscan.errors import PluginError
        from optscan.plugins import PluginHost

        try:
            return PluginHost.from_settings(self.settings, **kwargs)
        except PluginError as exc:
            fail(str(exc))


def with_env(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The common options on a command, which receives them resolved as ``env``."""

    @functools.wraps(fn)
    def command(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        env = Env(ctx.ensure_object(CommonOptions))
        return fn(*args, env=env, **kwargs)

    return common_options(command)
