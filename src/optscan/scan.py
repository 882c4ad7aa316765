"""``perform_scan()``: orchestration only.

The scan resolves symbols from the stock sources, asks the market calendar, fetches
each symbol's *listed* expirations inside the window and their chains (concurrently,
bounded by ``scan.concurrency`` and the provider's ``max_concurrency``), screens the
chains with :func:`optscan.analytics.screen_chain`, emits lifecycle events and
publishes the result to the sinks. One failing symbol, sink or listener never fails the
scan: the result says what failed and why.

The per-symbol part, :func:`scan_symbols`, is also what an RQ symbol job runs, so the
embedded and the queued scan share one code path.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from optscan.errors import (
    OptscanError,
    PluginError,
    ProviderError,
    UsageError,
)
from optscan.events import (
    PluginFailed,
    ScanFinished,
    ScanSkipped,
    ScanStarted,
    SymbolFailed,
    SymbolScanned,
)
from optscan.logs import get_logger
from optscan.models import (
    MarketStatus,
    Opportunity,
    ScanRequest,
    ScanResult,
    SymbolOutcome,
    normalize_symbol,
)

if TYPE_CHECKING:
    from optscan.config import Settings, StrategySection
    from optscan.fetching import Fetcher
    from optscan.plugins import PluginHost

NEW_YORK = ZoneInfo("America/New_York")


def new_scan_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: UTC time of the request plus random hex."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass
class ScanContext:
    """Everything resolved once per scan (or RQ job) and shared by its symbol tasks."""

    scan_id: str
    request: ScanRequest
    settings: Settings
    host: PluginHost
    provider_name: str
    strategy_name: str
    strategy: StrategySection
    fetcher: Fetcher
    provider: Any
    as_of: dt.datetime
    market: MarketStatus
    market_open: bool
    outside_hours: bool
    gated: bool
    sink_names: list[str]
    started: dt.datetime
    holdings: dict[str, tuple[int, float]]


# ------------------------------------------------------------------ resolution


def resolve_symbols(
    request: ScanRequest, settings: Settings, host: PluginHost
) -> tuple[list[str], list[SymbolOutcome], list[str]]:
    """Symbols to scan, outcomes for the invalid ones, and source errors."""
    raw: list[str] = []
    errors: list[str] = []
    if request.symbols is not None:
        raw = list(request.symbols)
    else:
        for name in settings.enabled("sources"):
            try:
                source = host.instantiate("sources", name, settings)
                raw.extend(source.symbols())
            except OptscanError:
                raise
            except Exception as exc:
                owner = host.owner("sources", name)
                errors.append(f"source {name!r} (plugin {owner!r}) failed: {exc}")
    valid: list[str] = []
    skipped: list[SymbolOutcome] = []
    seen: set[str] = set()
    for item in raw:
        try:
            symbol = normalize_symbol(item)
        except ValueError as exc:
            text = str(item).strip().upper()
            text = text if len(text) <= 24 else text[:21] + "..."
            if text not in seen:
                seen.add(text)
                skipped.append(
                    SymbolOutcome(
                        symbol=text, status="skipped", error=str(exc), reason="invalid_symbol"
                    )
                )
            continue
        if symbol not in seen:
            seen.add(symbol)
            valid.append(symbol)
    return valid, skipped, errors


def load_holdings(settings: Settings) -> dict[str, tuple[int, float]]:
    """Stock held, by symbol: ``(shares, cost basis per share)`` from config or CSV."""
    import csv
    from pathlib import Path

    lots: list[tuple[str, int, float]] = [
        (lot.symbol, lot.shares, lot.cost_basis) for lot in settings.holdings.lots
    ]
    if settings.holdings.file:
        path = Path(settings.holdings.file).expanduser()
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                lots.append((row["symbol"], int(float(row["shares"])), float(row["cost_basis"])))
    holdings: dict[str, tuple[int, float]] = {}
    for symbol, shares, basis in lots:
        symbol = normalize_symbol(symbol)
        held, old_basis = holdings.get(symbol, (0, 0.0))
        total = held + shares
        avg = (held * old_basis + shares * basis) / total if total else 0.0
        holdings[symbol] = (total, avg)
    return holdings


# ------------------------------------------------------------------ per symbol


def scan_one_symbol(ctx: ScanContext, symbol: str) -> tuple[SymbolOutcome, list[Opportunity]]:
    """Fetch, screen and account for one symbol (synchronous; used by RQ jobs)."""
    return asyncio.run(_scan_symbol_async(ctx, symbol, None))


async def _scan_symbol_async(
    ctx: ScanContext, symbol: str, executor: ThreadPoolExecutor | None
) -> tuple[SymbolOutcome, list[Opportunity]]:
    from optscan.analytics import screen_chain
    from optscan.models import OptionChain

    loop = asyncio.get_running_loop()
    structlog.contextvars.bind_contextvars(symbol=symbol)  # this task's own context
    log = get_logger()

    def run(fn: Any, *args: Any) -> Any:
        # carry structlog's context (scan_id, symbol) into the fetch threads
        context = contextvars.copy_context()
        return loop.run_in_executor(executor, context.run, fn, *args)

    cost_basis = None
    if ctx.strategy.type == "cc":
        shares, cost_basis = ctx.holdings.get(symbol, (0, 0.0))
        if shares < 100:
            return SymbolOutcome(
                symbol=symbol,
                status="skipped",
                reason="no_holding",
                error=f"covered calls need 100 shares of {symbol}; holdings show {shares}",
            ), []
    try:
        listing, expirations = await run(ctx.fetcher.expirations, symbol)
        today = ctx.as_of.astimezone(NEW_YORK).date()
        lo = today + dt.timedelta(days=ctx.settings.scan.min_dte)
        hi = today + dt.timedelta(days=ctx.settings.scan.max_dte)
        window = [d for d in expirations if lo <= d <= hi]
        results = await asyncio.gather(
            *(run(ctx.fetcher.chain, symbol, d, listing) for d in window),
            return_exceptions=True,
        )
    except (ProviderError, PluginError) as exc:
        log.info("symbol_failed", error=str(exc))
        return _failed(symbol, exc), []
    chains: list[OptionChain] = []
    failed_expirations: dict[str, str] = {}
    for expiration, outcome in zip(window, results, strict=True):
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, ProviderError | PluginError):
                outcome = PluginError(ctx.fetcher.plugin, f"unexpected error: {outcome!r}")
            failed_expirations[expiration.isoformat()] = str(outcome)
        else:
            chains.append(outcome)
    if window and not chains:
        first = next(r for r in results if isinstance(r, BaseException))
        return _failed(symbol, first, expirations=window, failed=failed_expirations), []

    seen = 0
    rejected: Counter[str] = Counter()
    opportunities: list[Opportunity] = []
    for chain in chains:
        screened = screen_chain(
            chain,
            strategy=ctx.strategy,
            analytics=ctx.settings.analytics,
            as_of=ctx.as_of,
            market_open=ctx.market_open,
            cost_basis=cost_basis,
        )
        seen += screened.contracts_seen
        rejected.update(screened.rejected)
        opportunities.extend(screened.opportunities)
    top = ctx.strategy.top_per_symbol
    if top and len(opportunities) > top:
        opportunities = _rank(opportunities, ctx.strategy)
        rejected["rank_cut"] += len(opportunities) - top
        opportunities = opportunities[:top]
    outcome = SymbolOutcome(
        symbol=symbol,
        status="ok",
        contracts_seen=seen,
        rejected=dict(sorted(rejected.items())),
        opportunities=len(opportunities),
        expirations=window,
        failed_expirations=failed_expirations,
        error="; ".join(f"{k}: {v}" for k, v in failed_expirations.items()) or None,
    )
    return outcome, opportunities


def _failed(
    symbol: str,
    exc: BaseException,
    *,
    expirations: list[dt.date] | None = None,
    failed: dict[str, str] | None = None,
) -> SymbolOutcome:
    reason = getattr(exc, "reason", None) or (
        "plugin_error" if isinstance(exc, PluginError) else "error"
    )
    return SymbolOutcome(
        symbol=symbol,
        status="failed",
        error=str(exc),
        reason=reason,
        expirations=expirations or [],
        failed_expirations=failed or {},
    )


_RANK_FIELDS = {
    "annualized_return": lambda o: o.annualized_return,
    "prob_otm": lambda o: o.prob_otm if o.prob_otm is not None else float("-inf"),
    "cushion_pct": lambda o: o.cushion_pct,
    "bid": lambda o: o.bid,
    "open_interest": lambda o: o.open_interest or 0.0,
    "dte": lambda o: -o.dte,
}


def _rank(opportunities: list[Opportunity], strategy: StrategySection) -> list[Opportunity]:
    key = _RANK_FIELDS[strategy.rank_by]
    return sorted(opportunities, key=lambda o: (-key(o), o.symbol, o.contract_symbol))


async def scan_symbols(
    ctx: ScanContext,
    symbols: list[str],
    *,
    on_done: Any,
) -> list[tuple[SymbolOutcome, list[Opportunity]]]:
    """Scan symbols concurrently; ``on_done(outcome)`` runs in this thread as each ends.

    At most ``2 x scan.concurrency`` symbols are in flight: enough queued requests to
    keep every fetch thread busy, while a symbol's chains are screened (and their raw
    payloads dropped) soon after they arrive. Starting every symbol at once would let
    finished chains of thousands of symbols pile up waiting for the event loop: a
    3,000-symbol scan then peaked at twice the memory for no gain in speed.
    """
    concurrency = ctx.settings.scan.concurrency
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="optscan-fetch")
    in_flight = asyncio.Semaphore(max(2 * concurrency, 4))
    try:

        async def one(symbol: str) -> tuple[SymbolOutcome, list[Opportunity]]:
            async with in_flight:
                try:
                    result = await _scan_symbol_async(ctx, symbol, executor)
                except Exception as exc:  # a bug or a plugin breaking the contract
                    get_logger().exception("symbol_crashed", symbol=symbol)
                    result = _failed(symbol, PluginError(ctx.fetcher.plugin, repr(exc))), []
            on_done(result[0])
            return result

        return list(await asyncio.gather(*(one(s) for s in symbols)))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


# ------------------------------------------------------------------ the scan


def _resolve_clock(request: ScanRequest, provider: Any) -> dt.datetime:
    if request.as_of is not None:
        as_of = request.as_of
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=NEW_YORK)
    if request.replay_dir:
        clock = provider.recorded_clock()
        if clock is not None:
            return clock
    return dt.datetime.now(dt.UTC)


def build_fetcher(
    request: ScanRequest, settings: Settings, host: PluginHost, provider_name: str
) -> tuple[Fetcher, Any]:
    """Instantiate the provider (wrapped for replay) and its fetcher."""
    from optscan.fetching import Fetcher
    from optscan.recording import ReplayProvider

    provider = host.instantiate("providers", provider_name, settings)
    config = provider.config
    if request.replay_dir:
        provider = ReplayProvider(provider, request.replay_dir)
        config = config.model_copy(update={"rate_limit_per_s": 0.0})
    fetcher = Fetcher(provider, config, plugin=host.owner("providers", provider_name))
    return fetcher, provider


def prepare_scan(
    request: ScanRequest,
    host: PluginHost,
    settings: Settings,
    *,
    scan_id: str | None = None,
    as_of: dt.datetime | None = None,
) -> ScanContext:
    """Validate the request and resolve everything a scan (or one RQ job of it) needs.

    Raises :class:`UsageError`/:class:`ConfigError` for requests that cannot run.
    ``as_of`` pins the clock (RQ jobs pass the coordinator's, so every job of a scan
    agrees on days to expiry).
    """
    started = dt.datetime.now(dt.UTC)
    scan_id = scan_id or request.scan_id or new_scan_id(started)
    provider_name = request.provider or settings.scan.provider
    strategy_name = request.strategy or settings.scan.strategy
    if strategy_name not in settings.strategies:
        available = ", ".join(sorted(settings.strategies))
        raise UsageError(f"unknown strategy {strategy_name!r}; available: {available}")
    strategy = settings.strategies[strategy_name]
    sink_names = request.sinks if request.sinks is not None else settings.enabled("sinks")
    for name in sink_names:
        host.get_class("sinks", name)
    host.validate_settings(settings)

    fetcher, provider = build_fetcher(request, settings, host, provider_name)
    as_of = as_of or _resolve_clock(request, provider)
    inner = getattr(provider, "inner", provider)
    if hasattr(inner, "as_of"):
        inner.as_of = as_of
    if request.record_dir:
        from optscan.recording import RecordingProvider

        fetcher.provider = RecordingProvider(provider, request.record_dir, as_of)
    market = _market_status(settings, host, as_of)
    in_window = market.is_open and _within_buffers(settings, market)
    ignore_hours = fetcher.config.ignore_market_hours or bool(request.replay_dir)
    return ScanContext(
        scan_id=scan_id,
        request=request,
        settings=settings,
        host=host,
        provider_name=provider_name,
        strategy_name=strategy_name,
        strategy=strategy,
        fetcher=fetcher,
        provider=provider,
        as_of=as_of,
        market=market,
        market_open=market.is_open,
        outside_hours=not in_window,
        gated=not in_window and not ignore_hours and not request.force,
        sink_names=list(sink_names),
        started=started,
        holdings=load_holdings(settings) if strategy.type == "cc" else {},
    )


def run_symbols(
    ctx: ScanContext, symbols: list[str], on_done: Any
) -> list[tuple[SymbolOutcome, list[Opportunity]]]:
    """Scan symbols concurrently (blocking); ``on_done(outcome)`` as each finishes."""
    return asyncio.run(scan_symbols(ctx, symbols, on_done=on_done))


def symbol_event(ctx: ScanContext, outcome: SymbolOutcome, done: int, total: int) -> Any:
    """The lifecycle event for one finished symbol."""
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


def perform_scan(
    request: ScanRequest,
    plugin_manager: PluginHost,
    *,
    settings: Settings | None = None,
) -> ScanResult:
    """Run one scan end to end and return its result (see the module docstring).

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
            symbols, skipped, source_errors = ctx.provider.recorded_symbols(), [], []
        else:
            symbols, skipped, source_errors = resolve_symbols(request, settings, host)
        total = len(symbols) + len(skipped)
        errors: list[str] = list(source_errors)
        _emit(
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
            _emit(host, errors, symbol_event(ctx, outcome, done, total))

        for outcome in skipped:
            on_done(outcome)
        t0 = time.perf_counter()
        results = run_symbols(ctx, symbols, on_done)
        log.info("symbols_scanned", count=len(symbols), seconds=round(time.perf_counter() - t0, 3))
        try:
            ctx.provider.close()
        except Exception as exc:
            errors.append(f"provider {ctx.provider_name!r} close failed: {exc}")
        result = assemble_result(
            ctx,
            outcomes=skipped + [r[0] for r in results],
            opportunities=[o for r in results for o in r[1]],
            errors=errors,
        )
        result = publish(result, host, settings, ctx.sink_names)
        finish(ctx, result)
        log.info("scan_finished", success=result.success, message=result.message)
        return result
    finally:
        structlog.contextvars.unbind_contextvars("scan_id")


def finish(ctx: ScanContext, result: ScanResult) -> None:
    """Emit ``ScanFinished`` for a result."""
    _emit(
        ctx.host,
        [],
        ScanFinished(
            scan_id=result.scan_id,
            success=result.success,
            symbols_ok=sum(s.status == "ok" for s in result.symbols),
            symbols_failed=sum(s.status == "failed" for s in result.symbols),
            symbols_skipped=sum(s.status == "skipped" for s in result.symbols),
            opportunities=len(result.opportunities),
            duration_s=(result.finished_at - result.started_at).total_seconds(),
        ),
    )


def _market_status(settings: Settings, host: PluginHost, as_of: dt.datetime) -> MarketStatus:
    calendar = host.calendar(settings.scan.calendar)
    return calendar.status(as_of)


def _within_buffers(settings: Settings, market: MarketStatus) -> bool:
    from optscan.calendars.buffers import within_scan_window

    return within_scan_window(market, settings.scan.open_buffer_min, settings.scan.close_buffer_min)


def _emit(host: PluginHost, errors: list[str], event: Any) -> None:
    for failure in host.emit(event):
        errors.append(f"event listener {failure.plugin!r} failed: {failure.error}")


def skipped_result(ctx: ScanContext) -> ScanResult:
    """The result of a scan that did not run because the market is closed."""
    market = ctx.market
    when = market.next_open.isoformat() if market.next_open else "unknown"
    message = f"market closed ({ctx.settings.scan.calendar}); next open {when}"
    errors: list[str] = []
    _emit(ctx.host, errors, ScanSkipped(scan_id=ctx.scan_id, reason=message, market=market))
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
    strategy = ctx.strategy
    ranked = _rank(opportunities, strategy)
    if strategy.top_overall and len(ranked) > strategy.top_overall:
        ranked = ranked[: strategy.top_overall]
    ok = sum(o.status == "ok" for o in outcomes)
    failed = sum(o.status == "failed" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    if not outcomes:
        message = "no symbols to scan"
    else:
        message = (
            f"scanned {ok} of {len(outcomes)} symbols ({failed} failed, {skipped} skipped); "
            f"{len(ranked)} opportunities"
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
        errors=errors,
    )


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
        synthetic=ctx.fetcher.provider.synthetic,
        market=ctx.market,
        **fields,
    )


def publish(
    result: ScanResult, host: PluginHost, settings: Settings, sink_names: list[str]
) -> ScanResult:
    """Hand the result to each sink on its own; failures are recorded, not raised."""
    errors = list(result.errors)
    for name in sink_names:
        owner = host.owner("sinks", name)
        try:
            sink = host.instantiate("sinks", name, settings)
            sink.publish(result)
        except Exception as exc:
            get_logger().warning("sink_failed", sink=name, plugin=owner, error=str(exc))
            errors.append(f"sink {name!r} (plugin {owner!r}) failed: {exc}")
            _emit(
                host,
                errors,
                PluginFailed(scan_id=result.scan_id, plugin=owner, hook="publish", error=str(exc)),
            )
    if errors != result.errors:
        result = result.model_copy(update={"errors": errors})
    return result
