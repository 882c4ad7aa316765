"""What the web tests share: a provider whose errors are HTML and that can be held,
and settings on ``sim``."""

from __future__ import annotations

import threading
from typing import Any

from optscan.default_plugins.providers.sim import SimProvider
from optscan.errors import TransientProviderError
from optscan.hookspecs import hookimpl

from .helpers import make_settings

XSS = "<img src=x onerror=alert(1)>"


class HostileProvider(SimProvider):
    """Sim chains, except for FAIL (an error text that is HTML) and SLOW (waits)."""

    name = "hostile"
    gate = threading.Event()

    def extract_expirations(self, symbol):
        if symbol == "FAIL":
            raise TransientProviderError(XSS)
        if symbol == "SLOW":
            self.gate.wait(30)
        return super().extract_expirations(symbol)


class HostilePlugin:
    @hookimpl
    def register_option_providers(self, register):
        register(HostileProvider)


def web_settings(**overrides: Any) -> Any:
    """Settings on ``sim`` (and ``hostile``: no retry waits, any hour)."""
    return make_settings(
        **{
            "scan.provider": "sim",
            "providers.hostile.retry_initial_s": 0.0,
            "providers.hostile.retry_max_s": 0.0,
            "providers.hostile.ignore_market_hours": True,
            **overrides,
        }
    )
