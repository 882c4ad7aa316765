"""The core's config sections: pydantic models that forbid unknown keys.

Defaults here are identical to the shipped, fully commented ``config.toml`` (a test
checks it). Plugin sections (``[providers.<name>]``, ``[sinks.<name>]``,
``[sources.<name>]``, ``[enrichers.<name>]``) are kept raw here and validated by the
plugin host against each plugin's own ``Config`` model, with the same error format.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from optscan.secrets import check_url_credentials
from optscan.symbols import SCAN_ID_PATTERN, normalize_symbol

PLUGIN_FAMILIES = ("providers", "sinks", "sources", "enrichers")
RankBy = Literal["annualized_return", "prob_otm", "cushion_pct", "bid", "open_interest", "dte"]
"""What opportunities are ranked by (:mod:`optscan.analytics.ranking`)."""


MAX_DTE = 3650
"""The farthest expiration window, in days (ten years; LEAPS list about three)."""
ANY_DTE = 100_000
"""A strategy's DTE bounds only compare, so they may say "any" (the shipped ``cc``
steps end at 100000)."""
MAX_TTL_S = 365 * 86400
"""The longest TTL of anything optscan keeps in Redis: a year."""
MAX_JOB_TIMEOUT_S = 86400
"""The longest RQ job timeout, and the longest a dead scan's lock may hold its profile."""
PROFILE_TEMPLATE = re.compile(r"(?:[^{}\0]|\{\{|\}\}|\{profile\})*")
"""A path whose only placeholder is ``{profile}`` (``str.format``'s escapes allowed)."""
MAX_CONCURRENCY = 256
"""The most fetch threads a scan (``scan.concurrency``) may start. Memory is bounded
apart from it (``optscan.scan.per_symbol.MAX_SYMBOLS_IN_FLIGHT``); threads cost their
own."""


