"""Enrichment: plugins add facts to a finished scan, after the screen, before the sinks.

:func:`enrich_result` runs every enricher (``register_enrichers``) on the assembled
result, each on its own: the embedded scan calls it in :func:`optscan.scan.perform.perform_scan`
and a queued scan's aggregator job calls the same function on the merged result, so both
paths give the same facts. An enricher's facts go to ``extras[<enricher name>]`` of the
opportunities and symbol outcomes it names (checked to be plain, finite JSON); an
enricher that raises, returns something else or facts that are not JSON is recorded in
the result's ``errors`` as ``enricher '<name>' (plugin '<plugin>') failed: ...`` (with a
``PluginFailed`` event, hook ``enrich``), exactly like a failing sink, and the result
keeps no fact of it.

Enrichers read fundamentals through :class:`FundamentalsFetcher`: the provider's
optional ``extract_fundamentals``/``transform_fundamentals`` through the scan's own
:class:`~optscan.scan.fetch.ProviderClient` (gate, slots, rate limit, retries, error
signals, ``--record``/``--replay``), concurrently, with a cache of the *fundamentals*
(never of what a plugin computes from them): per run by default (:class:`MemoryCache`),
in Redis with a TTL for a queued scan (:class:`optscan.queue.fundamentals.RedisCache`).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from optscan.errors import OptscanError
from optscan.extras import check_json
from optscan.logs import get_logger
from optscan.protocols import Enrichment, provides_fundamentals
from optscan.scan.result import plugin_failed
from optscan.secrets import scrub_exception

if TYPE_CHECKING:
    from optscan.fundamentals import Fundamentals
    from optscan.models import Opportunity, ScanResult, SymbolOutcome
    from optscan.scan.context import ScanContext
    from optscan.scan.fetch import ProviderClient

MAX_FETCH_THREADS = 32
"""The most fundamentals requests :class:`FundamentalsFetcher` starts at once (the
provider's ``max_concurrency`` and rate limit still apply)."""


class FundamentalsCache(Protocol):
    """Where fetched fundamentals are kept between requests (JSON of the model)."""

    def get(self, provider: str, symbol: str) -> dict[str, Any] | None:
        """The cached fundamentals, or ``None``."""
        ...

    def put(self, provider: str, symbol: str, data: dict[str, Any], ttl_s: float | None) -> None:
        """Keep ``data`` (for ``ttl_s`` seconds where the cache outlives the run)."""
        ...


class MemoryCache:
    """A cache for one run (one scan, one ``optscan value``): nothing outlives it."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, provider: str, symbol: str) -> dict[str, Any] | None:
        with self._lock:
            return self._data.get((provider, symbol))

    def put(self, provider: str, symbol: str, data: dict[str, Any], ttl_s: float | None) -> None:
        with self._lock:
            self._data[(provider, symbol)] = data


@dataclass(frozen=True)
class Fetched:
    """One symbol's fundamentals, or why there are none (``error`` and ``reason``:
    ``no_fundamentals``, ``not_recorded``, ``transient``...)."""

    symbol: str
    fundamentals: Fundamentals | None = None
    error: str | None = None
    reason: str | None = None


class FundamentalsFetcher:
    """Fetches fundamentals through a provider client, concurrently and cached.

    ``replaying`` keeps a persistent cache out of it (a replay reads its recording).
    """

    def __init__(
        self,
        client: ProviderClient,
        *,
        cache: FundamentalsCache | None = None,
        concurrency: int = 8,
        replaying: bool = False,
    ) -> None:
        self.client = client
        self.provider = client.provider.name
        self.cache: FundamentalsCache = MemoryCache() if cache is None or replaying else cache
        self._run = MemoryCache()  # a symbol asked twice in a run costs one request
        self.concurrency = max(1, min(concurrency, MAX_FETCH_THREADS))

    @property
    def available(self) -> bool:
        """Whether the provider offers fundamentals at all."""
        return provides_fundamentals(self.client.provider)

    def get(self, symbols: Iterable[str], *, ttl_s: float | None = None) -> dict[str, Fetched]:
        """Fundamentals for each symbol (de-duplicated); ``ttl_s`` is how long a
        persistent cache keeps a fresh answer."""
        wanted = list(dict.fromkeys(symbols))
        if not self.available:
            error = f"provider {self.provider!r} offers no fundamentals"
            return {s: Fetched(s, error=error, reason="no_fundamentals") for s in wanted}
        found: dict[str, Fetched] = {}
        missing = []
        for symbol in wanted:
            cached = self._run.get(self.provider, symbol) or self.cache.get(self.provider, symbol)
            hit = self._cached(symbol, cached)
            if hit is None:
                missing.append(symbol)
            else:
                found[symbol] = hit
        if missing:
            workers = min(self.concurrency, len(missing))
            # each request in its own copy of this context: logs keep the scan id
            tasks = [(contextvars.copy_context(), s) for s in missing]
            with ThreadPoolExecutor(workers, thread_name_prefix="optscan-fundamentals") as pool:
                for fetched in pool.map(lambda t: t[0].run(self._fetch, t[1], ttl_s), tasks):
                    found[fetched.symbol] = fetched
        return {s: found[s] for s in wanted}

    def _cached(self, symbol: str, data: dict[str, Any] | None) -> Fetched | None:
        if data is None:
            return None
        from pydantic import ValidationError

        from optscan.fundamentals import Fundamentals

        try:
            return Fetched(symbol, Fundamentals.model_validate(data))
        except ValidationError:
            return None  # written by another version: fetch again

    def _fetch(self, symbol: str, ttl_s: float | None) -> Fetched:
        try:
            fundamentals = self.client.fundamentals(symbol)
        except OptscanError as exc:  # the provider's errors, and PluginError
            reason = getattr(exc, "reason", None) or "plugin_error"
            get_logger().info("fundamentals_failed", symbol=symbol, error=str(exc))
            return Fetched(symbol, error=scrub_exception(exc, with_type=False), reason=reason)
        data = fundamentals.model_dump(mode="json")
        self._run.put(self.provider, symbol, data, None)
        try:
            self.cache.put(self.provider, symbol, data, ttl_s)
        except Exception as exc:  # a cache that fails costs the cache, not the answer
            get_logger().warning("fundamentals_cache_failed", error=scrub_exception(exc))
        return Fetched(symbol, fundamentals)


@dataclass
class EnrichContext:
    """What an enricher gets besides the results: the scan's clock, provider and
    strategy, and :attr:`fundamentals` (a :class:`FundamentalsFetcher`)."""

    scan_id: str
    as_of: dt.datetime
    provider: str
    strategy: str
    fundamentals: FundamentalsFetcher


def enrich_result(
    ctx: ScanContext, result: ScanResult, *, cache: FundamentalsCache | None = None
) -> ScanResult:
    """``result`` with every enricher's facts in ``extras`` (see the module docstring).
    A skipped scan, or one with no enricher, is returned as it is."""
    host, settings = ctx.host, ctx.settings
    names = host.enricher_names(settings)
    if result.skipped or not names:
        return result
    from optscan.config import settings_in_use

    context = EnrichContext(
        scan_id=result.scan_id,
        as_of=result.as_of,
        provider=ctx.provider_name,
        strategy=ctx.strategy_name,
        fundamentals=FundamentalsFetcher(
            ctx.client,
            cache=cache,
            concurrency=settings.scan.concurrency,
            replaying=bool(ctx.request.replay_dir),
        ),
    )
    opportunities, symbols = list(result.opportunities), list(result.symbols)
    errors = list(result.errors)
    with settings_in_use(settings):
        for name in names:
            owner = host.owner("enrichers", name)
            try:
                enricher = host.instantiate("enrichers", name, settings)
                answer = enricher.enrich(list(opportunities), list(symbols), context)
                opportunities, symbols = _applied(name, answer, opportunities, symbols)
            except Exception as exc:
                error = scrub_exception(exc, with_type=not isinstance(exc, OptscanError))
                what = ("enricher", name, owner, "enrich")
                plugin_failed(host, errors, result.scan_id, what, error)
    return result.model_copy(
        update={"opportunities": opportunities, "symbols": symbols, "errors": errors}
    )


def _applied(
    name: str,
    answer: Any,
    opportunities: list[Opportunity],
    symbols: list[SymbolOutcome],
) -> tuple[list[Opportunity], list[SymbolOutcome]]:
    """The results with ``answer``'s facts under ``extras[name]``; ``ValueError`` when
    the answer is not an :class:`Enrichment` of JSON objects for known keys."""
    if not isinstance(answer, Enrichment):
        raise ValueError(f"enrich returned {type(answer).__name__}, not an Enrichment")
    for key, facts in (*answer.opportunities.items(), *answer.symbols.items()):
        if not isinstance(facts, dict):
            raise ValueError(f"the facts for {key!r} are {type(facts).__name__}, not an object")
        check_json(facts, f"extras.{name} of {key}")
    known = {o.contract_symbol for o in opportunities}
    unknown = [k for k in answer.opportunities if k not in known]
    unknown += [k for k in answer.symbols if k not in {s.symbol for s in symbols}]
    if unknown:
        raise ValueError(f"facts for {unknown[0]!r}, which is not in the result")

    def with_facts(item: Any, facts: dict[str, Any] | None) -> Any:
        if facts is None:
            return item
        plain = json.loads(json.dumps(facts, allow_nan=False))  # the plugin's dict is not kept
        return item.model_copy(update={"extras": {**item.extras, name: plain}})

    return (
        [with_facts(o, answer.opportunities.get(o.contract_symbol)) for o in opportunities],
        [with_facts(s, answer.symbols.get(s.symbol)) for s in symbols],
    )
