"""RQ entry points of a queued scan. They take and return JSON only.

Enqueued by dotted path with rq's JSON serializer:

* ``optscan.jobs.coordinate_scan`` - resolves the calendar (a closed market skips the
  scan cleanly: ``ScanSkipped``, state ``skipped``), takes the profile lock (scheduled
  runs; ``optscan enqueue`` took it already), resolves the symbols and fans out one
  :func:`scan_batch` job per small batch plus one :func:`aggregate_scan` job that
  depends on all of them;
* ``optscan.jobs.scan_batch`` - scans its symbols with the same code as the embedded
  scan (:func:`optscan.scan.run_symbols`) and records each symbol once;
* ``optscan.jobs.aggregate_scan`` - merges the recorded symbols into one
  :class:`~optscan.models.ScanResult`, publishes it to the sinks, and ends the scan.

Every job rebuilds its settings from the *worker's* config and environment plus the
request's ``overrides`` (the ``--set`` pairs), so secrets are resolved on the worker
and never travel in a job; ``as_of`` is pinned to the coordinator's so every job of a
scan agrees on days to expiry. Re-running any job (rq retries, a job lost with its
worker) is safe: the fan-out happens once, a symbol is recorded once, a scan ends once.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from optscan.errors import OptscanError, PluginError
from optscan.queueing import (
    TERMINAL_STATES,
    Keys,
    QueueConfig,
    ScanBusyError,
    ScanStore,
    acquire_lock,
    aggregator_job_id,
    batch_job_id,
    keep_lock,
    lock_kept,
    mirror_meta,
)

if TYPE_CHECKING:
    from redis import Redis
    from rq.job import Job

    from optscan.config import Settings
    from optscan.models import Opportunity, ScanRequest, SymbolOutcome
    from optscan.plugins import PluginHost
    from optscan.scan import ScanContext


@dataclass
class _JobEnv:
    """What every job of a scan resolves first: its request, Redis, keys and config."""

    job: Job
    redis: Redis
    request: ScanRequest
    keys: Keys
    cfg: QueueConfig
    store: ScanStore

    @classmethod
    def create(cls, request: dict[str, Any], prefix: str, queue: dict[str, Any] | None) -> _JobEnv:
        from rq import get_current_job

        from optscan.models import ScanRequest

        job = get_current_job()
        if job is None:
            raise RuntimeError("optscan.jobs functions run inside RQ jobs")
        cfg = QueueConfig.model_validate(queue or {})
        keys = Keys(prefix)
        return cls(
            job=job,
            redis=job.connection,
            request=ScanRequest.model_validate(request),
            keys=keys,
            cfg=cfg,
            store=ScanStore(job.connection, keys, cfg),
        )

    def load(self, request: ScanRequest) -> tuple[Settings, PluginHost]:
        """The worker's own settings with the request's overrides, and a plugin host."""
        from optscan.config import load_settings
        from optscan.plugins import PluginHost

        settings = load_settings(overrides=request.overrides)
        return settings, PluginHost.from_settings(settings)

    def fail(self, scan_id: str, profile: str, message: str) -> dict[str, Any]:
        structlog.get_logger("optscan").warning("scan_failed", scan_id=scan_id, error=message)
        self.store.finish(scan_id, profile, state="failed", message=message)
        return {"scan_id": scan_id, "state": "failed", "error": message}

    def set_meta(self, **snapshot: Any) -> None:
        self.job.meta["optscan"] = {**self.job.meta.get("optscan", {}), **snapshot}
        self.job.save_meta()


def _lost(scan_id: str) -> dict[str, Any]:
    structlog.get_logger("optscan").warning("scan_state_vanished", scan_id=scan_id)
    return {"scan_id": scan_id, "state": "lost", "error": "the scan's state is gone from Redis"}


def _payload(outcome: SymbolOutcome, opportunities: list[Opportunity]) -> dict[str, Any]:
    return {
        "outcome": outcome.model_dump(mode="json"),
        "opportunities": [o.model_dump(mode="json") for o in opportunities],
    }


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --------------------------------------------------------------------------- coordinator


def coordinate_scan(
    request: dict[str, Any], prefix: str = "optscan:", queue: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Gate on the calendar, take the lock, resolve symbols and fan the scan out."""
    from optscan.scan import new_scan_id

    env = _JobEnv.create(request, prefix, queue)
    req = env.request
    scan_id = req.scan_id
    if scan_id is None:  # a scheduled run: a new scan each time
        scan_id = new_scan_id()
        req = req.model_copy(update={"scan_id": scan_id})
        env.store.create(scan_id, req.profile, state="queued", job_id=env.job.id, scheduled=True)
    elif not env.store.exists(scan_id):
        return _lost(scan_id)
    fields = env.store.get(scan_id)
    if fields.get("state") in TERMINAL_STATES:
        return {"scan_id": scan_id, "state": fields["state"]}
    structlog.contextvars.bind_contextvars(scan_id=scan_id)
    try:
        return _coordinate(env, req, scan_id, fields)
    finally:
        structlog.contextvars.unbind_contextvars("scan_id")


