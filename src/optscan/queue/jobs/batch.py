"""The batch job of a queued scan: its share of the symbols, each recorded once.

It scans its symbols with the same code as the embedded scan
(:func:`optscan.scan.per_symbol.run_symbols`, ``scan.concurrency`` requests in flight),
sharing the provider's rate limit, pause and auth latch with every other worker through
Redis, and records each symbol once, as it ends (:mod:`~optscan.queue.jobs.recorder`;
a re-run batch skips the symbols already recorded). When queued, a provider that
simulates a server (``sim``) keeps that server's request count in Redis too, so its
rate limit and its "too many requests" count cover every worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from optscan.errors import OptscanError
from optscan.queue.enqueue import mirror_meta
from optscan.queue.fundamentals import prefetch_fundamentals
from optscan.queue.jobs.env import JobEnv, job_entry, lost, payload
from optscan.queue.jobs.recorder import Recorder
from optscan.queue.limits import RedisGate, Trouble, WatchedLimiter, redis_limiter
from optscan.queue.lock import keep_lock, lock_kept
from optscan.scan.per_symbol import failed_outcome, run_symbols

if TYPE_CHECKING:
    from optscan.models import ScanRequest
    from optscan.scan.context import ScanContext


@job_entry
def scan_batch(
    request: dict[str, Any],
    scan_id: str,
    as_of: str,
    symbols: list[str],
    prefix: str = "optscan:",
    queue: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Scan a few symbols and record each one once (skipping those already recorded)."""
    env = JobEnv.create(request, prefix, queue)
    if not env.store.exists(scan_id):
        return lost(scan_id)
    req = env.request
    keep_lock(env.redis, env.keys, req.profile, scan_id, env.cfg.lock_ttl_s)
    todo = env.store.pending(scan_id, symbols)
    structlog.contextvars.bind_contextvars(scan_id=scan_id)
    try:
        added, done, failed = _scan_and_record(env, req, scan_id, as_of, todo)
    finally:
        structlog.contextvars.unbind_contextvars("scan_id")
    if added < 0:
        return lost(scan_id)
    keep_lock(env.redis, env.keys, req.profile, scan_id, env.cfg.lock_ttl_s)
    fields = env.store.get(scan_id)
    snapshot = {"done": done, "failed": failed, "total": int(fields.get("total") or 0)}
    # rq-dashboard shows a job's meta: say which of this batch's symbols failed, and why
    failures = env.store.failures(scan_id, symbols)
    env.set_meta(scan_id=scan_id, symbols=symbols, scanned=len(todo), failures=failures, **snapshot)
    if fields.get("job_id"):
        mirror_meta(env.redis, fields["job_id"], {"state": fields.get("state"), **snapshot})
    return {"scan_id": scan_id, "symbols": symbols, "scanned": todo, "recorded": added, **snapshot}


def _scan_and_record(
    env: JobEnv, req: ScanRequest, scan_id: str, as_of: str, todo: list[str]
) -> tuple[int, int, int]:
    if not todo:
        return 0, *_counts(env, scan_id)
    try:
        ctx = env.prepare(req, scan_id, as_of)
    except OptscanError as exc:  # a config or plugin problem on this worker: no retry helps
        failed_items = [(s, payload(failed_outcome(s, exc), []), True) for s in todo]
        return env.store.record(scan_id, failed_items)
    trouble = share_limits(env, ctx, scan_id)
    recorder = Recorder(env, ctx, scan_id, trouble)
    try:
        with lock_kept(env.redis, env.keys, req.profile, scan_id, env.cfg.lock_ttl_s):
            run_symbols(ctx, todo, lambda outcome: None, recorder.add)
            recorder.finish()
            prefetch_fundamentals(env.redis, env.keys, ctx, recorder.ok)
    finally:
        try:
            ctx.provider.close()
        except Exception as exc:
            structlog.get_logger("optscan").warning("provider_close_failed", error=str(exc))
    if recorder.lost:
        return -1, 0, 0
    if not recorder.flushes:  # every symbol was recorded already (an orphaned horse)
        return 0, *_counts(env, scan_id)
    return recorder.added, recorder.done, recorder.failed


def _counts(env: JobEnv, scan_id: str) -> tuple[int, int]:
    pipe = env.redis.pipeline(transaction=False)
    pipe.scard(env.keys.done(scan_id))
    pipe.scard(env.keys.failed(scan_id))
    done, failed = pipe.execute()
    return int(done), int(failed)


def share_limits(env: JobEnv, ctx: ScanContext, scan_id: str) -> Trouble:
    """Every worker of the fleet draws on one request budget per provider, pauses
    together on a ``retry_after`` and stops together on a refused credential (Redis).
    A provider that simulates a server keeps that server's state in Redis too. Returns
    what notes the Redis errors of the limit and the gate."""
    trouble = Trouble()
    rate = ctx.client.config.rate_limit_per_s
    limiter: Any = None
    if rate > 0 and not ctx.request.replay_dir:
        shared = redis_limiter(rate, env.redis, env.keys.rate_limit(ctx.provider_name))
        limiter = WatchedLimiter(shared, trouble)
    gate = RedisGate(env.redis, env.keys, scan_id, ctx.provider_name, env.cfg.state_ttl_s, trouble)
    ctx.client.share(limiter=limiter, gate=gate)
    simulated = getattr(getattr(ctx.provider, "inner", ctx.provider), "share_server", None)
    if callable(simulated):  # one simulated server for the fleet (sim)
        simulated(env.redis, env.keys.provider_server(ctx.provider_name))
    return trouble
