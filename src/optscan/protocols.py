"""What plugins register, and their config models.

A plugin registers *classes*; optscan validates the plugin's own config section
(``[providers.<name>]``, ``[sinks.<name>]``, ``[sources.<name>]``) with the class's
``Config`` model and instantiates the class with it. Unknown keys and bad values in a
plugin's section therefore fail exactly like the core's, naming the key.

The bases are generic in their config, so ``self.config`` is typed as the plugin's own
model: ``class MyProvider(OptionProvider[MyConfig])`` sets ``Config = MyConfig`` by
itself (an explicit ``Config = ...`` still wins).

Providers are split OpenBB-style into *extract* (talk to the source and return the raw,
JSON-serializable payload untouched, error answers included) and *transform* (raw
payload -> typed models, or the error the payload means). The split keeps the network
out of the parsing code, so providers are testable offline and ``--record``/``--replay``
work for every provider without its help.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    Generic,
    Protocol,
    TypeVar,
    runtime_checkable,
)

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from optscan.secrets import check_url_credentials

if TYPE_CHECKING:
    from optscan.chain import OptionChain
    from optscan.fundamentals import Fundamentals
    from optscan.models import MarketStatus, Opportunity, ScanResult, SymbolOutcome
    from optscan.scan.enrich import EnrichContext

JSON = Any
"""A JSON-serializable value (dict, list, str, number, bool or None)."""


def _encoded_credentials(value: SecretStr) -> SecretStr:
    check_url_credentials(value.get_secret_value())
    return value


SecretUrl = Annotated[SecretStr, AfterValidator(_encoded_credentials)]
"""A URL that may carry credentials (user info, a token in the path): never shown, and
refused when its user info holds an unencoded reserved character."""


class PluginConfig(BaseModel):
    """Base of every plugin's config section: frozen, unknown keys are errors, and every
    number is finite (``nan`` and ``inf`` are refused naming the key)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


MIN_RATE_PER_S = 0.001
"""The slowest client-side rate limit: one request every 1,000 s (0 turns it off)."""
MAX_RATE_PER_S = 100_000.0


class ProviderConfig(PluginConfig):
    """Keys every ``[providers.<name>]`` section accepts; the core enforces them."""

    max_concurrency: int = Field(
        default=32, ge=1, le=1024, description="Requests in flight at once, per process."
    )
    rate_limit_per_s: float = Field(
        default=0.0,
        ge=0,
        le=MAX_RATE_PER_S,
        description="Client-side cap on requests a second (0 = none, else 0.001 to "
        "100000); shared by every worker of a queued scan.",
    )
    retry_attempts: int = Field(
        default=4, ge=1, le=20, description="Attempts per request, the first included."
    )
    retry_initial_s: float = Field(default=0.25, ge=0, le=60, description="First backoff, seconds.")
    retry_max_s: float = Field(default=8.0, ge=0, le=3600, description="Longest backoff, seconds.")
    max_retry_after_s: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="Longest 'retry after' pause to honour, seconds; a source asking for "
        "more fails the request as rate_limited instead.",
    )
    ignore_market_hours: bool = Field(
        default=False, description="Scan whatever the calendar says (synthetic data)."
    )

    @field_validator("rate_limit_per_s")
    @classmethod
    def _rate(cls, value: float) -> float:
        """0 (no limit) or a rate a limiter can keep (a subclass's own Field for the
        key keeps this check)."""
        if value and not MIN_RATE_PER_S <= value <= MAX_RATE_PER_S:
            raise ValueError(
                f"must be 0 (no limit) or from {MIN_RATE_PER_S:g} to {MAX_RATE_PER_S:g} a second"
            )
        return value


ConfigT = TypeVar("ConfigT", bound=PluginConfig)
ProviderConfigT = TypeVar("ProviderConfigT", bound=ProviderConfig)


class Registered(ABC, Generic[ConfigT]):
    """What every class a plugin registers has: a ``name``, a ``Config`` model, and
    ``self.config`` (the validated section), typed by the type parameter.

    ``class X(Base[MyConfig])`` gives ``X.Config = MyConfig`` unless X sets one itself.
    """

    name: ClassVar[str]
    Config: ClassVar[type[PluginConfig]] = PluginConfig

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Config" in cls.__dict__:
            return
        for base in cls.__dict__.get("__orig_bases__", ()):
            for arg in getattr(base, "__args__", ()):
                if isinstance(arg, type) and issubclass(arg, PluginConfig):
                    cls.Config = arg
                    return

    def __init__(self, config: ConfigT) -> None:
        self.config: ConfigT = config


