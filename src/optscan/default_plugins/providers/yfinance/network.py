"""What a request through yfinance came back with: a body, or the error it means.

yfinance raises its own exceptions and those of its HTTP backend (curl_cffi, or
requests as a fallback); :func:`classify` turns them into optscan's per-symbol errors.
Classes are matched by name along the MRO, as yfinance itself does, so both backends
are covered without importing either.
"""

from __future__ import annotations

from typing import Any

from optscan.errors import (
    MalformedPayloadError,
    NetworkUnreachableError,
    ProviderError,
    RateLimitedError,
    SymbolNotFoundError,
    TransientProviderError,
)
from optscan.protocols import JSON

# curl error codes (CurlECode) that mean "a connection was made and then dropped":
# GOT_NOTHING, SEND_ERROR, RECV_ERROR, PARTIAL_FILE, HTTP2_STREAM. A retry may help.
_DROPPED_CURL_CODES = frozenset({52, 55, 56, 18, 92})
# ... and those that mean the host or proxy cannot be reached at all:
# COULDNT_RESOLVE_PROXY, COULDNT_RESOLVE_HOST, COULDNT_CONNECT, PROXY.
_UNREACHABLE_CURL_CODES = frozenset({5, 6, 7, 97})
_UNREACHABLE_TEXT = (
    "could not resolve",
    "couldn't resolve",
    "name resolution",
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "failed to connect",
    "couldn't connect",
    "network is unreachable",
    "no route to host",
    "connection refused",
)
_DROPPED_TEXT = ("connection reset", "connection aborted", "remotedisconnected", "broken pipe")


def read_body(response: Any, symbol: str) -> JSON:
    """The JSON body of a finished request, or the per-symbol error its status means."""
    status = getattr(response, "status_code", 200)
    if status == 429:
        raise RateLimitedError(f"{symbol}: Yahoo rate limit (HTTP 429)")
    if status >= 500:
        raise TransientProviderError(f"{symbol}: Yahoo answered HTTP {status}")
    if status in (401, 403):
        # yfinance already retried once with its other cookie strategy; a later attempt
        # mints a fresh crumb, so this is worth retrying.
        raise TransientProviderError(f"{symbol}: Yahoo refused the cookie/crumb (HTTP {status})")
    if status == 404:
        raise SymbolNotFoundError(f"{symbol}: unknown to Yahoo (HTTP 404)")
    try:
        body = response.json()
    except Exception as exc:
        raise MalformedPayloadError(
            f"{symbol}: Yahoo's answer (HTTP {status}) is not JSON: {exc}"
        ) from None
    if status >= 400:
        raise ProviderError(f"{symbol}: Yahoo answered HTTP {status}: {body!r:.120}")
    if not isinstance(body, dict) or not isinstance(body.get("optionChain"), dict):
        raise MalformedPayloadError(f"{symbol}: Yahoo's answer has no optionChain object")
    return body


def _mro_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def classify(exc: BaseException, symbol: str, timeout_s: float) -> ProviderError:
    """Turn what yfinance, curl_cffi (or requests) raised into a per-symbol error."""
    names = _mro_names(exc)
    text = str(exc)
    lowered = text.lower()
    shown = f"{type(exc).__name__}: {text[:200]}"
    code = getattr(exc, "code", None)
    if "YFRateLimitError" in names or "429" in text or "too many requests" in lowered:
        return RateLimitedError(f"{symbol}: Yahoo rate limit (HTTP 429): {shown}")
    if names & {"Timeout", "TimeoutError", "ReadTimeout", "ConnectTimeout"} or (
        "timed out" in lowered
    ):
        return TransientProviderError(f"{symbol}: no answer from Yahoo in {timeout_s:g} s")
    if (
        code in _DROPPED_CURL_CODES
        or names & {"ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError"}
        or any(t in lowered for t in _DROPPED_TEXT)
    ):
        return TransientProviderError(f"{symbol}: connection to Yahoo dropped: {shown}")
    if "SSLError" in names:
        return TransientProviderError(f"{symbol}: TLS with Yahoo failed: {shown}")
    if (
        code in _UNREACHABLE_CURL_CODES
        or names & {"ConnectionError", "DNSError", "ProxyError", "gaierror"}
        or any(t in lowered for t in _UNREACHABLE_TEXT)
    ):
        return NetworkUnreachableError(
            f"{symbol}: the network is unreachable (cannot reach Yahoo: {shown}); "
            "for an offline run use --provider sim"
        )
    if isinstance(exc, OSError) or "RequestException" in names:
        return TransientProviderError(f"{symbol}: request to Yahoo failed: {shown}")
    return ProviderError(f"{symbol}: yfinance failed: {shown}")
