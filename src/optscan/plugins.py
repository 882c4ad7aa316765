"""The plugin host: builds a pluggy manager, loads plugins, and calls hooks in isolation.

Built-in plugins are listed in :data:`optscan.default_plugins.DEFAULT_PLUGINS` and
registered exactly like third-party ones; third-party plugins come only from installed
packages' entry points in the ``optscan`` group (never from paths or the config). Each
entry point is loaded on its own inside ``try``: a plugin that fails to import or to
register is recorded in :attr:`PluginHost.failures` and shown by ``optscan plugins``,
and the rest work. ``OPTSCAN_STRICT_PLUGINS=1`` (or ``plugins.strict``) makes such a
failure fatal.

There is no global manager: every :class:`PluginHost` is independent, so tests build
their own. Every hook call goes through :meth:`PluginHost.call`, which calls pluggy's
hook (tracing and ``wrapper=True`` implementations work) on guarded views of the
plugins (:mod:`optscan.hookcalls`), so one failing implementation is recorded with its
plugin's name and the others still run.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from optscan import hookspecs
from optscan.default_plugins import DEFAULT_PLUGINS
from optscan.errors import ConfigError, PluginError, UsageError
from optscan.hookcalls import Guards, PluginFailure, collecting, current_plugin
from optscan.plugin_commands import ENTRY_POINT_GROUP
from optscan.protocols import (
    Enricher,
    MarketCalendar,
    OptionProvider,
    PluginConfig,
    ResultSink,
    StockSource,
)
from optscan.secrets import remember, scrub_exception

if TYPE_CHECKING:
    import click

    from optscan.config import Settings
    from optscan.events import ScanEvent

__all__ = ["ENTRY_POINT_GROUP", "Family", "HookResult", "PluginFailure", "PluginHost"]

Family = Literal["providers", "sinks", "sources", "enrichers"]
_BASES: dict[str, type] = {
    "providers": OptionProvider,
    "sinks": ResultSink,
    "sources": StockSource,
    "enrichers": Enricher,
}
_HOOKS: dict[str, str] = {
    "providers": "register_option_providers",
    "sinks": "register_result_sinks",
    "sources": "register_stock_sources",
    "enrichers": "register_enrichers",
}


@dataclass(frozen=True)
class HookResult:
    """What :meth:`PluginHost.call` returns: pluggy's answer and the plugins that failed."""

    value: Any
    failures: list[PluginFailure]


def _check_calendar(answer: Any) -> str | None:
    if isinstance(answer, MarketCalendar):
        return None
    return f"returned {type(answer).__name__}, not a MarketCalendar"


def _strict_from_env() -> bool:
    return os.environ.get("OPTSCAN_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes")


