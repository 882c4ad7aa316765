"""What ``optscan rolls`` takes and gives: short positions in, roll candidates out.

Units as everywhere in optscan: prices per share, ``net_credit_total`` in dollars for
the position's contracts (100 shares each), ``annualized_return`` in percent,
``delta`` and ``prob_otm`` fractions, days calendar days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from optscan.models import Frozen, Kind, NewYorkTime, SafeText


class ShortPosition(Frozen):
    """A short option held: what a roll buys back.

    Built from ``--position CONTRACT[:QTY][@PRICE]`` or from a positions file
    (:func:`optscan.rolls.positions.short_positions`). ``symbol``, ``kind``, ``strike``
    and ``expiration`` come from the OCC symbol when not given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    contract_symbol: str = Field(description="The OCC symbol (padding removed).")
    symbol: str = Field(description="The underlying's ticker (default: the OCC root).")
    kind: Kind
    strike: float = Field(gt=0, le=1e9, description="Per share.")
    expiration: dt.date
    quantity: int = Field(ge=1, le=1_000_000, description="Short contracts.")
    average_price: float | None = Field(
        default=None, ge=0, le=1e9, description="Premium received when sold, per share."
    )
    cost_basis: float | None = Field(
        default=None, ge=0, le=1e9, description="The shares' cost basis, per share (calls)."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_occ(cls, data: Any) -> Any:
        """Fill the contract's terms from its OCC symbol (a wrong symbol names itself)."""
        if not isinstance(data, dict) or not isinstance(data.get("contract_symbol"), str):
            return data
        from optscan.analytics.occ import parse_occ_symbol

        try:
            occ = parse_occ_symbol(data["contract_symbol"])
        except ValueError:
            if all(data.get(k) is not None for k in ("symbol", "kind", "strike", "expiration")):
                return data  # the terms are given: a broker's own notation is kept
            raise
        return {
            "symbol": occ.root,
            "kind": occ.kind,
            "strike": occ.strike,
            "expiration": occ.expiration,
            **data,
            "contract_symbol": "".join(data["contract_symbol"].split()),  # no padding
        }


def occ_symbol(root: str, expiration: dt.date, kind: str, strike: float) -> str:
    """The OCC symbol without padding: root, YYMMDD, C/P, strike x 1000 as 8 digits.

    The strike is *rounded* to thousandths (12.50 is ``00012500``, 12.55 is
    ``00012550``): truncating ``12.55 * 1000 = 12549.999...`` wrote ``00012549``.
    """
    letter = "C" if kind == "call" else "P"
    return f"{root}{expiration:%y%m%d}{letter}{round(strike * 1000):08d}"


class Roll(Frozen):
    """One way to roll: buy the position back at its ask, sell ``contract_symbol``."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    contract_symbol: str = Field(description="The new contract's OCC symbol.")
    expiration: dt.date = Field(description="The new expiration.")
    strike: float = Field(description="The new strike, per share.")
    bid: float = Field(description="The new contract's bid, per share.")
    net_credit: float = Field(description="New bid - old ask, per share.")
    net_credit_total: float = Field(description="net_credit x 100 x contracts, dollars.")
    days_added: int = Field(description="New expiration - old expiration, days.")
    annualized_return: float = Field(
        description="net_credit / collateral x 365 / days_added x 100, percent (collateral: "
        "the new strike for puts, the stock price for calls)."
    )
    delta: float = Field(description="The new contract's delta, a fraction.")
    breakeven: float = Field(
        description="Puts: new strike - (average_price + net_credit); calls: new strike + "
        "(average_price + net_credit); per share (average_price 0 when unknown)."
    )
    prob_otm: float | None = Field(description="The new contract's probability OTM.")


class PositionRolls(Frozen):
    """One position, how it stands, and its rolls (best first)."""

    contract_symbol: str
    symbol: str
    kind: Kind
    strike: float
    expiration: dt.date
    quantity: int
    average_price: float | None = Field(description="Per share; null when unknown.")
    close_ask: float | None = Field(description="The ask to buy it back, per share.")
    status: Literal["ok", "failed"]
    error: SafeText | None = Field(
        default=None,
        description="Why it failed; for an ok position, the later expirations whose "
        "answer failed (ISO date: reason; ...).",
    )
    itm: bool | None = Field(description="In the money now (null: no stock price).")
    early_assignment_risk: bool | None = Field(
        description="A short in-the-money call whose extrinsic value is below the "
        "dividend due before its expiry (null: the provider gives no dividend)."
    )
    rolls: list[Roll] = Field(default_factory=list)


class RollsResult(Frozen):
    """``optscan rolls --format json``: the stable contract."""

    as_of: NewYorkTime
    provider: str
    positions: list[PositionRolls]
    long_options_not_rolled: list[str] = Field(
        default_factory=list,
        description="The OCC symbols of the long options in the positions file, which "
        "are not rolled (a roll buys back what was sold); empty for --position.",
    )
