"""``[enrichers.valuation]``: the model's assumptions, per-symbol overrides, the cache.

Rates are **fractions** (0.10 is 10 % a year); the terminal multiple is a price/earnings
(or price/FCF) multiple applied to the last projected year.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from optscan import PluginConfig, canonical_symbol, normalize_symbol

Method = Literal["eps", "fcf"]
WEEK_S = 7 * 86400


class Assumptions(BaseModel):
    """The discounted-cash-flow model's inputs (see :mod:`optscan_valuation.model`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    growth_rate: float = Field(
        default=0.10, gt=-1, le=1, description="Yearly growth g of EPS or FCF, a fraction."
    )
    discount_rate: float = Field(
        default=0.15, gt=-1, le=1, description="Yearly discount rate r, a fraction."
    )
    terminal_multiple: float = Field(
        default=20.0, gt=0, le=1000, description="Multiple of the year-N figure at the end."
    )
    years: int = Field(default=5, ge=1, le=50, description="Years projected, N.")
    method: Method = Field(
        default="eps", description="Preferred value: from EPS or from free cash flow per share."
    )
    fallback: bool = Field(
        default=True,
        description="Use the other method when the preferred one gives no value.",
    )


class SymbolOverride(BaseModel):
    """Per-symbol changes to the assumptions (``[enrichers.valuation.symbols.AAPL]``):
    every key of :class:`Assumptions` (the model's inputs, ``method`` and ``fallback``);
    the section-wide keys (``cache_ttl_s``, ``symbols``) are not per symbol."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    growth_rate: float | None = Field(default=None, gt=-1, le=1)
    discount_rate: float | None = Field(default=None, gt=-1, le=1)
    terminal_multiple: float | None = Field(default=None, gt=0, le=1000)
    years: int | None = Field(default=None, ge=1, le=50)
    method: Method | None = None
    fallback: bool | None = None


class ValuationConfig(PluginConfig, Assumptions):
    """The whole section. Every key has a default: the plugin runs with no section."""

    symbols: dict[str, SymbolOverride] = Field(
        default_factory=dict,
        description="Per-symbol overrides, by ticker in any spelling (BRK.B is BRK-B).",
    )
    cache_ttl_s: int = Field(
        default=WEEK_S,
        ge=0,
        le=365 * 86400,
        description="How long a queued scan keeps fundamentals in Redis (0: per run).",
    )

    @field_validator("symbols")
    @classmethod
    def _tickers(cls, value: dict[str, SymbolOverride]) -> dict[str, SymbolOverride]:
        tickers: dict[str, SymbolOverride] = {}
        spelled: dict[str, str] = {}
        for key, override in value.items():
            symbol = normalize_symbol(key)  # canonical: BRK.B, BRK/B and BRK-B are BRK-B
            if symbol in tickers:
                raise ValueError(f"{key!r} and {spelled[symbol]!r} are the same symbol {symbol}")
            tickers[symbol], spelled[symbol] = override, key
        return tickers

    def for_symbol(self, symbol: str) -> Assumptions:
        """The assumptions for ``symbol`` (any spelling): the section's, with its
        override applied."""
        base = Assumptions(**{k: getattr(self, k) for k in Assumptions.model_fields})
        override = self.symbols.get(canonical_symbol(symbol))
        if override is None:
            return base
        return base.model_copy(update=override.model_dump(exclude_none=True))
