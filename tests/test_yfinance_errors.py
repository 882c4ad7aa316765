"""The yfinance provider's failures: error answers Yahoo (or yfinance) gave, and
requests that got no answer at all.

* An HTTP error status is an *error answer*: extract returns it
  (``optscan.error_answer``), ``--record`` saves it, and both transforms map it with the
  core's ``raise_for_error_answer``. So 401/403 are ``AuthenticationError`` (the core
  then stops asking Yahoo for the rest of the scan), 429 is ``RateLimitedError`` with
  ``Retry-After``, 5xx is transient, 404 is an unknown symbol.
* yfinance 1.7 turns a 429 into its own ``YFRateLimitError`` and drops the response;
  that becomes a 429 error answer too (with no ``Retry-After``: yfinance keeps none).
* Timeouts, DNS failures, refused or dropped connections raise, as before: there is no
  answer to record.

``YfData.get`` is faked (``yahoo.py``) and the network refused; no recorded Yahoo body
is needed here.
"""

from __future__ import annotations

import datetime as dt
import json
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from optscan import (
    AuthenticationError,
    MalformedPayloadError,
    NetworkUnreachableError,
    ProviderError,
    RateLimitedError,
    SymbolNotFoundError,
    TransientProviderError,
    check_error_answers,
)
from optscan.default_plugins.providers.yfinance import YFinanceConfig, YFinanceProvider

from .helpers import make_settings
from .yahoo import FakeResponse, Served, fake_yfdata, refuse_network

EXPIRY = dt.date(2025, 2, 28)
AS_OF = dt.datetime(2025, 2, 24, 15, 0, tzinfo=dt.UTC)  # a Monday in session
INVALID_CRUMB = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_network(monkeypatch)


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Served:
    return fake_yfdata(monkeypatch)


def provider(tmp_path: Path) -> YFinanceProvider:
    return YFinanceProvider(YFinanceConfig(cache_dir=str(tmp_path / "yf")))


def _settings(tmp_path: Path, **overrides: Any) -> Any:
    return make_settings(
        **{
            "scan.provider": "yfinance",
            "providers.yfinance.cache_dir": str(tmp_path / "yf"),
            "providers.yfinance.rate_limit_per_s": 0.0,
            "providers.yfinance.retry_initial_s": 0.0,
            "providers.yfinance.retry_max_s": 0.0,
            **overrides,
        }
    )


def _scan(tmp_path: Path, symbols: list[str] | None = None, **request: Any) -> Any:
    from optscan import PluginHost, ScanRequest, perform_scan

    settings = _settings(tmp_path, **request.pop("settings", {}))
    scan = ScanRequest(symbols=symbols, **request)
    return perform_scan(scan, PluginHost(load_entrypoints=False), settings=settings)


def _yf_rate_limit() -> BaseException:
    from yfinance.exceptions import YFRateLimitError

    return YFRateLimitError()


def _in_two_minutes() -> str:
    return format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120), usegmt=True)


# ------------------------------------------------------------------ error answers

# (what YfData.get gives, the error both transforms raise, its retry_after)
ANSWERS: dict[str, tuple[Any, type[ProviderError], float | None]] = {
    # 401/403 used to be "transient" here (retried 4 times per symbol, hoping a fresh
    # crumb would help), but yfinance's get already retries once with its other cookie
    # strategy before returning them. They are now the core's AuthenticationError: one
    # refused request ends the provider's part of the scan.
    "http_401": (
        lambda: FakeResponse(INVALID_CRUMB, 401, {"Set-Cookie": "A3=d=cookie-secret"}),
        AuthenticationError,
        None,
    ),
    "http_403": (lambda: FakeResponse("<html>Forbidden</html>", 403), AuthenticationError, None),
    "http_429_seconds": (
        lambda: FakeResponse("Too Many Requests\r\n", 429, {"Retry-After": "7"}),
        RateLimitedError,
        7.0,
    ),
    "http_429_date": (
        lambda: FakeResponse("Too Many Requests", 429, {"Retry-After": _in_two_minutes()}),
        RateLimitedError,
        120.0,
    ),
    "yfinance_rate_limit": (_yf_rate_limit, RateLimitedError, None),
    "raised_with_its_response": (  # an HTTP error raised with the response it got
        lambda: __import__("requests").exceptions.HTTPError(
            "429 Client Error", response=FakeResponse("slow down", 429, {"Retry-After": "5"})
        ),
        RateLimitedError,
        5.0,
    ),
    "http_404": (
        lambda: FakeResponse({"optionChain": {"result": [], "error": None}}, 404),
        SymbolNotFoundError,
        None,
    ),
    "http_500": (lambda: FakeResponse("<html>busy</html>", 500), TransientProviderError, None),
    "http_503": (lambda: FakeResponse("<html>busy</html>", 503), TransientProviderError, None),
    "http_400": (lambda: FakeResponse({"finance": {"error": "bad"}}, 400), ProviderError, None),
}


