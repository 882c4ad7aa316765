"""The columnar option chain a provider's *transform* returns.

:class:`OptionChain` holds one numpy array per field. A chain of thousands of contracts
is validated once as a whole (array lengths, dtypes, value ranges), never contract by
contract, and the analytics run on the arrays directly; only contracts that pass the
screen become :class:`~optscan.models.Opportunity` models.

Units: prices (``strike``, ``bid``, ``ask``, ``last``, ``underlying_price``) are per
share in the quote currency; ``volume`` and ``open_interest`` count contracts; ``iv``
is the annualized implied volatility as a fraction (0.25 = 25 %); ``delta`` is per
share, a fraction in [-1, 1]; times are POSIX seconds or aware datetimes.

Values no quote can have fail their contract, not the chain: a strike that is not a
finite price, a negative or infinite bid, ask, last, volume or open interest, an
infinite IV or trade time, a delta outside [-1, 1]. :attr:`OptionChain.malformed`
marks those contracts and the data-quality gate rejects them as ``malformed_payload``,
so one garbled row does not cost its neighbours. A chain-wide value that is not a
finite, plausible number (the underlying's price, the delay, the dividend yield) fails
the chain, and the scan reports it as ``malformed_payload`` too.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from optscan.symbols import normalize_symbol

FloatColumn = NDArray[np.float64]
"""One float64 value per contract; ``NaN`` where the source gave none."""

_FLOAT_COLUMNS = ("strike", "bid", "ask", "last", "volume", "open_interest", "iv", "delta")
_OPTIONAL_FLOAT_COLUMNS = ("last", "volume", "open_interest", "delta", "last_trade_time")
MAX_PRICE = 1e9
"""The highest price per share a strike, quote or underlying may have (the dearest
stock trades under 1e6): above it a number is no price, and sums of it overflow."""
MIN_UNDERLYING_PRICE = 1e-6
"""The lowest underlying price: the cushion divides by it."""
MAX_COUNT = 1e12
"""The most contracts a volume or open interest may count."""


class OptionChain(BaseModel):
    """One provider answer: the contracts of one symbol (usually one expiration), columnar.

    Missing values are ``NaN`` in the float columns (never a default that could pass a
    screen). ``last_trade_time`` holds POSIX seconds of each contract's last quote or
    trade, ``NaN`` when unknown. ``expiration`` is ``datetime64[D]``.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, allow_inf_nan=False
    )

    symbol: str = Field(description="The underlying's ticker, normalized (upper case).")
    provider: str = Field(description="The provider's ``name``.")
    underlying_price: float = Field(
        ge=MIN_UNDERLYING_PRICE, le=MAX_PRICE, description="The underlying's price, per share."
    )
    quote_time: dt.datetime = Field(description="When the quotes were taken (aware).")
    data_delay_s: float = Field(
        default=0.0, ge=0, le=365 * 86400, description="How late the quotes are, s."
    )
    synthetic: bool = Field(default=False, description="True for made-up market data.")
    earnings_start: dt.date | None = Field(default=None, description="Next earnings, first day.")
    earnings_end: dt.date | None = Field(default=None, description="Next earnings, last day.")
    ex_dividend_date: dt.date | None = Field(default=None, description="Next ex-dividend day.")
    dividend_yield: float | None = Field(
        default=None, ge=0, le=1, description="Annual dividend yield, a fraction (0.02 = 2 %)."
    )

    contract_symbol: NDArray[np.str_] = Field(description="OCC symbols (root may be padded).")
    kind: NDArray[np.str_] = Field(description='"put" or "call".')
    expiration: NDArray[np.datetime64] = Field(description="Expiration dates, datetime64[D].")
    strike: FloatColumn = Field(description="Strike, per share; > 0 and at most MAX_PRICE.")
    bid: FloatColumn = Field(description="Bid, per share; >= 0 (at most MAX_PRICE) or NaN.")
    ask: FloatColumn = Field(description="Ask, per share; >= 0 (at most MAX_PRICE) or NaN.")
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
    _malformed: NDArray[np.bool_] | None = PrivateAttr(default=None)
    _malformed_example: str = PrivateAttr(default="")

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
            _check_structure(data)
        for name in columns:
            data[name].flags.writeable = False
        return data

    @model_validator(mode="after")
    def _values(self) -> OptionChain:
        """Mark the contracts holding values no quote can have (see the module's doc)."""
        if len(self):
            self._malformed, self._malformed_example = _malformed_rows(self)
        return self

    @property
    def malformed(self) -> NDArray[np.bool_] | None:
        """True for each contract with a value no quote can have (the gate rejects
        them as ``malformed_payload``); ``None`` when there is none."""
        return self._malformed

    @property
    def malformed_example(self) -> str:
        """The first such value, for messages: ``"strike nan (XYZ261120P00100000)"``."""
        return self._malformed_example

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


def _check_structure(data: dict[str, Any]) -> None:
    """What makes the whole chain unusable: a contract of no known kind, without a
    symbol or without an expiration date."""
    kinds = data["kind"]
    bad = ~np.isin(kinds, ("put", "call"))
    if bad.any():
        raise ValueError(f"column 'kind' must be 'put' or 'call', got {kinds[bad][0]!r}")
    if (np.char.str_len(data["contract_symbol"]) == 0).any():
        raise ValueError("column 'contract_symbol' has an empty value")
    if np.isnat(data["expiration"]).any():
        raise ValueError("column 'expiration' has a missing date")


def _malformed_rows(chain: OptionChain) -> tuple[NDArray[np.bool_] | None, str]:
    """The contracts with values no quote can have (``None`` if none has one), and the
    first such value as text.

    Each column is first checked whole, as cheaply as before: the per-contract mask is
    built only for a chain that has such a value. NaN (missing) passes everywhere but
    in ``strike``.
    """
    strike = chain.strike
    checks: list[tuple[str, NDArray[np.bool_]]] = []
    if not ((strike > 0) & (strike <= MAX_PRICE)).all():  # NaN fails both
        checks.append(("strike", ~((strike > 0) & (strike <= MAX_PRICE))))
    for name, top in (
        ("bid", MAX_PRICE),
        ("ask", MAX_PRICE),
        ("last", MAX_PRICE),
        ("volume", MAX_COUNT),
        ("open_interest", MAX_COUNT),
    ):
        col = getattr(chain, name)
        if (col < 0).any() or (col > top).any():
            checks.append((name, (col < 0) | (col > top)))
    for name in ("iv", "last_trade_time"):
        col = getattr(chain, name)
        if np.isinf(col).any():
            checks.append((name, np.isinf(col)))
    delta = chain.delta
    if (np.abs(delta) > 1.0000001).any():
        checks.append(("delta", np.abs(delta) > 1.0000001))
    if not checks:
        return None, ""
    name, first = checks[0]
    row = int(np.argmax(first))
    example = f"{name} {float(getattr(chain, name)[row])!r} ({chain.contract_symbol[row]})"
    bad: NDArray[np.bool_] = np.logical_or.reduce([mask for _name, mask in checks])
    bad.flags.writeable = False
    return bad, example
