"""``perform_rolls()``: fetch what the positions need and find their rolls.

The fetch path is the scan's own: :func:`~optscan.scan.context.prepare_scan` resolves
the provider (wrapped for ``--replay`` or ``--record``), the clock and the market
calendar, and every request goes through its
:class:`~optscan.scan.fetch.ProviderClient` (concurrency cap, rate limit, retries,
``RateLimitedError`` pauses and ``AuthenticationError`` lock-outs). Each symbol's
listing is fetched once and each needed chain once, concurrently (``scan.concurrency``
threads); a position whose answer is missing fails alone, with its reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from optscan.errors import PluginError, ProviderError, UsageError
from optscan.rolls.engine import failed, position_rolls
from optscan.rolls.models import RollsResult

if TYPE_CHECKING:
    from optscan.chain import OptionChain
    from optscan.config import RollStrategySection, Settings
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.rolls.models import PositionRolls, ShortPosition
    from optscan.scan.context import ScanContext


CONTEXT_STRATEGY = "rolls-context"
"""The scan strategy of the context rolls share with scans (its screen is not used)."""


def roll_strategy(settings: Settings, name: str = "roll") -> RollStrategySection:
    """``[strategies.<name>]``, which must be of type ``roll`` (else :class:`UsageError`)."""
    strategy = settings.strategies.get(name)
    if strategy is None:
        raise UsageError(f"no [strategies.{name}] in the config")
    if strategy.type != "roll":
        raise UsageError(f"[strategies.{name}] is of type {strategy.type!r}, not 'roll'")
    return strategy


def rolls_request(
    settings: Settings,
    positions: list[ShortPosition],
    *,
    provider: str | None = None,
    overrides: dict[str, Any] | None = None,
    as_of: dt.datetime | None = None,
    record_dir: str | None = None,
    replay_dir: str | None = None,
) -> ScanRequest:
    """The request rolls fetch with (``optscan rolls``, the web page's Rolls): the
    positions' underlyings, no sink, any hour (a position is judged on the quotes there
    are; the output says when they were taken). Raises pydantic's ``ValidationError``."""
    from optscan.models import ScanRequest

    return ScanRequest(
        profile=settings.scan.profile,
        provider=provider,
        symbols=sorted({p.symbol for p in positions}),
        sinks=[],
        force=True,
        as_of=as_of,
        overrides=dict(overrides or {}),
        record_dir=record_dir,
        replay_dir=replay_dir,
    )


def perform_rolls(
    positions: list[ShortPosition],
    request: ScanRequest,
    host: PluginHost,
    settings: Settings,
    *,
    strategy_name: str = "roll",
    long_options: list[str] | None = None,
) -> RollsResult:
    """The rolls of every position (in the order given), from one provider;
    ``long_options`` (the OCC symbols of the long options the positions file held,
    which are not rolled) are carried into the result as ``long_options_not_rolled``.

    Raises :class:`UsageError`/:class:`~optscan.errors.ConfigError` when nothing can
    run (unknown provider, a strategy that is not a roll, a bad config).
    """
    strategy = roll_strategy(settings, strategy_name)
    from optscan.config import StrategySection
    from optscan.scan.context import prepare_scan

    # the shared context wants a scan strategy; rolls screen with their own
    shared = settings.model_copy(
        update={
            "strategies": {**settings.strategies, CONTEXT_STRATEGY: StrategySection(type="csp")}
        }
    )
    request = request.model_copy(update={"strategy": CONTEXT_STRATEGY})
    ctx = prepare_scan(request, host, shared)
    expired = {id(p): _expired(ctx, p) for p in positions}
    live = [p for p in positions if expired[id(p)] is None]
    try:
        chains = _fetch(ctx, live, strategy) if live else {}
    finally:
        with contextlib.suppress(Exception):  # a provider that cannot close still answered
            ctx.provider.close()
    answers = [
        failed(p, why) if (why := expired[id(p)]) else _one(ctx, p, chains, strategy)
        for p in positions
    ]
    return RollsResult(
        as_of=ctx.as_of,
        provider=ctx.provider_name,
        positions=answers,
        long_options_not_rolled=list(long_options or ()),
    )


