"""optscan: an event-driven, plugin-based options scanner for the wheel strategy.

This module is the **public plugin API**: everything a plugin (and its tests) needs,
importable from ``optscan`` itself::

    from optscan import OptionProvider, ProviderConfig, hookimpl, error_for_status

Names are loaded on first use (PEP 562), so ``import optscan`` (and ``optscan --help``)
stays fast: pydantic, numpy and the scan are imported only when a name that needs them
is used. Anything not listed in :data:`__all__` is internal and may move.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_API: dict[str, str] = {
    # hooks
    "hookimpl": "optscan.hookspecs",
    # what plugins register, and their config
    "OptionProvider": "optscan.protocols",
    "StockSource": "optscan.protocols",
    "ResultSink": "optscan.protocols",
    "MarketCalendar": "optscan.protocols",
    "PluginConfig": "optscan.protocols",
    "ProviderConfig": "optscan.protocols",
    "SecretUrl": "optscan.protocols",
    "JSON": "optscan.protocols",
    # data
    "OptionChain": "optscan.chain",
    "Opportunity": "optscan.models",
    "MarketStatus": "optscan.models",
    "ScanRequest": "optscan.models",
    "ScanResult": "optscan.models",
    "SymbolOutcome": "optscan.models",
    "OccSymbol": "optscan.analytics.occ",
    "parse_occ_symbol": "optscan.analytics.occ",
    "expected_root": "optscan.analytics.occ",
    "normalize_symbol": "optscan.symbols",
    "canonical_symbol": "optscan.symbols",
    "provider_spelling": "optscan.symbols",
    "without_symbol": "optscan.symbols",
    # errors
    "OptscanError": "optscan.errors",
    "ConfigError": "optscan.errors",
    "UsageError": "optscan.errors",
    "PluginError": "optscan.errors",
    "ProviderError": "optscan.errors",
    "TransientProviderError": "optscan.errors",
    "RateLimitedError": "optscan.errors",
    "AuthenticationError": "optscan.errors",
    "SymbolNotFoundError": "optscan.errors",
    "ExpirationNotListedError": "optscan.errors",
    "MalformedPayloadError": "optscan.errors",
    "NetworkUnreachableError": "optscan.errors",
    "NotRecordedError": "optscan.errors",
    # HTTP answers
    "error_for_status": "optscan.http_answers",
    "error_answer": "optscan.http_answers",
    "read_error_answer": "optscan.http_answers",
    "raise_for_error_answer": "optscan.http_answers",
    "parse_retry_after": "optscan.http_answers",
    "ErrorAnswer": "optscan.http_answers",
    # events
    "ScanEvent": "optscan.events",
    "ScanStarted": "optscan.events",
    "SymbolScanned": "optscan.events",
    "SymbolFailed": "optscan.events",
    "ScanFinished": "optscan.events",
    "ScanSkipped": "optscan.events",
    "PluginFailed": "optscan.events",
    # secrets and logs
    "scrub": "optscan.secrets",
    "mask_url": "optscan.secrets",
    "get_logger": "optscan.logs",
    # running and testing a plugin
    "PluginHost": "optscan.plugins",
    "perform_scan": "optscan.scan.perform",
    "load_settings": "optscan.config.loading",
    "check_provider": "optscan.testing",
    "check_provider_class": "optscan.testing",
    "check_error_answers": "optscan.testing",
    "check_fundamentals": "optscan.testing",
    # enrichers, fundamentals and plugins' commands
    "Enricher": "optscan.protocols",
    "Enrichment": "optscan.protocols",
    "Fundamentals": "optscan.fundamentals",
    "FundamentalsUnavailableError": "optscan.errors",
    "ImplausibleFundamentalsError": "optscan.errors",
    "EnrichContext": "optscan.scan.enrich",
    "FundamentalsFetcher": "optscan.scan.enrich",
    "Fetched": "optscan.scan.enrich",
    "open_fundamentals": "optscan.scan.fundamentals_source",
    "fundamentals_symbols": "optscan.scan.fundamentals_source",
    "Env": "optscan.cli.env",
    "with_env": "optscan.cli.env",
    "format_option": "optscan.cli.options",
    "print_doc": "optscan.cli.output",
    "fail": "optscan.cli.exits",
}

__all__ = [
    "JSON",
    "AuthenticationError",
    "ConfigError",
    "EnrichContext",
    "Enricher",
    "Enrichment",
    "Env",
    "ErrorAnswer",
    "ExpirationNotListedError",
    "Fetched",
    "Fundamentals",
    "FundamentalsFetcher",
    "FundamentalsUnavailableError",
    "ImplausibleFundamentalsError",
    "MalformedPayloadError",
    "MarketCalendar",
    "MarketStatus",
    "NetworkUnreachableError",
    "NotRecordedError",
    "OccSymbol",
    "Opportunity",
    "OptionChain",
    "OptionProvider",
    "OptscanError",
    "PluginConfig",
    "PluginError",
    "PluginFailed",
    "PluginHost",
    "ProviderConfig",
    "ProviderError",
    "RateLimitedError",
    "ResultSink",
    "ScanEvent",
    "ScanFinished",
    "ScanRequest",
    "ScanResult",
    "ScanSkipped",
    "ScanStarted",
    "SecretUrl",
    "StockSource",
    "SymbolFailed",
    "SymbolNotFoundError",
    "SymbolOutcome",
    "SymbolScanned",
    "TransientProviderError",
    "UsageError",
    "__version__",
    "canonical_symbol",
    "check_error_answers",
    "check_fundamentals",
    "check_provider",
    "check_provider_class",
    "error_answer",
    "error_for_status",
    "expected_root",
    "fail",
    "format_option",
    "fundamentals_symbols",
    "get_logger",
    "hookimpl",
    "load_settings",
    "mask_url",
    "normalize_symbol",
    "open_fundamentals",
    "parse_occ_symbol",
    "parse_retry_after",
    "perform_scan",
    "print_doc",
    "provider_spelling",
    "raise_for_error_answer",
    "read_error_answer",
    "scrub",
    "with_env",
    "without_symbol",
]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'optscan' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers and IDEs see
    from optscan.analytics.occ import OccSymbol, expected_root, parse_occ_symbol
    from optscan.chain import OptionChain
    from optscan.cli.env import Env, with_env
    from optscan.cli.exits import fail
    from optscan.cli.options import format_option
    from optscan.cli.output import print_doc
    from optscan.config.loading import load_settings
    from optscan.errors import (
        AuthenticationError,
        ConfigError,
        ExpirationNotListedError,
        FundamentalsUnavailableError,
        ImplausibleFundamentalsError,
        MalformedPayloadError,
        NetworkUnreachableError,
        NotRecordedError,
        OptscanError,
        PluginError,
        ProviderError,
        RateLimitedError,
        SymbolNotFoundError,
        TransientProviderError,
        UsageError,
    )
    from optscan.events import (
        PluginFailed,
        ScanEvent,
        ScanFinished,
        ScanSkipped,
        ScanStarted,
        SymbolFailed,
        SymbolScanned,
    )
    from optscan.fundamentals import Fundamentals
    from optscan.hookspecs import hookimpl
    from optscan.http_answers import (
        ErrorAnswer,
        error_answer,
        error_for_status,
        parse_retry_after,
        raise_for_error_answer,
        read_error_answer,
    )
    from optscan.logs import get_logger
    from optscan.models import MarketStatus, Opportunity, ScanRequest, ScanResult, SymbolOutcome
    from optscan.plugins import PluginHost
    from optscan.protocols import (
        JSON,
        Enricher,
        Enrichment,
        MarketCalendar,
        OptionProvider,
        PluginConfig,
        ProviderConfig,
        ResultSink,
        SecretUrl,
        StockSource,
    )
    from optscan.scan.enrich import EnrichContext, Fetched, FundamentalsFetcher
    from optscan.scan.fundamentals_source import fundamentals_symbols, open_fundamentals
    from optscan.scan.perform import perform_scan
    from optscan.secrets import mask_url, scrub
    from optscan.symbols import (
        canonical_symbol,
        normalize_symbol,
        provider_spelling,
        without_symbol,
    )
    from optscan.testing import (
        check_error_answers,
        check_fundamentals,
        check_provider,
        check_provider_class,
    )
