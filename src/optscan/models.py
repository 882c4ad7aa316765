"""Typed data models: what a scan is asked, and what it publishes.

Every model is frozen and forbids unknown fields, so data that does not fit fails
validation with a message naming the field. Every number says its unit: **percent**
fields end in ``_pct`` or are ``annualized_return`` and the ``if_called_`` returns (21.3
means 21.3 %), **fractions** are ``iv``, ``delta``, ``prob_otm`` and ``prob_profit``
(0.83 means 83 %); prices (``extrinsic`` among them) are **per share**
unless the field says **per contract** (100 shares); days are calendar days.

Error texts (:data:`SafeText`) are scrubbed of credentials when a model is built, so
a secret quoted by some library's exception never reaches a sink, Redis or a page.

The columnar :class:`~optscan.chain.OptionChain` lives in :mod:`optscan.chain`;
``from optscan.models import OptionChain`` still works for plugins written for 0.1.0.
"""

from __future__ import annotations

import datetime as dt
from math import isfinite
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from optscan.extras import Extras, extras_field
from optscan.secrets import scrub
from optscan.symbols import check_key_part, normalize_symbol

Kind = Literal["put", "call"]
SymbolStatus = Literal["ok", "failed", "skipped"]
DeltaSource = Literal["provider", "computed"]
SafeText = Annotated[str, AfterValidator(scrub)]
"""Text that may quote an exception: credentials are scrubbed on validation."""
NEW_YORK = ZoneInfo("America/New_York")