class Section(BaseModel):
    """A config section: frozen, unknown keys are errors, and every number is finite
    (``nan`` and ``inf`` are refused naming the key)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ScanSection(Section):
    profile: str = Field(default="default", pattern=SCAN_ID_PATTERN.pattern)
    provider: str = "yfinance"
    strategy: str = "csp"
    calendar: str = "nyse"
    concurrency: int = Field(default=32, ge=1, le=MAX_CONCURRENCY)
    min_dte: int = Field(default=0, ge=0, le=MAX_DTE)
    max_dte: int = Field(default=28, ge=0, le=MAX_DTE)
    open_buffer_min: int = Field(default=0, ge=0, le=390)
    close_buffer_min: int = Field(default=0, ge=0, le=390)

    @model_validator(mode="after")
    def _window(self) -> ScanSection:
        if self.max_dte < self.min_dte:
            raise ValueError("max_dte must be >= min_dte")
        return self


class CallDeltaStep(Section):
    max_dte: int = Field(ge=0, le=ANY_DTE)
    max_delta: float = Field(gt=0, le=1)


class StrategySection(Section):
    """One named screen. ``type`` says which side of the wheel it trades."""

    type: Literal["csp", "cc"]
    min_annualized_return: float = Field(default=30.0, ge=0, le=100_000)
    min_delta: float | None = Field(default=None, ge=-1, le=0)
    max_delta: float | None = Field(default=None, ge=0, le=1)
    max_delta_by_dte: list[CallDeltaStep] = Field(default_factory=list)
    min_dte: int | None = Field(default=None, ge=0, le=ANY_DTE)
    max_dte: int | None = Field(default=None, ge=0, le=ANY_DTE)
    min_open_interest: float = Field(default=10, ge=0, le=1e9)
    min_volume: float = Field(default=0, ge=0, le=1e9)
    min_bid: float = Field(default=0.0, ge=0, le=1e6)
    max_spread_pct: float = Field(default=25.0, ge=0, le=10_000)
    min_cushion_pct: float | None = Field(default=None, ge=-10_000, le=100)
    max_collateral: float | None = Field(default=None, gt=0, le=1e12)
    strikes_at_or_above_cost_basis: bool = True
    earnings_blackout: bool = True
    ex_dividend_blackout: bool = True
    rank_by: RankBy = "annualized_return"
    top_per_symbol: int = Field(default=0, ge=0, le=1_000_000)
    top_overall: int = Field(default=0, ge=0, le=1_000_000)


RollRankBy = Literal["net_credit", "annualized_return", "prob_otm", "days_added"]
"""What roll candidates are ranked by (``optscan rolls``), bigger first."""


class RollStrategySection(Section):
    """``[strategies.roll]``: which rolls ``optscan rolls`` offers for a short option.

    ``min_dte``/``max_dte`` bound the new expiration's DTE (it must also be later than
    the old one); ``min_net_credit`` is per share (a roll for a debit is not a roll);
    the delta keys bound the new contract's delta. ``scan`` refuses this type.
    """

    type: Literal["roll"]
    min_dte: int = Field(default=7, ge=0, le=ANY_DTE)
    max_dte: int = Field(default=60, ge=0, le=ANY_DTE)
    min_net_credit: float = Field(default=0.05, ge=0.0, le=1e6)
    min_put_delta: float | None = Field(default=-0.30, ge=-1, le=0)
    max_call_delta: float | None = Field(default=0.30, ge=0, le=1)
    min_open_interest: float = Field(default=10, ge=0, le=1e9)
    min_volume: float = Field(default=0, ge=0, le=1e9)
    min_bid: float = Field(default=0.0, ge=0, le=1e6)
    max_spread_pct: float = Field(default=25.0, ge=0, le=10_000)
    rank_by: RollRankBy = "net_credit"
    top_per_position: int = Field(default=5, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _window(self) -> RollStrategySection:
        if self.max_dte < self.min_dte:
            raise ValueError("max_dte must be >= min_dte")
        return self


def _strategy_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "roll-strategy" if kind == "roll" else "scan-strategy"


STRATEGY_TAGS = ("scan-strategy", "roll-strategy")
"""The union's tags: not keys, so config messages leave them out of the dotted key."""
AnyStrategy = Annotated[
    Annotated[StrategySection, Tag("scan-strategy")]
    | Annotated[RollStrategySection, Tag("roll-strategy")],
    Discriminator(_strategy_kind),
]
"""A ``[strategies.<name>]`` table: a scan's screen (csp, cc) or the rolls' (roll)."""


class SelectionSection(Section):
    """``[selection]``: ``scan --cash``, the best cash-secured puts for the cash."""

    cash: float | None = Field(default=None, ge=0, le=1e10)
    max_contracts_per_symbol: int = Field(default=1, ge=1, le=100)


def _default_strategies() -> dict[str, StrategySection | RollStrategySection]:
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
        "roll": RollStrategySection(type="roll"),
    }


class AnalyticsSection(Section):
    risk_free_rate: float = Field(default=0.04, ge=-0.05, le=0.5)
    dividend_yields: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict)
    iv_cap: float = Field(default=5.0, gt=0, le=100)
    max_quote_age_s: float = Field(default=0.0, ge=0, le=MAX_TTL_S)

    @field_validator("dividend_yields")
    @classmethod
    def _canonical(cls, value: dict[str, float]) -> dict[str, float]:
        """Keyed by canonical symbol (``BRK.B`` is ``BRK-B``), as chains are."""
        return {normalize_symbol(symbol): y for symbol, y in value.items()}


class HoldingsLot(Section):
    symbol: str
    shares: int = Field(ge=0, le=10**12)
    cost_basis: float = Field(ge=0, le=1e9)

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        return normalize_symbol(value)


class HoldingsSection(Section):
    file: str = ""
    broker: Literal[
        "", "schwab", "fidelity", "ibkr-activity", "ibkr-flex", "tastytrade", "etrade", "generic"
    ] = ""
    lots: list[HoldingsLot] = Field(default_factory=list)


