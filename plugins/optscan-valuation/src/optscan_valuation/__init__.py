"""optscan-valuation: intrinsic value and a badge on every option the scan finds.

This module is the plugin optscan loads from the ``optscan`` entry point group. It
registers the ``valuation`` enricher (``[enrichers.valuation]``) and the ``optscan
value`` command; everything else (pydantic models, the model, the command's body) loads
when a scan or the command uses it, so an installed plugin costs ``optscan --help``
nothing but this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from optscan import hookimpl

if TYPE_CHECKING:
    import click

    from optscan import Enricher

__all__ = ["register_commands", "register_enrichers"]


@hookimpl
def register_enrichers(register: Callable[[type[Enricher]], None]) -> None:
    from optscan_valuation.enricher import ValuationEnricher

    register(ValuationEnricher)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from optscan_valuation.command import value

    cli.add_command(value)
