"""optscan-marketdata: the ``marketdata`` option provider (https://www.marketdata.app).

This module is the plugin optscan loads from the ``optscan`` entry point group. It only
registers the provider class; the provider module (and httpx) load when a scan uses it,
so an installed plugin costs ``optscan --help`` nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from optscan import hookimpl

if TYPE_CHECKING:
    from optscan import OptionProvider

__all__ = ["register_option_providers"]


@hookimpl
def register_option_providers(register: Callable[[type[OptionProvider]], None]) -> None:
    from optscan_marketdata.provider import MarketDataProvider

    register(MarketDataProvider)
