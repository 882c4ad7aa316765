"""What the web tests share: a provider whose errors are HTML and that can be held,
settings on ``sim``, a positions file with a long option, and the app driven
through Flask's test client (its CSRF token, Scan now, waiting for a scan to end)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from optscan.default_plugins.providers.sim import SimProvider
from optscan.errors import TransientProviderError
from optscan.hookspecs import hookimpl

from .helpers import make_settings

XSS = "<img src=x onerror=alert(1)>"
SCHWAB = Path(__file__).parent / "fixtures" / "positions" / "schwab.csv"
LONG_PUT = "AAPL270115P00200000"
"""The long option :func:`with_a_long_put` adds (rolls do not roll it)."""
ORIGIN = "http://localhost"


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


def with_a_long_put(folder: Path) -> Path:
    """The Schwab export of ``fixtures/positions`` (one short call) plus two long puts
    (:data:`LONG_PUT`), written in ``folder``."""
    row = (  # the export's columns
        '"AAPL 01/15/2027 200.00 P","PUT APPLE INC $200 EXP 01/15/27","2","$4.10","$0.10",'
        '"2.5%","$820.00","$20.00","2.5%","$780.00","$40.00","5.13%","--","--","--","0.69%",'
        '"Option"'
    )
    path = folder / "Positions.csv"
    text = SCHWAB.read_text(encoding="utf-8").replace('"Cash & Cash', row + '\n"Cash & Cash')
    path.write_text(text, encoding="utf-8")
    return path


def web_app(settings: Any = None, **kwargs: Any) -> Any:
    """``optscan web``'s Flask app on ``settings`` (default :func:`web_settings`), with
    the ``hostile`` provider registered."""
    from optscan.web.server import build_app

    return build_app(settings or web_settings(), plugins=[HostilePlugin()], **kwargs)


def csrf(client: Any) -> str:
    """The CSRF token of the page ``client`` gets."""
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def post_scan(client: Any, body: Any, **headers: str) -> Any:
    """``POST /api/scans`` with ``body``, same-origin and with the CSRF token."""
    headers = {"Origin": ORIGIN, "X-CSRF-Token": csrf(client), **headers}
    return client.post("/api/scans", json=body, headers=headers)


def wait_for(client: Any, scan_id: str) -> dict[str, Any]:
    """The scan's status document once it has ended (30 s at most)."""
    for _ in range(600):
        status: dict[str, Any] = client.get(f"/api/scans/{scan_id}").get_json()
        if status["state"] in ("finished", "failed", "skipped", "lost"):
            return status
        threading.Event().wait(0.05)
    raise AssertionError(f"scan {scan_id} did not end: {status}")
