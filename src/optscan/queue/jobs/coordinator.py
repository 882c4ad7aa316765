"""The coordinator job of a queued scan: gate, lock, symbols, fan-out.

It resolves the calendar (a closed market skips the scan cleanly: ``ScanSkipped``,
state ``skipped``), takes the profile lock (scheduled runs; ``optscan enqueue`` took it
already), resolves the symbols and fans out their batch jobs (one per worker listening
on the queue, or per ``queue.batch_size`` symbols: :mod:`optscan.queue.plan`) plus one
aggregator that depends on all of them
(``Dependency(allow_failure=True)``, so one failed batch never leaves it deferred
forever). A re-run coordinator (rq's retry, a lost worker) never fans out twice.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import structlog

from optscan.errors import OptscanError
from optscan.events import ScanStarted
from optscan.models import NEW_YORK
from optscan.queue.connection import (
    AGGREGATE_SCAN,
    SCAN_BATCH,
    ScanBusyError,
    aggregator_job_id,
    batch_job_id,
)
from optscan.queue.jobs.env import JobEnv, job_entry, job_kwargs, lost, payload
from optscan.queue.lock import acquire_lock
from optscan.queue.plan import plan_batches, rate_cap
from optscan.queue.rq import make_queue, on_failure, rq_retry
from optscan.queue.store import TERMINAL_STATES
from optscan.scan.context import new_scan_id
from optscan.scan.resolve import resolve_symbols
from optscan.scan.result import emit, skipped_result

if TYPE_CHECKING:
    from optscan.models import ScanRequest
    from optscan.scan.context import ScanContext


@job_entry
def coordinate_scan(
    request: dict[str, Any], prefix: str = "optscan:", queue: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Gate on the calendar, take the lock, resolve symbols and fan the scan out."""
    env = JobEnv.create(request, prefix, queue)
    req = env.request
    scan_id = req.scan_id
    if scan_id is None:  # a scheduled run: a new scan each time
        scan_id = new_scan_id()
        req = req.model_copy(update={"scan_id": scan_id})
        env.store.create(scan_id, req.profile, state="queued", job_id=env.job.id, scheduled=True)
        env.set_meta(scan_id=scan_id)  # so a failure of this run ends this scan
    taken = env.store.take(scan_id, req.profile)
    if taken == "gone":
        return lost(scan_id)
    if taken == "late":  # queued past queue.start_timeout_s: it has just ended failed
        fields = env.store.get(scan_id)
        return {"scan_id": scan_id, "state": "failed", "error": fields.get("error")}
    if taken in TERMINAL_STATES:
        return {"scan_id": scan_id, "state": taken}
    fields = env.store.get(scan_id)
    structlog.contextvars.bind_contextvars(scan_id=scan_id)
    try:
        return _coordinate(env, req, scan_id, fields)
    finally:
        structlog.contextvars.unbind_contextvars("scan_id")


def _coordinate(
    env: JobEnv, req: ScanRequest, scan_id: str, fields: dict[str, str]
) -> dict[str, Any]:
    profile = req.profile
    try:
        ctx = env.prepare(req, scan_id, fields.get("as_of"))
    except OptscanError as exc:
        return env.fail(scan_id, profile, str(exc))
    if ctx.gated:  # the market is closed: skip cleanly (and free the lock if we hold it)
        result = skipped_result(ctx)
        env.store.end(
            scan_id, profile, state="skipped", message=result.message, result=result.to_json_dict()
        )
        env.set_meta(scan_id=scan_id, state="skipped")
        return {"scan_id": scan_id, "state": "skipped", "message": result.message}
    holder = acquire_lock(
        env.redis, env.keys, profile, scan_id, env.cfg.lock_ttl_s, owner_ttl_s=env.cfg.state_ttl_s
    )
    if holder != scan_id:  # a scheduled run while another scan of the profile runs
        message = f"skipped: {ScanBusyError(profile, holder)}"
        env.store.end(scan_id, profile, state="skipped", message=message)
        return {"scan_id": scan_id, "state": "skipped", "error": message}

    queue = _child_queue(env)
    if fields.get("fanout") == "1":  # a re-run after the fan-out: only finish the job
        batches: list[list[str]] = json.loads(fields.get("batches") or "[]")
        total = int(fields.get("total") or 0)
    else:
        try:
            batches, total = _fan_out(env, queue, req, ctx, scan_id)
        except OptscanError as exc:
            return env.fail(scan_id, profile, str(exc))
    _enqueue_aggregator(env, queue, req, ctx, scan_id, len(batches), total)
    env.set_meta(scan_id=scan_id, state="running", total=total, jobs=len(batches))
    return {"scan_id": scan_id, "state": "running", "symbols_total": total, "jobs": len(batches)}


