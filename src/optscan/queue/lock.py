"""The per-profile scan lock: one queued scan of a profile at a time.

An atomic ``SET NX PX`` with the scan id as token; refreshed (Lua, compare-and-extend)
while the scan's jobs run and released (compare-and-delete) when it ends. A dead scan's
lock expires after ``queue.lock_ttl_s``; ``optscan lock clear`` frees it at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis

    from optscan.queue.connection import Keys


_REFRESH_LOCK = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
elseif not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 2
end
return 0
"""

# KEYS: lock, scan hash. Like _REFRESH_LOCK, but only for a scan still queued/running,
# so a late job of an ended scan (an orphaned work horse) never re-takes the lock.
_KEEP_LOCK = (
    """
local state = redis.call('HGET', KEYS[2], 'state')
if state ~= 'queued' and state ~= 'running' then
    return 0
end"""
    + _REFRESH_LOCK
)

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def acquire_lock(redis: Redis, keys: Keys, profile: str, token: str, ttl_s: int) -> str:
    """Take the profile's lock for ``token`` (atomic ``SET NX PX``); return the holder.

    The caller owns the lock when the returned holder equals its token (a second call
    with the same token refreshes it).
    """
    key = keys.lock(profile)
    if redis.set(key, token, nx=True, px=ttl_s * 1000):
        return token
    if refresh_lock(redis, keys, profile, token, ttl_s):
        return token
    holder = redis.get(key)
    return holder.decode() if holder else token


def refresh_lock(redis: Redis, keys: Keys, profile: str, token: str, ttl_s: int) -> bool:
    """Extend the lock if ``token`` holds it, or re-take it if it expired meanwhile."""
    script = redis.register_script(_REFRESH_LOCK)
    return bool(script(keys=[keys.lock(profile)], args=[token, ttl_s * 1000]))


def keep_lock(redis: Redis, keys: Keys, profile: str, scan_id: str, ttl_s: int) -> bool:
    """A scan's jobs keep its lock alive (re-taking it if it lapsed) while it runs."""
    script = redis.register_script(_KEEP_LOCK)
    return bool(script(keys=[keys.lock(profile), keys.scan(scan_id)], args=[scan_id, ttl_s * 1000]))


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
    """Compare-and-delete: only the holder's token releases the lock."""
    script = redis.register_script(_RELEASE_LOCK)
    return bool(script(keys=[keys.lock(profile)], args=[token]))


def lock_holder(redis: Redis, keys: Keys, profile: str) -> str | None:
    value = redis.get(keys.lock(profile))
    return value.decode() if value else None


def clear_lock(redis: Redis, keys: Keys, profile: str) -> str | None:
    """Operators only: drop the profile's lock whoever holds it; return the old holder."""
    pipe = redis.pipeline()
    pipe.get(keys.lock(profile))
    pipe.delete(keys.lock(profile))
    holder, _ = pipe.execute()
    return holder.decode() if holder else None
