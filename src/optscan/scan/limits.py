"""What a provider's requests share: the rate limit, and the gate (pause and auth latch).

* The **rate limit** (``[providers.<name>] rate_limit_per_s``) is a pyrate-limiter
  :class:`Limiter`: in memory for one process (:func:`memory_limiter`), or in Redis so
  every worker of a queued scan draws on one budget (``optscan.queue.limits``).
* The **gate** holds the two signals a provider's errors set for every request to it:
  a *pause* (``RateLimitedError.retry_after``: no request starts before it ends) and
  an *auth latch* (``AuthenticationError``: no request starts at all, this scan).
  :class:`MemoryGate` serves one process; ``optscan.queue.limits.RedisGate`` the same
  protocol through Redis, so a 429 or a refused token seen by one worker stops them
  all.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pyrate_limiter import Limiter


def rates(per_second: float, guard_ms: int = 0) -> list[Any]:
    """pyrate-limiter rates for a per-second figure (fractions become longer windows),
    each window ``guard_ms`` longer than the server's: a margin for the time between a
    request being let through and it reaching the server."""
    from pyrate_limiter import Duration, Rate

    if per_second >= 1 and float(per_second).is_integer():
        return [Rate(int(per_second), int(Duration.SECOND) + guard_ms)]
    return [Rate(1, max(1, round(1000 / per_second)) + guard_ms)]


def stamped(bucket_class: type) -> type:
    """``bucket_class`` stamping each request with the time it is let through.

    pyrate-limiter 4.5's blocking wait advances a waiting request's timestamp by the
    sleep it *planned* (``item.timestamp += sleep_ms``), so a thread that wakes late
    (a busy machine, the GIL) enters the window back-dated, and the server, which
    counts requests as they arrive, sees more than the limit in one second: 97 "too
    many requests" of 1,000 from 2 workers at 50/s. Stamping at the put keeps the
    window true to the requests' real times."""

    class Stamped(bucket_class):  # type: ignore[misc,valid-type]
        def put(self, item: Any) -> Any:
            lock = getattr(self, "_lock", None)  # the in-memory bucket's (re-entrant)
            if lock is None:
                item.timestamp = self.now()
                return super().put(item)
            with lock:  # stamp and insert in one hold: its items stay in time order
                item.timestamp = self.now()
                return super().put(item)

    Stamped.__name__ = f"Stamped{bucket_class.__name__}"
    return Stamped


def memory_limiter(per_second: float) -> Limiter:
    """A blocking limiter for one process."""
    from pyrate_limiter import InMemoryBucket, Limiter

    return Limiter(stamped(InMemoryBucket)(rates(per_second)), buffer_ms=10)


class ProviderGate(Protocol):
    """The shared state every request to one provider checks before it starts."""

    def state(self) -> tuple[str | None, float]:
        """``(auth failure message or None, seconds left of the pause, 0 if none)``."""
        ...

    def pause(self, seconds: float) -> None:
        """No request may start for ``seconds`` from now (a longer pause is kept)."""
        ...

    def lock_out(self, message: str) -> None:
        """The provider refused the credentials: no request may start from now on.
        The first message is kept."""
        ...


class MemoryGate:
    """A :class:`ProviderGate` for one process (the embedded scan, one batch job)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0
        self._refused: str | None = None

    def state(self) -> tuple[str | None, float]:
        with self._lock:
            return self._refused, max(0.0, self._until - time.monotonic())

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def lock_out(self, message: str) -> None:
        with self._lock:
            if self._refused is None:
                self._refused = message
