"""The broker formats: how each is recognised, and where its positions table is.

Every format but the Interactive Brokers activity statement
(:mod:`optscan.positions.ibkr_activity`) is one CSV table, maybe after a preamble
(Schwab's title line, E*Trade's account summary) and before a footer (Fidelity's
disclaimers). A format is recognised from its own header and preamble:

* ``schwab`` - a ``"Positions for account ..."`` title, or a header with ``Security
  Type`` and ``Qty (Quantity)``/``Mkt Val (Market Value)``; cost basis is the total.
* ``fidelity`` - a header starting ``Account Number,Account Name,Symbol`` (the older
  layout: ``Account Name/Number,Symbol,...,Cost Basis,Cost Basis Per Share,Type``); per-share
  ``Average Cost Basis``; money-market rows (``SPAXX**``) are cash; its ``Type`` column
  is the account type (Cash/Margin), not the asset.
* ``ibkr-flex`` - a Flex query's Open Positions CSV (``ClientAccountID``, ``AssetClass``,
  ``Conid``, ``CostBasisPrice``...), with or without ``HEADER``/``DATA`` line codes.
* ``tastytrade`` - the Positions page's export (``Account,Symbol,Type,Quantity,Exp
  Date,DTE,Strike Price,Call/Put,...,Trade Price``).
* ``etrade`` - E*Trade's PortfolioDownload (``Account Summary``, ``View Summary``, a
  header with ``Price Paid $``).
* ``generic`` - any CSV whose header names a symbol column (Symbol, Ticker) and a
  quantity column (Quantity, Qty, Shares); cost basis from ``Average Cost``/``Avg
  Price``/``Price Paid``/``cost_basis`` (per share) or ``Cost Basis`` (total).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from optscan.positions.columns import Columns, is_header, map_columns, normalize_header
from optscan.positions.text import Line

DISPLAY = {
    "schwab": "Schwab",
    "fidelity": "Fidelity",
    "ibkr-activity": "Interactive Brokers activity statement",
    "ibkr-flex": "Interactive Brokers Flex (Open Positions)",
    "tastytrade": "Tastytrade",
    "etrade": "E*Trade",
    "generic": "positions",
}


@dataclass(frozen=True)
class Layout:
    """A table format: how its header looks and which columns to ignore."""

    name: str
    header: Callable[[set[str]], bool]
    preamble: Callable[[str], bool] = lambda _text: False
    ignore: frozenset[str] = frozenset()
    line_codes: bool = False
    expects: str = ""


def _names(line: Line) -> set[str]:
    return {normalize_header(c) for c in line.cells}


LAYOUTS: dict[str, Layout] = {
    "ibkr-flex": Layout(
        "ibkr-flex",
        header=lambda n: (
            "symbol" in n
            and "quantity" in n
            and bool(
                n & {"clientaccountid", "conid", "costbasisprice", "assetclass", "levelofdetail"}
            )
        ),
        line_codes=True,
        expects="a Flex Open Positions header (ClientAccountID, AssetClass, Symbol, Quantity, "
        "CostBasisPrice...)",
    ),
    "schwab": Layout(
        "schwab",
        header=lambda n: (
            "symbol" in n
            and bool(n & {"qty quantity", "quantity", "qty"})
            and bool(n & {"security type", "asset type", "mkt val market value", "qty quantity"})
        ),
        preamble=lambda text: text.lower().lstrip('"').startswith("positions for "),
        expects='a header "Symbol","Description","Qty (Quantity)",...,"Cost Basis",...,'
        '"Security Type" after the "Positions for account ..." title',
    ),
    "fidelity": Layout(
        "fidelity",
        header=lambda n: (
            {"symbol", "quantity"} <= n
            and bool(n & {"account number", "account name/number"})
            and bool(
                n
                & {
                    "current value",
                    "average cost basis",
                    "cost basis total",
                    "cost basis per share",
                }
            )
        ),
        ignore=frozenset({"type"}),
        expects="a header Account Number,Account Name,Symbol,Description,Quantity,...,"
        "Average Cost Basis",
    ),
    "tastytrade": Layout(
        "tastytrade",
        header=lambda n: (
            {"symbol", "type", "quantity"} <= n
            and bool(n & {"exp date", "dte", "call/put", "trade price"})
        ),
        expects="a header Account,Symbol,Type,Quantity,Exp Date,DTE,Strike Price,Call/Put,"
        "...,Trade Price",
    ),
    "etrade": Layout(
        "etrade",
        header=lambda n: "symbol" in n and bool(n & {"price paid", "qty"}) and "last price" in n,
        preamble=lambda text: (
            text.strip().strip('"').lower()
            in ("account summary", "view summary - all positions", "view summary")
        ),
        expects="a header Symbol,Last Price $,Change $,Change %,Quantity,Price Paid $,...",
    ),
    "generic": Layout(
        "generic",
        header=lambda n: False,  # any header with a symbol and a quantity column
        expects="a header naming a symbol column (Symbol or Ticker) and a quantity column "
        "(Quantity, Qty or Shares)",
    ),
}
DETECT_ORDER = ("ibkr-flex", "schwab", "fidelity", "tastytrade", "etrade")


def strip_code(line: Line) -> Line:
    """A Flex line without its ``HEADER``/``DATA`` code (other lines unchanged)."""
    if line.cells and line.cells[0].strip().upper() in ("HEADER", "DATA"):
        return Line(line.number, line.raw, line.cells[1:])
    return line


HEADER_WITHIN = 40
"""The header is among the first lines (after at most a title block or an account
summary): a file whose first 40 lines name no positions columns is no export."""


def find_header(lines: list[Line], layout: Layout) -> int | None:
    """The index of the layout's header line (the generic one: the first line naming a
    symbol and a quantity column) among the first :data:`HEADER_WITHIN` lines."""
    for i, line in enumerate(lines[:HEADER_WITHIN]):
        cells = strip_code(line).cells if layout.line_codes else line.cells
        if not is_header(cells):
            continue
        if layout.name == "generic" or layout.header(_names(Line(0, "", cells))):
            return i
    return None


def detect(lines: list[Line]) -> str | None:
    """The table format the lines are written in (``None``: no positions header)."""
    generic = find_header(lines, LAYOUTS["generic"]) is not None
    for name in DETECT_ORDER:
        layout = LAYOUTS[name]
        marked = any(layout.preamble(line.raw) for line in lines[:20] if line.raw.strip())
        if (marked and generic) or find_header(lines, layout) is not None:
            return name
    return "generic" if generic else None


def columns_of(line: Line, layout: Layout) -> Columns:
    cells = strip_code(line).cells if layout.line_codes else line.cells
    return map_columns(cells, layout.ignore)
