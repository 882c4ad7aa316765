"""yfinance's HTTP seam, faked for the yfinance provider's tests (no fixtures here).

``yfinance.data.YfData.get(self, url, params=None, timeout=30)`` is yfinance 1.7's HTTP
entry point, and the one optscan's provider calls. :func:`fake_yfdata` replaces it on
the class with a fake that serves bodies (or responses, or exceptions) by URL: the
symbol, and the ``date=`` query parameter. The cookie/crumb dance happens *inside* the
real ``get``, so nothing else is needed; ``post`` and ``_get_cookie_and_crumb`` are
turned into failures to prove no other request is made.

:func:`refuse_network` patches ``socket.socket.connect`` (``requests``, yfinance's
fallback backend) and ``curl_cffi.curl.Curl.perform`` (curl_cffi talks through
libcurl's own C sockets, which a ``socket`` patch never sees).
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

OPTIONS_URL = "https://query2.finance.yahoo.com/v7/finance/options/"


class FakeResponse:
    """What ``YfData.get`` returns (a curl_cffi Response), reduced to what is read."""

    def __init__(self, body: Any, status_code: int = 200, headers: dict[str, str] | None = None):
        self._body = body
        self.status_code = status_code
        self.headers = dict(headers or {})
        self.url = "https://query2.finance.yahoo.com/"
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self) -> Any:
        return json.loads(self.text)


class Served:
    """Bodies (or responses, or exceptions) by (symbol, date param); and the calls made."""

    def __init__(self) -> None:
        self.bodies: dict[tuple[str, str | None], Any] = {}
        self.calls: list[tuple[str, float]] = []
        self._lock = threading.Lock()

    def add(self, body: Any, symbol: str, date: int | None = None) -> None:
        self.bodies[(symbol, None if date is None else str(date))] = body

    def urls(self) -> list[str]:
        return [url for url, _ in self.calls]

    def answer(self, url: str, timeout: float) -> Any:
        with self._lock:
            self.calls.append((url, timeout))
            parts = urlsplit(url)
            assert parts.netloc == "query2.finance.yahoo.com", url
            assert "/v7/finance/options/" in parts.path, url
            symbol = parts.path.rsplit("/", 1)[-1]
            date = parse_qs(parts.query).get("date", [None])[0]
            key = (symbol, date)
            if key not in self.bodies:
                key = (symbol, None)
            if key not in self.bodies:
                raise AssertionError(f"nothing recorded for {url}")
            body = self.bodies[key]
        if isinstance(body, BaseException):
            raise body
        return body if isinstance(body, FakeResponse) else FakeResponse(body)


def fake_yfdata(monkeypatch: pytest.MonkeyPatch) -> Served:
    """Replace ``YfData.get`` with a fake serving what the returned :class:`Served` holds."""
    import yfinance.data

    served = Served()

    def fake_get(self: Any, url: str, params: Any = None, timeout: float = 30) -> Any:
        return served.answer(url, timeout)

    def no_other_request(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("yfinance made a request other than YfData.get")

    monkeypatch.setattr(yfinance.data.YfData, "get", fake_get)
    monkeypatch.setattr(yfinance.data.YfData, "post", no_other_request)
    monkeypatch.setattr(yfinance.data.YfData, "_get_cookie_and_crumb", no_other_request)
    return served


def refuse_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any real connection attempt fail the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    import curl_cffi.curl

    monkeypatch.setattr(curl_cffi.curl.Curl, "perform", refuse)
