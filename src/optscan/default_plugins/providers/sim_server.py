"""The ``sim`` provider's server when a queued scan runs it: one for the whole fleet.

:class:`SharedServer` keeps the simulated server's request count, its rate-limit window
(a sorted set of request times) and its count of "too many requests" answers in Redis,
so every worker's requests meet one server, as they meet one real provider; the
benchmarks and tests read :func:`server_counts` to see whether the fleet together kept
``rate_limit_per_s``.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections import deque
from typing import Any

# KEYS: the server's window (a sorted set of request times, ms), its request count, its
# "too many" count. ARGV: now (ms), the limit per second (0: count only), a member.
# Returns 1 when the request is over the limit (refused), else 0.
_SERVE_SHARED = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 86400)
local limit = tonumber(ARGV[2])
if limit <= 0 then
    return 0
end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000)
if redis.call('ZCARD', KEYS[1]) >= limit then
    redis.call('INCR', KEYS[3])
    redis.call('EXPIRE', KEYS[3], 86400)
    return 1
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], 2000)
return 0
"""


_members = itertools.count()
"""Tells apart the requests one process sends at the same instant (``next`` is atomic)."""


def _wall_ms() -> float:
    """The shared server's clock: wall time, which every worker on a machine shares (and
    pyrate-limiter's Redis window uses too)."""
    return time.time() * 1000.0


def _server_keys(key: str) -> list[str]:
    return [f"{key}:window", f"{key}:requests", f"{key}:too_many"]


def server_counts(redis: Any, key: str) -> dict[str, int]:
    """What the simulated server kept in Redis at ``key`` (a queued scan's batches use
    ``Keys.provider_server("sim")``): ``{"requests", "too_many"}``, every worker's."""
    _window, requests, too_many = _server_keys(key)
    values = redis.mget([requests, too_many])
    return {
        "requests": int(values[0] or 0),
        "too_many": int(values[1] or 0),
    }


class SharedServer:
    """The simulated server's state in Redis under ``key`` (one per fleet)."""

    def __init__(self, redis: Any, key: str) -> None:
        self.keys = _server_keys(key)
        self._script = redis.register_script(_SERVE_SHARED)

    def refuses(self, limit: float) -> bool | None:
        """Count one request; whether it is over ``limit`` a second (0: count only).
        ``None`` when Redis did not answer (a simulated server does not go down with
        Redis: the caller judges with its own window)."""
        now_ms = _wall_ms()
        member = f"{now_ms:.3f}:{os.getpid()}:{next(_members)}"
        try:
            return bool(
                self._script(keys=self.keys, args=[f"{now_ms:.3f}", math.floor(limit), member])
            )
        except Exception:
            return None


class ServerWindow:
    """The simulated server's count and rate window: this process's, or (once
    :meth:`share` was called) the fleet's in Redis, this process's when Redis fails."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._shared: SharedServer | None = None

    def share(self, redis: Any, key: str) -> None:
        self._shared = SharedServer(redis, key)

    def over(self, limit: float, now: float) -> bool:
        """Count one request arriving at ``now`` (monotonic seconds); whether it goes
        over ``limit`` requests a second (0: count it only)."""
        if self._shared is not None:
            verdict = self._shared.refuses(limit)
            if verdict is not None:
                return verdict
        if limit <= 0:
            return False
        with self._lock:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= math.floor(limit):
                return True
            self._recent.append(now)
            return False
