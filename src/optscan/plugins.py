"""The plugin host: builds a pluggy manager, loads plugins, and isolates every call.

Built-in plugins are listed in :data:`DEFAULT_PLUGINS` and registered exactly like
third-party ones; third-party plugins come only from installed packages' entry points in
the ``optscan`` group (never from paths or the config). Each entry point is loaded on its
own inside ``try``: a plugin that fails to import or to register is recorded in
:attr:`PluginHost.failures` and shown by ``optscan plugins``, and the rest work.
``OPTSCAN_STRICT_PLUGINS=1`` (or ``plugins.strict``) makes such a failure fatal.

There is no global manager: every :class:`PluginHost` is independent, so tests build
their own. Every call into plugin code goes through :meth:`PluginHost.call_each` (or
the scan's wrappers), which runs implementations one at a time and names the plugin
that failed.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from optscan import hookspecs
from optscan.errors import ConfigError, PluginError, UsageError
from optscan.protocols import OptionProvider, PluginConfig, ResultSink, StockSource

if TYPE_CHECKING:
    from optscan.config import Settings
    from optscan.events import ScanEvent
    from optscan.protocols import MarketCalendar

ENTRY_POINT_GROUP = "optscan"
DEFAULT_PLUGINS: tuple[str, ...] = (
    "optscan.sources",
    "optscan.providers",
    "optscan.sinks",
    "optscan.calendars",
    "optscan.redis_sink",
)
Family = Literal["providers", "sinks", "sources"]
_BASES: dict[str, type] = {
    "providers": OptionProvider,
    "sinks": ResultSink,
    "sources": StockSource,
}
_HOOKS: dict[str, str] = {
    "providers": "register_option_providers",
    "sinks": "register_result_sinks",
    "sources": "register_stock_sources",
}


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, registered, or that misbehaved."""

    plugin: str
    stage: str
    error: str


