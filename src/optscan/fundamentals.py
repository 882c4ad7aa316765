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
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FcfMethod = Literal["reported_ttm", "ocf_minus_capex"]
"""How ``fcf_per_share`` was obtained: the source's own trailing-twelve-month free cash
flow (Yahoo's ``freeCashflow``), or operating cash flow minus capital expenditure summed
over the last four quarterly statements (what optscan's ancestor computed)."""


class Fundamentals(BaseModel):
    """What a provider knows of one stock's value. Money is **per share** in the stated
    currency unless the field says otherwise; a figure the source lacks (or that cannot
    be used, such as free cash flow reported in another currency than the stock trades
    in) is ``None``, never a made-up number. Negative earnings or cash flows are kept as
    they are: deciding what they mean is the reader's job."""

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
    currency: str | None = Field(default=None, description="Trading currency (ISO 4217).")
    financial_currency: str | None = Field(
        default=None, description="Currency of the financial statements (ISO 4217)."
    )
    as_of: dt.date | None = Field(
        default=None, description="End of the latest fiscal quarter the figures include."
    )
