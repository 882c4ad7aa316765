"""One symbol's part of a scan, and many symbols at once.

:func:`scan_symbol` fetches the symbol's listed expirations, the chains inside the DTE
window (concurrently), screens them and accounts for every contract. One failing
expiration fails only itself (``failed_expirations``); a refused credential
(``AuthenticationError``) fails the whole symbol. :func:`run_symbols` is what the
embedded scan and an RQ batch job both run, so the two paths share this code.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import structlog

from optscan.errors import AuthenticationError, PluginError, ProviderError
from optscan.logs import get_logger
from optscan.models import Opportunity, SymbolOutcome
from optscan.secrets import scrub_exception

if TYPE_CHECKING:
    from optscan.chain import OptionChain
    from optscan.scan.context import ScanContext

SymbolResult = tuple[SymbolOutcome, list[Opportunity]]
OnDone = Callable[[SymbolOutcome], None]
OnResult = Callable[[SymbolResult], None]
MAX_SYMBOLS_IN_FLIGHT = 64
"""The most symbols a scan works on at once, whatever ``scan.concurrency`` says: each
holds its chains until they are screened, so memory grows with this figure. 64 keeps
the default's 2 x 32 and a 3,000-symbol scan under 250 MiB at any concurrency."""


def failed_outcome(
    symbol: str,
    exc: BaseException,
    *,
    expirations: list[dt.date] | None = None,
    failed: dict[str, str] | None = None,
) -> SymbolOutcome:
    """The outcome of a symbol that failed with ``exc`` (its ``reason``, scrubbed text)."""
    reason = getattr(exc, "reason", None) or (
        "plugin_error" if isinstance(exc, PluginError) else "error"
    )
    return SymbolOutcome(
        symbol=symbol,
        status="failed",
        error=str(exc) if isinstance(exc, ProviderError | PluginError) else scrub_exception(exc),
        reason=reason,
        expirations=expirations or [],
        failed_expirations=failed or {},
    )


def _no_holding(ctx: ScanContext, symbol: str) -> SymbolOutcome | None:
    """Covered calls need 100 shares not already covered by a short call, and a known
    cost basis when the strategy keeps strikes at or above it: the ``skipped`` outcome
    when they are missing."""
    if ctx.strategy.type != "cc":
        return None
    shares, basis = ctx.holdings.get(symbol, (0, 0.0))
    coverable = _coverable(ctx, symbol)
    if coverable < 1:
        why = f"holdings show {shares}"
        short = ctx.portfolio.short_calls.get(symbol, 0)
        if short:
            why += f", {short * 100} of them covered by {short} short call{'s' * (short > 1)}"
        return SymbolOutcome(
            symbol=symbol,
            status="skipped",
            reason="no_holding",
            error=f"covered calls need 100 uncovered shares of {symbol}; {why}",
            contracts_coverable=0,
        )
    if basis is None and ctx.strategy.strikes_at_or_above_cost_basis:
        return SymbolOutcome(
            symbol=symbol,
            status="skipped",
            reason="no_cost_basis",
            error=f"the positions file gives no cost basis for {symbol}: strikes cannot be "
            "kept at or above it (add it as a [holdings] lot or set "
            "strikes_at_or_above_cost_basis = false)",
            contracts_coverable=coverable,
        )
    return None


def _coverable(ctx: ScanContext, symbol: str) -> int:
    """Covered calls still writable on ``symbol`` (None outside covered-call scans)."""
    coverable = ctx.portfolio.coverable.get(symbol)
    if coverable is None:  # a context built without a portfolio: shares alone
        coverable = ctx.holdings.get(symbol, (0, 0.0))[0] // 100
    return coverable


