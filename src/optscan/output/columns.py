"""The columns an opportunity shows: JSON key, table header, priority, and format.

One list serves the table and CSV, so ``--columns`` takes the same JSON keys for both
and an unknown key is refused naming the ones there are. When a terminal is too narrow
for every default column, the table keeps the columns of lowest ``priority`` whole and
says which it left out.

Formats (the README's "Numbers and conventions"): money (per share, or ``premium`` and
``collateral`` per contract) and percents to 2 decimals; delta, IV and probabilities
to 4; counts as integers. The table shows IV and probabilities as percents.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
Kind = Literal["text", "money", "percent", "fraction", "delta", "count", "date", "seconds"]


@dataclass(frozen=True)
class Column:
    """One column: ``key`` is the opportunity's JSON key."""

    key: str
    header: str
    kind: Kind
    priority: int
    """Lower is more important: kept whole first when the terminal is narrow."""
    in_table: bool = True
    """Shown in the default table (every column is in the CSV)."""


COLUMNS: tuple[Column, ...] = (
    Column("symbol", "Symbol", "text", 1),
    Column("contract_symbol", "Contract", "text", 2),
    Column("strike", "Strike", "money", 3),
    Column("bid", "Bid", "money", 4),
    Column("annualized_return", "Ann.%", "percent", 5),
    Column("dte", "DTE", "count", 6),
    Column("delta", "Delta", "delta", 7),
    Column("underlying_price", "Price", "money", 8),
    Column("premium", "Prem $", "money", 9),
    Column("breakeven", "B/even", "money", 10),
    Column("collateral", "Collat $", "money", 11),
    Column("expiration", "Exp", "date", 12),
    Column("prob_otm", "P(OTM)%", "fraction", 13),
    Column("cushion_pct", "Cush.%", "percent", 14),
    Column("iv", "IV%", "fraction", 15),
    Column("open_interest", "OI", "count", 16),
    Column("kind", "Kind", "text", 17, in_table=False),
    Column("ask", "Ask", "money", 18, in_table=False),
    Column("mid", "Mid", "money", 19, in_table=False),
    Column("last", "Last", "money", 20, in_table=False),
    Column("spread_pct", "Spread%", "percent", 21, in_table=False),
    Column("volume", "Vol", "count", 22, in_table=False),
    Column("delta_source", "Delta src", "text", 23, in_table=False),
    Column("quote_time", "Quoted", "text", 24, in_table=False),
    Column("data_delay_s", "Delay s", "seconds", 25, in_table=False),
    Column("provider", "Provider", "text", 26, in_table=False),
    Column("extrinsic", "Extr.", "money", 27, in_table=False),
    Column("prob_profit", "P(prof)%", "fraction", 28, in_table=False),
    Column("if_called_return", "Called%", "percent", 29, in_table=False),
    Column("if_called_annualized", "Called ann.%", "percent", 30, in_table=False),
)
BY_KEY = {column.key: column for column in COLUMNS}
CSV_ORDER: tuple[str, ...] = (
    "symbol",
    "contract_symbol",
    "kind",
    "expiration",
    "dte",
    "strike",
    "bid",
    "ask",
    "mid",
    "premium",
    "iv",
    "delta",
    "delta_source",
    "annualized_return",
    "prob_otm",
    "cushion_pct",
    "breakeven",
    "collateral",
    "spread_pct",
    "volume",
    "open_interest",
    "underlying_price",
    "quote_time",
    "data_delay_s",
    "provider",
    "extrinsic",
    "prob_profit",
    "if_called_return",
    "if_called_annualized",
)
"""The CSV's columns, in 0.1.0's order (``premium`` added after ``mid``; the wheel's
numbers of 0.3 at the end)."""


def parse_columns(text: str | None) -> list[Column] | None:
    """``--columns a,b,c`` as columns in that order; ``ValueError`` naming an unknown
    key and listing the known ones. ``None`` (no option) means the defaults."""
    if text is None:
        return None
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise ValueError("no columns given")
    unknown = [k for k in keys if k not in BY_KEY and not is_fact_key(k)]
    if unknown:
        known = ", ".join(column.key for column in COLUMNS)
        raise ValueError(
            f"unknown column {unknown[0]!r}; one of: {known} (or an enricher's fact, "
            "<enricher>.<fact>)"
        )
    return [BY_KEY[k] if k in BY_KEY else fact_column(k) for k in dict.fromkeys(keys)]


BADGE = "_badge"
BADGE_PRIORITY = 6
"""A badge (a fact named ``*_badge``: a few letters) is kept whole in a narrow terminal
as long as the days to expiry are."""
EXTRAS_PRIORITY = 100
"""Enrichers' other facts come after the core's columns when a narrow terminal leaves
some out."""


def is_fact_key(key: str) -> bool:
    """Whether a column key names an enricher's fact (``<enricher>.<fact>``)."""
    name, dot, fact = key.partition(".")
    return bool(dot and name and fact)


def fact_column(key: str, value: Any = None, priority: int = EXTRAS_PRIORITY) -> Column:
    """The column of fact ``key``; its kind follows ``value`` (money for numbers)."""
    fact = key.partition(".")[2]
    kind: Kind = (
        "money" if isinstance(value, int | float) and not isinstance(value, bool) else "text"
    )
    if fact.endswith(BADGE):
        header = fact[: -len(BADGE)].replace("_", " ").capitalize()
        return Column(key, header, kind, min(priority, BADGE_PRIORITY), in_table=True)
    return Column(key, key, kind, priority, in_table=False)


def _missing(value: Any) -> bool:
    """None, or a number that is not finite (no cell shows ``nan`` or ``inf``)."""
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def csv_value(column: Column, value: Any) -> Any:
    """The value as the CSV writes it (rounded per the column's kind; '' for none)."""
    if _missing(value):
        return ""
    if column.kind in ("money", "percent"):
        return f"{value:.2f}"
    if column.kind in ("delta", "fraction"):
        return f"{value:.4f}"
    if column.kind in ("count", "seconds"):
        return str(round(value))
    return value


def cell(column: Column, value: Any) -> str:
    """The value as the table shows it (``-`` for none)."""
    if _missing(value):
        return "-"
    if column.kind == "money":
        return f"{value:,.2f}"
    if column.kind == "percent":
        return f"{value:,.1f}"
    if column.kind == "fraction":
        return f"{value * 100:.1f}"
    if column.kind == "delta":
        return f"{value:+.3f}"
    if column.kind in ("count", "seconds"):
        return f"{round(value):,}"
    if isinstance(value, dt.datetime):  # New York time for people, zone shown
        return value.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")
    return str(value)
