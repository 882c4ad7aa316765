"""Configuration: ``config.toml`` + ``OPTSCAN_*`` environment + ``--set`` overrides.

Precedence, lowest first: built-in defaults (identical to the shipped ``config.toml``; a
test checks it), the config file, ``OPTSCAN_<SECTION>__<KEY>`` environment variables,
then ``--set dotted.key=value`` pairs. The file is found at ``--config PATH``, else
``$OPTSCAN_CONFIG``, else ``./config.toml``, else the user config directory.

Core sections are pydantic models that forbid unknown keys. Plugin sections
(``[providers.<name>]``, ``[sinks.<name>]``, ``[sources.<name>]``) are kept raw here and
validated by the plugin host against each plugin's own ``Config`` model, with the same
error format. Every error names the dotted key and says what it expects.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from optscan.errors import ConfigError

ENV_PREFIX = "OPTSCAN_"
# Environment variables that are not config keys.
_ENV_NOT_KEYS = {"OPTSCAN_CONFIG", "OPTSCAN_STRICT_PLUGINS", "OPTSCAN_TEST_REDIS_URL"}
# Short aliases documented for operators.
_ENV_ALIASES = {"OPTSCAN_REDIS_URL": "redis.url"}
PLUGIN_FAMILIES = ("providers", "sinks", "sources")
SECRET_WORDS = ("password", "token", "secret", "api_key", "apikey")


class Section(BaseModel):
    """A config section: frozen, unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ScanSection(Section):
    profile: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
    provider: str = "yfinance"
    strategy: str = "csp"
    calendar: str = "nyse"
    concurrency: int = Field(default=32, ge=1, le=1024)
    min_dte: int = Field(default=0, ge=0)
    max_dte: int = Field(default=28, ge=0)
    open_buffer_min: int = Field(default=0, ge=0, le=390)
    close_buffer_min: int = Field(default=0, ge=0, le=390)

    @model_validator(mode="after")
    def _window(self) -> ScanSection:
        if self.max_dte < self.min_dte:
            raise ValueError("max_dte must be >= min_dte")
        return self


class CallDeltaStep(Section):
    max_dte: int = Field(ge=0)
    max_delta: float = Field(gt=0, le=1)


class StrategySection(Section):
    """One named screen. ``type`` says which side of the wheel it trades."""

    type: Literal["csp", "cc"]
    min_annualized_return: float = 30.0
    min_delta: float | None = Field(default=None, ge=-1, le=0)
    max_delta: float | None = Field(default=None, ge=0, le=1)
    max_delta_by_dte: list[CallDeltaStep] = Field(default_factory=list)
    min_dte: int | None = Field(default=None, ge=0)
    max_dte: int | None = Field(default=None, ge=0)
    min_open_interest: float = Field(default=10, ge=0)
    min_volume: float = Field(default=0, ge=0)
    min_bid: float = Field(default=0.0, ge=0)
    max_spread_pct: float = Field(default=25.0, ge=0)
    min_cushion_pct: float | None = None
    max_collateral: float | None = Field(default=None, gt=0)
    strikes_at_or_above_cost_basis: bool = True
    earnings_blackout: bool = True
    ex_dividend_blackout: bool = True
    rank_by: Literal[
        "annualized_return", "prob_otm", "cushion_pct", "bid", "open_interest", "dte"
    ] = "annualized_return"
    top_per_symbol: int = Field(default=0, ge=0)
    top_overall: int = Field(default=0, ge=0)


def _default_strategies() -> dict[str, StrategySection]:
    return {
        "csp": StrategySection(type="csp", min_annualized_return=30.0, min_delta=-0.20),
        "cc": StrategySection(
            type="cc",
            min_annualized_return=20.0,
            max_delta_by_dte=[
                CallDeltaStep(max_dte=7, max_delta=0.20),
                CallDeltaStep(max_dte=14, max_delta=0.24),
                CallDeltaStep(max_dte=21, max_delta=0.28),
                CallDeltaStep(max_dte=28, max_delta=0.32),
                CallDeltaStep(max_dte=100000, max_delta=0.36),
            ],
        ),
    }


class AnalyticsSection(Section):
    risk_free_rate: float = Field(default=0.04, ge=-0.05, le=0.5)
    dividend_yields: dict[str, float] = Field(default_factory=dict)
    iv_cap: float = Field(default=5.0, gt=0)
    max_quote_age_s: float = Field(default=0.0, ge=0)


class HoldingsLot(Section):
    symbol: str
    shares: int = Field(ge=0)
    cost_basis: float = Field(ge=0)


class HoldingsSection(Section):
    file: str = ""
    lots: list[HoldingsLot] = Field(default_factory=list)


