"""Built-in market calendars: ``nyse`` (the default), ``weekdays`` and ``always-open``.

Registered ``trylast`` through the ``market_calendar`` hook (``firstresult``), so any
plugin can replace one by answering for the same name. Instances are cached per host:
a calendar is built once per process and answers in microseconds after that.
"""

from __future__ import annotations

from optscan.hookspecs import hookimpl
from optscan.protocols import MarketCalendar

CALENDAR_NAMES = ("nyse", "weekdays", "always-open")


class BuiltinCalendars:
    """The plugin object: builds each calendar on first request, then reuses it."""

    def __init__(self) -> None:
        self._cache: dict[str, MarketCalendar] = {}

    @hookimpl(trylast=True)
    def market_calendar(self, name: str) -> MarketCalendar | None:
        if name not in CALENDAR_NAMES:
            return None
        if name not in self._cache:
            self._cache[name] = _build(name)
        return self._cache[name]


def _build(name: str) -> MarketCalendar:
    if name == "nyse":
        from optscan.calendars.nyse import NyseCalendar

        return NyseCalendar()
    from optscan.calendars.simple import AlwaysOpenCalendar, WeekdaysCalendar

    return WeekdaysCalendar() if name == "weekdays" else AlwaysOpenCalendar()


plugin = BuiltinCalendars()
