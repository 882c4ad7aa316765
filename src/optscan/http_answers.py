"""HTTP answers for providers: map a status to optscan's errors, and keep error answers
recordable.

Two helpers every HTTP provider needs, so none has to rebuild the core's policy:

* :func:`error_for_status` maps an HTTP status and its headers onto the error signals
  (401/403 -> :class:`~optscan.errors.AuthenticationError`; 429 ->
  :class:`~optscan.errors.RateLimitedError` with ``retry_after`` read from
  ``Retry-After`` in delta-seconds or HTTP-date form; 408, 425 and 5xx ->
  :class:`~optscan.errors.TransientProviderError`; 404 -> not found; other 4xx ->
  :class:`~optscan.errors.ProviderError`).
* :func:`error_answer` wraps an error answer (status, headers, body) as JSON that
  *extract* returns instead of raising. ``--record`` then saves it like any payload,
  ``--replay`` serves it again, and the provider's *transform* turns it into the same
  error both times (:func:`raise_for_error_answer`, or the provider's own mapping on
  :func:`read_error_answer`). Cookie, authorization and other credential headers are
  dropped, and known secrets are scrubbed from the body, before anything is returned.

An error answer is ``{"$http_error": {"status": 429, "headers": {...}, "body": ...}}``;
no vendor's JSON uses that key.
"""

from __future__ import annotations

import datetime as dt
import http
import math
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple

from optscan.errors import (
    AuthenticationError,
    ProviderError,
    RateLimitedError,
    SymbolNotFoundError,
    TransientProviderError,
)
from optscan.secrets import is_secret, scrub

ERROR_ANSWER_KEY = "$http_error"
MAX_BODY_CHARS = 64_000
"""A text body longer than this is cut (an HTML error page is not worth recording)."""
_DROPPED_HEADERS = {"cookie", "set-cookie", "authorization", "proxy-authorization"}
_TRANSIENT = {408, 425}


class ErrorAnswer(NamedTuple):
    """A recorded error answer: the status, the kept headers (lower-case names), the body
    (decoded JSON, text, or ``None``)."""

    status: int
    headers: dict[str, str]
    body: Any


def error_answer(
    status: int,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    body: Any = None,
    *,
    redact: Iterable[str] = (),
) -> dict[str, Any]:
    """The JSON an *extract* returns for an error answer (see the module docstring).

    ``headers`` lose cookie, authorization and credential-named entries; every string
    in ``body`` is scrubbed of known secrets and of ``redact`` values (a token the
    server echoed back), and a long text body is cut to :data:`MAX_BODY_CHARS`.
    """
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    kept = {
        str(name).lower(): str(value)
        for name, value in items
        if str(name).lower() not in _DROPPED_HEADERS and not is_secret(str(name))
    }
    extra = [r for r in redact if r]
    return {
        ERROR_ANSWER_KEY: {
            "status": int(status),
            "headers": kept,
            "body": _scrubbed(body, extra),
        }
    }


def _scrubbed(value: Any, extra: list[str]) -> Any:
    if isinstance(value, str):
        return scrub(value[:MAX_BODY_CHARS], extra)
    if isinstance(value, dict):
        return {k: _scrubbed(v, extra) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, extra) for v in value]
    return value


def read_error_answer(raw: Any) -> ErrorAnswer | None:
    """The error answer ``raw`` holds, or ``None`` when it is an ordinary payload."""
    if not isinstance(raw, dict) or ERROR_ANSWER_KEY not in raw:
        return None
    inner = raw[ERROR_ANSWER_KEY]
    if not isinstance(inner, dict) or not isinstance(inner.get("status"), int):
        from optscan.errors import MalformedPayloadError

        raise MalformedPayloadError(f"a recorded error answer is malformed: {inner!r:.80}")
    headers = inner.get("headers") or {}
    return ErrorAnswer(
        inner["status"],
        {str(k).lower(): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {},
        inner.get("body"),
    )


def raise_for_error_answer(
    raw: Any, what: str, *, not_found: type[ProviderError] = SymbolNotFoundError
) -> None:
    """Raise the error an error answer means (:func:`error_for_status`); do nothing for
    an ordinary payload. Call it first thing in each *transform*."""
    answer = read_error_answer(raw)
    if answer is None:
        return
    detail = _body_text(answer.body)
    error = error_for_status(
        answer.status, answer.headers, what=what, detail=detail, not_found=not_found
    )
    raise error or ProviderError(f"{what}: HTTP {answer.status}")


def error_for_status(
    status: int,
    headers: Mapping[str, str] | None = None,
    *,
    what: str,
    detail: str = "",
    not_found: type[ProviderError] = SymbolNotFoundError,
    now: dt.datetime | None = None,
) -> ProviderError | None:
    """The error an HTTP ``status`` means, or ``None`` for a success (1xx-3xx).

    ``what`` names the request in the message (``"AAPL expirations"``), ``detail`` adds
    the server's own words; neither should hold a secret (the message is scrubbed
    anyway). ``not_found`` is the class for 404 (an unknown symbol, or an expiration
    that is not listed).
    """
    if status < 400:
        return None
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    message = f"{what}: HTTP {status} {_phrase(status)}".rstrip()
    if detail:
        message += f": {detail}"
    message = scrub(message)
    if status in (401, 403):
        return AuthenticationError(message)
    if status == 429:
        return RateLimitedError(
            message, retry_after=parse_retry_after(headers.get("retry-after"), now=now)
        )
    if status == 404:
        return not_found(message)
    if status >= 500 or status in _TRANSIENT:
        return TransientProviderError(message)
    return ProviderError(message)


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 10.2.3): delta-seconds
    (``"120"``) or an HTTP-date (``"Wed, 21 Oct 2026 07:28:00 GMT"``, counted from
    ``now``, default the current time). ``None`` when absent or unreadable; a date in the
    past is 0."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _body_text(body: Any, limit: int = 200) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        text = " ".join(body.split())
    else:
        import json

        text = json.dumps(body, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."
