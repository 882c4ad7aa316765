"""Which column of a header means what: the usual names brokers give each field.

Headers are compared normalized: lower case, punctuation other than ``/`` and ``%``
turned into spaces (``Qty (Quantity)`` -> ``qty quantity``, ``Price Paid $`` ->
``price paid``, ``CostBasisPrice`` -> ``costbasisprice``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIELDS: dict[str, tuple[str, ...]] = {
    "symbol": ("symbol", "ticker", "symbol/cusip", "sym", "instrument", "security", "stock"),
    "quantity": ("quantity", "qty quantity", "qty", "shares", "position", "units", "pos"),
    "cost_per_share": (
        "costbasisprice",
        "average cost basis",
        "avg cost basis",
        "average cost",
        "avg cost",
        "average price",
        "avg price",
        "price paid",
        "cost price",
        "trade price",
        "cost per share",
        "cost/share",
        "unit cost",
        "basis per share",
        "cost basis per share",
        "average open price",
        "avg open price",
    ),
    "cost_total": (
        "cost basis",
        "cost basis total",
        "costbasismoney",
        "total cost",
        "total cost basis",
        "cost",
    ),
    "type": (
        "security type",
        "asset type",
        "asset category",
        "assetclass",
        "asset class",
        "instrument type",
        "type",
        "sectype",
    ),
    "expiry": ("exp date", "expiry", "expiration", "expiration date", "exp"),
    "strike": ("strike price", "strike"),
    "right": ("call/put", "put/call", "call or put", "right", "option type"),
    "underlying": ("underlyingsymbol", "underlying symbol", "underlying"),
    "multiplier": ("multiplier", "mult"),
    "value": (
        "mkt val market value",
        "market value",
        "current value",
        "value",
        "positionvalue",
        "mkt val",
        "netliq",
    ),
    "currency": ("currency", "currencyprimary"),
    "detail": ("levelofdetail", "datadiscriminator"),
}
"""Field -> header names that mean it, best first."""
ACCOUNT_HEADERS = frozenset(
    {
        "account",
        "account number",
        "account name",
        "account id",
        "account #",
        "acct",
        "clientaccountid",
        "accountalias",
        "acctalias",
        "accountid",
        "account nickname",
        "account name/number",
        "account number/name",
        "account no",
        "account title",
        "accountname",
        "accountnumber",
        "model",
    }
)
"""Columns that hold an account number or name: never echoed."""
NUMERIC_FIELDS = ("quantity", "cost_per_share", "cost_total", "strike", "multiplier", "value")
"""The fields read as numbers (:mod:`optscan.positions.numbers`)."""
OWN_PER_SHARE = "cost_basis"
"""optscan's own ``symbol,shares,cost_basis`` file gives the cost basis per share."""


def normalize_header(cell: str) -> str:
    """A header cell compared by its words (see the module docstring)."""
    return " ".join(re.sub(r"[^a-z0-9/%#]+", " ", cell.lower()).replace("#", " ").split())


@dataclass(frozen=True)
class Columns:
    """Where each field sits in a table's rows (``None``: not in this export)."""

    index: dict[str, int]
    withheld: frozenset[int]
    header: tuple[str, ...]

    def get(self, cells: list[str], name: str) -> str | None:
        """The cell of field ``name`` (stripped), ``None`` when the column is absent."""
        i = self.index.get(name)
        if i is None or i >= len(cells):
            return None
        return cells[i].strip()

    @property
    def numeric(self) -> frozenset[int]:
        """The columns of quantities and prices: echoed as written (never withheld as
        account-shaped), since their value is why a row was refused."""
        return frozenset(self.index[f] for f in NUMERIC_FIELDS if f in self.index)

    def has(self, *names: str) -> bool:
        """Whether every field named is a column of this table."""
        return all(n in self.index for n in names)


def map_columns(cells: list[str], ignore: frozenset[str] = frozenset()) -> Columns:
    """The :class:`Columns` of a header row (fields in ``ignore`` are left out)."""
    names = [normalize_header(c) for c in cells]
    index: dict[str, int] = {}
    for field, synonyms in FIELDS.items():
        if field in ignore:
            continue
        for synonym in synonyms:
            if synonym in names and names.index(synonym) not in index.values():
                index[field] = names.index(synonym)
                break
    own = [i for i, c in enumerate(cells) if c.strip().lower() == OWN_PER_SHARE]
    if own:  # optscan's own holdings file: cost_basis is per share
        index["cost_per_share"] = own[0]
        if index.get("cost_total") == own[0]:
            del index["cost_total"]
    withheld = frozenset(i for i, n in enumerate(names) if n in ACCOUNT_HEADERS)
    return Columns(index=index, withheld=withheld, header=tuple(names))


def is_header(cells: list[str]) -> bool:
    """Whether a row names a symbol column and a quantity column (a positions table's
    header)."""
    columns = map_columns(cells)
    return columns.has("symbol", "quantity")
