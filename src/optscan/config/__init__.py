"""optscan's configuration: the core's sections, loading and error messages.

``load_settings()`` gives the effective :class:`Settings` (defaults, ``config.toml``,
``OPTSCAN_*`` variables, ``--set`` pairs); a bad key or value raises
:class:`~optscan.errors.ConfigError` naming the dotted key.
"""

from __future__ import annotations

from optscan.config.loading import (
    ENV_PREFIX,
    apply_overrides,
    current_settings,
    env_overrides,
    find_config_file,
    load_settings,
    parse_set,
    parse_value,
    settings_in_use,
)
from optscan.config.messages import format_validation_error
from optscan.config.sections import (
    PLUGIN_FAMILIES,
    AnalyticsSection,
    CallDeltaStep,
    DashboardSection,
    HoldingsLot,
    HoldingsSection,
    LoggingSection,
    PluginsSection,
    QueueSection,
    RedisSection,
    RollStrategySection,
    ScanSection,
    Section,
    SelectionSection,
    Settings,
    StrategySection,
    WebSection,
)

__all__ = [
    "ENV_PREFIX",
    "PLUGIN_FAMILIES",
    "AnalyticsSection",
    "CallDeltaStep",
    "DashboardSection",
    "HoldingsLot",
    "HoldingsSection",
    "LoggingSection",
    "PluginsSection",
    "QueueSection",
    "RedisSection",
    "RollStrategySection",
    "ScanSection",
    "Section",
    "SelectionSection",
    "Settings",
    "StrategySection",
    "WebSection",
    "apply_overrides",
    "current_settings",
    "env_overrides",
    "find_config_file",
    "format_validation_error",
    "load_settings",
    "parse_set",
    "parse_value",
    "settings_in_use",
]