class PluginsSection(Section):
    disabled: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    strict: bool = False


class LoggingSection(Section):
    level: Literal["debug", "info", "warning", "error"] = "warning"
    format: Literal["console", "json"] = "console"


class RedisSection(Section):
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    prefix: str = Field(default="optscan:", pattern=r"^[A-Za-z0-9_\-:.]{1,64}$")
    result_ttl_s: int = Field(default=2700, ge=1)


class QueueSection(Section):
    """Knobs of the queued (RQ) path.

    The worker timings default to what makes a job lost with a killed worker re-run
    within about 30 s: its started-registry entry expires ``job_monitoring_interval_s +
    heartbeat_grace_s`` after the last heartbeat, and another worker's maintenance
    (every ``maintenance_interval_s``, but no sooner than its ``worker_ttl_s - 15`` s
    dequeue wait) re-queues it.
    """

    name: str = Field(default="optscan", pattern=r"^[A-Za-z0-9_\-.]{1,64}$")
    batch_size: int = Field(default=8, ge=1, le=500)
    coordinator_timeout_s: int = Field(default=300, ge=1)
    batch_timeout_s: int = Field(default=600, ge=1)
    aggregator_timeout_s: int = Field(default=300, ge=1)
    job_result_ttl_s: int = Field(default=3600, ge=1)
    job_failure_ttl_s: int = Field(default=86400, ge=1)
    state_ttl_s: int = Field(default=86400, ge=60)
    lock_ttl_s: int = Field(default=120, ge=5)
    retry_max: int = Field(default=2, ge=0, le=10)
    retry_intervals_s: list[int] = Field(default_factory=lambda: [2, 10])
    worker_ttl_s: int = Field(default=20, ge=16, le=600)
    maintenance_interval_s: int = Field(default=5, ge=1, le=600)
    job_monitoring_interval_s: int = Field(default=5, ge=1, le=60)
    heartbeat_grace_s: int = Field(default=5, ge=1, le=120)
    scheduler_lock_ttl_s: int = Field(default=10, ge=3, le=120)
    scheduler_interval_s: int = Field(default=5, ge=1, le=300)

    @field_validator("retry_intervals_s")
    @classmethod
    def _intervals(cls, value: list[int]) -> list[int]:
        if not value or any(v < 0 for v in value):
            raise ValueError("must be a non-empty list of seconds >= 0")
        return value


class Settings(Section):
    """The whole effective configuration."""

    scan: ScanSection = ScanSection()
    sources: dict[str, Any] = Field(default_factory=lambda: {"enabled": ["watchlist"]})
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sinks: dict[str, Any] = Field(default_factory=lambda: {"enabled": []})
    strategies: dict[str, StrategySection] = Field(default_factory=_default_strategies)
    analytics: AnalyticsSection = AnalyticsSection()
    holdings: HoldingsSection = HoldingsSection()
    plugins: PluginsSection = PluginsSection()
    logging: LoggingSection = LoggingSection()
    redis: RedisSection = RedisSection()
    queue: QueueSection = QueueSection()

    @model_validator(mode="before")
    @classmethod
    def _disabled_plugins(cls, data: Any) -> Any:
        """A top-level ``disabled_plugins`` list (the original app's setting) is the same
        as ``[plugins] disabled``; both lists apply."""
        if not isinstance(data, dict) or "disabled_plugins" not in data:
            return data
        data = dict(data)
        extra = data.pop("disabled_plugins")
        if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
            raise ValueError("disabled_plugins must be a list of plugin names")
        plugins = data.get("plugins", {})
        if isinstance(plugins, BaseModel):
            plugins = plugins.model_dump()
        if not isinstance(plugins, dict):
            return data  # the plugins section's own validation names the problem
        disabled = plugins.get("disabled", [])
        if isinstance(disabled, list):
            plugins = {**plugins, "disabled": [*disabled, *(x for x in extra if x not in disabled)]}
        data["plugins"] = plugins
        return data

    @model_validator(mode="before")
    @classmethod
    def _strategy_types(cls, data: Any) -> Any:
        """``[strategies.csp]`` and ``[strategies.cc]`` imply their ``type``."""
        if isinstance(data, dict) and isinstance(data.get("strategies"), dict):
            strategies = {}
            for name, body in data["strategies"].items():
                if isinstance(body, dict) and "type" not in body and name in ("csp", "cc"):
                    body = {**_default_strategies()[name].model_dump(), **body}
                strategies[name] = body
            data = {**data, "strategies": strategies}
        return data

    @model_validator(mode="after")
    def _families(self) -> Settings:
        for family in ("sources", "sinks"):
            section = getattr(self, family)
            enabled = section.get("enabled", [])
            if not isinstance(enabled, list) or not all(isinstance(x, str) for x in enabled):
                raise ValueError(f"{family}.enabled must be a list of names")
            for name, body in section.items():
                if name != "enabled" and not isinstance(body, dict):
                    raise ValueError(f"{family}.{name} must be a table of settings")
        return self

    def enabled(self, family: Literal["sources", "sinks"]) -> list[str]:
        return list(getattr(self, family).get("enabled", []))

    def plugin_section(self, family: str, name: str) -> dict[str, Any]:
        section = getattr(self, family).get(name, {})
        return dict(section) if isinstance(section, dict) else {}