def _coordinate(
    env: _JobEnv, req: ScanRequest, scan_id: str, fields: dict[str, str]
) -> dict[str, Any]:
    from optscan.scan import prepare_scan, skipped_result

    profile = req.profile
    try:
        settings, host = env.load(req)
        as_of = dt.datetime.fromisoformat(fields["as_of"]) if fields.get("as_of") else None
        ctx = prepare_scan(req, host, settings, scan_id=scan_id, as_of=as_of)
    except OptscanError as exc:
        return env.fail(scan_id, profile, str(exc))
    if ctx.gated:  # the market is closed: skip cleanly (and free the lock if we hold it)
        result = skipped_result(ctx)
        env.store.finish(
            scan_id, profile, state="skipped", message=result.message, result=result.to_json_dict()
        )
        env.set_meta(scan_id=scan_id, state="skipped")
        return {"scan_id": scan_id, "state": "skipped", "message": result.message}
    holder = acquire_lock(env.redis, env.keys, profile, scan_id, env.cfg.lock_ttl_s)
    if holder != scan_id:  # a scheduled run while another scan of the profile runs
        message = f"skipped: {ScanBusyError(profile, holder)}"
        env.store.finish(scan_id, profile, state="skipped", message=message)
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
    env: _JobEnv, queue: Any, req: ScanRequest, ctx: ScanContext, scan_id: str
) -> tuple[list[list[str]], int]:
    """Resolve the symbols and enqueue their batch jobs, in one transaction with the
    progress hash's ``fanout`` mark (so a re-run coordinator never fans out twice)."""
    from optscan.events import ScanStarted
    from optscan.scan import _emit, resolve_symbols

    symbols, skipped, source_errors = resolve_symbols(req, ctx.settings, ctx.host)
    total = len(symbols) + len(skipped)
    if skipped:  # invalid symbols: done at once, as in the embedded scan
        env.store.record(scan_id, [(o.symbol, _payload(o, []), False) for o in skipped])
    batches = _chunks(symbols, env.cfg.batch_size)
    pipe = env.redis.pipeline(transaction=True)
    pipe.hset(
        env.keys.scan(scan_id),
        mapping={
            "state": "running",
            "total": total,
            "as_of": ctx.as_of.isoformat(),
            "started_at": dt.datetime.now(dt.UTC).isoformat(),
            "order": json.dumps([o.symbol for o in skipped] + symbols),
            "batches": json.dumps(batches),
            "errors": json.dumps(source_errors),
            "provider": ctx.provider_name,
            "fanout": 1,
        },
    )
    common = _job_kwargs(env, req, ctx, scan_id)
    queue.enqueue_many(
        [
            queue.prepare_data(
                "optscan.jobs.scan_batch",
                kwargs={**common, "symbols": batch},
                job_id=batch_job_id(scan_id, i),
                timeout=env.cfg.batch_timeout_s,
                result_ttl=env.cfg.job_result_ttl_s,
                failure_ttl=env.cfg.job_failure_ttl_s,
                retry=env.cfg.retry(),
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
    _emit(ctx.host, [], started)
    return batches, total


def _enqueue_aggregator(
    env: _JobEnv,
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
        "optscan.jobs.aggregate_scan",
        kwargs=_job_kwargs(env, req, ctx, scan_id),
        depends_on=Dependency(jobs=ids, allow_failure=True) if ids else None,
        job_id=agg_id,
        timeout=env.cfg.aggregator_timeout_s,
        result_ttl=env.cfg.job_result_ttl_s,
        failure_ttl=env.cfg.job_failure_ttl_s,
        retry=env.cfg.retry(),
        description=f"optscan scan {scan_id}: aggregator ({total} symbols)",
        meta={"optscan": {"scan_id": scan_id, "role": "aggregator"}},
    )


def _job_kwargs(env: _JobEnv, req: ScanRequest, ctx: ScanContext, scan_id: str) -> dict[str, Any]:
    """What every child job gets: the request, the scan, the pinned clock, the layout."""
    return {
        "request": req.model_dump(mode="json"),
        "scan_id": scan_id,
        "as_of": ctx.as_of.isoformat(),
        "prefix": env.keys.prefix,
        "queue": env.cfg.model_dump(),
    }


def _child_queue(env: _JobEnv) -> Any:
    """The coordinator's own queue: a scan's jobs stay on the queue it was sent to."""
    from optscan.queueing import make_queue

    return make_queue(env.redis, env.cfg, env.job.origin or env.cfg.name)


# --------------------------------------------------------------------------- one batch


def scan_batch(
    request: dict[str, Any],
    scan_id: str,
    as_of: str,
    symbols: list[str],
    prefix: str = "optscan:",
    queue: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Scan a few symbols and record each one once (skipping those already recorded)."""
    env = _JobEnv.create(request, prefix, queue)
    if not env.store.exists(scan_id):
        return _lost(scan_id)
    req = env.request
    keep_lock(env.redis, env.keys, req.profile, scan_id, env.cfg.lock_ttl_s)
    todo = env.store.pending(scan_id, symbols)
    structlog.contextvars.bind_contextvars(scan_id=scan_id)
    try:
        added, done, failed = _scan_and_record(env, req, scan_id, as_of, todo)
    finally:
        structlog.contextvars.unbind_contextvars("scan_id")
    if added < 0:
        return _lost(scan_id)
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
    env: _JobEnv, req: ScanRequest, scan_id: str, as_of: str, todo: list[str]
) -> tuple[int, int, int]:
    from optscan.scan import _emit, _failed, prepare_scan, run_symbols, symbol_event

    if not todo:
        return 0, *_counts(env, scan_id)
    try:
        settings, host = env.load(req)
        ctx = prepare_scan(
            req, host, settings, scan_id=scan_id, as_of=dt.datetime.fromisoformat(as_of)
        )
    except OptscanError as exc:  # a config or plugin problem on this worker: no retry helps
        failed_items = [(s, _payload(_failed(s, exc), []), True) for s in todo]
        return env.store.record(scan_id, failed_items)
    _share_rate_limit(env, ctx)
    try:
        with lock_kept(env.redis, env.keys, req.profile, scan_id, env.cfg.lock_ttl_s):
            results = run_symbols(ctx, todo, lambda outcome: None)
    finally:
        try:
            ctx.provider.close()
        except Exception as exc:
            structlog.get_logger("optscan").warning("provider_close_failed", error=str(exc))
    items = [(o.symbol, _payload(o, opps), o.status == "failed") for o, opps in results]
    added, done, failed = env.store.record(scan_id, items)
    if added >= 0:
        total = int(env.store.get(scan_id).get("total") or 0)
        errors: list[str] = []
        first = done - len(results)
        for i, (outcome, _) in enumerate(results):
            _emit(host, errors, symbol_event(ctx, outcome, first + i + 1, total))
    return added, done, failed


def _counts(env: _JobEnv, scan_id: str) -> tuple[int, int]:
    pipe = env.redis.pipeline(transaction=False)
    pipe.scard(env.keys.done(scan_id))
    pipe.scard(env.keys.failed(scan_id))
    done, failed = pipe.execute()
    return int(done), int(failed)


def _share_rate_limit(env: _JobEnv, ctx: ScanContext) -> None:
    """Every worker of the fleet draws on one request budget per provider, in Redis."""
    from optscan.fetching import redis_limiter

    rate = ctx.fetcher.config.rate_limit_per_s
    if rate > 0 and not ctx.request.replay_dir:
        ctx.fetcher.limiter = redis_limiter(rate, env.redis, env.keys.rate_limit(ctx.provider_name))


# --------------------------------------------------------------------------- aggregator


def aggregate_scan(
    request: dict[str, Any],
    scan_id: str,
    as_of: str,
    prefix: str = "optscan:",
    queue: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge the recorded symbols, publish the result to the sinks and end the scan."""
    env = _JobEnv.create(request, prefix, queue)
    if not env.store.exists(scan_id):
        return _lost(scan_id)
    fields = env.store.get(scan_id)
    if fields.get("state") in TERMINAL_STATES:
        return env.store.result(scan_id) or {"scan_id": scan_id, "state": fields["state"]}
    req = env.request
    keep_lock(env.redis, env.keys, req.profile, scan_id, env.cfg.lock_ttl_s)
    structlog.contextvars.bind_contextvars(scan_id=scan_id)
    try:
        return _aggregate(env, req, scan_id, as_of, fields)
    finally:
        structlog.contextvars.unbind_contextvars("scan_id")


def _aggregate(
    env: _JobEnv, req: ScanRequest, scan_id: str, as_of: str, fields: dict[str, str]
) -> dict[str, Any]:
    from optscan import redis_sink
    from optscan.models import Opportunity, SymbolOutcome
    from optscan.scan import assemble_result, finish, prepare_scan, publish

    try:
        settings, host = env.load(req)
        ctx = prepare_scan(
            req, host, settings, scan_id=scan_id, as_of=dt.datetime.fromisoformat(as_of)
        )
    except OptscanError as exc:
        return env.fail(scan_id, req.profile, str(exc))
    if fields.get("started_at"):
        ctx.started = dt.datetime.fromisoformat(fields["started_at"])
    order: list[str] = json.loads(fields.get("order") or "[]")
    batches: list[list[str]] = json.loads(fields.get("batches") or "[]")
    recorded = env.store.outcomes(scan_id)
    missing = [s for s in order if s not in recorded]
    if missing:  # their batch job failed for good: say so, per symbol
        lost: list[tuple[str, dict[str, Any], bool]] = []
        for i, batch in enumerate(batches):
            gone = [s for s in batch if s not in recorded]
            if not gone:
                continue
            error = PluginError("optscan.jobs", _job_failure(env, batch_job_id(scan_id, i)))
            for symbol in gone:
                outcome = SymbolOutcome(
                    symbol=symbol, status="failed", reason="job_failed", error=str(error)
                )
                lost.append((symbol, _payload(outcome, []), True))
        if env.store.record(scan_id, lost)[0] < 0:
            return _lost(scan_id)
        recorded = env.store.outcomes(scan_id)
    outcomes = [SymbolOutcome.model_validate(recorded[s]["outcome"]) for s in order]
    opportunities = [
        Opportunity.model_validate(o) for s in order for o in recorded[s]["opportunities"]
    ]
    errors: list[str] = json.loads(fields.get("errors") or "[]")
    result = assemble_result(ctx, outcomes=outcomes, opportunities=opportunities, errors=errors)
    with redis_sink.bound(env.redis, env.keys.prefix, settings.redis.result_ttl_s):
        result = publish(result, host, settings, ctx.sink_names)
    finish(ctx, result)
    data = result.to_json_dict()
    state = "finished" if result.success else "failed"
    if env.store.finish(scan_id, req.profile, state=state, message=result.message, result=data) < 0:
        return _lost(scan_id)
    env.set_meta(scan_id=scan_id, state=state, done=len(outcomes), total=len(order))
    if fields.get("job_id"):
        mirror_meta(env.redis, fields["job_id"], {"state": state, "done": len(outcomes)})
    return data


def _job_failure(env: _JobEnv, job_id: str) -> str:
    """Why a batch job ended without recording its symbols (its last error line)."""
    from rq.exceptions import NoSuchJobError

    from optscan.queueing import JsonJob

    try:
        job = JsonJob.fetch(job_id, connection=env.redis)
    except NoSuchJobError:
        return f"job {job_id} was lost"
    latest = job.latest_result()
    text = (latest.exc_string if latest else None) or ""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else f"status {job.get_status()}"
    return f"job {job_id} failed: {last}"


# --------------------------------------------------------------------------- health


def ping() -> dict[str, Any]:
    """A job that does nothing: shows workers answer, and measures the queue's own cost."""
    import os

    return {"pid": os.getpid(), "at": dt.datetime.now(dt.UTC).isoformat()}
