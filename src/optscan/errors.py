"""Exception types shared by the core and plugins.

Providers raise :class:`ProviderError` subclasses; the core turns them into per-symbol
outcomes. ``retryable`` tells the fetch layer whether a retry with backoff may help.
"""

from __future__ import annotations


class OptscanError(Exception):
    """Base class of every error optscan raises on purpose."""


class ConfigError(OptscanError):
    """A configuration key or value is wrong. The message names the key."""


class UsageError(OptscanError):
    """A command-line request cannot be served (unknown provider, strategy, sink...)."""


class PluginError(OptscanError):
    """A plugin failed, misbehaved or returned data that does not validate."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin


class ProviderError(OptscanError):
    """A provider could not serve one request; affects one symbol or expiration only."""

    retryable: bool = False
    reason: str = "provider_error"


class TransientProviderError(ProviderError):
    """A failure that may go away on retry (timeouts, 5xx, dropped connections)."""

    retryable = True
    reason = "transient"


class RateLimitedError(TransientProviderError):
    """The source answered "too many requests" (HTTP 429)."""

    reason = "rate_limited"


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


class MarketClosedError(OptscanError):
    """The market is closed and the scan was not forced."""