def _fan_out(
    env: JobEnv, queue: Any, req: ScanRequest, ctx: ScanContext, scan_id: str
) -> tuple[list[list[str]], int]:
    """Resolve the symbols and enqueue their batch jobs, in one transaction with the
    progress hash's ``fanout`` mark (so a re-run coordinator never fans out twice)."""
    symbols, skipped, source_errors = resolve_symbols(req, ctx.settings, ctx.host)
    total = len(symbols) + len(skipped)
    if skipped:  # invalid symbols: done at once, as in the embedded scan
        env.store.record(scan_id, [(o.symbol, payload(o, []), False) for o in skipped])
    cap = env.cfg.max_batch_size
    limited = rate_cap(ctx.client.config.rate_limit_per_s, env.cfg.batch_timeout_s)
    batches = plan_batches(
        symbols,
        batch_size=env.cfg.batch_size,
        workers=_workers(env, queue) if not env.cfg.batch_size else 0,
        max_batch_size=min(cap, limited) if limited else cap,
    )
    pipe = env.redis.pipeline(transaction=True)
    pipe.hset(
        env.keys.scan(scan_id),
        mapping={
            "state": "running",
            "total": total,
            "as_of": ctx.as_of.isoformat(),
            "started_at": dt.datetime.now(NEW_YORK).isoformat(),
            "order": json.dumps([o.symbol for o in skipped] + symbols),
            "batches": json.dumps(batches),
            "errors": json.dumps(source_errors),
            "provider": ctx.provider_name,
            "fanout": 1,
        },
    )
    common = job_kwargs(env, req, scan_id, ctx.as_of.isoformat())
    queue.enqueue_many(
        [
            queue.prepare_data(
                SCAN_BATCH,
                kwargs={**common, "symbols": batch},
                job_id=batch_job_id(scan_id, i),
                timeout=env.cfg.batch_timeout_s,
                result_ttl=env.cfg.job_result_ttl_s,
                failure_ttl=env.cfg.job_failure_ttl_s,
                retry=rq_retry(env.cfg),
                on_failure=on_failure(),
                description=f"optscan scan {scan_id}: batch {i + 1}/{len(batches)} "
                f"({','.join(batch[:4])}{'...' if len(batch) > 4 else ''})",
                meta={"optscan": {"scan_id": scan_id, "role": "batch", "symbols": batch}},
            )
            for i, batch in enumerate(batches)
        ],
        pipeline=pipe,
    )
    pipe.execute()
    started = ScanStarted(
        scan_id=scan_id,
        profile=req.profile,
        provider=ctx.provider_name,
        strategy=ctx.strategy_name,
        symbols_total=total,
        as_of=ctx.as_of,
    )
    emit(ctx.host, [], started)
    return batches, total


def _enqueue_aggregator(
    env: JobEnv,
    queue: Any,
    req: ScanRequest,
    ctx: ScanContext,
    scan_id: str,
    batches: int,
    total: int,
) -> None:
    """The aggregator waits for every batch, failed or not (``allow_failure``)."""
    from rq.job import Dependency

    agg_id = aggregator_job_id(scan_id)
    if queue.job_class.exists(agg_id, connection=env.redis):
        return
    ids = [batch_job_id(scan_id, i) for i in range(batches)]
    queue.enqueue_call(
        AGGREGATE_SCAN,
        kwargs=job_kwargs(env, req, scan_id, ctx.as_of.isoformat()),
        depends_on=Dependency(jobs=ids, allow_failure=True) if ids else None,
        job_id=agg_id,
        timeout=env.cfg.aggregator_timeout_s,
        result_ttl=env.cfg.job_result_ttl_s,
        failure_ttl=env.cfg.job_failure_ttl_s,
        retry=rq_retry(env.cfg),
        on_failure=on_failure(),
        description=f"optscan scan {scan_id}: aggregator ({total} symbols)",
        meta={"optscan": {"scan_id": scan_id, "role": "aggregator"}},
    )


def _workers(env: JobEnv, queue: Any) -> int:
    """The live workers listening on the scan's queue (this one among them)."""
    from optscan.queue.workers import listening_workers

    try:
        return listening_workers(env.redis, queue.name)
    except Exception as exc:  # a worker entry that cannot be read: one batch per worker seen
        structlog.get_logger("optscan").warning("workers_not_counted", error=str(exc))
        return 1


def _child_queue(env: JobEnv) -> Any:
    """The coordinator's own queue: a scan's jobs stay on the queue it was sent to."""
    return make_queue(env.redis, env.cfg, env.job.origin or env.cfg.name)
