"""The built-in ``redis`` sink: the latest result of each scan profile, kept in Redis.

One hash per profile (``<prefix>results:<profile>``, see
:meth:`optscan.queue.connection.Keys.results`) holds the whole result as the scan's JSON
(``result``), its times and counts, and each symbol's opportunities
(``symbol:<SYMBOL>``), with a TTL (``[sinks.redis] ttl_s``, default ``redis.result_ttl_s``).
It is written under a temporary key and ``RENAME``d in one transaction, so a reader
sees the previous result or the new one, never half of one.

Which Redis: inside a queued scan, the jobs' own connection and prefix (bound with
:func:`bound`); otherwise ``[sinks.redis] url``/``prefix`` if set, else the scan's own
``[redis]`` section (``--config`` and ``--set`` included).
This module is imported by every plugin host, so it imports ``redis`` only when it
publishes.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from optscan.hookspecs import hookimpl
from optscan.models import ScanResult
from optscan.protocols import PluginConfig, ResultSink, SecretUrl
from optscan.queue.connection import Keys, patiently


@dataclass(frozen=True)
class Binding:
    """The connection and key prefix a queued scan's sinks should use."""

    redis: Any
    prefix: str
    default_ttl_s: int
    wait_s: float = 0.0


_binding: contextvars.ContextVar[Binding | None] = contextvars.ContextVar(
    "optscan_redis_sink_binding", default=None
)


@contextlib.contextmanager
def bound(redis: Any, prefix: str, default_ttl_s: int, *, wait_s: float = 0.0) -> Iterator[None]:
    """Within the block, the ``redis`` sink writes through this connection and prefix,
    waiting up to ``wait_s`` for a Redis that is full or restarting (``queue.redis_wait_s``)."""
    token = _binding.set(Binding(redis, prefix, default_ttl_s, wait_s))
    try:
        yield
    finally:
        _binding.reset(token)


class RedisSinkConfig(PluginConfig):
    """``[sinks.redis]``; every key is optional."""

    url: SecretUrl | None = Field(
        default=None, description="Redis URL; default: the queue's connection, else redis.url"
    )
    prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_\-:.]{1,64}$")
    ttl_s: int | None = Field(
        default=None, ge=1, le=365 * 86400, description="default: redis.result_ttl_s"
    )


class RedisSink(ResultSink[RedisSinkConfig]):
    """Keeps the latest result per scan profile in Redis, with a TTL."""

    name = "redis"

    def _target(self) -> tuple[Any, str, int]:
        config = self.config
        binding = _binding.get()
        if binding is not None and config.url is None:
            return (
                binding.redis,
                config.prefix or binding.prefix,
                config.ttl_s or binding.default_ttl_s,
            )
        from optscan.config import current_settings
        from optscan.queue.connection import connect

        settings = current_settings()
        url = (config.url or settings.redis.url).get_secret_value()
        client = connect(settings, url=url)
        return (
            client,
            config.prefix or settings.redis.prefix,
            config.ttl_s or settings.redis.result_ttl_s,
        )

    def publish(self, result: ScanResult) -> None:
        redis, prefix, ttl = self._target()
        binding = _binding.get()
        wait = binding.wait_s if binding is not None else 0.0
        # a queued scan's aggregator waits out a Redis that is full or restarting
        patiently(lambda: write_result(redis, prefix, result, ttl), what="sink", budget_s=wait)


def write_result(
    redis: Any,
    prefix: str,
    result: ScanResult,
    ttl_s: int,
    data: dict[str, Any] | None = None,
    text: str | None = None,
) -> None:
    """Replace the profile's stored result atomically (temporary key + ``RENAME``).

    ``data`` (``result.to_json_dict()``) and ``text`` (that as compact JSON), when the
    caller has them already: a 200-symbol result takes about 10 ms to serialize.
    """
    key = Keys(prefix).results(result.profile)
    temp = f"{key}:tmp:{result.scan_id}"
    per_symbol: dict[str, list[dict[str, Any]]] = {}
    data = result.to_json_dict() if data is None else data
    for opportunity in data["opportunities"]:
        per_symbol.setdefault(opportunity["symbol"], []).append(opportunity)
    mapping: dict[str, str] = {
        "result": json.dumps(data, separators=(",", ":")) if text is None else text,
        "scan_id": result.scan_id,
        "as_of": result.as_of.isoformat(),
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "symbols": str(len(result.symbols)),
        "opportunities": str(len(result.opportunities)),
    }
    for symbol, items in per_symbol.items():
        mapping[f"symbol:{symbol}"] = json.dumps(items, separators=(",", ":"))
    pipe = redis.pipeline(transaction=True)
    pipe.delete(temp)
    pipe.hset(temp, mapping=mapping)
    pipe.expire(temp, ttl_s)
    pipe.rename(temp, key)
    pipe.execute()


def read_result(redis: Any, prefix: str, profile: str) -> dict[str, Any] | None:
    """The stored result of a profile as the scan's JSON, or ``None``."""
    raw = redis.hget(Keys(prefix).results(profile), "result")
    return json.loads(raw) if raw else None


@hookimpl
def register_result_sinks(register: Callable[[type[ResultSink]], None]) -> None:
    register(RedisSink)
