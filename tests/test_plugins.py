"""The plugin host: built-ins like third-party plugins, isolation, failures reported."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import EntryPoint

import pytest

from optscan.errors import PluginError, UsageError
from optscan.hookspecs import hookimpl
from optscan.plugins import PluginHost
from optscan.protocols import OptionProvider, ResultSink

from . import helpers


class FakeDist:
    version = "9.9.9"


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, *eps: EntryPoint) -> None:
    import importlib.metadata

    def entry_points(group: str | None = None, **_kw):
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_builtins_are_registered_like_plugins(host: PluginHost):
    assert {"sim", "yfinance"} <= set(host.names("providers"))
    assert {"console", "json", "csv"} <= set(host.names("sinks"))
    assert {"watchlist", "file"} <= set(host.names("sources"))
    for name in ("nyse", "weekdays", "always-open"):
        assert host.calendar(name).name == name
    described = host.describe()
    names = {p["name"] for p in described["plugins"]}
    assert {"optscan.providers", "optscan.sinks", "optscan.sources", "optscan.calendars"} <= names
    providers = next(p for p in described["plugins"] if p["name"] == "optscan.providers")
    assert providers["hooks"] == ["register_option_providers"]
    assert providers["providers"] == ["sim", "yfinance"]
    assert described["failures"] == []


def test_unknown_names_list_the_available(host: PluginHost):
    with pytest.raises(UsageError, match=r"unknown provider 'nope'; available: .*sim"):
        host.get_class("providers", "nope")
    with pytest.raises(UsageError, match="unknown market calendar"):
        host.calendar("moon")


def test_entry_point_that_fails_to_import_is_reported(monkeypatch: pytest.MonkeyPatch):
    _fake_entry_points(
        monkeypatch,
        EntryPoint("broken", "optscan_no_such_module_xyz", "optscan"),
        EntryPoint("good", "tests.test_plugins:GoodPlugin", "optscan"),
    )
    host = PluginHost()
    assert [f.plugin for f in host.failures] == ["broken"]
    assert host.failures[0].stage == "import"
    assert "ModuleNotFoundError" in host.failures[0].error
    assert "good-sink" in host.names("sinks")  # the other plugin works
    # strict mode makes it fatal
    monkeypatch.setenv("OPTSCAN_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken"):
        PluginHost()


def test_disabled_and_allow_lists(monkeypatch: pytest.MonkeyPatch):
    _fake_entry_points(monkeypatch, EntryPoint("good", "tests.test_plugins:GoodPlugin", "optscan"))
    assert "good-sink" not in PluginHost(disabled=["good"]).names("sinks")
    assert "good-sink" not in PluginHost(allow=["other"]).names("sinks")
    assert "good-sink" in PluginHost(allow=["good"]).names("sinks")


class _GoodSink(ResultSink):
    name = "good-sink"

    def publish(self, result) -> None:
        pass


class GoodPlugin:
    @staticmethod
    @hookimpl
    def register_result_sinks(register):
        register(_GoodSink)


def test_misspelt_hook_is_rejected_not_fatal():
    class Typo:
        @hookimpl
        def register_option_provider(self, register):  # missing 's'
            pass

    host = PluginHost(load_entrypoints=False, plugins=[Typo()])
    assert host.failures and host.failures[0].stage == "register"
    assert "sim" in host.names("providers")


def test_registering_garbage_or_duplicates_is_reported():
    class NotAProvider:
        name = "junk"

    class DuplicateSim(OptionProvider):
        name = "sim"

    class Bad:
        @hookimpl
        def register_option_providers(self, register):
            register(NotAProvider)
            register(DuplicateSim)

    class Raises:
        @hookimpl
        def register_result_sinks(self, register):
            raise RuntimeError("boom")

    host = PluginHost(load_entrypoints=False, plugins=[Bad(), Raises()])
    assert "junk" not in host.names("providers")
    errors = " | ".join(f.error for f in host.failures)
    assert "not a OptionProvider" in errors
    assert "provider 'sim' already from 'optscan.providers'" in errors
    assert "RuntimeError: boom" in errors
    assert {f.plugin for f in host.failures} == {"Bad", "Raises"}
    assert "console" in host.names("sinks")  # other sink plugins unaffected


def test_a_plugin_calendar_replaces_the_builtin():
    from optscan.models import MarketStatus

    class MoonCalendar:
        name = "nyse"

        def status(self, at: dt.datetime) -> MarketStatus:
            return MarketStatus(calendar="moon", at=at, is_open=False)

        def is_session(self, day: dt.date) -> bool:
            return False

    class Plugin:
        @hookimpl(tryfirst=True)
        def market_calendar(self, name):
            return MoonCalendar() if name == "nyse" else None

    host = PluginHost(load_entrypoints=False, plugins=[Plugin()])
    assert isinstance(host.calendar("nyse"), MoonCalendar)
    assert host.calendar("weekdays").name == "weekdays"


def test_event_listener_that_raises_is_isolated():
    from optscan.events import ScanSkipped
    from optscan.models import MarketStatus

    seen = []

    class Boom:
        @hookimpl
        def optscan_event(self, event):
            raise ValueError("listener bug")

    class Ok:
        @hookimpl
        def optscan_event(self, event):
            seen.append(event.type)

    host = PluginHost(load_entrypoints=False, plugins=[Boom(), Ok()])
    status = MarketStatus(calendar="x", at=helpers.OPEN_INSTANT, is_open=False)
    failures = host.emit(ScanSkipped(scan_id="s1", reason="closed", market=status))
    assert seen == ["scan_skipped"]
    assert [f.plugin for f in failures] == ["Boom"]
