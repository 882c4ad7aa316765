"""The fundamentals cache of queued scans: Redis, shared by every worker, with a TTL.

Batch jobs fill it ahead (:func:`prefetch_fundamentals`: the fundamentals of the symbols
they scanned, for the enabled enrichers that read them), spreading the requests over
the fleet, so the aggregator, which enriches the merged result, mostly reads it.

A key per provider and symbol, ``<prefix>fundamentals:<provider>:<SYMBOL>``, holding the
:class:`~optscan.fundamentals.Fundamentals` as JSON (never a value a plugin computed
from them, so a config change applies at once), kept for the TTL the enricher asks for
(``[enrichers.valuation] cache_ttl_s``, 7 days by default). A fetch without a TTL is
not kept in Redis.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from optscan.symbols import check_key_part, normalize_symbol

if TYPE_CHECKING:
    from redis import Redis

    from optscan.queue.connection import Keys
    from optscan.scan.context import ScanContext


class RedisCache:
    """A :class:`optscan.scan.enrich.FundamentalsCache` in Redis."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.prefix = keys.prefix

    def key(self, provider: str, symbol: str) -> str:
        """The key of one provider's fundamentals of one symbol."""
        return f"{self.prefix}fundamentals:{check_key_part(provider)}:{normalize_symbol(symbol)}"

    def get(self, provider: str, symbol: str) -> dict[str, Any] | None:
        raw = self.redis.get(self.key(provider, symbol))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def put(self, provider: str, symbol: str, data: dict[str, Any], ttl_s: float | None) -> None:
        if not ttl_s or ttl_s <= 0:
            return
        self.redis.set(self.key(provider, symbol), json.dumps(data), ex=max(1, int(ttl_s)))


def prefetch_fundamentals(redis: Redis, keys: Keys, ctx: ScanContext, symbols: list[str]) -> None:
    """Fetch the fundamentals of ``symbols`` into the cache for the enabled enrichers
    that read them (:meth:`~optscan.protocols.Enricher.fundamentals_ttl`), with the
    longest TTL they ask for. Never raises: what fails here the aggregator fetches (and
    reports) again."""
    if not symbols or ctx.request.replay_dir:
        return
    from optscan.logs import get_logger
    from optscan.scan.enrich import FundamentalsFetcher

    ttls: list[float] = []
    for name in ctx.host.enricher_names(ctx.settings):
        try:
            ttl = ctx.host.instantiate("enrichers", name, ctx.settings).fundamentals_ttl()
        except Exception:  # the aggregator reports a broken enricher
            continue
        if ttl:
            ttls.append(float(ttl))
    if not ttls:
        return
    try:
        fetcher = FundamentalsFetcher(
            ctx.client, cache=RedisCache(redis, keys), concurrency=ctx.settings.scan.concurrency
        )
        fetcher.get(symbols, ttl_s=max(ttls))
    except Exception as exc:
        from optscan.secrets import scrub_exception

        get_logger().warning("fundamentals_prefetch_failed", error=scrub_exception(exc))
