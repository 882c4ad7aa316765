"""Every hook call goes through pluggy, each implementation isolated (optscan.hookcalls).

pluggy's tracing and call monitoring see the calls the plugin host makes, ``wrapper=True``
and old-style ``hookwrapper=True`` implementations run around them, and one raising
implementation is recorded with its plugin's name while the others still run.
"""

from __future__ import annotations

from typing import Any

import pytest

from optscan.errors import PluginError, UsageError
from optscan.events import ScanSkipped
from optscan.hookcalls import GuardedPlugin
from optscan.hookspecs import hookimpl
from optscan.models import MarketStatus, ScanRequest
from optscan.plugins import PluginHost
from optscan.protocols import OptionProvider

from .helpers import OPEN_INSTANT, Recorder, make_settings


def _event(scan_id: str = "s1") -> ScanSkipped:
    status = MarketStatus(calendar="x", at=OPEN_INSTANT, is_open=False)
    return ScanSkipped(scan_id=scan_id, reason="closed", market=status)


def _host(*plugins: object, strict: bool = False) -> PluginHost:
    return PluginHost(load_entrypoints=False, plugins=plugins, strict=strict)


class Monitor:
    """pluggy's call monitoring: the hooks called, and who implemented them."""

    def __init__(self, host: PluginHost) -> None:
        self.calls: list[str] = []
        self.impls: dict[str, list[Any]] = {}
        self.results: dict[str, list[Any]] = {}
        self.undo = host.pm.add_hookcall_monitoring(self._before, self._after)

    def _before(self, hook_name: str, impls: Any, kwargs: Any) -> None:
        self.calls.append(hook_name)
        self.impls[hook_name] = list(impls)

    def _after(self, outcome: Any, hook_name: str, impls: Any, kwargs: Any) -> None:
        self.results.setdefault(hook_name, []).append(outcome.get_result())


class Listener:
    def __init__(self, name: str, log: list[str]) -> None:
        self.__name__ = name  # the host names a plugin object by its __name__
        self.log = log

    @hookimpl
    def optscan_event(self, event: Any) -> None:
        self.log.append(self.__name__)


class Raising:
    def __init__(self, name: str) -> None:
        self.__name__ = name

    @hookimpl
    def optscan_event(self, event: Any) -> None:
        raise ValueError("listener bug")


# --------------------------------------------------------------------------- tracing


def test_call_monitoring_sees_every_kind_of_hook_call():
    host = _host()
    monitor = Monitor(host)
    host.names("providers")  # the four collecting register_* hooks
    host.calendar("nyse")
    host.emit(_event())
    assert sorted(monitor.calls) == sorted(
        [
            "register_stock_sources",
            "register_option_providers",
            "register_result_sinks",
            "register_enrichers",
            "market_calendar",
            "optscan_event",
        ]
    )
    # pluggy calls the guarded views, which carry the plugins' own names
    impls = monitor.impls["register_option_providers"]
    assert impls and all(isinstance(i.plugin, GuardedPlugin) for i in impls)
    assert "optscan.providers" in {i.plugin_name for i in impls}
    assert monitor.results["market_calendar"][0].name == "nyse"
    monitor.undo()
    host.emit(_event())
    assert monitor.calls.count("optscan_event") == 1  # undone


def test_enable_tracing_writes_every_hook_call_of_a_scan():
    """A whole embedded scan: pluggy's own tracing sees each hook call the scan makes,
    and one optscan_event call per event a listener received."""
    recorder = Recorder()
    host = _host(recorder)
    lines: list[str] = []
    host.pm.trace.root.setwriter(lines.append)
    undo = host.pm.enable_tracing()
    monitor = Monitor(host)
    try:
        request = ScanRequest(provider="sim", symbols=["S001", "S002"], as_of=OPEN_INSTANT)
        from optscan.scan import perform_scan

        result = perform_scan(request, host, settings=make_settings())
    finally:
        undo()
        monitor.undo()
    assert result.success
    traced = "".join(lines)
    for hook in (
        "register_stock_sources",
        "register_option_providers",
        "register_result_sinks",
        "market_calendar",
        "optscan_event",
    ):
        assert f"{hook} [hook]" in traced, hook
        assert hook in monitor.calls
    assert monitor.calls.count("optscan_event") == len(recorder.events) == 4  # 1 + 2 + 1
    assert traced.count("optscan_event [hook]") == len(recorder.events)
    assert "finish market_calendar -->" in traced


