"""How a batch job records its symbols: as they end, a few at a time, each once.

A batch sized from the symbol count and the workers (:mod:`optscan.queue.plan`) holds
many symbols, so it records them while it scans rather than at its end: progress
moves as symbols finish, and a batch re-run after its worker died (rq's retry) scans
only the symbols not recorded yet (:meth:`~optscan.queue.store.ScanStore.pending`).

A symbol that ended failed (or lost an expiration) while Redis failed a request's shared
limit or gate is *held*, not recorded: the fault may be Redis's, not the symbol's, and
the batch scans it again once Redis answers (:meth:`Recorder.rescan`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import structlog

from optscan.queue.connection import passing_refusal, patiently
from optscan.queue.jobs.env import payload
from optscan.scan.per_symbol import run_symbols
from optscan.scan.result import emit, symbol_event

if TYPE_CHECKING:
    from optscan.queue.jobs.env import JobEnv
    from optscan.queue.limits import Trouble
    from optscan.scan.context import ScanContext
    from optscan.scan.per_symbol import SymbolResult

FLUSH_SYMBOLS = 16
"""Record once this many symbols have ended (one Lua call for all of them)..."""
FLUSH_S = 0.25
"""... or this many seconds after the last record, whichever comes first."""
RESCANS = 2
"""Rounds of scanning again the symbols a Redis fault may have failed."""


def damaged(result: SymbolResult) -> bool:
    """Whether a symbol failed or lost an expiration (a Redis fault may be why)."""
    outcome = result[0]
    return outcome.status == "failed" or bool(outcome.failed_expirations)


class Recorder:
    """Records a batch's finished symbols in the scan's store (``ScanStore.record``:
    atomic, the first record of a symbol wins) and emits their lifecycle events.

    :meth:`add` runs on the scan's event loop as each symbol ends and never waits on
    Redis: a record Redis refuses stays pending and goes with the next one.
    :meth:`finish` records what is left, waiting out a Redis that is full or restarting
    for ``queue.redis_wait_s`` (the symbols are scanned: losing them to a retry would
    cost their requests again).
    """

    def __init__(self, env: JobEnv, ctx: ScanContext, scan_id: str, trouble: Trouble) -> None:
        self.env = env
        self.ctx = ctx
        self.scan_id = scan_id
        self.trouble = trouble
        self.pending: list[SymbolResult] = []
        self.held: list[SymbolResult] = []
        self.scanned: list[str] = []
        self.ok: list[str] = []  # recorded ``ok`` (their fundamentals are worth fetching)
        self.added = 0
        self.done = 0
        self.failed = 0
        self.lost = False
        self.flushes = 0
        self._last = time.monotonic()
        self._total = int(env.store.get(scan_id).get("total") or 0)

    def add(self, result: SymbolResult) -> None:
        """A symbol has ended: record it soon (or hold it for a rescan)."""
        self.scanned.append(result[0].symbol)
        if self.trouble.seen and damaged(result):
            self.held.append(result)
            return
        self.pending.append(result)
        if len(self.pending) >= FLUSH_SYMBOLS or time.monotonic() - self._last >= FLUSH_S:
            self.flush(wait=False)

    def rescan(self) -> None:
        """Scan the held symbols again once Redis answers (at most :data:`RESCANS`
        rounds); what is still damaged after that is recorded as it is."""
        for _round in range(RESCANS):
            if not self.held:
                break
            symbols = [outcome.symbol for outcome, _ in self.held]
            self.held = []
            self.trouble.seen = False
            patiently(self.env.redis.ping, what="rescan", budget_s=self.env.cfg.redis_wait_s)
            for result in run_symbols(self.ctx, symbols, lambda outcome: None):
                (self.held if self.trouble.seen and damaged(result) else self.pending).append(
                    result
                )
        self.pending.extend(self.held)
        self.held = []

    def finish(self) -> None:
        """Record every symbol not recorded yet (waiting out Redis, see the class)."""
        self.rescan()
        self.flush(wait=True)

    def flush(self, *, wait: bool) -> None:
        """Record the pending symbols in one call; ``wait``: patiently (raises what
        Redis still refuses after ``queue.redis_wait_s``), else a refusal that passes
        leaves them pending."""
        if not self.pending or self.lost:
            return
        batch = list(self.pending)
        items: list[tuple[str, dict[str, Any], bool]] = [
            (o.symbol, payload(o, opps), o.status == "failed") for o, opps in batch
        ]

        def record() -> tuple[int, int, int]:
            return self.env.store.record(self.scan_id, items)

        self._last = time.monotonic()
        try:
            if wait:
                added, done, failed = patiently(
                    record, what="record", budget_s=self.env.cfg.redis_wait_s
                )
            else:
                added, done, failed = record()
        except Exception as exc:
            if wait or not passing_refusal(exc):
                raise
            structlog.get_logger("optscan").warning("record_deferred", error=str(exc))
            return
        self.flushes += 1
        del self.pending[: len(batch)]
        if added < 0:
            self.lost = True
            return
        self.added += added
        self.done, self.failed = done, failed
        self.ok.extend(outcome.symbol for outcome, _ in batch if outcome.status == "ok")
        errors: list[str] = []
        first = done - len(batch)
        for i, (outcome, _) in enumerate(batch):
            emit(self.ctx.host, errors, symbol_event(self.ctx, outcome, first + i + 1, self._total))
