"""The fundamentals cache of queued scans: Redis, shared by every worker, with a TTL.

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
