"""A stock's fundamentals, as an option provider's ``transform_fundamentals`` gives them.

Providers may offer fundamentals besides chains (an optional part of
:class:`~optscan.protocols.OptionProvider`: ``extract_fundamentals`` /
``transform_fundamentals``). They are fetched through the same client as chains (rate
limit, retries, the error signals), recorded as ``DIR/<provider>/<SYMBOL>/fundamentals.json``
and replayed like chains. Enrichers and plugin commands read them through
:class:`optscan.scan.enrich.FundamentalsFetcher`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from optscan.errors import ImplausibleFundamentalsError

MAX_PRICE = 1e9
"""The highest price per share (the bound :data:`optscan.chain.MAX_PRICE` sets on chains)."""
MAX_PER_SHARE = 1e6
"""The largest EPS or free cash flow per share, either sign: the dearest stock (about
700,000 a share) earns some tens of thousands a share."""
MAX_PRICE_MULTIPLE = 1000.0
"""The largest EPS or FCF per share as a multiple of the price (a P/E of 0.001)."""
MIN_SHARES, MAX_SHARES = 1.0, 1e13
"""Shares outstanding: the largest companies have some 1e10."""


def implausible(
    *,
    price: float | None,
    eps_ttm: float | None,
    fcf_per_share: float | None,
    shares_outstanding: float | None,
) -> str | None:
    """What is wrong with figures no stock can have, or ``None`` when all are plausible
    (a missing figure is ``None`` and is fine). The bounds: every figure finite; price
    above 0 and at most :data:`MAX_PRICE`; shares outstanding between
    :data:`MIN_SHARES` and :data:`MAX_SHARES`; EPS and FCF per share (negative ones are
    kept: losses are real) at most :data:`MAX_PER_SHARE` in size and, with a price, at
    most :data:`MAX_PRICE_MULTIPLE` x the price."""
    if price is not None and not (math.isfinite(price) and 0 < price <= MAX_PRICE):
        return f"price {price:g} is outside (0, {MAX_PRICE:g}]"
    if shares_outstanding is not None and not (
        math.isfinite(shares_outstanding) and MIN_SHARES <= shares_outstanding <= MAX_SHARES
    ):
        return f"shares outstanding {shares_outstanding:g} is outside [1, {MAX_SHARES:g}]"
    for name, value in (("EPS", eps_ttm), ("FCF per share", fcf_per_share)):
        if value is None:
            continue
        if not math.isfinite(value):
            return f"{name} {value} is not a number"
        if abs(value) > MAX_PER_SHARE:
            return f"{name} {value:g} is larger than {MAX_PER_SHARE:,.0f} a share"
        if price is not None and abs(value) > MAX_PRICE_MULTIPLE * price:
            return f"{name} {value:g} is more than {MAX_PRICE_MULTIPLE:,.0f} x the price {price:g}"
    return None


def check_figures(
    symbol: str,
    *,
    price: float | None,
    eps_ttm: float | None,
    fcf_per_share: float | None,
    shares_outstanding: float | None,
) -> None:
    """Raise :class:`~optscan.errors.ImplausibleFundamentalsError` (reason
    ``bad_number``) when :func:`implausible` finds a figure no stock can have. A
    provider's ``transform_fundamentals`` calls it before building
    :class:`Fundamentals` (which checks the same for every source and every cached
    copy: a validation error of type ``bad_number``, which the fetch reports as the same
    error)."""
    problem = implausible(
        price=price,
        eps_ttm=eps_ttm,
        fcf_per_share=fcf_per_share,
        shares_outstanding=shares_outstanding,
    )
    if problem:
        raise ImplausibleFundamentalsError(f"{symbol}: bad fundamentals: {problem}")


FcfMethod = Literal["reported_ttm", "ocf_minus_capex"]
"""How ``fcf_per_share`` was obtained: the source's own trailing-twelve-month free cash
flow (Yahoo's ``freeCashflow``), or operating cash flow minus capital expenditure summed
over the last four quarterly statements (what optscan's ancestor computed)."""


class Fundamentals(BaseModel):
    """What a provider knows of one stock's value. Money is **per share** in the stated
    currency unless the field says otherwise; a figure the source lacks (or that cannot
    be used, such as free cash flow reported in another currency than the stock trades
    in) is ``None``, never a made-up number. Negative earnings or cash flows are kept as
    they are: deciding what they mean is the reader's job. Figures no stock can have
    (:func:`implausible`) are refused: the whole answer is bad data."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    symbol: str = Field(description="The ticker.")
    provider: str = Field(description="The provider that gave them.")
    price: float | None = Field(default=None, gt=0, description="Current price, per share.")
    eps_ttm: float | None = Field(
        default=None, description="Earnings per share, trailing twelve months."
    )
    fcf_per_share: float | None = Field(
        default=None,
        description="Free cash flow per share, trailing twelve months (see fcf_method); "
        "None when reported in a currency other than the trading currency.",
    )
    fcf_method: FcfMethod | None = Field(
        default=None, description="How fcf_per_share was obtained."
    )
    shares_outstanding: float | None = Field(default=None, gt=0, description="Shares outstanding.")
    currency: str | None = Field(
        default=None,
        description="Trading currency (ISO 4217, case as the source writes it: Yahoo's "
        "GBp is pence, not GBP).",
    )
    financial_currency: str | None = Field(
        default=None, description="Currency of the financial statements (ISO 4217)."
    )
    as_of: dt.date | None = Field(
        default=None, description="End of the latest fiscal quarter the figures include."
    )

    @model_validator(mode="after")
    def _plausible(self) -> Self:
        problem = implausible(
            price=self.price,
            eps_ttm=self.eps_ttm,
            fcf_per_share=self.fcf_per_share,
            shares_outstanding=self.shares_outstanding,
        )
        if problem:  # the type lets the fetch report it as ImplausibleFundamentalsError
            text = "bad fundamentals: {problem}"
            raise PydanticCustomError("bad_number", text, {"problem": problem})
        return self