async def scan_symbol(
    ctx: ScanContext, symbol: str, executor: ThreadPoolExecutor | None
) -> SymbolResult:
    """Fetch, screen and account for one symbol (requests run on ``executor``)."""
    from optscan.analytics.ranking import rank_opportunities
    from optscan.analytics.screen import screen_chain

    loop = asyncio.get_running_loop()
    structlog.contextvars.bind_contextvars(symbol=symbol)  # this task's own context

    def run(fn: Any, *args: Any) -> Any:
        # carry structlog's context (scan_id, symbol) into the fetch threads
        context = contextvars.copy_context()
        return loop.run_in_executor(executor, context.run, fn, *args)

    skipped = _no_holding(ctx, symbol)
    if skipped is not None:
        return skipped, []
    cost_basis = ctx.holdings[symbol][1] if ctx.strategy.type == "cc" else None
    try:
        listing, expirations = await run(ctx.client.expirations, symbol)
        window = _in_window(ctx, expirations)
        results = await asyncio.gather(
            *(run(ctx.client.chain, symbol, d, listing) for d in window),
            return_exceptions=True,
        )
    except (ProviderError, PluginError) as exc:
        get_logger().info("symbol_failed", error=str(exc))
        return failed_outcome(symbol, exc), []
    chains: list[OptionChain] = []
    failed_expirations: dict[str, str] = {}
    for expiration, outcome in zip(window, results, strict=True):
        if isinstance(outcome, AuthenticationError):
            return failed_outcome(symbol, outcome, expirations=window), []
        if isinstance(outcome, BaseException):
            if not isinstance(outcome, ProviderError | PluginError):
                outcome = PluginError(ctx.client.plugin, f"unexpected error: {outcome!r}")
            failed_expirations[expiration.isoformat()] = str(outcome)
        else:
            chains.append(outcome)
    if window and not chains:
        first = next(r for r in results if isinstance(r, BaseException))
        return failed_outcome(symbol, first, expirations=window, failed=failed_expirations), []

    seen = 0
    rejected: Counter[str] = Counter()
    opportunities: list[Opportunity] = []
    listed: set[str] = set()  # a contract in two answers is screened once
    for chain in chains:
        screened = screen_chain(
            chain,
            strategy=ctx.strategy,
            analytics=ctx.settings.analytics,
            as_of=ctx.as_of,
            market_open=ctx.market_open,
            cost_basis=cost_basis,
            close_of=ctx.expiry.close_of,
            seen=listed,
        )
        seen += screened.contracts_seen
        rejected.update(screened.rejected)
        opportunities.extend(screened.opportunities)
    top = ctx.strategy.top_per_symbol
    if top and len(opportunities) > top:  # each chain kept its top; keep the symbol's
        opportunities = rank_opportunities(opportunities, ctx.strategy.rank_by)
        rejected["rank_cut"] += len(opportunities) - top
        opportunities = opportunities[:top]
    outcome = SymbolOutcome(
        symbol=symbol,
        status="ok",
        contracts_coverable=_coverable(ctx, symbol) if ctx.strategy.type == "cc" else None,
        contracts_seen=seen,
        underlying_price=max(chains, key=lambda c: c.quote_time).underlying_price
        if chains
        else None,
        rejected=dict(sorted(rejected.items())),
        opportunities=len(opportunities),
        expirations=window,
        failed_expirations=failed_expirations,
        error="; ".join(f"{k}: {v}" for k, v in failed_expirations.items()) or None,
    )
    return outcome, opportunities


def _in_window(ctx: ScanContext, expirations: list[dt.date]) -> list[dt.date]:
    """The listed expirations between ``scan.min_dte`` and ``scan.max_dte`` days out."""
    from optscan.scan.context import NEW_YORK

    today = ctx.as_of.astimezone(NEW_YORK).date()
    lo = today + dt.timedelta(days=ctx.settings.scan.min_dte)
    hi = today + dt.timedelta(days=ctx.settings.scan.max_dte)
    return [d for d in expirations if lo <= d <= hi]


async def scan_symbols(
    ctx: ScanContext, symbols: list[str], on_done: OnDone, on_result: OnResult | None = None
) -> list[SymbolResult]:
    """Scan symbols concurrently; ``on_done(outcome)`` runs in this thread as each ends
    (then ``on_result((outcome, opportunities))``, when given: a queued batch records
    each symbol as it ends).

    At most ``2 x scan.concurrency`` symbols are in flight, and never more than
    :data:`MAX_SYMBOLS_IN_FLIGHT`: enough queued requests to keep every fetch thread
    busy (a symbol asks for its listing, then each expiration in the window), while a
    symbol's chains are screened (and their raw payloads dropped) soon after they
    arrive. Starting every symbol at once would let finished chains of thousands of
    symbols pile up waiting for the event loop: a 3,000-symbol scan then peaked at
    twice the memory for no gain in speed, and at ``scan.concurrency=1024`` without the
    cap at 415 MiB.
    """
    concurrency = ctx.settings.scan.concurrency
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="optscan-fetch")
    in_flight = asyncio.Semaphore(min(max(2 * concurrency, 4), MAX_SYMBOLS_IN_FLIGHT))
    try:

        async def one(symbol: str) -> SymbolResult:
            async with in_flight:
                try:
                    result = await scan_symbol(ctx, symbol, executor)
                except Exception as exc:  # a bug in optscan: the provider's errors and
                    # crashes are PluginError or ProviderError by now (scan.fetch)
                    log = get_logger()  # the traceback only for developers (debug)
                    log.error("symbol_crashed", symbol=symbol, error=scrub_exception(exc))
                    log.debug("symbol_crashed_traceback", symbol=symbol, exc_info=True)
                    result = failed_outcome(symbol, exc), []
            on_done(result[0])
            if on_result is not None:
                on_result(result)
            return result

        return list(await asyncio.gather(*(one(s) for s in symbols)))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def run_symbols(
    ctx: ScanContext, symbols: list[str], on_done: OnDone, on_result: OnResult | None = None
) -> list[SymbolResult]:
    """Scan symbols concurrently (blocking); ``on_done(outcome)`` (and
    ``on_result((outcome, opportunities))``) as each finishes."""
    return asyncio.run(scan_symbols(ctx, symbols, on_done, on_result))
