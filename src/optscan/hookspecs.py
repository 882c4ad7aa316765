"""optscan's hook specifications (pluggy project ``optscan``).

Collecting hooks take a ``register`` callback instead of returning values, so the core
checks each registered class and can name the plugin that handed over something wrong.
Every hook is documented in ``docs/plugins.md``; a test keeps the two in step.

Implementations may accept fewer arguments than the spec (pluggy's opt-in arguments),
so specs can grow without breaking plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from optscan.events import ScanEvent
    from optscan.protocols import (
        Enricher,
        MarketCalendar,
        OptionProvider,
        ResultSink,
        StockSource,
    )

PROJECT = "optscan"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_stock_sources(register: Callable[[type[StockSource]], None]) -> None:
    """Register :class:`~optscan.protocols.StockSource` classes by calling ``register``.

    Every implementation is called. A source is used when its ``name`` is listed in
    ``sources.enabled``; its config section is ``[sources.<name>]``.
    """


@hookspec
def register_option_providers(register: Callable[[type[OptionProvider]], None]) -> None:
    """Register :class:`~optscan.protocols.OptionProvider` classes by calling ``register``.

    Every implementation is called. A provider is chosen by ``--provider`` or
    ``scan.provider``; its config section is ``[providers.<name>]``.
    """


@hookspec
def register_result_sinks(register: Callable[[type[ResultSink]], None]) -> None:
    """Register :class:`~optscan.protocols.ResultSink` classes by calling ``register``.

    Every implementation is called. Sinks listed in ``sinks.enabled`` receive each finished
    scan; their config section is ``[sinks.<name>]``.
    """


@hookspec(firstresult=True)
def market_calendar(name: str) -> MarketCalendar | None:
    """Return the market calendar called ``name``, or ``None`` if this plugin has none.

    ``firstresult``: the first non-``None`` answer wins. Built-ins are registered
    ``trylast``, so a plugin can replace any of them (``tryfirst`` makes sure).
    """


@hookspec
def optscan_event(event: ScanEvent) -> None:
    """Receive a scan lifecycle event (``ScanStarted``, ``SymbolScanned``, ...).

    Every implementation is called, in the scan's own thread and in order; keep it fast.
    A listener that raises is reported and does not stop the scan.
    """


@hookspec
def register_enrichers(register: Callable[[type[Enricher]], None]) -> None:
    """Register :class:`~optscan.protocols.Enricher` classes by calling ``register``.

    Every implementation is called. Enrichers listed in ``enrichers.enabled`` run on
    each scan after the screen and before the sinks; an enricher's config section is
    ``[enrichers.<name>]`` and its facts go to ``extras[<name>]`` of opportunities and
    symbol outcomes.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``optscan`` command line (``@cli.command()``).

    Every implementation is called once when the command line starts, so keep it
    cheap: define the commands here and import anything heavy inside their bodies
    (``optscan --help`` must stay fast). A command that takes the name of a built-in
    command is refused and reported by ``optscan plugins``.
    """
