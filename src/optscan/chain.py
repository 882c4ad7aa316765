"""The columnar option chain a provider's *transform* returns.

:class:`OptionChain` holds one numpy array per field. A chain of thousands of contracts
is validated once as a whole (array lengths, dtypes, value ranges), never contract by
contract, and the analytics run on the arrays directly; only contracts that pass the
screen become :class:`~optscan.models.Opportunity` models.

Units: prices (``strike``, ``bid``, ``ask``, ``last``, ``underlying_price``) are per
share in the quote currency; ``volume`` and ``open_interest`` count contracts; ``iv``
is the annualized implied volatility as a fraction (0.25 = 25 %); ``delta`` is per
share, a fraction in [-1, 1]; times are POSIX seconds or aware datetimes.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from optscan.symbols import normalize_symbol

FloatColumn = NDArray[np.float64]
"""One float64 value per contract; ``NaN`` where the source gave none."""

_FLOAT_COLUMNS = ("strike", "bid", "ask", "last", "volume", "open_interest", "iv", "delta")
_OPTIONAL_FLOAT_COLUMNS = ("last", "volume", "open_interest", "delta", "last_trade_time")


class OptionChain(BaseModel):
    """One provider answer: the contracts of one symbol (usually one expiration), columnar.

    Missing values are ``NaN`` in the float columns (never a default that could pass a
    screen). ``last_trade_time`` holds POSIX seconds of each contract's last quote or
    trade, ``NaN`` when unknown. ``expiration`` is ``datetime64[D]``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    symbol: str = Field(description="The underlying's ticker, normalized (upper case).")
    provider: str = Field(description="The provider's ``name``.")
    underlying_price: float = Field(gt=0, description="The underlying's price, per share.")
    quote_time: dt.datetime = Field(description="When the quotes were taken (aware).")
    data_delay_s: float = Field(default=0.0, ge=0, description="How late the quotes are, s.")
    synthetic: bool = Field(default=False, description="True for made-up market data.")
    earnings_start: dt.date | None = Field(default=None, description="Next earnings, first day.")
    earnings_end: dt.date | None = Field(default=None, description="Next earnings, last day.")
    ex_dividend_date: dt.date | None = Field(default=None, description="Next ex-dividend day.")
    dividend_yield: float | None = Field(
        default=None, ge=0, description="Annual dividend yield, a fraction (0.02 = 2 %)."
    )

    contract_symbol: NDArray[np.str_] = Field(description="OCC symbols (root may be padded).")
    kind: NDArray[np.str_] = Field(description='"put" or "call".')
    expiration: NDArray[np.datetime64] = Field(description="Expiration dates, datetime64[D].")
    strike: FloatColumn = Field(description="Strike, per share; finite and > 0.")
    bid: FloatColumn = Field(description="Bid, per share; >= 0 or NaN.")
    ask: FloatColumn = Field(description="Ask, per share; >= 0 or NaN.")
    iv: FloatColumn = Field(description="Implied volatility, annualized fraction.")
    # Optional columns: omitted (or None) means NaN for every contract; the "before"
    # validator fills them, so they need no default here.
    last: FloatColumn = Field(description="Last trade, per share (optional).")
    volume: FloatColumn = Field(description="Contracts traded today (optional).")
    open_interest: FloatColumn = Field(description="Open contracts (optional).")
    delta: FloatColumn = Field(
        description="Delta per share in [-1, 1] (optional); NaN = computed by optscan."
    )
    last_trade_time: FloatColumn = Field(
        description="POSIX seconds of each contract's last quote or trade (optional)."
    )

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str) -> str:
        return normalize_symbol(value)

    @field_validator("quote_time")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("quote_time must carry a time zone")
        return value

    @model_validator(mode="before")
    @classmethod
    def _columns(cls, data: Any) -> Any:
        """Coerce every column to a read-only numpy array and check it once, as a whole."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        symbols = data.get("contract_symbol")
        n = 0 if symbols is None else len(symbols)
        for name in (*_FLOAT_COLUMNS, "last_trade_time"):
            value = data.get(name)
            if value is None:
                if name not in _OPTIONAL_FLOAT_COLUMNS:
                    raise ValueError(f"column {name!r} is required")
                value = np.full(n, np.nan)
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"column {name!r} must be numeric: {exc}") from None
            data[name] = arr
        data["contract_symbol"] = np.asarray(() if symbols is None else symbols, dtype=np.str_)
        data["kind"] = np.asarray(data.get("kind", ()), dtype=np.str_)
        try:
            data["expiration"] = np.asarray(data.get("expiration", ()), dtype="datetime64[D]")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column 'expiration' must hold dates: {exc}") from None

        columns = ("contract_symbol", "kind", "expiration", *_FLOAT_COLUMNS, "last_trade_time")
        for name in columns:
            arr = data[name]
            if arr.ndim != 1 or len(arr) != n:
                raise ValueError(f"column {name!r} has {arr.size} values, contract_symbol has {n}")
        if n:
            _check_ranges(data)
        for name in columns:
            data[name].flags.writeable = False
        return data

    def __len__(self) -> int:
        return len(self.contract_symbol)

    @cached_property
    def is_call(self) -> NDArray[np.bool_]:
        """``kind == "call"``, computed once per chain.

        ``kind`` holds only "put" or "call" (checked on construction), so the first
        character decides: one code point per contract is compared instead of a string
        (about 10x faster on a million contracts).
        """
        kind = self.kind
        if kind.dtype.kind != "U" or not kind.flags.c_contiguous or kind.size == 0:
            return kind == "call"
        first = kind.view(np.uint32).reshape(kind.size, kind.dtype.itemsize // 4)[:, 0]
        return first == ord("c")

    def select(self, mask: NDArray[np.bool_]) -> OptionChain:
        """A new chain holding only the contracts where ``mask`` is true."""
        columns = {name: getattr(self, name)[mask] for name in _ARRAY_FIELDS}
        scalars = {k: getattr(self, k) for k in type(self).model_fields if k not in columns}
        return OptionChain(**scalars, **columns)

    @classmethod
    def concat(cls, chains: list[OptionChain]) -> OptionChain:
        """Join chains of one symbol (e.g. one per expiration) into one."""
        if not chains:
            raise ValueError("nothing to concatenate")
        first = chains[0]
        if len(chains) == 1:
            return first
        columns = {
            name: np.concatenate([getattr(c, name) for c in chains]) for name in _ARRAY_FIELDS
        }
        scalars = {k: getattr(first, k) for k in cls.model_fields if k not in columns}
        scalars["quote_time"] = max(c.quote_time for c in chains)
        scalars["data_delay_s"] = max(c.data_delay_s for c in chains)
        return cls(**scalars, **columns)

    def equals(self, other: OptionChain) -> bool:
        """Value equality (NaN equal to NaN), for record/replay checks."""
        for name in type(self).model_fields:
            a, b = getattr(self, name), getattr(other, name)
            if name in _ARRAY_FIELDS:
                if a.dtype.kind == "f":
                    if not np.array_equal(a, b, equal_nan=True):
                        return False
                elif not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True


_ARRAY_FIELDS = (
    "contract_symbol",
    "kind",
    "expiration",
    *_FLOAT_COLUMNS,
    "last_trade_time",
)


def _check_ranges(data: dict[str, Any]) -> None:
    kinds = data["kind"]
    bad = ~np.isin(kinds, ("put", "call"))
    if bad.any():
        raise ValueError(f"column 'kind' must be 'put' or 'call', got {kinds[bad][0]!r}")
    if (np.char.str_len(data["contract_symbol"]) == 0).any():
        raise ValueError("column 'contract_symbol' has an empty value")
    if np.isnat(data["expiration"]).any():
        raise ValueError("column 'expiration' has a missing date")
    strike = data["strike"]
    if not (np.isfinite(strike) & (strike > 0)).all():
        raise ValueError("column 'strike' must be finite and > 0")
    for name in ("bid", "ask", "last", "volume", "open_interest"):
        col = data[name]
        if (col < 0).any() or np.isinf(col).any():
            raise ValueError(f"column {name!r} must be >= 0 (NaN for missing)")
    if np.isinf(data["iv"]).any():
        raise ValueError("column 'iv' must be finite (NaN for missing)")
    delta = data["delta"]
    if (np.abs(delta) > 1.0000001).any():
        raise ValueError("column 'delta' must lie within [-1, 1] (NaN for missing)")
