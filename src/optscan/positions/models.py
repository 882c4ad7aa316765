"""What optscan understood of a positions file: :class:`PositionsReading`.

``model_dump(mode="json")`` is the JSON ``optscan positions --format json`` prints:
``{"file", "format", "stocks", "options", "cash", "skipped"}``. Units: ``cost_basis``
and ``average_price`` are **per share**; ``shares`` are shares; ``quantity`` is in
**contracts** (negative = short); ``contracts_coverable`` is whole contracts; ``cash``
is dollars. No field ever holds an account number or an account name.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FormatName = Literal[
    "schwab", "fidelity", "ibkr-activity", "ibkr-flex", "tastytrade", "etrade", "generic"
]
"""The formats optscan reads, as ``--broker`` names them."""
FORMATS: tuple[str, ...] = FormatName.__args__  # type: ignore[attr-defined]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class StockPosition(_Frozen):
    """Shares of one stock held (all rows of the symbol merged)."""

    symbol: str = Field(description="Canonical ticker (BRK-B for every class-B spelling).")
    shares: int | float = Field(description="Shares held (fractional shares kept).")
    cost_basis: float | None = Field(
        description="Average cost basis per share; null when the export gives none."
    )
    contracts_coverable: int = Field(
        description="Covered calls still writable: shares not covered by short calls "
        "(100 shares each), in whole hundreds."
    )


class OptionPosition(_Frozen):
    """One option contract held or written (all rows of the contract merged)."""

    contract_symbol: str = Field(description="OCC symbol, unpadded (AAPL261218C00240000).")
    symbol: str = Field(description="The underlying's canonical ticker.")
    kind: Literal["put", "call"] = Field(description='"put" or "call".')
    strike: float = Field(description="Strike, per share.")
    expiration: dt.date = Field(description="Expiration date.")
    quantity: int = Field(description="Contracts; negative = short (written).")
    average_price: float | None = Field(
        description="Average open price per share (premium / 100); null when not given."
    )


class SkippedRow(_Frozen):
    """A line of the file that is not a position, and why (account fields withheld)."""

    line: int = Field(description="1-based line number in the file.")
    text: str = Field(description="The line, account numbers and names withheld.")
    reason: str = Field(description="Machine word: bad_number, total, preamble...")


class PositionsReading(_Frozen):
    """Everything optscan read from one positions export."""

    file: str = Field(description="The file's path, as given.")
    format: FormatName = Field(description="The export's format (detected or --broker).")
    stocks: list[StockPosition] = Field(description="Stock held, by symbol.")
    options: list[OptionPosition] = Field(description="Options held or written.")
    cash: float | None = Field(description="Cash in the account; null when the file has none.")
    skipped: list[SkippedRow] = Field(description="Lines not read as positions, and why.")

    def stock(self, symbol: str) -> StockPosition | None:
        """The stock position of ``symbol`` (canonical), if held."""
        return next((s for s in self.stocks if s.symbol == symbol), None)