@dataclass
class PluginInfo:
    name: str
    version: str | None
    builtin: bool
    hooks: list[str] = field(default_factory=list)


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
        self._registry: dict[str, dict[str, type]] | None = None
        self._owners: dict[tuple[str, str], str] = {}

        for module_name in DEFAULT_PLUGINS:
            module = importlib.import_module(module_name)
            plugin = getattr(module, "plugin", module)
            self._add(plugin, module_name, version=_own_version())
            self.builtin.add(module_name)
        if load_entrypoints:
            self._load_entrypoints()
        for extra in plugins:
            self._add(extra, getattr(extra, "__name__", None) or type(extra).__name__, None)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PluginHost:
        strict = settings.plugins.strict or _strict_from_env()
        return cls(
            disabled=settings.plugins.disabled,
            allow=settings.plugins.allow,
            strict=strict,
            **kwargs,
        )

    # ------------------------------------------------------------------ loading

    def _fail(self, plugin: str, stage: str, exc: BaseException | str) -> None:
        error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        self.failures.append(PluginFailure(plugin, stage, error))
        from optscan.logs import get_logger

        get_logger().warning("plugin_failed", plugin=plugin, stage=stage, error=error)
        if self.strict:
            raise PluginError(plugin, f"{stage} failed: {error}")

    def _add(self, plugin: object, name: str, version: str | None) -> bool:
        if name in self.disabled:
            return False
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except Exception as exc:  # a misspelt hook or a bad hookimpl
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
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

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of a hook on its own; failures are recorded.

        Returns ``(plugin name, result)`` pairs in pluggy's call order. A failing
        implementation is reported with its plugin's name and skipped.
        """
        hook = getattr(self.pm.hook, hook_name)
        results = []
        for impl in reversed(hook.get_hookimpls()):
            args = {k: kwargs[k] for k in impl.argnames}
            try:
                results.append((impl.plugin_name, impl.function(**args)))
            except Exception as exc:
                self._fail(impl.plugin_name, hook_name, exc)
        return results

    def emit(self, event: ScanEvent) -> list[PluginFailure]:
        """Deliver a lifecycle event to every listener; return the listeners that failed."""
        hook = self.pm.hook.optscan_event
        failed = []
        for impl in reversed(hook.get_hookimpls()):
            try:
                impl.function(**{k: event for k in impl.argnames})
            except Exception as exc:
                failure = PluginFailure(impl.plugin_name, "optscan_event", f"{exc!r}")
                failed.append(failure)
                from optscan.logs import get_logger

                get_logger().warning(
                    "event_listener_failed", plugin=impl.plugin_name, error=repr(exc)
                )
        return failed

    def calendar(self, name: str) -> MarketCalendar:
        """The calendar called ``name`` (``firstresult`` over plugins, isolated)."""
        hook = self.pm.hook.market_calendar
        for impl in reversed(hook.get_hookimpls()):
            try:
                answer = impl.function(**{k: name for k in impl.argnames})
            except Exception as exc:
                self._fail(impl.plugin_name, "market_calendar", exc)
                continue
            if answer is not None:
                from optscan.protocols import MarketCalendar

                if not isinstance(answer, MarketCalendar):
                    self._fail(impl.plugin_name, "market_calendar", "returned a non-calendar")
                    continue
                return answer
        raise UsageError(f"unknown market calendar {name!r}")

    # ------------------------------------------------------------------ registries

    def _collect(self) -> dict[str, dict[str, type]]:
        if self._registry is not None:
            return self._registry
        registry: dict[str, dict[str, type]] = {family: {} for family in _BASES}
        self._owners = {}
        for family, hook_name in _HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            # Registration order (built-ins first): the first plugin to claim a name
            # keeps it, and a later claim is reported rather than silently winning.
            for impl in hook.get_hookimpls():
                owner = impl.plugin_name
                self._call_register(impl, family, owner, registry[family])
        self._registry = registry
        return registry

    def _call_register(self, impl: Any, family: str, owner: str, target: dict[str, type]) -> None:
        base = _BASES[family]
        staged: list[type] = []

        def register(cls: type) -> None:
            staged.append(cls)

        try:
            impl.function(**{k: register for k in impl.argnames})
        except Exception as exc:  # keep what it registered before failing
            self._fail(owner, _HOOKS[family], exc)
        for cls in staged:
            name = getattr(cls, "name", None)
            if not (isinstance(cls, type) and issubclass(cls, base)):
                self._fail(owner, _HOOKS[family], f"registered {cls!r}, not a {base.__name__}")
            elif not isinstance(name, str) or not name:
                self._fail(owner, _HOOKS[family], f"{cls.__name__} has no name")
            elif not (isinstance(cls.Config, type) and issubclass(cls.Config, PluginConfig)):
                self._fail(owner, _HOOKS[family], f"{cls.__name__}.Config is not a PluginConfig")
            elif name in target:
                first = self._owners[(family, name)]
                self._fail(owner, _HOOKS[family], f"{family[:-1]} {name!r} already from {first!r}")
            else:
                target[name] = cls
                self._owners[(family, name)] = owner

    def names(self, family: Family) -> list[str]:
        return sorted(self._collect()[family])

    def owner(self, family: Family, name: str) -> str:
        self._collect()
        return self._owners.get((family, name), "?")

    def get_class(self, family: Family, name: str) -> type:
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
            return cls.Config.model_validate(settings.plugin_section(family, name))
        except ValidationError as exc:
            raise ConfigError(
                f"config error: {format_validation_error(exc, f'{family}.{name}')}"
            ) from None

    def instantiate(self, family: Family, name: str, settings: Settings) -> Any:
        cls = self.get_class(family, name)
        config = self.plugin_config(family, name, settings)
        try:
            return cls(config)
        except Exception as exc:
            raise PluginError(self.owner(family, name), f"{cls.__name__}(): {exc}") from exc

    def validate_settings(self, settings: Settings) -> list[str]:
        """Check every plugin section and every enabled name; return warnings.

        Sections for plugins that are not installed are warnings (uninstalling a plugin
        must not break optscan); enabled names that no plugin provides are errors.
        """
        warnings = []
        for family in ("providers", "sinks", "sources"):
            section = getattr(settings, family)
            known = self._collect()[family]
            for name in section:
                if name == "enabled" and family != "providers":
                    continue
                if name in known:
                    self.plugin_config(family, name, settings)  # type: ignore[arg-type]
                else:
                    warnings.append(f"{family}.{name}: no installed {family[:-1]} of that name")
        for family in ("sources", "sinks"):
            for name in settings.enabled(family):  # type: ignore[arg-type]
                self.get_class(family, name)  # type: ignore[arg-type]
        return warnings

    # ------------------------------------------------------------------ reporting

    def describe(self) -> dict[str, Any]:
        """What ``optscan plugins --format json`` prints."""
        registry = self._collect()
        plugins = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            provides = {
                family: sorted(n for (f, n), o in self._owners.items() if f == family and o == name)
                for family in registry
            }
            plugins.append(
                {
                    "name": name,
                    "version": self.versions.get(name),
                    "builtin": name in self.builtin,
                    "hooks": hooks,
                    **provides,
                }
            )
        return {
            "plugins": sorted(plugins, key=lambda p: (not p["builtin"], p["name"])),
            "failures": [f.__dict__ for f in self.failures],
        }


def _own_version() -> str:
    from optscan import __version__

    return __version__


RegisterFn = Callable[[type], None]