Answer = Any
"""An ``OptionChain``, or the exception its request ended with."""


def _expired(ctx: ScanContext, position: ShortPosition) -> str | None:
    """Why ``position`` can no longer be rolled: its expiration day's close (13:00 New
    York on an early-close day, by the market calendar, as a scan counts it) is past;
    ``None`` while it trades."""
    close = ctx.expiry.close_of(position.expiration)
    if ctx.as_of < close:
        return None
    shown = close.strftime("%Y-%m-%d %H:%M %Z")  # New York, as the calendar gives it
    return f"expired: {position.contract_symbol} stopped trading at the close of {shown}"


def _fetch(
    ctx: ScanContext, positions: list[ShortPosition], strategy: RollStrategySection
) -> dict[tuple[str, dt.date], Answer]:
    """Every chain the positions need, by (symbol, expiration); listing failures are
    stored under each of the symbol's positions' expirations."""
    from optscan.scan.context import NEW_YORK

    today = ctx.as_of.astimezone(NEW_YORK).date()
    lo = today + dt.timedelta(days=strategy.min_dte)
    hi = today + dt.timedelta(days=strategy.max_dte)
    by_symbol: dict[str, list[ShortPosition]] = {}
    for p in positions:
        by_symbol.setdefault(p.symbol, []).append(p)
    answers: dict[tuple[str, dt.date], Answer] = {}
    workers = max(1, min(ctx.settings.scan.concurrency, 4 * len(by_symbol) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="optscan-rolls") as pool:
        listings = {s: pool.submit(_guard, ctx.client.expirations, s) for s in by_symbol}
        wanted: dict[tuple[str, dt.date], Any] = {}
        for symbol, future in listings.items():
            listed = future.result()
            held = {p.expiration for p in by_symbol[symbol]}
            if isinstance(listed, BaseException):
                for day in held:
                    answers[(symbol, day)] = listed
                continue
            listing, dates = listed
            first = min(held)
            later = {d for d in dates if lo <= d <= hi and d > first}
            for day in sorted(held | later):
                wanted[(symbol, day)] = pool.submit(_guard, ctx.client.chain, symbol, day, listing)
        for key, future in wanted.items():
            answers[key] = future.result()
    return answers


def _guard(fn: Any, *args: Any) -> Any:
    """The call's result, or the provider or plugin error it ended with."""
    try:
        return fn(*args)
    except (ProviderError, PluginError) as exc:
        return exc


def _one(
    ctx: ScanContext,
    position: ShortPosition,
    chains: dict[tuple[str, dt.date], Answer],
    strategy: RollStrategySection,
) -> PositionRolls:
    old = chains.get((position.symbol, position.expiration))
    if old is None:
        return failed(position, f"no answer for {position.symbol} {position.expiration}")
    if isinstance(old, BaseException):
        return failed(position, str(old))
    later: list[OptionChain] = []
    lost: list[str] = []  # later expirations whose answer failed: said, not hidden
    for (symbol, day), answer in sorted(chains.items(), key=lambda kv: kv[0][1]):
        if symbol != position.symbol or day <= position.expiration:
            continue
        if isinstance(answer, BaseException):
            lost.append(f"{day.isoformat()}: {answer}")
        else:
            later.append(answer)
    result = position_rolls(
        position,
        old,
        later,
        strategy=strategy,
        analytics=ctx.settings.analytics,
        as_of=ctx.as_of,
        close_of=ctx.expiry.close_of,
        market_open=ctx.market_open,
    )
    if lost and result.status == "ok":  # like a scan's partial symbol
        result = result.model_copy(update={"error": "; ".join(lost)})
    return result