class PluginsSection(Section):
    disabled: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    strict: bool = False


class LoggingSection(Section):
    level: Literal["debug", "info", "warning", "error"] = "warning"
    format: Literal["console", "json"] = "console"


class RedisSection(Section):
    """``[redis]``: the one Redis every queue command, worker and job uses."""

    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    prefix: str = Field(default="optscan:", pattern=r"^[A-Za-z0-9_\-:.]{1,64}$")
    result_ttl_s: int = Field(default=2700, ge=1, le=MAX_TTL_S)

    @field_validator("url")
    @classmethod
    def _encoded(cls, value: SecretStr) -> SecretStr:
        check_url_credentials(value.get_secret_value())
        return value


class QueueSection(Section):
    """Knobs of the queued (RQ) path.

    The worker timings default to what makes a job lost with a killed worker re-run
    within about 30 s: its started-registry entry expires ``job_monitoring_interval_s +
    heartbeat_grace_s`` after the last heartbeat, and another worker's maintenance
    (every ``maintenance_interval_s``, but no sooner than its ``worker_ttl_s - 15`` s
    dequeue wait) re-queues it.
    """

    name: str = Field(default="optscan", pattern=r"^[A-Za-z0-9_\-.]{1,64}$")
    batch_size: int = Field(default=0, ge=0, le=5000)
    max_batch_size: int = Field(default=250, ge=1, le=5000)
    coordinator_timeout_s: int = Field(default=300, ge=1, le=MAX_JOB_TIMEOUT_S)
    batch_timeout_s: int = Field(default=600, ge=1, le=MAX_JOB_TIMEOUT_S)
    aggregator_timeout_s: int = Field(default=300, ge=1, le=MAX_JOB_TIMEOUT_S)
    job_result_ttl_s: int = Field(default=3600, ge=1, le=MAX_TTL_S)
    job_failure_ttl_s: int = Field(default=86400, ge=1, le=MAX_TTL_S)
    state_ttl_s: int = Field(default=86400, ge=60, le=MAX_TTL_S)
    lock_ttl_s: int = Field(default=120, ge=5, le=MAX_JOB_TIMEOUT_S)
    start_timeout_s: int = Field(default=900, ge=1, le=7 * 86400)
    retry_max: int = Field(default=2, ge=0, le=10)
    retry_intervals_s: list[int] = Field(default_factory=lambda: [2, 10])
    redis_wait_s: int = Field(default=60, ge=0, le=3600)
    worker_ttl_s: int = Field(default=20, ge=16, le=600)
    maintenance_interval_s: int = Field(default=5, ge=1, le=600)
    job_monitoring_interval_s: int = Field(default=5, ge=1, le=60)
    heartbeat_grace_s: int = Field(default=5, ge=1, le=120)
    scheduler_lock_ttl_s: int = Field(default=10, ge=3, le=120)
    scheduler_interval_s: int = Field(default=5, ge=1, le=300)

    @field_validator("retry_intervals_s")
    @classmethod
    def _intervals(cls, value: list[int]) -> list[int]:
        if not value or len(value) > 10 or any(not 0 <= v <= MAX_JOB_TIMEOUT_S for v in value):
            raise ValueError(f"must be a list of 1 to 10 waits of 0 to {MAX_JOB_TIMEOUT_S} s")
        return value


class DashboardSection(Section):
    """``[dashboard]``: ``optscan dashboard`` (rq-dashboard, which has no login)."""

    writes: bool = False
    allowed_hosts: list[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9.\-]{1,253}$|^\[?[0-9A-Fa-f:]{2,39}\]?$")]
    ] = Field(default_factory=list, max_length=64)


