"""What a scan resolves once, before any symbol: :func:`prepare_scan` -> :class:`ScanContext`.

The embedded scan and every RQ job of a queued scan prepare the same context from the
same request, so they agree on the provider, the strategy, the clock (``as_of``: RQ
jobs pass the coordinator's) and whether the market gate lets the scan run.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from optscan.analytics.expiry import REGULAR, ExpiryCloses
from optscan.errors import UsageError
from optscan.models import Portfolio
from optscan.scan.fetch import ProviderClient
from optscan.scan.holdings import load_portfolio

if TYPE_CHECKING:
    from optscan.config import Settings, StrategySection
    from optscan.models import MarketStatus, ScanRequest
    from optscan.plugins import PluginHost
    from optscan.protocols import MarketCalendar

NEW_YORK = ZoneInfo("America/New_York")


def new_scan_id(now: dt.datetime | None = None) -> str:
    """Sortable and unique: UTC time of the request plus random hex."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass
class ScanContext:
    """Everything resolved once per scan (or RQ job) and shared by its symbol tasks.

    ``provider`` is the provider instance (wrapped for replay or record); ``client``
    calls it with the core's policy. ``gated`` is true when the market is closed (or
    inside a buffer) and the scan may not run; ``outside_hours`` when it runs anyway.
    ``holdings`` maps a symbol to ``(shares, cost basis per share)``; ``portfolio``
    adds the covered calls still writable per symbol and the positions file's cash line
    (:mod:`optscan.scan.holdings`).
    """

    scan_id: str
    request: ScanRequest
    settings: Settings
    host: PluginHost
    provider_name: str
    strategy_name: str
    strategy: StrategySection
    client: ProviderClient
    provider: Any
    as_of: dt.datetime
    market: MarketStatus
    outside_hours: bool
    gated: bool
    sink_names: list[str]
    started: dt.datetime
    holdings: dict[str, tuple[int, float | None]]
    warnings: list[str]
    portfolio: Portfolio = field(default_factory=Portfolio)
    expiry: ExpiryCloses = REGULAR
    """Each expiration day's close by the scan's market calendar (time to expiry)."""

    @property
    def market_open(self) -> bool:
        """Whether the market is open at ``as_of`` (buffers aside)."""
        return self.market.is_open


def prepare_scan(
    request: ScanRequest,
    host: PluginHost,
    settings: Settings,
    *,
    scan_id: str | None = None,
    as_of: dt.datetime | None = None,
) -> ScanContext:
    """Validate the request and resolve everything a scan (or one RQ job of it) needs.

    Raises :class:`UsageError`/:class:`~optscan.errors.ConfigError` for requests that
    cannot run. ``as_of`` pins the clock (RQ jobs pass the coordinator's, so every job
    of a scan agrees on days to expiry).
    """
    started = dt.datetime.now(dt.UTC)
    scan_id = scan_id or request.scan_id or new_scan_id(started)
    provider_name = request.provider or settings.scan.provider
    strategy_name = request.strategy or settings.scan.strategy
    if strategy_name not in settings.strategies:
        available = ", ".join(sorted(settings.strategies))
        raise UsageError(f"unknown strategy {strategy_name!r}; available: {available}")
    strategy = settings.strategies[strategy_name]
    if strategy.type == "roll":
        raise UsageError(
            f"strategy {strategy_name!r} is of type 'roll': it is for `optscan rolls`, "
            "not for scans"
        )
    sink_names = request.sinks if request.sinks is not None else settings.enabled("sinks")
    for name in sink_names:
        host.get_class("sinks", name)
    for warning in host.validate_settings(settings):
        from optscan.logs import get_logger

        get_logger().warning("config_warning", warning=warning)

    provider = host.instantiate("providers", provider_name, settings)
    config = provider.config
    replaying = bool(request.replay_dir)
    if request.replay_dir:
        from optscan.scan.replay import ReplayProvider

        provider = ReplayProvider(provider, request.replay_dir)
    as_of = as_of or _resolve_clock(request, provider)
    inner = getattr(provider, "inner", provider)
    if hasattr(inner, "as_of"):
        inner.as_of = as_of
    called = provider
    if request.record_dir:
        from optscan.scan.replay import RecordingProvider

        try:
            called = RecordingProvider(provider, request.record_dir, as_of)
        except OSError as exc:
            raise UsageError(
                f"--record {request.record_dir}: cannot write a recording there: "
                f"{exc.strerror or exc}"
            ) from None
    client = ProviderClient(
        called, config, plugin=host.owner("providers", provider_name), replaying=replaying
    )
    calendar = host.calendar(settings.scan.calendar)
    market = calendar.status(as_of)
    warnings = _replay_warnings(request, provider, as_of, calendar)
    in_window = market.is_open and _within_buffers(settings, market)
    ignore_hours = config.ignore_market_hours or replaying
    portfolio = scan_portfolio(settings, request, strategy.type)
    return ScanContext(
        scan_id=scan_id,
        request=request,
        settings=settings,
        host=host,
        provider_name=provider_name,
        strategy_name=strategy_name,
        strategy=strategy,
        client=client,
        provider=provider,
        as_of=as_of,
        market=market,
        outside_hours=not in_window,
        gated=not in_window and not ignore_hours and not request.force,
        sink_names=list(sink_names),
        started=started,
        holdings=portfolio.holdings if strategy.type == "cc" else {},
        warnings=warnings + portfolio.warnings,
        portfolio=portfolio,
        expiry=ExpiryCloses(calendar),
    )


