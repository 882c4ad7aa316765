"""docs/plugins.md keeps up with the code: every hook and every event is documented."""

from __future__ import annotations

import inspect
import re

import optscan.events
import optscan.hookspecs
from optscan.events import ScanEvent
from optscan.plugins import PluginHost

from .helpers import REPO

GUIDE = REPO / "docs" / "plugins.md"
SPEC_ATTRIBUTE = f"{optscan.hookspecs.PROJECT}_spec"  # set by pluggy's HookspecMarker


def _hookspecs() -> list[str]:
    return sorted(
        name
        for name, fn in vars(optscan.hookspecs).items()
        if inspect.isfunction(fn) and hasattr(fn, SPEC_ATTRIBUTE)
    )


def _headings() -> list[str]:
    return [line for line in GUIDE.read_text(encoding="utf-8").splitlines() if line.startswith("#")]


def test_the_hookspecs_are_found_the_way_pluggy_finds_them():
    host = PluginHost(load_entrypoints=False)
    registered = sorted(name for name in vars(host.pm.hook) if not name.startswith("_"))
    assert _hookspecs() and registered == _hookspecs()


def test_every_hook_has_a_heading():
    headings = _headings()
    missing = [
        name for name in _hookspecs() if not any(f"`{name}`" in heading for heading in headings)
    ]
    assert not missing, (
        f"docs/plugins.md has no heading with `name` in backticks for: {', '.join(missing)}"
    )


def test_every_event_is_mentioned():
    text = GUIDE.read_text(encoding="utf-8")
    events = sorted(
        name
        for name, cls in vars(optscan.events).items()
        if inspect.isclass(cls)
        and issubclass(cls, ScanEvent)
        and cls.__module__ == "optscan.events"
    )
    assert "ScanStarted" in events and "ScanEvent" in events
    missing = [name for name in events if not re.search(rf"\b{name}\b", text)]
    assert not missing, f"docs/plugins.md does not mention these events: {', '.join(missing)}"
