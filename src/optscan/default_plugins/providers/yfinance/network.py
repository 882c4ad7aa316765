"""What a request through yfinance came back with: a body, an error answer, or an error.

* :func:`answer_of`: a finished request. A JSON body is returned untouched; an HTTP
  error status becomes an *error answer* (:func:`optscan.error_answer`), which extract
  returns instead of raising, so ``--record`` saves it and the transforms turn it into
  the error it means (401/403 -> ``auth_failed``, 429 -> ``rate_limited`` with
  ``Retry-After``, 5xx -> ``transient``, 404 -> ``no_options``), live and replayed.
* :func:`answer_in_error`: yfinance 1.7 answers a 429 by raising its own
  ``YFRateLimitError`` (``YfData._make_request``, after retrying once with its other
  cookie strategy), dropping the response; that becomes a 429 error answer too (no
  ``Retry-After``: yfinance keeps none), as does an HTTP error carrying its response.
* :func:`classify`: what is left is a request that got no answer (timeouts, DNS, refused
  or dropped connections, TLS), raised as optscan's per-symbol errors: there is nothing
  to record.

Exception classes are matched by name along the MRO, as yfinance itself does, so both
HTTP backends (curl_cffi, and requests as a fallback) are covered without importing
either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from optscan.errors import (
    MalformedPayloadError,
    NetworkUnreachableError,
    ProviderError,
    TransientProviderError,
)
from optscan.http_answers import error_answer
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


def answer_of(response: Any, symbol: str, check: Callable[[Any, str], JSON] | None = None) -> JSON:
    """The JSON body of a finished request, or the error answer its status means;
    ``check`` vets the body (default: an options answer, with an ``optionChain``)."""
    status = getattr(response, "status_code", 200)
    if status >= 400:
        return _error_answer(response, status)
    try:
        body = response.json()
    except Exception as exc:
        raise MalformedPayloadError(
            f"{symbol}: Yahoo's answer (HTTP {status}) is not JSON: {exc}"
        ) from None
    if check is not None:
        return check(body, symbol)
    if not isinstance(body, dict) or not isinstance(body.get("optionChain"), dict):
        raise MalformedPayloadError(f"{symbol}: Yahoo's answer has no optionChain object")
    return body


def answer_in_error(exc: BaseException) -> JSON | None:
    """The error answer an exception stands for, or ``None`` when no answer came back.

    yfinance's ``YFRateLimitError`` (or any "too many requests" it passes on) is a 429
    without its headers; an HTTP error that carries its response keeps status and
    headers.
    """
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:
        return _error_answer(response, status)
    if "YFRateLimitError" in _mro_names(exc) or "too many requests" in str(exc).lower():
        return error_answer(429, {}, f"yfinance raised {type(exc).__name__}: {exc}")
    return None


def _error_answer(response: Any, status: int) -> JSON:
    """An error answer (status, headers, decoded body) from a response object."""
    headers = getattr(response, "headers", None)
    try:
        body: Any = response.json()
    except Exception:
        body = getattr(response, "text", None)
        body = body if isinstance(body, str) else None
    try:
        return error_answer(status, headers or {}, body)
    except (AttributeError, TypeError):  # headers of an unexpected kind: keep the rest
        return error_answer(status, {}, body)


def _mro_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def classify(exc: BaseException, symbol: str, timeout_s: float) -> ProviderError:
    """Turn what yfinance, curl_cffi (or requests) raised, with no answer to show for it,
    into a per-symbol error (call :func:`answer_in_error` first)."""
    names = _mro_names(exc)
    text = str(exc)
    lowered = text.lower()
    shown = f"{type(exc).__name__}: {text[:200]}"
    code = getattr(exc, "code", None)
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
