"""The aggregator job of a queued scan: merge, publish, end.

It runs once every batch job has ended, failed or not. Symbols whose batch failed for
good are reported ``failed`` (reason ``job_failed``, with the job's last error line);
then the result is assembled and enriched (the enrichers' facts) exactly as the
embedded scan does it, published to
the sinks (the ``redis`` sink through the jobs' own connection) at most once per scan
(a re-run aggregator finds the scan's ``published_at`` mark taken and skips them), kept
as the profile's latest result (``<prefix>results:<profile>``, ``redis.result_ttl_s``,
whether or not the ``redis`` sink is enabled: ``optscan results`` reads it) and stored
with the scan, and the scan ends, releasing the profile's lock.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import BaseModel, TypeAdapter

from optscan.default_plugins import redis_sink
from optscan.errors import OptscanError, PluginError
from optscan.models import Opportunity, SymbolOutcome
from optscan.queue.connection import batch_job_id, patiently
from optscan.queue.enqueue import mirror_meta
from optscan.queue.jobs.env import JobEnv, job_entry, lost, payload
from optscan.queue.lock import keep_lock, lock_kept
from optscan.queue.rq import JsonJob, last_error_line
from optscan.queue.store import TERMINAL_STATES
from optscan.scan.enrich import enrich_result
from optscan.scan.result import assemble_result, emit_finished, publish

if TYPE_CHECKING:
    from optscan.models import ScanRequest, ScanResult
    from optscan.scan.context import ScanContext


class _Record(BaseModel):
    """One symbol's record in the scan's store (``jobs.env.payload``)."""

    outcome: SymbolOutcome
    opportunities: list[Opportunity]


_RECORD = TypeAdapter(_Record)


@job_entry
def aggregate_scan(
    request: dict[str, Any],
    scan_id: str,
    as_of: str,
    prefix: str = "optscan:",
    queue: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge the recorded symbols, publish the result to the sinks and end the scan."""
    env = JobEnv.create(request, prefix, queue)
    if not env.store.exists(scan_id):
        return lost(scan_id)
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
    env: JobEnv, req: ScanRequest, scan_id: str, as_of: str, fields: dict[str, str]
) -> dict[str, Any]:
    try:
        ctx = env.prepare(req, scan_id, as_of)
    except OptscanError as exc:
        return env.fail(scan_id, req.profile, str(exc))
    wait = env.cfg.redis_wait_s  # for a Redis that is full or restarting
    if fields.get("started_at"):
        ctx.started = dt.datetime.fromisoformat(fields["started_at"])
    order: list[str] = json.loads(fields.get("order") or "[]")
    batches: list[list[str]] = json.loads(fields.get("batches") or "[]")
    recorded = env.store.raw_outcomes(scan_id)
    missing = [s for s in order if s not in recorded]
    if missing:  # their batch job failed for good: say so, per symbol
        unrecorded: list[tuple[str, dict[str, Any], bool]] = []
        for i, batch in enumerate(batches):
            gone = [s for s in batch if s not in recorded]
            if not gone:
                continue
            error = PluginError("optscan.jobs", _job_failure(env, batch_job_id(scan_id, i)))
            for symbol in gone:
                outcome = SymbolOutcome(
                    symbol=symbol, status="failed", reason="job_failed", error=str(error)
                )
                unrecorded.append((symbol, payload(outcome, []), True))
        record = patiently(
            lambda: env.store.record(scan_id, unrecorded), what="record", budget_s=wait
        )
        if record[0] < 0:
            return lost(scan_id)
        recorded = env.store.raw_outcomes(scan_id)
    records = [_RECORD.validate_json(recorded[s]) for s in order]  # one pass each, in Rust
    outcomes = [r.outcome for r in records]
    opportunities = [o for r in records for o in r.opportunities]
    errors: list[str] = json.loads(fields.get("errors") or "[]")
    result = assemble_result(ctx, outcomes=outcomes, opportunities=opportunities, errors=errors)
    result = _enriched(env, ctx, scan_id, result)
    ttl = ctx.settings.redis.result_ttl_s
    first = patiently(
        lambda: env.store.mark_published(scan_id), what="published mark", budget_s=wait
    )  # at most once per scan, atomically
    if first < 0:
        return lost(scan_id)
    if first:
        with redis_sink.bound(env.redis, env.keys.prefix, ttl, wait_s=wait):
            result = publish(result, ctx.host, ctx.settings, ctx.sink_names)
    else:  # a re-run (its worker died after publishing): the sinks have had it
        structlog.get_logger("optscan").warning("sinks_already_published", scan_id=scan_id)
        note = "an earlier run of this scan's aggregator published it to the sinks; not again"
        result = result.model_copy(update={"warnings": [*result.warnings, note]})
    data = result.to_json_dict()
    text = json.dumps(data, separators=(",", ":"))  # once, for both copies below
    # the profile's latest result, with what every sink said (idempotent)
    patiently(
        lambda: redis_sink.write_result(env.redis, env.keys.prefix, result, ttl, data, text),
        what="result",
        budget_s=wait,
    )
    if first:
        emit_finished(ctx, result)
    state = "finished" if result.success else "failed"

    # published: wait out a Redis that is full or restarting rather than publish twice
    def end() -> int:
        return env.store.end(scan_id, req.profile, state=state, message=result.message, result=text)

    if patiently(end, what="end", budget_s=wait) < 0:
        return lost(scan_id)
    env.set_meta(scan_id=scan_id, state=state, done=len(outcomes), total=len(order))
    if fields.get("job_id"):
        mirror_meta(env.redis, fields["job_id"], {"state": state, "done": len(outcomes)})
    return data


def _enriched(env: JobEnv, ctx: ScanContext, scan_id: str, result: ScanResult) -> ScanResult:
    """The enrichers' facts, as the embedded scan adds them (:func:`enrich_result`):
    fundamentals through the provider with the fleet's shared rate limit and gate, and
    cached in Redis for every worker."""
    if not ctx.host.enricher_names(ctx.settings):
        return result
    from optscan.queue.fundamentals import RedisCache
    from optscan.queue.jobs.batch import share_limits

    share_limits(env, ctx, scan_id)
    profile, ttl_s = ctx.request.profile, env.cfg.lock_ttl_s
    try:
        with lock_kept(env.redis, env.keys, profile, scan_id, ttl_s):  # fetches may be slow
            return enrich_result(ctx, result, cache=RedisCache(env.redis, env.keys))
    finally:
        try:
            ctx.provider.close()
        except Exception as exc:
            structlog.get_logger("optscan").warning("provider_close_failed", error=str(exc))


def _job_failure(env: JobEnv, job_id: str) -> str:
    """Why a batch job ended without recording its symbols (its last error line)."""
    from rq.exceptions import NoSuchJobError

    try:
        job = JsonJob.fetch(job_id, connection=env.redis)
    except NoSuchJobError:
        return f"job {job_id} was lost"
    return f"job {job_id} failed: {last_error_line(job)}"
