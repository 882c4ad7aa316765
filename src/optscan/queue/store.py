"""A queued scan's state in Redis: progress, per-symbol outcomes, the final result.

Every change is one Lua script, so it is atomic, and completion is idempotent per
symbol: done and failed symbols are sets, so a symbol recorded twice (an orphaned work
horse and its retry) counts once.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from optscan.models import NEW_YORK
from optscan.queue.lock import lock_holder
from optscan.queue.rq import JsonJob
from optscan.secrets import scrub

if TYPE_CHECKING:
    from redis import Redis

    from optscan.config import QueueSection
    from optscan.queue.connection import Keys

TERMINAL_STATES = ("finished", "failed", "skipped", "lost")


# KEYS: scan hash, outcomes hash, done set, failed set
# ARGV: ttl, now, then (symbol, outcome json, failed 0/1) triples
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
    return {-1, 0, 0}
end
local added = 0
for i = 3, #ARGV, 3 do
    if redis.call('SADD', KEYS[3], ARGV[i]) == 1 then
        added = added + 1
        redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
        if ARGV[i + 2] == '1' then
            redis.call('SADD', KEYS[4], ARGV[i])
        end
    end
end
local done = redis.call('SCARD', KEYS[3])
local failed = redis.call('SCARD', KEYS[4])
redis.call('HSET', KEYS[1], 'done', done, 'failed', failed, 'updated_at', ARGV[2])
for k = 1, 4 do
    redis.call('EXPIRE', KEYS[k], ARGV[1])
end
return {added, done, failed}
"""

