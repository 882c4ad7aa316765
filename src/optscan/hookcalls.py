"""Isolated hook calls that still go through pluggy.

pluggy isolates nothing: one raising implementation stops the whole hook call, and the
other plugins never run. Walking ``get_hookimpls()`` by hand isolates them but bypasses
pluggy: its tracing (``PluginManager.enable_tracing``, ``add_hookcall_monitoring``) no
longer sees the calls and ``wrapper=True`` implementations never run.

So the plugin host registers each plugin through a *guarded view* (:func:`guarded_view`):
an object holding, for each of the plugin's hook implementations, a guard with the same
name, argument names and ``hookimpl`` options. pluggy calls the guards like any
implementation, in its own order, with its own wrappers and tracing; a guard runs the
real implementation and, when it raises (or returns something the hook's check
refuses), records a :class:`PluginFailure` naming the plugin and answers ``None``, which
pluggy skips. Wrappers are guarded too: a wrapper that fails before its ``yield`` is
passed through, one that fails after it keeps the inner result.

While a guard runs, :func:`current_plugin` names its plugin, so a ``register``
callback knows whose class it receives.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pluggy

from optscan.errors import PluginError
from optscan.secrets import scrub_exception

Check = Callable[[Any], str | None]
"""A per-hook check of an implementation's answer: ``None`` if fine, else the problem."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, registered, or that raised in a hook."""

    plugin: str
    stage: str
    error: str


_failures: contextvars.ContextVar[list[PluginFailure] | None] = contextvars.ContextVar(
    "optscan_hook_failures", default=None
)
_plugin: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "optscan_hook_plugin", default=None
)


def current_plugin() -> str | None:
    """The plugin whose hook implementation is running in this context, if any."""
    return _plugin.get()


@contextmanager
def collecting() -> Iterator[list[PluginFailure]]:
    """Collect the failures of the hook calls made inside the block."""
    failures: list[PluginFailure] = []
    token = _failures.set(failures)
    try:
        yield failures
    finally:
        _failures.reset(token)


class GuardedPlugin:
    """The view of a plugin that pluggy registers (see the module docstring)."""

    def __init__(self, plugin: object, name: str) -> None:
        self.plugin = plugin
        self.name = name

    def __repr__(self) -> str:
        return f"<guarded plugin {self.name!r}: {self.plugin!r}>"


class Guards:
    """Builds guards that report failures to ``report`` and apply ``checks``."""

    def __init__(
        self,
        report: Callable[[PluginFailure], None],
        checks: dict[str, Check] | None = None,
        *,
        strict: bool = False,
    ) -> None:
        self.report = report
        self.checks = checks or {}
        self.strict = strict

    def view(self, pm: pluggy.PluginManager, plugin: object, name: str) -> GuardedPlugin:
        """A :class:`GuardedPlugin` with one guard per hook implementation of ``plugin``."""
        view = GuardedPlugin(plugin, name)
        marker = f"{pm.project_name}_impl"
        for attr in dir(plugin):
            opts = pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            function = getattr(plugin, attr)
            hook = opts.get("specname") or attr
            wrapper = opts.get("wrapper") or opts.get("hookwrapper")
            if wrapper and inspect.isgeneratorfunction(function):
                guard = self._wrapper_guard(function, name, hook)
            else:  # (a non-generator wrapper is left for pluggy to refuse)
                guard = self._guard(function, name, hook)
            setattr(guard, marker, dict(opts))
            view.__dict__[attr] = guard
        return view

    def _fail(self, plugin: str, hook: str, error: str) -> None:
        failure = PluginFailure(plugin, hook, error)
        collected = _failures.get()
        if collected is not None:
            collected.append(failure)
        self.report(failure)
        if self.strict:
            raise PluginError(plugin, f"{hook} failed: {error}")

    def _guard(self, function: Callable[..., Any], plugin: str, hook: str) -> Callable[..., Any]:
        check = self.checks.get(hook)

        @functools.wraps(function)
        def guard(*args: Any, **kwargs: Any) -> Any:
            token = _plugin.set(plugin)
            try:
                answer = function(*args, **kwargs)
            except Exception as exc:
                self._fail(plugin, hook, scrub_exception(exc))
                return None
            finally:
                _plugin.reset(token)
            problem = check(answer) if check is not None and answer is not None else None
            if problem is not None:
                self._fail(plugin, hook, problem)
                return None
            return answer

        return guard

    def _wrapper_guard(
        self, function: Callable[..., Generator[Any, Any, Any]], plugin: str, hook: str
    ) -> Callable[..., Generator[Any, Any, Any]]:
        @functools.wraps(function)
        def guard(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            token = _plugin.set(plugin)
            try:
                inner = function(*args, **kwargs)
                next(inner)
            except Exception as exc:  # failed before yielding: let the call through
                self._fail(plugin, hook, scrub_exception(exc))
                return (yield)
            finally:
                _plugin.reset(token)
            try:
                outcome = yield
            except BaseException as error:  # the call raised: the wrapper may handle it
                return _resume(inner, functools.partial(inner.throw, error))
            try:
                return _resume(inner, functools.partial(inner.send, outcome))
            except Exception as exc:  # failed after yielding: keep the inner result
                self._fail(plugin, hook, scrub_exception(exc))
                return outcome

        return guard


def _resume(inner: Generator[Any, Any, Any], resume: Callable[[], Any]) -> Any:
    """Resume a wrapper after its ``yield``; its return value is the call's result."""
    try:
        resume()
    except StopIteration as stop:
        return stop.value
    inner.close()
    raise RuntimeError("a hook wrapper yielded more than once")
