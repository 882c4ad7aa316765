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
from optscan.queue import lua
from optscan.queue.connection import aggregator_job_id, rq_job_key
from optscan.secrets import scrub

if TYPE_CHECKING:
    from redis import Redis

    from optscan.config import QueueSection
    from optscan.queue.connection import Keys

TERMINAL_STATES = ("finished", "failed", "skipped", "lost")


def _now() -> str:
    return dt.datetime.now(NEW_YORK).isoformat()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


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
        """Write the progress hash, add the scan to the in-flight index (in the same
        transaction, refreshing the index's TTL) and make this the latest scan (of its
        profile).

        A scan queued for workers (not a scheduled run, whose coordinator creates it
        while running) must be taken by one within ``queue.start_timeout_s`` (Redis
        time), else it ends ``failed`` (:meth:`take`, :meth:`status`).
        """
        now = _now()
        fields: dict[str, Any] = {
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
        }
        if state == "queued" and not scheduled:
            seconds, micros = self.redis.time()
            fields["start_timeout_s"] = self.cfg.start_timeout_s
            fields["start_by"] = f"{seconds + micros / 1e6 + self.cfg.start_timeout_s:.3f}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.scan(scan_id), mapping=fields)
        pipe.expire(self.keys.scan(scan_id), self.cfg.state_ttl_s)
        pipe.sadd(self.keys.inflight(), scan_id)
        pipe.expire(self.keys.inflight(), self.cfg.state_ttl_s)
        pipe.set(self.keys.latest(), scan_id, ex=self.cfg.state_ttl_s)
        pipe.set(self.keys.latest(profile), scan_id, ex=self.cfg.state_ttl_s)
        pipe.execute()

    def discard(self, scan_id: str) -> None:
        """Delete a scan that never got going (its coordinator could not be enqueued):
        its progress hash and its entry in the in-flight index. Not a transaction: a
        full Redis refuses any ``MULTI`` but still takes ``DEL`` and ``SREM`` (and an
        entry left behind is pruned by the next sweep, :meth:`in_flight`)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.keys.scan(scan_id))
        pipe.srem(self.keys.inflight(), scan_id)
        pipe.execute()

    def in_flight(self) -> list[str]:
        """The ids of the scans still queued or running, from the in-flight index
        (sorted): one ``SMEMBERS`` and one pipelined ``HGET`` of each state, whatever
        else the keyspace holds. An entry whose hash is gone or whose scan has ended
        (a fault between a scan's end and its removal, a hash deleted by hand) is
        pruned here, atomically (``lua.PRUNE_IN_FLIGHT``). Each read refreshes the
        index's TTL, so it outlives no scan in flight (the workers read it every few
        seconds); an index left with only ended scans is emptied, so Redis drops it."""
        index = self.keys.inflight()
        ids = sorted(_text(m) for m in self.redis.smembers(index))
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for scan_id in ids:
            pipe.hget(self.keys.scan(scan_id), "state")
        pipe.expire(index, self.cfg.state_ttl_s)
        states = [_text(v) for v in pipe.execute()[:-1]]
        live = [i for i, v in zip(ids, states, strict=True) if v in ("queued", "running")]
        stale = [i for i, v in zip(ids, states, strict=True) if v not in ("queued", "running")]
        if stale:
            script = self.redis.register_script(lua.PRUNE_IN_FLIGHT)
            script(keys=[index, *(self.keys.scan(i) for i in stale)], args=stale)
        return live

    def _end_keys(self, scan_id: str, profile: str) -> list[str]:
        keys = self.keys
        return [
            keys.scan(scan_id),
            keys.result(scan_id),
            keys.lock(profile),
            keys.lock_owner(profile),
            keys.inflight(),
            keys.outcomes(scan_id),
            keys.done(scan_id),
            keys.failed(scan_id),
        ]

    def take(self, scan_id: str, profile: str) -> str:
        """The coordinator takes its scan: ``"taken"``; ``"gone"`` when its state
        vanished; the state when it has ended; ``"late"`` when it waited past its
        ``start_by`` (it has just ended ``failed``: no worker took it in time)."""
        script = self.redis.register_script(lua.TAKE)
        verdict = script(
            keys=self._end_keys(scan_id, profile),
            args=[scan_id, _now(), self._late_message(scan_id), self.cfg.state_ttl_s, _now()],
        )
        return _text(verdict)

    def _late_message(self, scan_id: str, fields: dict[str, str] | None = None) -> str:
        fields = fields if fields is not None else self.get(scan_id)
        timeout = fields.get("start_timeout_s") or str(self.cfg.start_timeout_s)
        return (
            f"no worker took it within {timeout} s (queue.start_timeout_s): is an "
            f"`optscan worker` listening on queue {self.cfg.name!r}?"
        )

    def _inspect(self, scan_id: str, info: dict[str, str]) -> tuple[str, str]:
        """``(verdict, lease holder)`` of a queued or running scan (see ``lua.INSPECT``)."""
        script = self.redis.register_script(lua.INSPECT)
        verdict, holder = script(
            keys=[
                *self._end_keys(scan_id, info.get("profile", "")),
                rq_job_key(info.get("job_id") or "-"),
                rq_job_key(aggregator_job_id(scan_id)),
            ],
            args=[scan_id, _now(), self._late_message(scan_id, info), self.cfg.state_ttl_s],
        )
        return _text(verdict), _text(holder)

    def mark_published(self, scan_id: str) -> int:
        """Take the scan's one right to publish to the sinks (atomic): 1 for the
        caller, 0 when an earlier run already took it or the scan ended, -1 when the
        scan's state vanished."""
        script = self.redis.register_script(lua.MARK_PUBLISHED)
        return int(script(keys=[self.keys.scan(scan_id)], args=[_now()]))

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
        script = self.redis.register_script(lua.RECORD)
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
        return {k: json.loads(v) for k, v in self.raw_outcomes(scan_id).items()}

    def raw_outcomes(self, scan_id: str) -> dict[str, bytes]:
        """Each recorded symbol's JSON record, unparsed (``{"outcome", "opportunities"}``)."""
        raw = self.redis.hgetall(self.keys.outcomes(scan_id))
        return {k.decode(): v for k, v in raw.items()}

    def end(
        self,
        scan_id: str,
        profile: str,
        *,
        state: str,
        message: str,
        result: dict[str, Any] | str | None = None,
    ) -> int:
        """End the scan atomically: store the result (its JSON dict, or that as JSON
        text), set the state, release the lock.

        Returns 1 when done, 0 when it had already ended, -1 when its state vanished.
        """
        script = self.redis.register_script(lua.END)
        if isinstance(result, str):
            text = result
        else:
            text = json.dumps(result, separators=(",", ":")) if result is not None else ""
        return int(
            script(
                keys=self._end_keys(scan_id, profile),
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

    def status(self, scan_id: str) -> dict[str, Any]:
        """The document ``optscan status --format json`` prints.

        A scan with a job that will still run (its coordinator queued, scheduled for a
        retry or started; its aggregator waiting for its batches) is never ``lost``,
        whether or not its lease is held. A scan is ``lost`` when its progress hash
        vanished (Redis flushed or restarted empty), or when it claims to be queued or
        running while none of its jobs will run and it does not hold its profile's
        lease. A scan still queued past ``queue.start_timeout_s`` ends ``failed`` here
        (no worker took it), atomically. One Lua script decides, so a scan that ends
        while being read is never taken for lost.
        """
        keys = self.keys
        info = self.get(scan_id)
        verdict, holder = "", ""
        if info.get("state") in ("queued", "running"):
            verdict, holder = self._inspect(scan_id, info)
            if verdict != "dead":  # it may have ended meanwhile, or just now (late)
                info = self.get(scan_id)
        state = info.get("state")
        error = info.get("error") or None
        if state is None:
            state = "lost"
            error = (
                "no scan with this id in Redis: unknown, expired (queue.state_ttl_s), "
                "or Redis was flushed or restarted"
            )
        elif verdict == "dead":
            why = f"is held by scan {holder}" if holder else "expired"
            state = "lost"
            error = (
                "nobody is working on this scan: none of its jobs is queued or running "
                f"and its profile lock {why}"
            )
        pipe = self.redis.pipeline(transaction=False)
        pipe.scard(keys.done(scan_id))
        pipe.smembers(keys.failed(scan_id))
        done, failed_members = pipe.execute()
        failed = sorted(m.decode() for m in failed_members)
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