# KEYS: scan hash, result key, lock key, then every other per-scan key (for the TTL)
# ARGV: token (scan id), state, finished_at, message, result json ('' for none), ttl
_END = """
if redis.call('EXISTS', KEYS[1]) == 0 then
    return -1
end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'finished' or state == 'failed' or state == 'skipped' then
    return 0
end
if ARGV[5] ~= '' then
    redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'finished_at', ARGV[3], 'message', ARGV[4])
if ARGV[2] ~= 'finished' then
    redis.call('HSET', KEYS[1], 'error', ARGV[4])
end
if redis.call('GET', KEYS[3]) == ARGV[1] then
    redis.call('DEL', KEYS[3])
end
for k = 4, #KEYS do
    redis.call('EXPIRE', KEYS[k], ARGV[6])
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""


def _now() -> str:
    return dt.datetime.now(NEW_YORK).isoformat()


class ScanStore:
    """A scan's state in Redis: the progress hash, per-symbol outcomes, done/failed
    sets and the final result. Counts are set cardinalities, never counters, so a
    symbol finished twice (an orphaned horse and its retry) counts once."""

    def __init__(self, redis: Redis, keys: Keys, cfg: QueueSection) -> None:
        self.redis = redis
        self.keys = keys
        self.cfg = cfg

    # -- lifecycle

    def create(
        self, scan_id: str, profile: str, *, state: str, job_id: str, scheduled: bool = False
    ) -> None:
        """Write the progress hash and make this the latest scan (of its profile)."""
        now = _now()
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(
            self.keys.scan(scan_id),
            mapping={
                "scan_id": scan_id,
                "profile": profile,
                "state": state,
                "total": 0,
                "done": 0,
                "failed": 0,
                "queued_at": now,
                "updated_at": now,
                "job_id": job_id,
                "scheduled": int(scheduled),
            },
        )
        pipe.expire(self.keys.scan(scan_id), self.cfg.state_ttl_s)
        pipe.set(self.keys.latest(), scan_id, ex=self.cfg.state_ttl_s)
        pipe.set(self.keys.latest(profile), scan_id, ex=self.cfg.state_ttl_s)
        pipe.execute()

    def exists(self, scan_id: str) -> bool:
        return bool(self.redis.hexists(self.keys.scan(scan_id), "state"))

    def get(self, scan_id: str) -> dict[str, str]:
        raw = self.redis.hgetall(self.keys.scan(scan_id))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def record(
        self, scan_id: str, items: list[tuple[str, dict[str, Any], bool]]
    ) -> tuple[int, int, int]:
        """Record finished symbols ``(symbol, outcome+opportunities JSON, failed)``.

        Atomic and idempotent: the first record of a symbol wins. Returns ``(added,
        done, failed)``; ``added`` is -1 when the scan's state has vanished (nothing is
        written then, so a flushed scan never comes back half-made).
        """
        args: list[Any] = [self.cfg.state_ttl_s, _now()]
        for symbol, payload, failed in items:
            args += [symbol, json.dumps(payload, separators=(",", ":")), "1" if failed else "0"]
        script = self.redis.register_script(_RECORD)
        keys = self.keys
        added, done, failed = script(
            keys=[
                keys.scan(scan_id),
                keys.outcomes(scan_id),
                keys.done(scan_id),
                keys.failed(scan_id),
            ],
            args=args,
        )
        return int(added), int(done), int(failed)

    def pending(self, scan_id: str, symbols: list[str]) -> list[str]:
        """The symbols not recorded yet."""
        if not symbols:
            return []
        flags = self.redis.smismember(self.keys.done(scan_id), symbols)
        return [s for s, flag in zip(symbols, flags, strict=True) if not flag]

    def outcomes(self, scan_id: str) -> dict[str, dict[str, Any]]:
        raw = self.redis.hgetall(self.keys.outcomes(scan_id))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def end(
        self,
        scan_id: str,
        profile: str,
        *,
        state: str,
        message: str,
        result: dict[str, Any] | None = None,
    ) -> int:
        """End the scan atomically: store the result, set the state, release the lock.

        Returns 1 when done, 0 when it had already ended, -1 when its state vanished.
        """
        keys = self.keys
        script = self.redis.register_script(_END)
        text = json.dumps(result, separators=(",", ":")) if result is not None else ""
        return int(
            script(
                keys=[
                    keys.scan(scan_id),
                    keys.result(scan_id),
                    keys.lock(profile),
                    keys.outcomes(scan_id),
                    keys.done(scan_id),
                    keys.failed(scan_id),
                ],
                args=[scan_id, state, _now(), scrub(message), text, self.cfg.state_ttl_s],
            )
        )

    def result(self, scan_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(self.keys.result(scan_id))
        return json.loads(raw) if raw else None

    def latest(self, profile: str | None = None) -> str | None:
        value = self.redis.get(self.keys.latest(profile))
        return value.decode() if value else None

    # -- reading

    def failures(self, scan_id: str, symbols: list[str]) -> dict[str, str]:
        """Why each of ``symbols`` that failed did (a batch's share of the failures)."""
        if not symbols:
            return {}
        flags = self.redis.smismember(self.keys.failed(scan_id), symbols)
        return self._reasons(scan_id, [s for s, f in zip(symbols, flags, strict=True) if f])

    def _reasons(self, scan_id: str, failed: list[str]) -> dict[str, str]:
        if not failed:
            return {}
        values = self.redis.hmget(self.keys.outcomes(scan_id), failed)
        reasons: dict[str, str] = {}
        for symbol, value in zip(failed, values, strict=True):
            outcome = json.loads(value)["outcome"] if value else {}
            reasons[symbol] = outcome.get("error") or outcome.get("reason") or "failed"
        return reasons

    def status(self, scan_id: str, _attempts: int = 3) -> dict[str, Any]:
        """The document ``optscan status --format json`` prints.

        A scan whose progress hash vanished (Redis flushed or restarted empty), or that
        claims to be running while its profile lock is gone or held by another scan
        (nobody is working on it), is ``lost``; a queued scan whose lock expired while
        its coordinator job still waits in the queue stays ``queued``.
        ``_attempts`` bounds the re-reads when the scan changes state while being read.
        """
        keys = self.keys
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(keys.scan(scan_id))
        pipe.scard(keys.done(scan_id))
        pipe.smembers(keys.failed(scan_id))
        raw, done, failed_members = pipe.execute()
        info = {k.decode(): v.decode() for k, v in raw.items()}
        failed = sorted(m.decode() for m in failed_members)
        state = info.get("state")
        error = info.get("error") or None
        if state is None:
            state = "lost"
            error = (
                "no scan with this id in Redis: unknown, expired (queue.state_ttl_s), "
                "or Redis was flushed or restarted"
            )
        elif state in ("queued", "running"):
            holder = lock_holder(self.redis, keys, info.get("profile", ""))
            waiting = (
                state == "queued"
                and holder is None
                and bool(self.redis.exists(JsonJob.key_for(info.get("job_id") or "-")))
            )
            if holder != scan_id and not waiting:
                # The hash and the lock are read one after the other: an aggregator
                # that finished in between released the lock; read the scan again.
                now = self.redis.hget(keys.scan(scan_id), "state")
                if _attempts > 1 and (now.decode() if now else None) != state:
                    return self.status(scan_id, _attempts - 1)
                state = "lost"
                why = "expired" if holder is None else f"is held by scan {holder}"
                error = f"nobody is working on this scan: its profile lock {why}"
        failures = self._reasons(scan_id, failed)
        total = int(info.get("total") or 0)
        return {
            "scan_id": scan_id,
            "profile": info.get("profile"),
            "state": state,
            "symbols_total": total,
            "symbols_done": int(done),
            "symbols_failed": len(failed),
            "failures": failures,
            "queued_at": info.get("queued_at"),
            "started_at": info.get("started_at"),
            "finished_at": info.get("finished_at"),
            "as_of": info.get("as_of"),
            "job_id": info.get("job_id"),
            "scheduled": info.get("scheduled") == "1",
            "message": info.get("message"),
            "error": error,
        }
