"""Exception types shared by the core and plugins.

Providers raise :class:`ProviderError` subclasses; the core turns them into per-symbol
outcomes whose ``reason`` is the class's ``reason``. Three of them carry policy that the
core, not each provider, applies (see :mod:`optscan.scan.fetch`):

* ``retryable`` errors (:class:`TransientProviderError` and :class:`RateLimitedError`)
  are retried with exponential backoff, up to the provider's ``retry_attempts``;
* :class:`RateLimitedError` with ``retry_after`` (seconds) makes every request to that
  provider wait at least that long before it starts, on every worker of a queued scan;
  a wait over ``max_retry_after_s`` fails the request as ``rate_limited`` at once;
* :class:`AuthenticationError` is fatal for the provider in this scan: no further
  request to it starts, and every symbol not yet scanned fails ``auth_failed`` with the
  same message.

:func:`optscan.http_answers.error_for_status` maps an HTTP status and headers onto
these, for providers that speak HTTP.
"""

from __future__ import annotations

import math


class OptscanError(Exception):
    """Base class of every error optscan raises on purpose."""


class ConfigError(OptscanError):
    """A configuration key or value is wrong. The message names the key."""


class InputFileError(ConfigError):
    """A file the user gave (a positions export, a watchlist) cannot be read as what it
    should be. The message names the file, the line and what was expected; commands
    exit 2 with it. ``path`` and ``line`` (1-based, None for the whole file) say where."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        where = f"{path}: line {line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.detail = message


class UsageError(OptscanError):
    """A command-line request cannot be served (unknown provider, strategy, sink...)."""


class PluginError(OptscanError):
    """A plugin failed, misbehaved or returned data that does not validate."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin


class ProviderError(OptscanError):
    """A provider could not serve one request; affects one symbol or expiration only.

    ``reason`` is the machine-readable word a :class:`~optscan.models.SymbolOutcome`
    carries; ``retryable`` says whether a retry with backoff may help.
    """

    retryable: bool = False
    reason: str = "provider_error"


class TransientProviderError(ProviderError):
    """A failure that may go away on retry (timeouts, 5xx, dropped connections)."""

    retryable = True
    reason = "transient"


class RateLimitedError(TransientProviderError):
    """The source answered "too many requests" (HTTP 429).

    ``retry_after`` is the source's own "come back in" figure, in seconds (``None``
    when it gave none: the core's backoff applies). The core pauses every request to
    the provider for at least that long, outside the concurrency slots and, in a
    queued scan, through Redis on every worker; a figure over the provider's
    ``max_retry_after_s`` fails the request at once instead of waiting.
    """

    reason = "rate_limited"

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
            raise ValueError(f"retry_after must be finite seconds >= 0, got {retry_after!r}")
        self.retry_after = retry_after


class AuthenticationError(ProviderError):
    """The source refused the credentials (HTTP 401/403, a missing or expired token).

    Not retryable, and fatal for the provider in this scan: the core starts no further
    request to it, so one bad token costs one request, not one per symbol.
    """

    reason = "auth_failed"


class SymbolNotFoundError(ProviderError):
    """The source does not know the symbol, or it has no listed options."""

    reason = "no_options"


class ExpirationNotListedError(ProviderError):
    """A requested expiration is not among the symbol's listed expirations."""

    reason = "expiration_not_listed"


class MalformedPayloadError(ProviderError):
    """The source answered, but the payload cannot be parsed."""

    reason = "malformed_payload"


class NetworkUnreachableError(ProviderError):
    """The network cannot be reached at all."""

    reason = "network_unreachable"


class NotRecordedError(ProviderError):
    """``--replay``: the recording holds no payload for this request."""

    reason = "not_recorded"


class FundamentalsUnavailableError(ProviderError):
    """The provider offers no fundamentals, or none for this symbol (an ETF, an index)."""

    reason = "no_fundamentals"


class ImplausibleFundamentalsError(MalformedPayloadError):
    """The fundamentals parsed, but a figure is one no stock can have (an EPS of 1e300,
    a negative share count): bad data, so no value is computed from any of them."""

    reason = "bad_number"
