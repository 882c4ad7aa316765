"""A scan's result: the events that report it, its assembly and its publication.

Shared by the embedded scan and the queued one (the aggregator job assembles and
publishes; batch jobs report their symbols), so both give the same result and events.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any

from optscan.events import (
    PluginFailed,
    ScanEvent,
    ScanFinished,
    ScanSkipped,
    SymbolFailed,
    SymbolScanned,
)
from optscan.logs import get_logger
from optscan.models import Opportunity, ScanResult, SymbolOutcome
from optscan.scan.selection import scan_selection
from optscan.secrets import scrub_exception

if TYPE_CHECKING:
    from optscan.config import Settings
    from optscan.plugins import PluginHost
    from optscan.scan.context import ScanContext


def emit(host: PluginHost, errors: list[str], event: ScanEvent) -> None:
    """Deliver ``event``; a listener that fails is added to ``errors``."""
    for failure in host.emit(event):
        errors.append(f"event listener {failure.plugin!r} failed: {failure.error}")


def symbol_event(ctx: ScanContext, outcome: SymbolOutcome, done: int, total: int) -> ScanEvent:
    """The lifecycle event for one finished symbol (``done`` of ``total``)."""
    if outcome.status == "ok":
        return SymbolScanned(
            scan_id=ctx.scan_id,
            symbol=outcome.symbol,
            done=done,
            total=total,
            contracts_seen=outcome.contracts_seen,
            opportunities=outcome.opportunities,
        )
    return SymbolFailed(
        scan_id=ctx.scan_id,
        symbol=outcome.symbol,
        status="skipped" if outcome.status == "skipped" else "failed",
        error=outcome.error or "",
        done=done,
        total=total,
    )


def skipped_result(ctx: ScanContext) -> ScanResult:
    """The result of a scan that did not run: the market is closed, or open but inside
    the configured minutes after the open or before the close."""
    market = ctx.market
    when = market.next_open.isoformat() if market.next_open else "unknown"
    calendar = ctx.settings.scan.calendar
    if market.is_open:
        scan = ctx.settings.scan
        message = (
            f"market open ({calendar}) but inside the scan buffers "
            f"(scan.open_buffer_min {scan.open_buffer_min}, "
            f"scan.close_buffer_min {scan.close_buffer_min})"
        )
        if market.closes_at is not None:
            message += f"; it closes at {market.closes_at.isoformat()}"
    else:
        message = f"market closed ({calendar}); next open {when}"
    errors: list[str] = []
    emit(ctx.host, errors, ScanSkipped(scan_id=ctx.scan_id, reason=message, market=market))
    return _result(
        ctx,
        outside_market_hours=True,
        success=False,
        skipped=True,
        message=message,
        symbols=[],
        opportunities=[],
        errors=errors,
    )


def assemble_result(
    ctx: ScanContext,
    *,
    outcomes: list[SymbolOutcome],
    opportunities: list[Opportunity],
    errors: list[str],
) -> ScanResult:
    """Rank, cut and summarise per-symbol results into one :class:`ScanResult`."""
    from optscan.analytics.ranking import rank_opportunities

    strategy = ctx.strategy
    ranked = rank_opportunities(opportunities, strategy.rank_by)
    if strategy.top_overall and len(ranked) > strategy.top_overall:
        ranked = ranked[: strategy.top_overall]
    counts = Counter(o.status for o in outcomes)
    ok, failed, skipped = counts["ok"], counts["failed"], counts["skipped"]
    partial = [o.symbol for o in outcomes if o.partial]
    if not outcomes:
        message = "no symbols to scan"
    else:
        also = f", {len(partial)} partial: {_names(partial)}" if partial else ""
        message = (
            f"scanned {ok} of {len(outcomes)} symbols ({failed} failed, {skipped} skipped"
            f"{also}); {len(ranked)} opportunities"
        )
    if partial:
        get_logger().warning(
            "symbols_partial",
            count=len(partial),
            symbols=partial[:20],
            hint="see failed_expirations",
        )
    if ctx.outside_hours:
        message += " (taken outside market hours)"
    return _result(
        ctx,
        outside_market_hours=ctx.outside_hours,
        success=ok > 0,
        message=message,
        symbols=outcomes,
        opportunities=ranked,
        errors=[*_refused(ctx, outcomes), *errors],
        selection=scan_selection(ctx, ranked),
    )


def _names(symbols: list[str], most: int = 5) -> str:
    shown = ", ".join(symbols[:most])
    return shown + (f" and {len(symbols) - most} more" if len(symbols) > most else "")


def _refused(ctx: ScanContext, outcomes: list[SymbolOutcome]) -> list[str]:
    """One line for every symbol a refused credential cost (not one line per symbol)."""
    refused = [o for o in outcomes if o.reason == "auth_failed"]
    if not refused:
        return []
    noun = "symbol" if len(refused) == 1 else "symbols"
    return [
        f"provider {ctx.provider_name!r} refused the credentials; {len(refused)} {noun} "
        f"not scanned: {refused[0].error}"
    ]


def _result(ctx: ScanContext, **fields: Any) -> ScanResult:
    """A :class:`ScanResult` with the fields every result of this scan shares."""
    return ScanResult(
        scan_id=ctx.scan_id,
        profile=ctx.request.profile,
        as_of=ctx.as_of,
        started_at=ctx.started,
        finished_at=dt.datetime.now(dt.UTC),
        provider=ctx.provider_name,
        strategy=ctx.strategy_name,
        synthetic=ctx.provider.synthetic,
        market=ctx.market,
        warnings=ctx.warnings,
        **fields,
    )


def publish(
    result: ScanResult, host: PluginHost, settings: Settings, sink_names: list[str]
) -> ScanResult:
    """Hand the result to each sink on its own; failures are recorded, not raised."""
    from optscan.config import settings_in_use

    errors = list(result.errors)
    with settings_in_use(settings):
        _publish_each(result, host, settings, sink_names, errors)
    if errors != result.errors:
        result = result.model_copy(update={"errors": errors})
    return result


def _publish_each(
    result: ScanResult,
    host: PluginHost,
    settings: Settings,
    sink_names: list[str],
    errors: list[str],
) -> None:
    for name in sink_names:
        owner = host.owner("sinks", name)
        try:
            sink = host.instantiate("sinks", name, settings)
            sink.publish(result)
        except Exception as exc:
            error = scrub_exception(exc, with_type=False)
            plugin_failed(host, errors, result.scan_id, ("sink", name, owner, "publish"), error)


def plugin_failed(
    host: PluginHost, errors: list[str], scan_id: str, what: tuple[str, str, str, str], error: str
) -> None:
    """Report a plugin class that failed during a scan: ``what`` is ``(family word,
    name, owning plugin, hook)``, e.g. ``("sink", "json", "optscan.sinks", "publish")``.
    Logged, added to ``errors`` as ``<family> '<name>' (plugin '<owner>') failed:
    <error>``, and emitted as a ``PluginFailed`` event."""
    family, name, owner, hook = what
    get_logger().warning(f"{family}_failed", **{family: name}, plugin=owner, error=error)
    errors.append(f"{family} {name!r} (plugin {owner!r}) failed: {error}")
    emit(host, errors, PluginFailed(scan_id=scan_id, plugin=owner, hook=hook, error=error))


def emit_finished(ctx: ScanContext, result: ScanResult) -> None:
    """Emit ``ScanFinished`` for a published result."""
    counts = Counter(s.status for s in result.symbols)
    emit(
        ctx.host,
        [],
        ScanFinished(
            scan_id=result.scan_id,
            success=result.success,
            symbols_ok=counts["ok"],
            symbols_failed=counts["failed"],
            symbols_skipped=counts["skipped"],
            opportunities=len(result.opportunities),
            duration_s=(result.finished_at - result.started_at).total_seconds(),
        ),
    )
