"""Built-in market calendars: ``nyse`` (the default), ``weekdays`` and ``always-open``.

Registered ``trylast`` through the ``market_calendar`` hook (``firstresult``), so any
plugin can replace one by answering for the same name. Instances are cached per process
(not per plugin object): the NYSE calendar costs a fraction of a second to build and
answers in microseconds after that, so every plugin host shares one.

Nothing heavy is imported here: exchange_calendars loads on the first NYSE answer.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from optscan.hookspecs import hookimpl

if TYPE_CHECKING:
    from optscan.protocols import MarketCalendar

CALENDAR_NAMES: tuple[str, ...] = ("nyse", "weekdays", "always-open")

_cache: dict[str, MarketCalendar] = {}
_cache_lock = threading.Lock()


def builtin_calendar(name: str) -> MarketCalendar | None:
    """The process-wide built-in calendar called ``name`` (built once), else ``None``."""
    if name not in CALENDAR_NAMES:
        return None
    calendar = _cache.get(name)
    if calendar is None:
        with _cache_lock:
            calendar = _cache.get(name)
            if calendar is None:
                calendar = _cache[name] = _build(name)
    return calendar


def _build(name: str) -> MarketCalendar:
    if name == "nyse":
        from optscan.default_plugins.calendars.nyse import NyseCalendar

        return NyseCalendar()
    from optscan.default_plugins.calendars.simple import AlwaysOpenCalendar, WeekdaysCalendar

    return WeekdaysCalendar() if name == "weekdays" else AlwaysOpenCalendar()


class BuiltinCalendars:
    """The plugin object: answers for the built-in names, last, so plugins can override."""

    calendar_names = CALENDAR_NAMES

    @hookimpl(trylast=True)
    def market_calendar(self, name: str) -> MarketCalendar | None:
        return builtin_calendar(name)


plugin = BuiltinCalendars()