# --------------------------------------------------------------------------- wrappers


class NewStyleWrapper:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @hookimpl(wrapper=True)
    def optscan_event(self, event: Any) -> Any:
        self.seen.append(("before", event.scan_id))
        result = yield
        self.seen.append(("after", result))
        return result

    @hookimpl(wrapper=True)
    def register_option_providers(self, register: Any) -> Any:
        result = yield
        self.seen.append(("providers", result))
        return [*result, "added by the wrapper"]


class OldStyleWrapper:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @hookimpl(hookwrapper=True)
    def optscan_event(self, event: Any) -> Any:
        self.seen.append(("before", event.scan_id))
        outcome = yield
        self.seen.append(("after", outcome.get_result()))

    @hookimpl(hookwrapper=True)
    def register_option_providers(self, register: Any) -> Any:
        outcome = yield
        self.seen.append(("providers", outcome.get_result()))


class Answers:
    """Implementations that answer something, so a wrapper has a result to see."""

    @hookimpl
    def optscan_event(self, event: Any) -> str:
        return f"seen {event.scan_id}"

    @hookimpl
    def register_option_providers(self, register: Any) -> str:
        return "registered nothing"


@pytest.mark.parametrize("wrapper_class", [NewStyleWrapper, OldStyleWrapper])
def test_wrappers_run_around_the_guarded_implementations(wrapper_class):
    wrapper = wrapper_class()
    host = _host(Answers(), wrapper)
    called = host.call("optscan_event", event=_event("s7"))
    assert called.failures == []
    assert wrapper.seen == [("before", "s7"), ("after", ["seen s7"])]
    assert called.value == ["seen s7"]
    assert "sim" in host.names("providers")  # the built-ins registered through the wrapper
    assert ("providers", ["registered nothing"]) in wrapper.seen
    assert host.failures == []


def test_a_new_style_wrapper_can_change_the_result():
    host = _host(Answers(), NewStyleWrapper())
    answer = host.call("register_option_providers", register=lambda cls: None).value
    assert answer == ["registered nothing", "added by the wrapper"]


@pytest.mark.parametrize("style", ["wrapper", "hookwrapper"])
def test_a_wrapper_failing_before_its_yield_is_passed_through(style):
    log: list[str] = []

    class FailsEarly:
        @hookimpl(**{style: True})
        def optscan_event(self, event: Any) -> Any:
            raise RuntimeError("wrapper broke early")
            yield  # a generator all the same

    host = _host(Listener("first", log), FailsEarly(), Listener("second", log))
    failures = host.emit(_event())
    assert sorted(log) == ["first", "second"]  # the call went on without the wrapper
    assert [(f.plugin, f.stage) for f in failures] == [("FailsEarly", "optscan_event")]
    assert "wrapper broke early" in failures[0].error
    assert failures == [f for f in host.failures if f.stage == "optscan_event"]


@pytest.mark.parametrize("style", ["wrapper", "hookwrapper"])
def test_a_wrapper_failing_after_its_yield_keeps_the_inner_result(style):
    class FailsLate:
        @hookimpl(**{style: True})
        def optscan_event(self, event: Any) -> Any:
            yield
            raise RuntimeError("wrapper broke late")

    host = _host(Answers(), FailsLate())
    called = host.call("optscan_event", event=_event("s9"))
    assert called.value == ["seen s9"]
    assert [(f.plugin, f.stage) for f in called.failures] == [("FailsLate", "optscan_event")]
    assert "wrapper broke late" in called.failures[0].error


# --------------------------------------------------------------------------- isolation


def test_one_raising_listener_among_three_costs_only_itself():
    log: list[str] = []
    host = _host(Listener("alpha", log), Raising("beta"), Listener("gamma", log))
    failures = host.emit(_event())
    assert sorted(log) == ["alpha", "gamma"]
    assert len(failures) == 1
    failure = failures[0]
    assert (failure.plugin, failure.stage) == ("beta", "optscan_event")
    assert "ValueError" in failure.error and "listener bug" in failure.error
    assert failure in host.failures
    # the next call is isolated the same way, and reports only its own failures
    assert [f.plugin for f in host.emit(_event("s2"))] == ["beta"]
    assert sorted(log) == ["alpha", "alpha", "gamma", "gamma"]


