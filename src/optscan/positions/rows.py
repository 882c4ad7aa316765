"""One row of a positions table -> a stock, an option, cash, or a reason to skip it.

The rules every format shares: summary rows (totals, pending activity) are skipped and
reported; cash rows add to the cash line; an option in any notation (or in separate
expiry/strike/right columns) is an option; anything else must be a valid ticker. Every
number is read as brokers write it (:mod:`optscan.positions.numbers`), and a number no
position can have (not finite, shares over 1e9, a negative cost basis) skips its row as
``bad_number``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from optscan.positions.notation import OptionContract, parse_option
from optscan.positions.numbers import parse_number
from optscan.symbols import canonical_symbol, normalize_symbol

if TYPE_CHECKING:
    from optscan.positions.columns import Columns

MAX_SHARES = 1e9
"""More shares than any account holds: a row saying so is ``bad_number``."""
MAX_CONTRACTS = 1e7
MAX_PRICE = 1e9
"""The highest cost basis or price per share read."""
CONTRACT_SIZE = 100
TOTALS = ("account total", "accounts total", "total", "totals", "grand total", "subtotal")
PENDING = ("pending activity", "pending")
CASH_NAMES = frozenset(
    {
        "cash",
        "cash & cash investments",
        "cash and cash investments",
        "cash & money market",
        "cash and money market",
        "cash & sweep vehicle",
        "cash and sweep vehicle",
        "core cash",
        "money market",
        "cash balance",
        "cash equivalents",
        "fcash",
        "usd cash",
    }
)
CASH_TYPES = frozenset({"cash and money market", "cash & cash investments", "money market"})
OPTION_TYPES = frozenset(
    {
        "option",
        "options",
        "opt",
        "equity option",
        "equity options",
        "equity and index options",
        "index option",
        "call",
        "put",
    }
)
UNSUPPORTED_TYPES = frozenset(
    {
        "fixed income",
        "bond",
        "bonds",
        "bill",
        "cd",
        "future",
        "futures",
        "fut",
        "fop",
        "future option",
        "futures option",
        "futures options",
        "crypto",
        "cryptocurrency",
        "forex",
        "fx",
        "cfd",
        "cfds",
        "warrant",
        "war",
        "warrants",
    }
)


@dataclass(frozen=True)
class Stock:
    """Shares of a stock (canonical symbol), cost basis per share or None."""

    symbol: str
    shares: float
    cost_basis: float | None


@dataclass(frozen=True)
class Option:
    """Contracts of one option (negative: short), average price per share or None."""

    contract: OptionContract
    quantity: int
    average_price: float | None


@dataclass(frozen=True)
class Cash:
    """A cash or money-market line, in dollars."""

    amount: float


@dataclass(frozen=True)
class Skip:
    """Not a position: the machine word why (``detail`` for developers only)."""

    reason: str
    detail: str = ""


Row = Stock | Option | Cash | Skip


class BadNumber(ValueError):
    """A number no position can have (the row is skipped as ``bad_number``)."""


def summary_reason(symbol: str, kind: str = "") -> str | None:
    """What a row is when it is no security: ``"total"`` (``Account Total``, ``TOTAL``,
    ``Grand Total``...), ``"pending_activity"``, ``"cash"`` (``Cash & Cash
    Investments``, ``CASH``, a money market ``SPAXX**``, a cash security type), or
    ``None`` for a row naming a security. ``symbol`` is the row's symbol cell, ``kind``
    its security-type cell. Shared by the positions reader and the watchlist reader, so
    neither takes a summary row for a ticker."""
    name = " ".join(symbol.lower().split())
    kind = " ".join(kind.lower().split())
    if name.startswith(TOTALS) or name.endswith(" total") or (not name and kind.startswith(TOTALS)):
        return "total"
    if name.startswith(PENDING):
        return "pending_activity"
    if name in CASH_NAMES or symbol.strip().endswith("**") or kind in CASH_TYPES:
        return "cash"
    return None


def read_row(cells: list[str], columns: Columns) -> Row:
    """What one data row of a positions table holds."""
    symbol = columns.get(cells, "symbol") or ""
    kind = " ".join((columns.get(cells, "type") or "").lower().split())
    summary = summary_reason(symbol, kind)
    if summary in ("total", "pending_activity"):
        return Skip(summary)
    try:
        if summary == "cash":
            return _cash(cells, columns)
        currency = (columns.get(cells, "currency") or "").upper()
        if currency not in ("", "USD"):
            return Skip("not_usd", f"currency {currency}")
        detail = (columns.get(cells, "detail") or "").lower()
        if detail in ("lot", "lots"):
            return Skip("lot_detail")
        contract = _contract(symbol, cells, columns, kind)
        if contract is not None:
            return _option(contract, cells, columns)
        if kind in UNSUPPORTED_TYPES or kind in OPTION_TYPES or _ibkr_forex(kind, columns):
            reason = "unreadable_option" if kind in OPTION_TYPES else "unsupported_asset"
            return Skip(reason, f"type {kind!r}")
        if not symbol.strip():
            return Skip("no_symbol")
        try:
            ticker = normalize_symbol(symbol)
        except ValueError as exc:
            return Skip("invalid_symbol", str(exc))
        return _stock(ticker, cells, columns)
    except BadNumber as exc:
        return Skip("bad_number", str(exc))
    except ValueError as exc:
        return Skip("unreadable_option", str(exc))


def _ibkr_forex(kind: str, columns: Columns) -> bool:
    """Interactive Brokers' asset class ``CASH`` is a currency pair (``EUR.USD``), not
    cash; elsewhere a ``Cash`` type is an account type (Fidelity's Cash vs Margin)."""
    index = columns.index.get("type")
    return kind == "cash" and index is not None and columns.header[index] == "assetclass"


def _number(cells: list[str], columns: Columns, field: str) -> float | None:
    """A quantity, price or amount: a percent (``12%``) is none of them."""
    text = columns.get(cells, field)
    if text is not None and "%" in text:
        raise BadNumber(f"{field}: {text[:24]!r} is a percent, not a {field.replace('_', ' ')}")
    try:
        return parse_number(text)
    except ValueError as exc:
        raise BadNumber(f"{field}: {exc}") from None


def _cash(cells: list[str], columns: Columns) -> Row:
    amount = _number(cells, columns, "value")
    if amount is None:
        amount = _number(cells, columns, "quantity")
    if amount is None:
        return Skip("no_value", "a cash row without an amount")
    if abs(amount) > 1e12:
        raise BadNumber(f"cash {amount:g} is not an amount")
    return Cash(amount)


def _stock(symbol: str, cells: list[str], columns: Columns) -> Row:
    shares = _number(cells, columns, "quantity")
    if shares is None:
        return Skip("no_quantity")
    if abs(shares) > MAX_SHARES:
        raise BadNumber(f"quantity {shares:g} is more shares than any account holds")
    if shares == 0:
        return Skip("zero_quantity")
    if shares < 0:
        return Skip("short_stock", "short stock cannot cover calls")
    basis = _number(cells, columns, "cost_per_share")
    if basis is None:
        total = _number(cells, columns, "cost_total")
        basis = None if total is None else total / shares
    if basis is not None and not 0 <= basis <= MAX_PRICE:
        raise BadNumber(f"cost basis {basis:g} per share is not a price")
    return Stock(symbol, shares, basis)


def _contract(symbol: str, cells: list[str], columns: Columns, kind: str) -> OptionContract | None:
    """The contract a row names: by its symbol in any notation, or by its expiry,
    strike and right columns (with the underlying's or the row's symbol)."""
    contract = parse_option(symbol)
    if contract is not None:
        underlying = columns.get(cells, "underlying")
        if underlying and contract.underlying != canonical_symbol(underlying):
            contract = contract._replace(underlying=canonical_symbol(underlying))
        return contract
    expiry = columns.get(cells, "expiry")
    strike_text = columns.get(cells, "strike")
    right = (columns.get(cells, "right") or "").strip().upper()
    if not (expiry and strike_text and right):
        return None
    if kind and kind not in OPTION_TYPES:
        return None
    underlying = columns.get(cells, "underlying") or (symbol.split() or [""])[0]
    try:
        underlying = normalize_symbol(underlying)
    except ValueError as exc:
        raise ValueError(f"option row: underlying: {exc}") from None
    strike = parse_number(strike_text)
    if strike is None or not right or right[0] not in "CP":
        raise ValueError(f"option row without a strike or a call/put ({right or 'none'})")
    if not 0 < strike < 1e6:
        raise BadNumber(f"strike {strike:g} is not a price")
    return OptionContract(
        underlying,
        _expiry(expiry),
        "call" if right[0] == "C" else "put",
        strike,
    )


def _expiry(text: str) -> dt.date:
    """An expiration as exports write it: 2026-12-18, 20261218, 12/18/2026, 12/18/26,
    18DEC26, Dec 18 2026."""
    cleaned = " ".join(text.replace(",", " ").split())
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%m/%d/%Y", "%m/%d/%y", "%d%b%y", "%b %d %Y", "%d %b %Y"):
        try:
            return dt.datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"expiration {text!r} is not a date")


def _option(contract: OptionContract, cells: list[str], columns: Columns) -> Row:
    quantity = _number(cells, columns, "quantity")
    if quantity is None:
        return Skip("no_quantity")
    if abs(quantity) > MAX_CONTRACTS or not float(quantity).is_integer():
        raise BadNumber(f"quantity {quantity:g} is not a whole number of contracts")
    if quantity == 0:
        return Skip("zero_quantity")
    multiplier = _number(cells, columns, "multiplier") or CONTRACT_SIZE
    if not 0 < multiplier <= 1e6:
        raise BadNumber(f"multiplier {multiplier:g} is not a contract size")
    price = _number(cells, columns, "cost_per_share")
    if price is None:
        total = _number(cells, columns, "cost_total")
        price = None if total is None else total / (quantity * multiplier)
    if price is not None:
        price = abs(price)  # a short's cost is often written negative (money received)
        if not math.isfinite(price) or price > MAX_PRICE:
            raise BadNumber(f"price {price:g} per share is not a price")
    return Option(contract, int(quantity), price)