def scan_portfolio(settings: Settings, request: ScanRequest, strategy_type: str) -> Portfolio:
    """The stock and cash the scan knows of: the request's own portfolio when it carries
    one (a queued scan whose client read the positions file: the whole truth, this
    machine's ``holdings.file`` and ``[holdings] lots`` unread), else ``[holdings]`` read
    here. A covered-call scan needs it (an unreadable file stops the scan: exit 2); a
    put scan only its cash (:func:`portfolio_for_puts`)."""
    if request.portfolio is not None:
        if strategy_type != "cc" and request.cash is not None:
            return Portfolio()  # as the file is not read here when --cash gives the cash
        return request.portfolio
    if strategy_type == "cc":
        return load_portfolio(settings)
    return portfolio_for_puts(settings, request)


def portfolio_for_puts(settings: Settings, request: ScanRequest) -> Portfolio:
    """The positions file for a put scan: only its cash line matters (the selection's
    cash, :mod:`optscan.scan.selection`), so it is not read when ``--cash`` gives the
    cash, and a file that cannot be read is a warning, not a failed scan."""
    if request.cash is not None or not settings.holdings.file:
        return Portfolio()
    from optscan.errors import InputFileError
    from optscan.scan.holdings import file_label
    from optscan.symbols import shorten

    try:
        return load_portfolio(settings)
    except InputFileError as exc:
        warning = (
            f"positions file {file_label(settings.holdings.file)} (holdings.file) not read "
            f"({shorten(exc.detail, 120)}): its cash line is not used"
        )
        from optscan.logs import get_logger

        get_logger().warning("positions_file_unread", warning=warning)
        return Portfolio(warnings=[warning])


def _resolve_clock(request: ScanRequest, provider: Any) -> dt.datetime:
    if request.as_of is not None:
        as_of = request.as_of
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=NEW_YORK)
    if request.replay_dir:
        clock = provider.recorded_clock()
        if clock is not None:
            clock_time: dt.datetime = clock
            return clock_time
    return dt.datetime.now(dt.UTC)


def _replay_warnings(
    request: ScanRequest, provider: Any, as_of: dt.datetime, calendar: MarketCalendar
) -> list[str]:
    """A replay pinned to an instant more than one trading day from when the quotes
    were recorded screens stale quotes as if they were current: say so."""
    if not request.replay_dir or request.as_of is None:
        return []
    recorded = provider.recorded_clock()
    if recorded is None:
        return []
    first, last = sorted((recorded.astimezone(NEW_YORK).date(), as_of.astimezone(NEW_YORK).date()))
    sessions = sum(
        calendar.is_session(first + dt.timedelta(days=i)) for i in range(1, (last - first).days + 1)
    )
    if sessions <= 1:
        return []
    warning = (
        f"replaying quotes recorded at {recorded.astimezone(NEW_YORK).isoformat()} at "
        f"--as-of {as_of.astimezone(NEW_YORK).isoformat()}, {sessions} trading days apart: "
        "days to expiry and greeks are computed as if those quotes were current"
    )
    from optscan.logs import get_logger

    get_logger().warning("replay_far_from_recording", warning=warning)
    return [warning]


def _within_buffers(settings: Settings, market: MarketStatus) -> bool:
    from optscan.scan.window import within_scan_window

    return within_scan_window(market, settings.scan.open_buffer_min, settings.scan.close_buffer_min)