@pytest.mark.parametrize("case", ANSWERS)
def test_http_errors_are_recorded_error_answers(case, serve, tmp_path):
    make, expected, retry_after = ANSWERS[case]
    serve.add(make(), "XYZ")
    p = provider(tmp_path)
    raw = p.extract_expirations("XYZ")  # returned, not raised: --record can save it
    assert list(raw) == ["$http_error"]
    assert json.loads(json.dumps(raw)) == raw
    assert "set-cookie" not in raw["$http_error"]["headers"]
    assert "cookie-secret" not in json.dumps(raw)

    (error,) = check_error_answers(p, "XYZ", [(raw, expected)], expiration=EXPIRY)
    assert type(error) is expected, f"{type(error).__name__}: {error}"
    assert str(error).startswith("XYZ: Yahoo: HTTP ")
    assert error.retryable == issubclass(expected, TransientProviderError)
    if retry_after is None:
        assert getattr(error, "retry_after", None) is None
    else:
        assert error.retry_after == pytest.approx(retry_after, abs=3)


def test_a_dated_request_answers_the_same_way(serve, tmp_path):
    """A chain request (``?date=``) that gets an error answer returns it as well."""
    listing = {"optionChain": {"result": [{"expirationDates": [1740700800]}], "error": None}}
    serve.add(FakeResponse({"finance": None}, 429, {"Retry-After": "3"}), "XYZ", 1740700800)
    p = provider(tmp_path)
    raw = p.extract_chain("XYZ", EXPIRY, listing)
    assert serve.urls()[-1].endswith("/XYZ?date=1740700800")
    with pytest.raises(RateLimitedError, match=r"XYZ: Yahoo 2025-02-28 chain: HTTP 429") as info:
        p.transform_chain(raw, "XYZ", EXPIRY)
    assert info.value.retry_after == 3.0


def test_the_messages_say_what_yahoo_said(serve, tmp_path):
    p = provider(tmp_path)
    serve.add(FakeResponse(INVALID_CRUMB, 401), "AAPL")
    with pytest.raises(AuthenticationError, match=r"HTTP 401 Unauthorized: .*Invalid Crumb"):
        p.transform_expirations(p.extract_expirations("AAPL"), "AAPL")
    serve.add(_yf_rate_limit(), "AAPL")
    with pytest.raises(RateLimitedError, match="YFRateLimitError: Too Many Requests"):
        p.transform_expirations(p.extract_expirations("AAPL"), "AAPL")


# ------------------------------------------------------------- no answer at all


def _curl(cls_name: str, message: str, code: int) -> BaseException:
    from curl_cffi.requests import exceptions

    return getattr(exceptions, cls_name)(message, code)


