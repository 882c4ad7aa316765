"""Built-in option providers: ``sim`` (synthetic, offline) and ``yfinance`` (live).

Importing this package imports neither numpy nor yfinance: each provider imports its
heavy libraries when it first works.
"""

from __future__ import annotations

from collections.abc import Callable

from optscan.hookspecs import hookimpl
from optscan.protocols import OptionProvider


@hookimpl(trylast=True)
def register_option_providers(register: Callable[[type[OptionProvider]], None]) -> None:
    from optscan.default_plugins.providers.sim import SimProvider

    register(SimProvider)
    from optscan.default_plugins.providers.yfinance import YFinanceProvider

    register(YFinanceProvider)
