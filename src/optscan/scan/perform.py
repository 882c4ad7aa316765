"""``perform_scan()``: one scan, top to bottom. Orchestration only.

prepare (provider, strategy, clock, market) -> gate on the market -> resolve the
symbols -> ``ScanStarted`` -> scan the symbols concurrently (a ``SymbolScanned`` or
``SymbolFailed`` as each ends) -> assemble the result -> enrich it (plugins' facts in
``extras``) -> publish it to the sinks ->
``ScanFinished``. One failing symbol, sink or listener never fails the scan: the
result says what failed and why. The work of each step lives in its own module of
:mod:`optscan.scan`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from optscan.events import ScanStarted
from optscan.logs import get_logger
from optscan.scan.context import prepare_scan
from optscan.scan.enrich import enrich_result
from optscan.scan.per_symbol import run_symbols
from optscan.scan.resolve import resolve_symbols
from optscan.scan.result import (
    assemble_result,
    emit,
    emit_finished,
    publish,
    skipped_result,
    symbol_event,
)

if TYPE_CHECKING:
    from optscan.config import Settings
    from optscan.models import ScanRequest, ScanResult, SymbolOutcome
    from optscan.plugins import PluginHost


def perform_scan(
    request: ScanRequest,
    plugin_manager: PluginHost,
    *,
    settings: Settings | None = None,
) -> ScanResult:
    """Run one scan end to end and return its (published) result.

    ``settings`` defaults to the configuration loaded the usual way with the request's
    ``overrides`` applied (what an RQ worker does with a queued request).
    Raises :class:`~optscan.errors.UsageError` or :class:`~optscan.errors.ConfigError`
    for requests that cannot run at all (unknown provider, strategy, sink, bad config).
    """
    from optscan.config import load_settings

    host = plugin_manager
    if settings is None:
        settings = load_settings(overrides=request.overrides)
    ctx = prepare_scan(request, host, settings)
    structlog.contextvars.bind_contextvars(scan_id=ctx.scan_id)
    log = get_logger()
    try:
        if ctx.gated:
            return skipped_result(ctx)

        if request.replay_dir and request.symbols is None:  # replay what was recorded
            symbols, skipped, errors = ctx.provider.recorded_symbols(), [], []
            if not symbols:
                others = [p for p in ctx.provider.recorded_providers() if p != ctx.provider_name]
                use = others[0] if len(others) == 1 else "NAME"
                hint = f" (it holds {', '.join(others)}: use --provider {use})" if others else ""
                ctx.warnings.append(
                    f"{request.replay_dir} holds no {ctx.provider_name!r} recording{hint}"
                )
        else:
            symbols, skipped, errors = resolve_symbols(request, settings, host)
        total = len(symbols) + len(skipped)
        emit(
            host,
            errors,
            ScanStarted(
                scan_id=ctx.scan_id,
                profile=request.profile,
                provider=ctx.provider_name,
                strategy=ctx.strategy_name,
                symbols_total=total,
                as_of=ctx.as_of,
            ),
        )

        done = 0

        def on_done(outcome: SymbolOutcome) -> None:
            nonlocal done
            done += 1
            emit(host, errors, symbol_event(ctx, outcome, done, total))

        for outcome in skipped:
            on_done(outcome)
        t0 = time.perf_counter()
        results = run_symbols(ctx, symbols, on_done)
        log.info("symbols_scanned", count=len(symbols), seconds=round(time.perf_counter() - t0, 3))
        result = assemble_result(
            ctx,
            outcomes=skipped + [outcome for outcome, _ in results],
            opportunities=[o for _, found in results for o in found],
            errors=errors,
        )
        result = enrich_result(ctx, result)  # plugins' facts, before the sinks
        try:
            ctx.provider.close()
        except Exception as exc:
            result = result.model_copy(
                update={
                    "errors": [
                        *result.errors,
                        f"provider {ctx.provider_name!r} close failed: {exc}",
                    ]
                }
            )
        result = publish(result, host, settings, ctx.sink_names)
        emit_finished(ctx, result)
        log.info("scan_finished", success=result.success, message=result.message)
        return result
    finally:
        structlog.contextvars.unbind_contextvars("scan_id")
