"""The four kinds of things plugins hand to optscan, and their config models.

A plugin registers *classes*; optscan validates the plugin's own config section
(``[providers.<name>]``, ``[sinks.<name>]``, ``[sources.<name>]``) with the class's
``Config`` model and instantiates the class with it. Unknown keys and bad values in a
plugin's section therefore fail exactly like the core's, naming the key.

Providers are split OpenBB-style into *extract* (talk to the source and return the raw,
JSON-serializable payload untouched) and *transform* (raw payload -> typed models). The
split keeps the network out of the parsing code, so providers are testable offline and
``--record``/``--replay`` work for every provider without its help.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from optscan.models import MarketStatus, OptionChain, ScanResult

JSON = Any
"""A JSON-serializable value (dict, list, str, number, bool or None)."""


class PluginConfig(BaseModel):
    """Base of every plugin's config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(PluginConfig):
    """Keys every ``[providers.<name>]`` section accepts; the core enforces them."""

    max_concurrency: int = Field(default=32, ge=1, le=1024)
    rate_limit_per_s: float = Field(
        default=0.0, ge=0, description="Client-side request rate cap; 0 = unlimited."
    )
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_initial_s: float = Field(default=0.25, ge=0)
    retry_max_s: float = Field(default=8.0, ge=0)
    ignore_market_hours: bool = False


class OptionProvider(ABC):
    """An option data source. Subclasses set ``name`` and, if they have knobs, ``Config``.

    Methods are synchronous and may be called from several threads at once; the core
    bounds concurrency, applies the rate limit and retries ``retryable`` errors.
    """

    name: ClassVar[str]
    Config: ClassVar[type[ProviderConfig]] = ProviderConfig
    synthetic: ClassVar[bool] = False

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @abstractmethod
    def extract_expirations(self, symbol: str) -> JSON:
        """Fetch the raw payload listing the symbol's expirations."""

    @abstractmethod
    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        """Parse the listed expirations out of :meth:`extract_expirations`'s payload."""

    @abstractmethod
    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        """Fetch the raw chain of one expiration.

        ``listing`` is the raw expirations payload; a provider whose listing already
        carries a chain (Yahoo's undated v7 answer holds the nearest one) may return
        it instead of making a request.
        """

    @abstractmethod
    def transform_chain(self, raw: JSON, symbol: str, expiration: dt.date) -> OptionChain:
        """Parse one expiration's raw payload into a columnar :class:`OptionChain`."""

    def close(self) -> None:  # noqa: B027 - optional hook for providers holding sessions
        """Release sessions or sockets at the end of a scan."""


class StockSource(ABC):
    """Gives the symbols to scan (a watchlist, a file, a database, an index...)."""

    name: ClassVar[str]
    Config: ClassVar[type[PluginConfig]] = PluginConfig

    def __init__(self, config: PluginConfig) -> None:
        self.config = config

    @abstractmethod
    def symbols(self) -> Iterable[str]:
        """Return raw symbols; the core upper-cases, validates and de-duplicates them."""


class ResultSink(ABC):
    """Receives every finished :class:`ScanResult` (files, Redis, alerts...)."""

    name: ClassVar[str]
    Config: ClassVar[type[PluginConfig]] = PluginConfig

    def __init__(self, config: PluginConfig) -> None:
        self.config = config

    @abstractmethod
    def publish(self, result: ScanResult) -> None:
        """Publish one result. Raise to report failure; other sinks still run."""


@runtime_checkable
class MarketCalendar(Protocol):
    """Answers "is the market open at this instant?" for one exchange."""

    name: str

    def status(self, at: dt.datetime) -> MarketStatus:
        """The market's state at ``at`` (an aware datetime)."""
        ...

    def is_session(self, day: dt.date) -> bool:
        """Whether ``day`` is a trading day."""
        ...