class PluginHost:
    """One plugin manager plus the registries its collecting hooks filled."""

    def __init__(
        self,
        *,
        disabled: Iterable[str] = (),
        allow: Iterable[str] = (),
        strict: bool | None = None,
        load_entrypoints: bool = True,
        plugins: Iterable[object] = (),
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = _strict_from_env() if strict is None else strict
        self.disabled = set(disabled)
        self.allow = set(allow)
        self.failures: list[PluginFailure] = []
        self.versions: dict[str, str | None] = {}
        self.builtin: set[str] = set()
        self._failures_lock = threading.Lock()
        self._guards = Guards(
            self._record, {"market_calendar": _check_calendar}, strict=self.strict
        )
        self._registry: dict[str, dict[str, type]] | None = None
        self._owners: dict[tuple[str, str], str] = {}

        for name, module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            self._add(getattr(module, "plugin", module), name, version=_own_version())
            self.builtin.add(name)
        if load_entrypoints:
            self._load_entrypoints()
        for extra in plugins:
            self._add(extra, getattr(extra, "__name__", None) or type(extra).__name__, None)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PluginHost:
        """A host honouring ``[plugins]`` (disabled, allow, strict)."""
        strict = settings.plugins.strict or _strict_from_env()
        return cls(
            disabled=settings.plugins.disabled,
            allow=settings.plugins.allow,
            strict=strict,
            **kwargs,
        )

    # ------------------------------------------------------------------ loading

    def _record(self, failure: PluginFailure) -> None:
        with self._failures_lock:
            self.failures.append(failure)
        from optscan.logs import get_logger

        get_logger().warning(
            "plugin_failed", plugin=failure.plugin, stage=failure.stage, error=failure.error
        )

    def _fail(self, plugin: str, stage: str, exc: BaseException | str) -> None:
        error = exc if isinstance(exc, str) else scrub_exception(exc)
        self._record(PluginFailure(plugin, stage, error))
        if self.strict:
            raise PluginError(plugin, f"{stage} failed: {error}")

    def _add(self, plugin: object, name: str, version: str | None) -> bool:
        if name in self.disabled:
            return False
        view = self._guards.view(self.pm, plugin, name)
        try:
            self.pm.register(view, name=name)
            self.pm.check_pending()
        except Exception as exc:  # a misspelt hook or a bad hookimpl
            if self.pm.is_registered(view):
                self.pm.unregister(view)
            self._fail(name, "register", exc)
            return False
        self.versions[name] = version
        self._registry = None
        return True

    def _load_entrypoints(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self.disabled or (self.allow and ep.name not in self.allow):
                continue
            if self.pm.has_plugin(ep.name):
                self._fail(ep.name, "load", "a plugin of that name is already registered")
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(ep.name, "import", exc)
                continue
            version = ep.dist.version if ep.dist is not None else None
            self._add(plugin, ep.name, version)

    # ------------------------------------------------------------------ calling

    def call(self, hook_name: str, **kwargs: Any) -> HookResult:
        """Call a hook through pluggy, every implementation isolated (module docstring).

        Returns pluggy's answer (a list, or the first non-``None`` answer of a
        ``firstresult`` hook) and the failures of this call, which are also in
        :attr:`failures`. In strict mode a failure raises :class:`PluginError`.
        """
        with collecting() as failures:
            value = getattr(self.pm.hook, hook_name)(**kwargs)
        return HookResult(value, failures)

    def emit(self, event: ScanEvent) -> list[PluginFailure]:
        """Deliver a lifecycle event to every listener; return the listeners that failed."""
        return self.call("optscan_event", event=event).failures

    def calendar(self, name: str) -> MarketCalendar:
        """The calendar called ``name``: the first plugin that answers for it."""
        answer = self.call("market_calendar", name=name).value
        if answer is None:
            raise UsageError(f"unknown market calendar {name!r}")
        calendar: MarketCalendar = answer
        return calendar

    # ------------------------------------------------------------------ registries

    def _collect(self) -> dict[str, dict[str, type]]:
        if self._registry is not None:
            return self._registry
        registry: dict[str, dict[str, type]] = {family: {} for family in _BASES}
        self._owners = {}
        order = {name: i for i, (name, _) in enumerate(self.pm.list_name_plugin())}
        for family, hook_name in _HOOKS.items():
            claims: list[tuple[str, type]] = []

            def register(cls: type, claims: list[tuple[str, type]] = claims) -> None:
                claims.append((current_plugin() or "?", cls))

            self.call(hook_name, register=register)
            # pluggy calls the newest plugin first; the first *registered* plugin to
            # claim a name keeps it (built-ins first), and a later claim is reported.
            claims.sort(key=lambda claim: order.get(claim[0], len(order)))
            for owner, cls in claims:
                self._register(family, owner, cls, registry[family])
        self._registry = registry
        return registry

    def _register(self, family: str, owner: str, cls: type, target: dict[str, type]) -> None:
        """Check one class a plugin registered and file it under its name."""
        base = _BASES[family]
        hook = _HOOKS[family]
        name = getattr(cls, "name", None)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            self._fail(owner, hook, f"registered {cls!r}, not a {base.__name__}")
        elif not isinstance(name, str) or not name:
            self._fail(owner, hook, f"{cls.__name__} has no name")
        elif not (isinstance(cls.Config, type) and issubclass(cls.Config, PluginConfig)):
            self._fail(owner, hook, f"{cls.__name__}.Config is not a PluginConfig")
        elif name in target:
            first = self._owners[(family, name)]
            self._fail(owner, hook, f"{family[:-1]} {name!r} already from {first!r}")
        else:
            target[name] = cls
            self._owners[(family, name)] = owner

    def names(self, family: Family) -> list[str]:
        """The registered names of a family, sorted."""
        return sorted(self._collect()[family])

    def owner(self, family: Family, name: str) -> str:
        """The plugin that registered ``name`` in ``family`` (``?`` if none)."""
        self._collect()
        return self._owners.get((family, name), "?")

    def get_class(self, family: Family, name: str) -> type:
        """The registered class; :class:`UsageError` listing the names if unknown."""
        registry = self._collect()[family]
        if name not in registry:
            available = ", ".join(sorted(registry)) or "none"
            raise UsageError(f"unknown {family[:-1]} {name!r}; available: {available}")
        return registry[name]

    def plugin_config(self, family: Family, name: str, settings: Settings) -> PluginConfig:
        """Validate ``[<family>.<name>]`` with the plugin's own ``Config`` model."""
        from pydantic import ValidationError

        from optscan.config import format_validation_error

        cls = self.get_class(family, name)
        try:
            config: PluginConfig = cls.Config.model_validate(settings.plugin_section(family, name))
        except ValidationError as exc:
            raise ConfigError(
                f"config error: {format_validation_error(exc, f'{family}.{name}')}"
            ) from None
        remember(config)
        return config

    def instantiate(self, family: Family, name: str, settings: Settings) -> Any:
        """The plugin's class built with its validated config."""
        cls = self.get_class(family, name)
        config = self.plugin_config(family, name, settings)
        try:
            return cls(config)
        except Exception as exc:
            raise PluginError(
                self.owner(family, name), f"{cls.__name__}(): {scrub_exception(exc)}"
            ) from exc

    def validate_settings(self, settings: Settings) -> list[str]:
        """Check every plugin section and every enabled name; return warnings.

        Sections for plugins that are not installed are warnings (uninstalling a plugin
        must not break optscan); enabled names that no plugin provides are errors.
        """
        warnings = []
        families: tuple[Family, ...] = ("providers", "sinks", "sources", "enrichers")
        for family in families:
            section = getattr(settings, family)
            known = self._collect()[family]
            for name in section:
                if name == "enabled" and family != "providers":
                    continue
                if name in known:
                    self.plugin_config(family, name, settings)
                else:
                    warnings.append(f"{family}.{name}: no installed {family[:-1]} of that name")
        for name in settings.enabled("sources"):
            self.get_class("sources", name)
        for name in settings.enabled("sinks"):
            self.get_class("sinks", name)
        known = self._collect()["enrichers"]
        for name in settings.enabled("enrichers"):
            if name not in known:
                warnings.append(f"enrichers.enabled: no installed enricher {name!r}")
        return warnings

    def enricher_names(self, settings: Settings) -> list[str]:
        """The enrichers a scan runs: those of ``enrichers.enabled`` that are installed
        (one that is not is only a warning of :meth:`validate_settings`, so
        uninstalling a plugin never breaks a config)."""
        known = self._collect()["enrichers"]
        return [name for name in settings.enabled("enrichers") if name in known]

    # ------------------------------------------------------------------ commands

    def add_commands(self, group: click.Group, reserved: Iterable[str] = ()) -> dict[str, str]:
        """Call ``register_commands`` with ``group`` (:func:`optscan.plugin_commands.add_commands`);
        a refused command is recorded as its plugin's failure."""
        from optscan.plugin_commands import add_commands

        def refuse(plugin: str, error: str) -> None:
            self._fail(plugin, "register_commands", error)

        return add_commands(self.pm, group, reserved, refuse)

    # ------------------------------------------------------------------ reporting

    def describe(self, reserved: Iterable[str] = ()) -> dict[str, Any]:
        """What ``optscan plugins --format json`` prints; ``reserved`` names the
        built-in commands a plugin's command may not take."""
        import click

        registry = self._collect()
        commands = self.add_commands(click.Group("optscan"), reserved)
        plugins = []
        for name, view in self.pm.list_name_plugin():
            hooks = sorted(h.name for h in self.pm.get_hookcallers(view) or [])
            provides = {
                family: sorted(n for (f, n), o in self._owners.items() if f == family and o == name)
                for family in registry
            }
            # calendars answer a firstresult hook, so they are not registered: a plugin
            # names the ones it serves in an optional ``calendar_names`` attribute
            names = getattr(getattr(view, "plugin", view), "calendar_names", ())
            provides["commands"] = sorted(n for n, o in commands.items() if o == name)
            plugins.append(
                {
                    "name": name,
                    "version": self.versions.get(name),
                    "builtin": name in self.builtin,
                    "hooks": hooks,
                    **provides,
                    "calendars": sorted(str(n) for n in names),
                }
            )
        return {
            "plugins": sorted(plugins, key=lambda p: (not p["builtin"], p["name"])),
            "failures": [f.__dict__ for f in self.failures],
        }


def _own_version() -> str:
    from optscan import __version__

    return __version__