class OptionProvider(Registered[ProviderConfigT]):
    """An option data source. Subclasses set ``name`` and, if they have knobs, a config
    deriving from :class:`ProviderConfig`.

    Methods are synchronous and may be called from several threads at once; the core
    bounds concurrency, applies the rate limit, retries ``retryable`` errors, honours
    ``RateLimitedError.retry_after`` and stops calling after an ``AuthenticationError``.
    """

    Config: ClassVar[type[PluginConfig]] = ProviderConfig
    synthetic: ClassVar[bool] = False

    @abstractmethod
    def extract_expirations(self, symbol: str) -> JSON:
        """Fetch the raw payload listing the symbol's expirations (or an error answer,
        :func:`optscan.http_answers.error_answer`)."""

    @abstractmethod
    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        """Parse the listed expirations out of :meth:`extract_expirations`'s payload;
        raise the :class:`~optscan.errors.ProviderError` an error answer means."""

    @abstractmethod
    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        """Fetch the raw chain of one expiration (or an error answer).

        ``listing`` is the raw expirations payload; a provider whose listing already
        carries a chain (Yahoo's undated v7 answer holds the nearest one) may return
        it instead of making a request.
        """

    @abstractmethod
    def transform_chain(self, raw: JSON, symbol: str, expiration: dt.date) -> OptionChain:
        """Parse one expiration's raw payload into a columnar :class:`OptionChain`;
        raise the :class:`~optscan.errors.ProviderError` an error answer means."""

    # An optional part: a provider that has fundamentals overrides both methods.

    def extract_fundamentals(self, symbol: str) -> JSON:
        """Optional: fetch the raw payload of the symbol's fundamentals (or an error
        answer), untouched. The default raises
        :class:`~optscan.errors.FundamentalsUnavailableError`."""
        from optscan.errors import FundamentalsUnavailableError

        raise FundamentalsUnavailableError(f"provider {self.name!r} offers no fundamentals")

    def transform_fundamentals(self, raw: JSON, symbol: str) -> Fundamentals:
        """Optional: parse :meth:`extract_fundamentals`'s payload into
        :class:`~optscan.fundamentals.Fundamentals`; raise the
        :class:`~optscan.errors.ProviderError` an error answer means."""
        from optscan.errors import FundamentalsUnavailableError

        raise FundamentalsUnavailableError(f"provider {self.name!r} offers no fundamentals")

    def close(self) -> None:
        """Release sessions or sockets at the end of a scan."""


def provides_fundamentals(provider: OptionProvider[Any]) -> bool:
    """Whether the provider (or the provider a replay or recording wraps) overrides the
    optional fundamentals part."""
    inner = getattr(provider, "inner", provider)
    return type(inner).extract_fundamentals is not OptionProvider.extract_fundamentals


class Enrichment:
    """What :meth:`Enricher.enrich` returns: facts keyed by OCC contract symbol and by
    symbol, each a JSON object stored as ``extras[<enricher name>]``. Opportunities or
    symbols left out get no facts from this enricher."""

    def __init__(
        self,
        opportunities: dict[str, dict[str, Any]] | None = None,
        symbols: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.opportunities = opportunities or {}
        self.symbols = symbols or {}


class Enricher(Registered[ConfigT]):
    """Adds facts to a finished scan's opportunities and per-symbol outcomes, after the
    screen and the ranking and before the sinks, when ``enrichers.enabled`` lists it
    (embedded and queued scans alike: the queued scan's aggregator runs it). Its config
    section is ``[enrichers.<name>]``; its facts land in ``extras[<name>]``. An enricher
    that raises is reported in the result's ``errors`` (like a failing sink) and the
    scan goes on without its facts.
    """

    def fundamentals_ttl(self) -> float | None:
        """How long (seconds) a queued scan should keep the fundamentals this enricher
        reads in Redis, or ``None`` (the default) if it reads none. When set, batch jobs
        fetch the fundamentals of the symbols they scanned ahead, across the fleet."""
        return None

    @abstractmethod
    def enrich(
        self,
        opportunities: list[Opportunity],
        symbols: list[SymbolOutcome],
        context: EnrichContext,
    ) -> Enrichment:
        """Return the facts for some of ``opportunities`` (by ``contract_symbol``) and
        ``symbols`` (by ``symbol``). ``context`` gives the scan's clock and provider and
        fetches fundamentals through the core's client (rate limit, retries, cache)."""


class StockSource(Registered[ConfigT]):
    """Gives the symbols to scan (a watchlist, a file, a database, an index...)."""

    @abstractmethod
    def symbols(self) -> Iterable[str]:
        """Return raw symbols; the core upper-cases, validates and de-duplicates them."""


class ResultSink(Registered[ConfigT]):
    """Receives every finished :class:`~optscan.models.ScanResult` (files, Redis,
    alerts...). A sink is instantiated for each publication."""

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
