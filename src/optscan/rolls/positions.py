"""Short positions for ``optscan rolls`` from what the user gives: ``--position`` text,
or a broker's positions file.

Positions files are read by :mod:`optscan.positions` (``read_positions(path, broker)``
gives a ``PositionsReading`` with ``.options``, ``.stocks`` and ``.cash``). This module
only converts such a reading.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from optscan.errors import UsageError

if TYPE_CHECKING:
    from optscan.rolls.models import ShortPosition


def parse_position(text: str, cost_basis: dict[str, float] | None = None) -> ShortPosition:
    """``CONTRACT[:QTY][@PRICE]``: an OCC symbol, the short contracts (a positive whole
    number, default 1) and the premium received per share (optional). ``cost_basis``
    maps a ticker (or OCC root) to the shares' cost basis per share, for calls.

    Raises :class:`UsageError` naming the text when it is not one.
    """
    from pydantic import ValidationError

    from optscan.rolls.models import ShortPosition

    body, _, price_text = text.strip().partition("@")
    contract, _, qty_text = body.partition(":")
    try:
        if not qty_text.strip().isascii():  # int() reads Arabic-Indic digits too
            raise ValueError(qty_text)
        quantity = int(qty_text) if qty_text.strip() else 1
    except ValueError:
        raise UsageError(
            f"--position {text!r}: QTY {qty_text!r} is not a whole number of contracts"
        ) from None
    if quantity < 1:
        raise UsageError(
            f"--position {text!r}: QTY counts short contracts and must be positive, got {quantity}"
        )
    price = None
    if price_text.strip():
        try:
            if not price_text.strip().isascii():
                raise ValueError(price_text)
            price = float(price_text)
        except ValueError:
            raise UsageError(f"--position {text!r}: PRICE {price_text!r} is not a number") from None
        if not (math.isfinite(price) and price >= 0):
            raise UsageError(f"--position {text!r}: PRICE must be a finite price >= 0")
    contract_symbol, symbol = _contract_and_symbol(contract, cost_basis or {})
    try:
        position = ShortPosition(
            contract_symbol=contract_symbol,
            quantity=quantity,
            average_price=price,
            **({"symbol": symbol} if symbol else {}),
        )
    except (ValidationError, ValueError) as exc:
        raise UsageError(f"--position {text!r}: {_first_error(exc)}") from None
    if price is not None and position.kind == "put" and price > position.strike:
        raise UsageError(
            f"--position {text!r}: PRICE {price:g} is more than the strike "
            f"{position.strike:g}: a put never sells for more (the premium is per share)"
        )
    basis = (cost_basis or {}).get(position.symbol)
    if position.kind == "call" and basis is not None:
        position = position.model_copy(update={"cost_basis": basis})
    return position


_CLASS_CONTRACT = re.compile(r"^([A-Z]{1,5})[.\-/]([A-Z])(\d{6}[CP]\d{8})$")
"""An OCC symbol written on a class share's ticker: ``BRK-B261127P00410000`` (also
``BRK.B``, ``BRK/B``): the contract is ``BRKB...``, the underlying ``BRK-B``."""


def _contract_and_symbol(text: str, held: dict[str, Any]) -> tuple[str, str | None]:
    """The OCC symbol and, where the root alone cannot say it, the underlying.

    A class share's options carry the root without its separator (``BRKB`` for
    ``BRK-B``), which cannot be told from a ticker of its own (``ABCB`` is one). The
    underlying is the class share when the text names it (``BRK-B261127P...``) or when
    a stock held (``[holdings]``, ``holdings.file``) has that OCC root; else the root.
    """
    from optscan.analytics.occ import expected_root
    from optscan.symbols import canonical_symbol

    compact = "".join(text.split()).upper()
    match = _CLASS_CONTRACT.fullmatch(compact)
    if match:
        return f"{match[1]}{match[2]}{match[3]}", canonical_symbol(f"{match[1]}-{match[2]}")
    root = re.match(r"^[A-Z]+", compact)
    by_root = {expected_root(symbol): symbol for symbol in held}
    return compact, by_root.get(root.group(0)) if root else None


def _first_error(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}".removeprefix(": ").replace("Value error, ", "")
    return str(exc)


def short_positions(reading: Any) -> list[ShortPosition]:
    """The short options of a positions reading (``quantity < 0``), each with its
    average price and, for calls, the shares' cost basis when the reading has it."""
    from optscan.rolls.models import ShortPosition

    basis = {
        stock.symbol: stock.cost_basis
        for stock in getattr(reading, "stocks", ())
        if stock.cost_basis is not None
    }
    out = []
    for option in getattr(reading, "options", ()):
        if option.quantity >= 0:
            continue
        out.append(
            ShortPosition(
                contract_symbol=option.contract_symbol,
                symbol=option.symbol,
                kind=option.kind,
                strike=option.strike,
                expiration=option.expiration,
                quantity=-option.quantity,
                average_price=option.average_price,
                cost_basis=basis.get(option.symbol) if option.kind == "call" else None,
            )
        )
    return out


def long_options(reading: Any) -> list[str]:
    """The OCC symbols of a positions reading's long options (``quantity > 0``), in
    the file's order: ``optscan rolls`` does not roll them, and says so."""
    return [o.contract_symbol for o in getattr(reading, "options", ()) if o.quantity > 0]


def not_rolled_note(symbols: list[str]) -> str:
    """The line that names the long options not rolled (``""`` when there are none);
    the web page's Rolls says the same (``static/rolls.js``)."""
    if not symbols:
        return ""
    listed = ", ".join(symbols)
    return f"{len(symbols)} long option(s) not rolled (rolls are for short ones): {listed}"