def test_one_raising_register_hook_among_three_costs_only_itself():
    def provider(provider_name: str) -> type:
        return type(f"P_{provider_name}", (OptionProvider,), {"name": provider_name})

    class Registers:
        def __init__(self, name: str, provider_name: str) -> None:
            self.__name__ = name
            self.provider_name = provider_name

        @hookimpl
        def register_option_providers(self, register: Any) -> None:
            register(provider(self.provider_name))

    class Breaks:
        __name__ = "breaks"

        @hookimpl
        def register_option_providers(self, register: Any) -> None:
            raise KeyError("no such thing")

    host = _host(Registers("one", "p-one"), Breaks(), Registers("three", "p-three"))
    assert {"p-one", "p-three", "sim"} <= set(host.names("providers"))
    assert host.owner("providers", "p-one") == "one"  # register knows whose class it got
    assert host.owner("providers", "p-three") == "three"
    assert [(f.plugin, f.stage) for f in host.failures] == [("breaks", "register_option_providers")]


def test_the_first_registered_plugin_keeps_a_name():
    """pluggy calls the newest plugin first; the first *registered* claim wins."""

    def provider(label: str) -> type:
        return type(f"Dup{label}", (OptionProvider,), {"name": "dup", "label": label})

    class Claims:
        def __init__(self, name: str) -> None:
            self.__name__ = name

        @hookimpl
        def register_option_providers(self, register: Any) -> None:
            register(provider(self.__name__))

    host = _host(Claims("early"), Claims("late"))
    assert host.get_class("providers", "dup").label == "early"
    assert host.owner("providers", "dup") == "early"
    [failure] = host.failures
    assert failure.plugin == "late" and "already from 'early'" in failure.error


def test_strict_mode_raises_plugin_error_naming_the_plugin_and_hook():
    log: list[str] = []
    host = _host(Listener("alpha", log), Raising("beta"), strict=True)
    with pytest.raises(PluginError, match=r"plugin 'beta': optscan_event failed: .*listener bug"):
        host.emit(_event())
    assert [f.plugin for f in host.failures] == ["beta"]  # recorded as well


def test_a_non_calendar_answer_is_skipped_for_the_next_implementation():
    class Wrong:
        @hookimpl(tryfirst=True)
        def market_calendar(self, name: str) -> Any:
            return "a string, not a calendar" if name in ("nyse", "moon") else None

    host = _host(Wrong())
    assert host.calendar("nyse").name == "nyse"  # the built-in answered next
    [failure] = host.failures
    assert (failure.plugin, failure.stage) == ("Wrong", "market_calendar")
    assert "returned str, not a MarketCalendar" in failure.error
    with pytest.raises(UsageError, match="unknown market calendar 'moon'"):
        host.calendar("moon")  # nobody else answers: refused, not returned
    with pytest.raises(PluginError, match="Wrong"):
        _host(Wrong(), strict=True).calendar("nyse")


def test_a_non_generator_wrapper_is_refused_at_registration_and_reported():
    log: list[str] = []

    class NotAGenerator:
        @hookimpl(wrapper=True)
        def optscan_event(self, event: Any) -> None:
            log.append("NotAGenerator")

        @hookimpl
        def register_option_providers(self, register: Any) -> None:
            log.append("NotAGenerator registers")

    host = _host(NotAGenerator(), Listener("fine", log))
    [failure] = host.failures
    assert (failure.plugin, failure.stage) == ("NotAGenerator", "register")
    assert "generator" in failure.error
    assert not host.pm.has_plugin("NotAGenerator")  # none of its hooks is registered
    assert host.emit(_event()) == []
    assert "sim" in host.names("providers")
    assert log == ["fine"]
    assert "NotAGenerator" in [f["plugin"] for f in host.describe()["failures"]]
    with pytest.raises(PluginError, match="NotAGenerator"):
        _host(NotAGenerator(), strict=True)
