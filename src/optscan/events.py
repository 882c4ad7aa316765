"""Scan lifecycle events, delivered to every ``optscan_event`` hook implementation.

Events are small frozen models so listeners (progress bars, Redis progress, logs,
notifications) get typed data and the JSON form is free (``event.model_dump``).
"""

from __future__ import annotations

from typing import Literal

from optscan.models import Frozen, MarketStatus, NewYorkTime, SafeText


class ScanEvent(Frozen):
    """Base of every event; ``scan_id`` ties an event to its scan."""

    scan_id: str


class ScanStarted(ScanEvent):
    """Symbols are resolved; the first request is about to start."""

    type: Literal["scan_started"] = "scan_started"
    profile: str
    provider: str
    strategy: str
    symbols_total: int
    as_of: NewYorkTime


class SymbolScanned(ScanEvent):
    """A symbol finished ``ok``; ``done`` of ``total`` symbols are finished."""

    type: Literal["symbol_scanned"] = "symbol_scanned"
    symbol: str
    done: int
    total: int
    contracts_seen: int
    opportunities: int


class SymbolFailed(ScanEvent):
    """A symbol failed (provider error, bad data) or was skipped (invalid symbol)."""

    type: Literal["symbol_failed"] = "symbol_failed"
    symbol: str
    status: Literal["failed", "skipped"]
    error: SafeText
    done: int
    total: int


class ScanFinished(ScanEvent):
    """The result was published to the sinks; ``duration_s`` in seconds."""

    type: Literal["scan_finished"] = "scan_finished"
    success: bool
    symbols_ok: int
    symbols_failed: int
    symbols_skipped: int
    opportunities: int
    duration_s: float


class ScanSkipped(ScanEvent):
    """The scan did not run: the market is closed (and it was not forced)."""

    type: Literal["scan_skipped"] = "scan_skipped"
    reason: str
    market: MarketStatus


class PluginFailed(ScanEvent):
    """A plugin raised during a scan (a sink, a source); the scan went on without it."""

    type: Literal["plugin_failed"] = "plugin_failed"
    plugin: str
    hook: str
    error: SafeText