# ---------------------------------------------------------------------------- loading


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to read, or ``None`` to run on the built-in defaults."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--config: no such file: {path}")
        return path
    env = os.environ.get("OPTSCAN_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"OPTSCAN_CONFIG: no such file: {path}")
        return path
    local = Path("config.toml")
    if local.is_file():
        return local
    from platformdirs import user_config_dir

    user = Path(user_config_dir("optscan")) / "config.toml"
    return user if user.is_file() else None


def parse_value(text: str) -> Any:
    """Read an override value as TOML (``1``, ``true``, ``"x"``, ``[1, 2]``), else text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_set(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Turn ``["scan.concurrency=1", ...]`` into ``{"scan.concurrency": 1, ...}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected dotted.key=value")
        if not all(part.replace("_", "").replace("-", "").isalnum() for part in key.split(".")):
            raise ConfigError(f"--set {pair!r}: {key!r} is not a dotted key")
        out[key] = parse_value(value)
    return out


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``OPTSCAN_SCAN__CONCURRENCY=4`` -> ``{"scan.concurrency": 4}``."""
    environ = dict(os.environ) if environ is None else environ
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_KEYS:
            continue
        if name in _ENV_ALIASES:
            out[_ENV_ALIASES[name]] = value
        elif "__" in name:
            key = ".".join(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
            out[key] = parse_value(value)
    return out


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (copying what it changes)."""
    import copy

    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])}: is a value, not a section")
            node = child
        node[parts[-1]] = value
    return data


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem, each naming the dotted key and what it expects."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p not in ("function-after",))
        key = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or "(root)")
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif "input" in err and err["type"] not in ("missing",):
            shown = _mask_if_secret(key, err["input"])
            message = f"{message} (got {shown!r})"
        lines.append(f"{key}: {message}")
    return "; ".join(lines)


def _mask_if_secret(key: str, value: Any) -> Any:
    if any(word in key.lower() for word in SECRET_WORDS) or key.endswith("url"):
        return "***"
    return value if not isinstance(value, dict | list) or len(str(value)) < 80 else "..."


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    use_env: bool = True,
) -> Settings:
    """Read, merge and validate the configuration; raise :class:`ConfigError` naming keys."""
    file = find_config_file(path)
    data: dict[str, Any] = {}
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc}") from None
    merged = dict(env_overrides()) if use_env else {}
    merged.update(overrides or {})
    try:
        return Settings.model_validate(apply_overrides(data, merged))
    except ValidationError as exc:
        where = _blame(file, data, bool(merged))
        raise ConfigError(f"config error{where}: {format_validation_error(exc)}") from None


def _blame(file: Path | None, data: dict[str, Any], overridden: bool) -> str:
    """Where a bad value came from: the file if it fails on its own, else the overrides."""
    if file is not None:
        try:
            Settings.model_validate(data)
        except ValidationError:
            return f" (in {file})"
    return " (from --set or OPTSCAN_* variables)" if overridden else ""


def masked(value: Any, key: str = "") -> Any:
    """A JSON-ready copy of a config value with every secret replaced by ``***``."""
    if isinstance(value, SecretStr):
        return _mask_url(value.get_secret_value()) if key.endswith("url") else "***"
    if isinstance(value, BaseModel):
        return {k: masked(getattr(value, k), k) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, key) for v in value]
    if isinstance(value, str) and any(word in key.lower() for word in SECRET_WORDS):
        return "***" if value else ""
    if isinstance(value, str) and key.endswith("url"):
        return _mask_url(value)
    return value


def _mask_url(url: str) -> str:
    """A URL safe to print: the password (or a lone user token) is masked, and so is any
    path or query that could carry a token (webhook paths, ``?token=``); a Redis
    database number (``/0``) is kept for debugging."""
    import re
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "***"
    host = parts.hostname or ""
    if port:
        host = f"{host}:{port}"
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{host}"
    elif parts.username is not None:
        netloc = f"***@{host}"
    else:
        netloc = host
    keep_path = parts.scheme == "unix" or re.fullmatch(r"/?\d*", parts.path)
    path = parts.path if keep_path else "/***"
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, path, query, ""))