def _in_new_york(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a time zone")
    return value.astimezone(NEW_YORK)


NewYorkTime = Annotated[dt.datetime, AfterValidator(_in_new_york)]
"""An aware instant, kept in New York time: JSON shows it in ISO 8601 with the New York
offset (``2026-11-18T11:00:00-05:00``), the one convention of every result."""


class Frozen(BaseModel):
    """Base for optscan's models: immutable, and unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def __getattr__(name: str) -> Any:
    """``OptionChain`` moved to :mod:`optscan.chain`; imported on first use (numpy)."""
    if name == "OptionChain":
        from optscan.chain import OptionChain

        return OptionChain
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- market


class MarketStatus(Frozen):
    """What a market calendar says about one instant (all datetimes aware)."""

    calendar: str = Field(description="The calendar's name (nyse, weekdays, ...).")
    at: NewYorkTime = Field(description="The instant asked about.")
    is_open: bool = Field(description="Whether the market is open at ``at``.")
    session: dt.date | None = Field(default=None, description="Today's session, if any.")
    early_close: bool = Field(default=False, description="Whether the session closes early.")
    opens_at: NewYorkTime | None = Field(default=None, description="The session's open.")
    closes_at: NewYorkTime | None = Field(default=None, description="The session's close.")
    next_open: NewYorkTime | None = Field(default=None, description="The next open after ``at``.")


# --------------------------------------------------------------------------- results


OPTIONAL_NUMBERS = (
    "ask",
    "mid",
    "last",
    "volume",
    "open_interest",
    "iv",
    "spread_pct",
    "prob_otm",
    "prob_profit",
    "if_called_return",
    "if_called_annualized",
)
"""The opportunity's numbers that may be missing (``None``)."""


class Opportunity(Frozen):
    """One contract that passed the data-quality gate and the strategy's screen.

    Formulas (see the README, "Numbers and conventions"): ``extrinsic`` is ``bid -
    intrinsic value``; ``annualized_return`` is ``extrinsic / base x 365 / max(dte, 1)
    x 100`` with the strike as base for puts and the underlying's price for calls (the
    return if the price is unchanged at expiry); ``cushion_pct`` is how far out of the
    money the strike is, in percent of the underlying's price; ``breakeven`` is
    ``strike - bid`` (puts) or ``strike + bid`` (calls).

    Every number is finite, so every output (JSON, CSV, table) can show it: the
    optional ones take ``None`` for a number that is not one (``NaN``), the others
    refuse it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    symbol: str = Field(description="The underlying's ticker.")
    contract_symbol: str = Field(description="The contract's OCC symbol.")
    kind: Kind = Field(description='"put" or "call".')
    expiration: dt.date = Field(description="Expiration date.")
    dte: int = Field(description="Days to expiry: calendar days from the as-of date (NY).")
    strike: float = Field(description="Strike, per share.")
    bid: float = Field(description="Bid, per share: the premium a seller receives.")
    premium: float = Field(description="Premium for one contract: bid x 100, dollars.")

    ask: float | None = Field(description="Ask, per share.")
    mid: float | None = Field(description="(bid + ask) / 2, per share.")
    last: float | None = Field(description="Last trade, per share.")
    volume: float | None = Field(description="Contracts traded today.")
    open_interest: float | None = Field(description="Open contracts.")
    iv: float | None = Field(description="Implied volatility, annualized, a fraction.")
    delta: float = Field(description="Delta per share, a fraction in [-1, 1].")
    delta_source: DeltaSource = Field(description="Published by the provider, or computed.")
    annualized_return: float = Field(description="Premium's annualized return, percent.")
    spread_pct: float | None = Field(description="(ask - bid) / mid, percent.")
    cushion_pct: float = Field(description="Out-of-the-money distance, percent of price.")
    breakeven: float = Field(description="Underlying price at expiry with zero P&L, per share.")
    collateral: float = Field(description="Cash secured: strike x 100, per contract.")
    prob_otm: float | None = Field(description="Probability of expiring OTM, a fraction.")
    prob_profit: float | None = Field(
        default=None,
        description="Probability the short option alone profits at expiry, a fraction: "
        "puts P(S_T > strike - bid), calls P(S_T < strike + bid).",
    )
    extrinsic: float = Field(
        default=0.0, description="Bid minus intrinsic value, per share (may be negative)."
    )
    if_called_return: float | None = Field(
        default=None,
        description="Calls on shares with a cost basis: (bid + strike - basis) / basis x "
        "100, percent, not annualized; null without a basis.",
    )
    if_called_annualized: float | None = Field(
        default=None,
        description="Calls on shares with a cost basis: (bid + strike - price) / price x "
        "365 / max(dte, 1) x 100, percent; null without a basis.",
    )
    underlying_price: float = Field(description="The underlying's price, per share.")
    quote_time: NewYorkTime = Field(description="When the quotes were taken.")
    data_delay_s: float = Field(description="How late the quotes are, seconds.")
    provider: str = Field(description="The provider's name.")
    extras: Extras = extras_field()

    @model_validator(mode="before")
    @classmethod
    def _premium(cls, data: Any) -> Any:
        """Results stored by 0.1.0 have no ``premium``: it is the bid x 100. An
        optional number that is not finite is missing (``None``)."""
        if not isinstance(data, dict):
            return data
        if "premium" not in data and data.get("bid") is not None:
            data = {**data, "premium": round(float(data["bid"]) * 100.0, 2)}
        if "extrinsic" not in data:  # stored before 0.3: bid - intrinsic value
            data = {**data, "extrinsic": _extrinsic(data)}
        missing = [
            k for k in OPTIONAL_NUMBERS if isinstance(data.get(k), float) and not isfinite(data[k])
        ]
        return {**data, **dict.fromkeys(missing)} if missing else data


def _extrinsic(data: dict[str, Any]) -> float:
    """``bid - intrinsic value`` from a stored opportunity's own fields (0 if absent)."""
    try:
        bid, strike, spot = (float(data[k]) for k in ("bid", "strike", "underlying_price"))
    except (KeyError, TypeError, ValueError):
        return 0.0
    intrinsic = max(spot - strike, 0.0) if data.get("kind") == "call" else max(strike - spot, 0.0)
    return round(bid - intrinsic, 4)


class SymbolOutcome(Frozen):
    """How one symbol fared in a scan; every requested symbol gets exactly one.

    ``contracts_seen == opportunities + sum(rejected.values())``: every contract the
    provider returned inside the expiration window is counted once.
    """

    symbol: str = Field(description="The ticker (as given, cut to 24 characters if invalid).")
    status: SymbolStatus = Field(description="ok, failed or skipped.")
    error: SafeText | None = Field(default=None, description="Why it failed or was skipped.")
    reason: str | None = Field(default=None, description="The failure's machine word.")
    contracts_seen: int = Field(default=0, description="Contracts in the expiration window.")
    rejected: dict[str, int] = Field(
        default_factory=dict, description="Contracts rejected, counted by first reason."
    )
    opportunities: int = Field(default=0, description="Contracts that passed.")
    expirations: list[dt.date] = Field(
        default_factory=list, description="Expirations scanned (inside the DTE window)."
    )
    failed_expirations: dict[str, SafeText] = Field(
        default_factory=dict, description="ISO date -> why that expiration failed."
    )
    partial: bool = Field(
        default=False, description="ok, but some expirations failed (set from the above)."
    )
    underlying_price: float | None = Field(
        default=None,
        description="The underlying's price in the symbol's latest chain, per share "
        "(null when no chain arrived).",
    )
    contracts_coverable: int | None = Field(
        default=None,
        description="Covered-call scans: calls still writable on the shares held (100 "
        "shares each, less the short calls already written); null otherwise.",
    )
    extras: Extras = extras_field()

    @model_validator(mode="before")
    @classmethod
    def _partial(cls, data: Any) -> Any:
        """``partial`` always says whether an ``ok`` symbol lost expirations."""
        if isinstance(data, dict):
            data = {
                **data,
                "partial": data.get("status") == "ok" and bool(data.get("failed_expirations")),
            }
        return data


Symbol = Annotated[str, AfterValidator(normalize_symbol)]
"""A ticker that passes :func:`~optscan.symbols.normalize_symbol` (canonical spelling)."""
Shares = Annotated[int, Field(ge=0, le=10**13)]


class Portfolio(Frozen):
    """What a scan knows of the account (:mod:`optscan.scan.holdings` reads it from
    ``[holdings] lots`` and ``holdings.file``).

    ``holdings``: symbol -> ``[whole shares, average cost basis per share or null when
    the export gives none]``; ``coverable``: symbol -> covered calls still writable
    (shares not covered by short calls, in whole hundreds); ``short_calls``: symbol ->
    calls already written (contracts); ``cash``: the export's cash line (dollars, null
    without one; negative on margin); ``put_collateral``: the cash its short puts
    already secure (strike x 100 per contract, dollars); ``warnings``: the rows of the
    file that were skipped, the file named by
    :func:`~optscan.positions.text.file_label` (account digits masked).

    A queued scan whose client read the positions file carries this in its request
    instead of the file's path (:func:`optscan.queue.enqueue.carry_portfolio`): a
    worker cannot read a file on the client's machine, and the path (which often names
    the account: ``Z12345678-Positions.csv``) must not reach Redis. No account number
    or name is in any field. Numbers are finite, shares and contracts non-negative; a
    symbol that is no ticker fails validation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    holdings: dict[Symbol, tuple[Shares, Annotated[float, Field(ge=0, le=1e9)] | None]] = Field(
        default_factory=dict, description="Shares held and cost basis per share, by symbol."
    )
    coverable: dict[Symbol, Shares] = Field(
        default_factory=dict, description="Covered calls still writable, by symbol."
    )
    short_calls: dict[Symbol, Shares] = Field(
        default_factory=dict, description="Calls already written, by symbol (contracts)."
    )
    cash: float | None = Field(default=None, description="The file's cash line, dollars.")
    put_collateral: float = Field(default=0.0, ge=0, description="Cash its short puts secure.")
    warnings: list[SafeText] = Field(default_factory=list, description="Rows of the file skipped.")

    @property
    def free_cash(self) -> float | None:
        """The cash free for new cash-secured puts: ``cash - put_collateral``, never
        below 0; ``None`` when the export has no cash line."""
        if self.cash is None:
            return None
        return round(max(self.cash - self.put_collateral, 0.0), 2)


class ScanRequest(Frozen):
    """Everything needed to run a scan, JSON-serializable so it can travel in an RQ job.

    ``overrides`` holds the ``--set`` pairs; a worker applies them to its own config, so
    secrets stay on the worker and never travel inside a job. ``portfolio``, when set,
    is the whole truth about the stock and cash held for this scan: the scan uses it
    instead of reading ``holdings.file`` and ``[holdings] lots`` (a queued scan whose
    client named a positions file carries it; :class:`Portfolio`).
    """

    scan_id: str | None = Field(default=None, description="Given, or made at the start.")
    profile: str = Field(default="default", description="Names the lock and stored results.")
    provider: str | None = Field(default=None, description="Default: scan.provider.")
    strategy: str | None = Field(default=None, description="Default: scan.strategy.")
    symbols: list[str] | None = Field(default=None, description="Default: the sources'.")
    sinks: list[str] | None = Field(default=None, description="Default: sinks.enabled.")
    force: bool = Field(default=False, description="Scan even when the market is closed.")
    as_of: dt.datetime | None = Field(default=None, description="Pinned clock; default now.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="--set pairs.")
    scheduled: bool = Field(default=False, description="Started by a schedule.")
    record_dir: str | None = Field(default=None, description="--record DIR.")
    replay_dir: str | None = Field(default=None, description="--replay DIR.")
    cash: float | None = Field(
        default=None, ge=0, le=1e10, description="--cash (or a positions file's), dollars."
    )
    portfolio: Portfolio | None = Field(
        default=None,
        description="Stock and cash held, read by the client (instead of holdings.*).",
    )

    @field_validator("scan_id", "profile")
    @classmethod
    def _safe_id(cls, value: str | None) -> str | None:
        return None if value is None else check_key_part(value)


class SelectedContract(Frozen):
    """One contract of a selection: its OCC symbol and how many to sell."""

    contract_symbol: str
    quantity: int = Field(ge=1, description="Contracts to sell.")


class Selection(Frozen):
    """``scan --cash``: the cash-secured puts that earn the most annualized premium with
    their collateral within the cash (:mod:`optscan.analytics.selection`).

    Dollars throughout: ``cash`` the amount available, ``collateral_used`` the sum of
    strike x 100 x quantity, ``premium_total`` the sum of bid x 100 x quantity,
    ``annualized_income`` the sum of bid x 100 x 365 / max(DTE, 1) x quantity.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    cash: float = Field(ge=0, description="Cash available, dollars.")
    collateral_used: float = Field(ge=0, description="Collateral of the contracts, dollars.")
    premium_total: float = Field(ge=0, description="Premium received, dollars.")
    annualized_income: float = Field(ge=0, description="Premium a year, dollars.")
    contracts: list[SelectedContract] = Field(default_factory=list)


class ScanResult(Frozen):
    """The outcome of one scan: what was asked, what the market was, what was found."""

    scan_id: str
    profile: str
    as_of: NewYorkTime = Field(description="The scan's clock (DTE and greeks use it).")
    started_at: NewYorkTime
    finished_at: NewYorkTime
    provider: str
    strategy: str
    synthetic: bool = Field(default=False, description="The provider's data is made up.")
    outside_market_hours: bool = Field(default=False, description="Taken while closed.")
    market: MarketStatus
    success: bool = Field(description="At least one symbol was scanned.")
    skipped: bool = Field(default=False, description="Not run: the market is closed.")
    message: SafeText = Field(description="One-line summary.")
    symbols: list[SymbolOutcome] = Field(description="One outcome per requested symbol.")
    opportunities: list[Opportunity] = Field(description="Ranked best first.")
    errors: list[SafeText] = Field(
        default_factory=list, description="Failures outside symbols (sinks, listeners...)."
    )
    warnings: list[SafeText] = Field(
        default_factory=list, description="What the result's reader should know (stale replay)."
    )
    selection: Selection | None = Field(
        default=None, description="With --cash: the best cash-secured puts for the cash."
    )

    @property
    def scanned_count(self) -> int:
        """Symbols whose status is ``ok``."""
        return sum(1 for s in self.symbols if s.status == "ok")

    def to_json_dict(self) -> dict[str, Any]:
        """The stable JSON contract of ``optscan scan --format json``."""
        data = self.model_dump(mode="json")
        data["scanned_count"] = self.scanned_count
        return data