RAISED = {
    "dns": (
        lambda: _curl(
            "DNSError",
            "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com",
            6,
        ),
        NetworkUnreachableError,
        "unreachable",
    ),
    "refused": (
        lambda: _curl(
            "ConnectionError",
            "Failed to perform, curl: (7) Failed to connect to query2.finance.yahoo.com port 443",
            7,
        ),
        NetworkUnreachableError,
        "--provider sim",
    ),
    "requests_dns": (
        lambda: __import__("requests").exceptions.ConnectionError(
            "HTTPSConnectionPool(host='query2.finance.yahoo.com', port=443): Max retries "
            "exceeded (Caused by NameResolutionError: Failed to resolve)"
        ),
        NetworkUnreachableError,
        "--provider sim",
    ),
    "timeout": (
        lambda: _curl("Timeout", "curl: (28) Operation timed out after 10000 ms", 28),
        TransientProviderError,
        "10 s",
    ),
    "timeout_429_ms": (  # "429" in a message is not a rate limit
        lambda: _curl("Timeout", "curl: (28) Operation timed out after 4290 ms", 28),
        TransientProviderError,
        "no answer from Yahoo",
    ),
    "reset": (
        lambda: _curl("ConnectionError", "curl: (56) Recv failure: Connection reset by peer", 56),
        TransientProviderError,
        "dropped",
    ),
    # a 2xx answer that is not Yahoo's JSON: nothing worth recording either
    "not_json": (lambda: FakeResponse("<html>not json</html>"), MalformedPayloadError, "not JSON"),
    "wrong_shape": (
        lambda: FakeResponse({"unexpected": True}),
        MalformedPayloadError,
        "optionChain",
    ),
    "not_an_object": (lambda: FakeResponse([1, 2, 3]), MalformedPayloadError, "optionChain"),
}


@pytest.mark.parametrize("case", RAISED)
def test_requests_without_a_usable_answer_raise(case, serve, tmp_path):
    make, expected, text = RAISED[case]
    serve.add(make(), "XYZ")
    with pytest.raises(expected, match=text) as caught:
        provider(tmp_path).extract_expirations("XYZ")
    assert type(caught.value) is expected
    assert str(caught.value).startswith("XYZ: ")
    assert caught.value.retryable == issubclass(expected, TransientProviderError)


def test_unreachable_network_is_not_retried_and_says_what_to_do(serve, tmp_path):
    serve.add(_curl("DNSError", "curl: (6) Could not resolve host: x", 6), "AAPL")
    with pytest.raises(NetworkUnreachableError) as caught:
        provider(tmp_path).extract_expirations("AAPL")
    message = str(caught.value)
    assert "network is unreachable" in message and "--provider sim" in message
    assert not caught.value.retryable and caught.value.reason == "network_unreachable"


# ------------------------------------------------------------- through a scan


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda: FakeResponse("Too Many Requests", 429), "rate_limited"),
        (_yf_rate_limit, "rate_limited"),
        (lambda: FakeResponse(INVALID_CRUMB, 401), "auth_failed"),
    ],
)
def test_a_recorded_error_answer_replays_as_the_same_failure(answer, reason, serve, tmp_path):
    serve.add(answer(), "AAPL")
    rec = tmp_path / "rec"
    live = _scan(tmp_path, ["AAPL"], as_of=AS_OF, force=True, record_dir=str(rec))
    (outcome,) = live.symbols
    assert (outcome.status, outcome.reason) == ("failed", reason), outcome.error
    saved = json.loads((rec / "yfinance" / "AAPL" / "expirations.json").read_text())
    assert saved["$http_error"]["status"] == (401 if reason == "auth_failed" else 429)
    asked = len(serve.calls)

    replay = _scan(tmp_path, ["AAPL"], replay_dir=str(rec))
    (again,) = replay.symbols
    assert (again.status, again.reason, again.error) == ("failed", reason, outcome.error)
    assert len(serve.calls) == asked  # the replay asked Yahoo nothing


def test_a_refused_crumb_costs_one_request_for_the_whole_scan(serve, tmp_path):
    symbols = ["AAPL", "MSFT", "AMD", "SPY", "QQQ"]
    for symbol in symbols:
        serve.add(FakeResponse(INVALID_CRUMB, 401), symbol)
    # One fetch thread, so "exactly one" is deterministic: with more, requests already
    # under way when the first 401 comes back still finish (the core stops only those
    # that have not started).
    result = _scan(tmp_path, symbols, as_of=AS_OF, force=True, settings={"scan.concurrency": 1})
    assert len(serve.calls) == 1, serve.urls()
    assert {(s.status, s.reason) for s in result.symbols} == {("failed", "auth_failed")}
    assert not result.success
    (line,) = result.errors  # one line about it, not one per symbol
    assert "'yfinance' refused the credentials; 5 symbols not scanned" in line
    assert "HTTP 401 Unauthorized" in line