class WebSection(Section):
    """``[web]``: ``optscan web`` (the results page, its API and, with ``--queue``,
    rq-dashboard at ``/rq``)."""

    access_token: SecretStr = SecretStr("")
    allowed_hosts: list[
        Annotated[str, Field(pattern=r"^[A-Za-z0-9.\-]{1,253}$|^\[?[0-9A-Fa-f:]{2,39}\]?$")]
    ] = Field(default_factory=list, max_length=64)
    latest_file: str | None = Field(default=None, max_length=4096)
    """``None``: ``<user state dir>/optscan/web/latest-{profile}.json``; ``""``: none."""

    @field_validator("latest_file")
    @classmethod
    def _only_profile(cls, value: str | None) -> str | None:
        if value is not None and not PROFILE_TEMPLATE.fullmatch(value):
            raise ValueError('the only placeholder allowed is {profile} ("{{" for "{"); no NUL')
        return value

    @field_validator("access_token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if token and (len(token) < 16 or token != token.strip()):
            raise ValueError("must be at least 16 characters, without surrounding spaces")
        return value


DEFAULT_ENABLED: dict[str, tuple[str, ...]] = {
    "sources": ("watchlist",),
    "sinks": (),
    "enrichers": (),
}
"""What each plugin family enables when the config does not say ``enabled``."""


class Settings(Section):
    """The whole effective configuration."""

    scan: ScanSection = ScanSection()
    sources: dict[str, Any] = Field(
        default_factory=lambda: {"enabled": list(DEFAULT_ENABLED["sources"])}
    )
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sinks: dict[str, Any] = Field(default_factory=lambda: {"enabled": []})
    enrichers: dict[str, Any] = Field(default_factory=lambda: {"enabled": []})
    strategies: dict[str, AnyStrategy] = Field(default_factory=_default_strategies)
    analytics: AnalyticsSection = AnalyticsSection()
    holdings: HoldingsSection = HoldingsSection()
    plugins: PluginsSection = PluginsSection()
    logging: LoggingSection = LoggingSection()
    redis: RedisSection = RedisSection()
    queue: QueueSection = QueueSection()
    dashboard: DashboardSection = DashboardSection()
    selection: SelectionSection = SelectionSection()
    web: WebSection = WebSection()

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
        """``[strategies.csp]``, ``[strategies.cc]`` and ``[strategies.roll]`` imply
        their ``type`` and start from their defaults; the built-in three always exist,
        so a config (or one ``--set strategies.cc.<key>``) that names some strategies
        does not remove the others."""
        if isinstance(data, dict) and isinstance(data.get("strategies"), dict):
            strategies: dict[str, Any] = dict(_default_strategies())  # their order
            for name, body in data["strategies"].items():
                if isinstance(body, dict) and "type" not in body and name in ("csp", "cc", "roll"):
                    body = {**_default_strategies()[name].model_dump(), **body}
                strategies[name] = body
            data = {**data, "strategies": strategies}
        return data

    @field_validator("sources", "sinks", "enrichers")
    @classmethod
    def _family(cls, section: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """``enabled`` is a list of names; every other entry is a plugin's table. A
        table that does not say ``enabled`` keeps the default list (a config with only
        ``[sources.watchlist] symbols = [...]`` still scans its watchlist)."""
        if "enabled" not in section:
            section = {"enabled": list(DEFAULT_ENABLED[info.field_name]), **section}
        enabled = section["enabled"]
        if not isinstance(enabled, list) or not all(isinstance(x, str) for x in enabled):
            raise ValueError("'enabled' must be a list of names, e.g. [\"json\"]")
        for name, body in section.items():
            if name != "enabled" and not isinstance(body, dict):
                raise ValueError(
                    f"{name!r} must be a table of settings ([{info.field_name}.{name}])"
                )
        return section

    def enabled(self, family: Literal["sources", "sinks", "enrichers"]) -> list[str]:
        return list(getattr(self, family).get("enabled", []))

    def plugin_section(self, family: str, name: str) -> dict[str, Any]:
        section = getattr(self, family).get(name, {})
        return dict(section) if isinstance(section, dict) else {}
