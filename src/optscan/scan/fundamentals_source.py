"""Fundamentals outside a scan: what a plugin's command (``optscan value``) uses.

:func:`open_fundamentals` builds the chosen provider with its validated config, wraps
it for ``--replay`` or ``--record`` like a scan does, and puts the core's client
(gate, slots, rate limit, retries, error signals) in front of it, so a command's
fundamentals requests are exactly as polite as a scan's. :func:`fundamentals_symbols`
gives the symbols to ask for: the ones given, else the recording's, else the enabled
stock sources'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from optscan.errors import UsageError
from optscan.scan.enrich import FundamentalsFetcher
from optscan.scan.fetch import ProviderClient

if TYPE_CHECKING:
    from optscan.config import Settings
    from optscan.plugins import PluginHost


@dataclass
class FundamentalsSource:
    """An open provider's fundamentals (``fetcher``); :meth:`close` when done."""

    provider: str
    fetcher: FundamentalsFetcher
    recorded: list[str] = field(default_factory=list)
    """With ``--replay``: the symbols whose fundamentals were recorded."""
    _provider: Any = None

    def close(self) -> None:
        """Release the provider's sessions."""
        if self._provider is not None:
            self._provider.close()


def open_fundamentals(
    settings: Settings,
    host: PluginHost,
    *,
    provider: str | None = None,
    replay_dir: str | None = None,
    record_dir: str | None = None,
) -> FundamentalsSource:
    """The provider ``provider`` (default ``scan.provider``) ready to give fundamentals.

    Raises :class:`UsageError` for an unknown provider or a provider without
    fundamentals, :class:`~optscan.errors.ConfigError` for a bad section.
    """
    from optscan.protocols import provides_fundamentals

    name = provider or settings.scan.provider
    instance = host.instantiate("providers", name, settings)
    if not provides_fundamentals(instance):
        raise UsageError(f"provider {name!r} offers no fundamentals")
    config = instance.config
    recorded: list[str] = []
    if replay_dir:
        from optscan.scan.replay import FUNDAMENTALS, ReplayProvider

        instance = ReplayProvider(instance, replay_dir)
        recorded = instance.recorded_symbols(FUNDAMENTALS)
    called = instance
    if record_dir:
        from optscan.scan.replay import RecordingProvider

        try:
            called = RecordingProvider(instance, record_dir, dt.datetime.now(dt.UTC))
        except OSError as exc:
            raise UsageError(
                f"--record {record_dir}: cannot write a recording there: {exc.strerror or exc}"
            ) from None
    client = ProviderClient(
        called, config, plugin=host.owner("providers", name), replaying=bool(replay_dir)
    )
    fetcher = FundamentalsFetcher(
        client, concurrency=settings.scan.concurrency, replaying=bool(replay_dir)
    )
    return FundamentalsSource(name, fetcher, recorded, instance)


def fundamentals_symbols(
    settings: Settings,
    host: PluginHost,
    given: list[str] | None,
    source: FundamentalsSource,
) -> tuple[list[str], list[str]]:
    """``(valid symbols, problems)``: ``given``, else the recording's, else the enabled
    stock sources'; an invalid symbol or a failing source is a problem, not an error."""
    from optscan.models import ScanRequest
    from optscan.scan.resolve import resolve_symbols

    if given is None and source.recorded:
        given = source.recorded
    request = ScanRequest(symbols=given)
    symbols, skipped, errors = resolve_symbols(request, settings, host)
    from optscan.symbols import without_symbol

    problems = [f"{s.symbol}: {without_symbol(s.error or '', s.symbol)}" for s in skipped]
    return symbols, [*errors, *problems]
