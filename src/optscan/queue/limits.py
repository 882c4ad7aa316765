"""A provider's rate limit and gate shared through Redis by every worker of a fleet.

:func:`redis_limiter` keeps pyrate-limiter's window in Redis, so N workers together
never exceed ``rate_limit_per_s``. :class:`RedisGate` is
:class:`optscan.scan.limits.ProviderGate` in Redis: a ``retry_after`` pause seen by one
worker holds every worker (per provider: a 429 is about the account or the address,
not one scan), and a refused credential stops every worker of the scan.

Pauses are keys with a TTL, read back with ``PTTL``: the time left is the server's, so
workers whose clocks disagree still pause together.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from optscan.scan.limits import rates, stamped

if TYPE_CHECKING:
    from pyrate_limiter import Limiter
    from redis import Redis

    from optscan.queue.connection import Keys

# KEYS: pause key. ARGV: milliseconds. A longer pause already set is kept.
_PAUSE = """
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


class Trouble:
    """Whether Redis failed the shared limit or gate of a request: the symbol (or the
    expiration) may have failed for that alone, and is worth scanning again."""

    def __init__(self) -> None:
        self.seen = False

    def watch(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            return call(*args, **kwargs)
        except RedisError:
            self.seen = True
            raise


class WatchedLimiter:
    """A limiter whose Redis errors are noted in a :class:`Trouble`, entered by one of
    this process's threads at a time.

    pyrate-limiter wakes every thread waiting for the same slot at once: 30 threads
    then race for the GIL and the limiter's lock, each through a Redis round trip, and
    the one let through may reach the server tens of milliseconds later than its stamp
    in the window (the server then counts more than the limit in a second). One thread
    at a time waits in the limiter; the others wait on a lock, asleep."""

    def __init__(self, limiter: Limiter, trouble: Trouble) -> None:
        self.limiter = limiter
        self.trouble = trouble
        self._turnstile = threading.Lock()

    def try_acquire(self, *args: Any, **kwargs: Any) -> Any:
        with self._turnstile:
            return self.trouble.watch(self.limiter.try_acquire, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.limiter, name)


GUARD_MS = 30
"""How much longer than a second the fleet's window is: a request let through reaches
the server after the window's reply and a wake-up (1 ms median, 15 ms at worst in
1,000 requests from 2 workers on 2 cores at load 5); 30 ms costs 3 % of the rate."""


_COUNTED = "redis.call('ZCOUNT', bucket, window_start, now)"


def fleet_bucket() -> type:
    """pyrate-limiter's Redis bucket, stamped (:func:`~optscan.scan.limits.stamped`),
    counting every request in the window, its own stamp's future included.

    pyrate-limiter 4.5's script counts ``[window_start, now]``, ``now`` being the
    caller's stamp, taken before the script runs: a worker whose script runs after
    another worker's with a later stamp does not see that request, and lets one more
    through than the limit (the server then answered "too many" 1-2 times in 1,000
    requests at 50/s however long the guard). This one counts up to ``+inf``."""
    from pyrate_limiter import RedisBucket
    from pyrate_limiter.buckets.redis_bucket import LuaScript

    if _COUNTED not in LuaScript.PUT_ITEM:  # a pyrate-limiter whose script changed
        raise RuntimeError("pyrate-limiter's Redis script changed: check fleet_bucket")
    script = LuaScript.PUT_ITEM.replace(
        _COUNTED, "redis.call('ZCOUNT', bucket, window_start, '+inf')"
    )

    class FleetBucket(stamped(RedisBucket)):  # type: ignore[misc]
        @classmethod
        def init(cls, rates: Any, redis: Any, bucket_key: str, algorithm: Any = None) -> Any:
            return cls(rates, redis, bucket_key, redis.script_load(script), algorithm)

    return FleetBucket


def redis_limiter(per_second: float, redis: Redis, key: str) -> Limiter:
    """A blocking limiter whose window lives in Redis, shared by every worker (its
    window :data:`GUARD_MS` longer than a second, :func:`fleet_bucket`)."""
    from pyrate_limiter import Limiter

    bucket = fleet_bucket().init(rates(per_second, GUARD_MS), redis, key)
    return Limiter(bucket, buffer_ms=1)  # the guard is the margin; each ms here is lost per window


GATE_FRESH_S = 0.05
"""How long a worker trusts its last read of the shared gate. Every request checks the
gate twice (before and inside its slot): reading Redis each time cost a 200-symbol
scan at ``scan.concurrency=32`` a quarter of its time in round trips. A pause or a
lock-out set by this process is seen by its own requests at once; one set by another
worker within this much (plus a round trip)."""


class RedisGate:
    """A provider's pause and a scan's auth latch, in Redis (see the module docstring);
    its Redis errors are noted in ``trouble``. Reads are kept for ``fresh_s`` seconds
    (:data:`GATE_FRESH_S`); a read Redis refuses is not kept."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        scan_id: str,
        provider: str,
        ttl_s: int,
        trouble: Trouble | None = None,
        fresh_s: float = GATE_FRESH_S,
    ) -> None:
        self.redis = redis
        self.pause_key = keys.provider_pause(provider)
        self.refused_key = keys.auth_refused(scan_id, provider)
        self.ttl_s = ttl_s
        self.trouble = trouble or Trouble()
        self.fresh_s = fresh_s
        self._pause_script: Any = redis.register_script(_PAUSE)
        self._lock = threading.Lock()
        self._seen: tuple[str | None, float, float] | None = None  # refused, until, read at

    def state(self) -> tuple[str | None, float]:
        now = time.monotonic()
        with self._lock:
            seen = self._seen
        if seen is not None and now - seen[2] < self.fresh_s:
            return seen[0], max(0.0, seen[1] - now)
        refused, left = self.trouble.watch(self._state)
        now = time.monotonic()
        with self._lock:
            self._seen = (refused, now + left, now)
        return refused, left

    def _state(self) -> tuple[str | None, float]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(self.refused_key)
        pipe.pttl(self.pause_key)
        refused, left_ms = pipe.execute()
        message = refused.decode() if isinstance(refused, bytes) else refused
        return message, max(0, int(left_ms)) / 1000.0

    def pause(self, seconds: float) -> None:
        args = [max(1, round(seconds * 1000))]
        self.trouble.watch(self._pause_script, keys=[self.pause_key], args=args)
        now = time.monotonic()
        with self._lock:
            refused, until, read_at = self._seen or (None, now, now)
            self._seen = (refused, max(until, now + seconds), read_at)

    def lock_out(self, message: str) -> None:
        self.trouble.watch(self.redis.set, self.refused_key, message, nx=True, ex=self.ttl_s)
        now = time.monotonic()
        with self._lock:
            refused, until, read_at = self._seen or (None, now, now)
            self._seen = (refused or message, until, read_at)
