"""The per-profile scan lock: one queued scan of a profile at a time.

Two keys: the **lease** (``lock:<profile>``, the holder's scan id, ``queue.lock_ttl_s``),
taken with an atomic ``SET NX``-like script, refreshed while the scan's jobs run and
released (compare-and-delete) when it ends; and the **owner** (``lock:<profile>:owner``,
the scan that last took the lease, kept ``queue.state_ttl_s``). A lease can lapse while
the scan waits: for a worker (its coordinator queued), or behind other scans' jobs
(its batches queued). So when the lease is free, the owner still keeps the profile as
long as it is *alive*: its state ``queued`` or ``running`` and its coordinator or
aggregator job queued, scheduled (a retry), deferred or started. A dead scan's lease
expires after ``queue.lock_ttl_s``; ``optscan lock clear`` frees the profile at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from optscan.queue import lua
from optscan.queue.connection import aggregator_job_id, coordinator_job_id, rq_job_key

if TYPE_CHECKING:
    from redis import Redis

    from optscan.queue.connection import Keys

DEFAULT_OWNER_TTL_S = 86400


def _owner_keys(redis: Redis, keys: Keys, owner: str) -> list[str]:
    """The owner's scan hash and its coordinator and aggregator jobs' hashes."""
    if not owner:
        placeholder = keys.scan("-")
        return [placeholder, rq_job_key("-"), rq_job_key("-")]
    job_id = redis.hget(keys.scan(owner), "job_id")
    coordinator = job_id.decode() if job_id else coordinator_job_id(owner)
    return [keys.scan(owner), rq_job_key(coordinator), rq_job_key(aggregator_job_id(owner))]


def acquire_lock(
    redis: Redis,
    keys: Keys,
    profile: str,
    token: str,
    ttl_s: int,
    *,
    owner_ttl_s: int = DEFAULT_OWNER_TTL_S,
) -> str:
    """Take the profile's lock for ``token``; return the holder.

    The caller owns the lock when the returned holder equals its token (a second call
    with the same token refreshes it). A lapsed lease is not enough: while the scan that
    owned the profile is alive (its jobs queued or running), it stays the holder.
    """
    script = redis.register_script(lua.ACQUIRE)
    owner = ""
    for _attempt in range(5):
        code, holder = script(
            keys=[keys.lock(profile), keys.lock_owner(profile), *_owner_keys(redis, keys, owner)],
            args=[token, ttl_s * 1000, owner_ttl_s, owner],
        )
        holder = holder.decode() if isinstance(holder, bytes) else str(holder)
        if int(code) >= 0:
            return holder
        owner = holder  # the owner changed since we read it: look at the new one
    return holder


def refresh_lock(
    redis: Redis,
    keys: Keys,
    profile: str,
    token: str,
    ttl_s: int,
    *,
    owner_ttl_s: int = DEFAULT_OWNER_TTL_S,
) -> bool:
    """Extend the lock if ``token`` holds it, or re-take it if it lapsed meanwhile and
    no other scan owns the profile."""
    script = redis.register_script(lua.REFRESH_LOCK)
    return bool(
        script(
            keys=[keys.lock(profile), keys.lock_owner(profile)],
            args=[token, ttl_s * 1000, owner_ttl_s],
        )
    )


def keep_lock(
    redis: Redis,
    keys: Keys,
    profile: str,
    scan_id: str,
    ttl_s: int,
    *,
    owner_ttl_s: int = DEFAULT_OWNER_TTL_S,
) -> bool:
    """A scan's jobs keep its lock alive (re-taking it if it lapsed) while it runs."""
    script = redis.register_script(lua.KEEP_LOCK)
    return bool(
        script(
            keys=[keys.lock(profile), keys.lock_owner(profile), keys.scan(scan_id)],
            args=[scan_id, ttl_s * 1000, owner_ttl_s],
        )
    )


@contextlib.contextmanager
def lock_kept(redis: Redis, keys: Keys, profile: str, scan_id: str, ttl_s: int) -> Iterator[None]:
    """Keep the lock alive from a thread during a long step (a slow, rate-limited batch)."""
    import threading

    from redis.exceptions import RedisError

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(max(1.0, ttl_s / 3)):
            with contextlib.suppress(RedisError):
                keep_lock(redis, keys, profile, scan_id, ttl_s)

    thread = threading.Thread(target=beat, name="optscan-lock", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)


def release_lock(redis: Redis, keys: Keys, profile: str, token: str) -> bool:
    """Compare-and-delete: only the holder's token releases the lock (lease and owner)."""
    script = redis.register_script(lua.RELEASE_LOCK)
    return bool(script(keys=[keys.lock(profile), keys.lock_owner(profile)], args=[token]))


def lock_holder(redis: Redis, keys: Keys, profile: str) -> str | None:
    """The scan holding the profile's lease (``None`` when it lapsed or is free)."""
    value = redis.get(keys.lock(profile))
    return value.decode() if value else None


def clear_lock(redis: Redis, keys: Keys, profile: str) -> str | None:
    """Operators only: drop the profile's lock whoever holds it; return the old holder."""
    pipe = redis.pipeline()
    pipe.get(keys.lock(profile))
    pipe.get(keys.lock_owner(profile))
    pipe.delete(keys.lock(profile), keys.lock_owner(profile))
    lease, owner, _ = pipe.execute()
    holder = lease or owner
    return holder.decode() if holder else None
