"""Enrichers' facts (``extras``) in the table and the CSV.

A fact is addressed as ``<enricher>.<fact>`` (``valuation.value_badge``) wherever a
column key is taken (``--columns``). The CSV's default columns end with every scalar
fact the opportunities carry; the table's default ones with each fact whose name ends
in ``_badge`` (a short word meant for a table; header: the name without ``_badge``,
``Value`` for ``value_badge``). Under the opportunities, the table prints each symbol's
``summary`` fact (``valuation AAPL: intrinsic value ...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from optscan.output.columns import EXTRAS_PRIORITY, Column, fact_column

if TYPE_CHECKING:
    from optscan.models import Opportunity, SymbolOutcome


def fact_columns(opportunities: list[Opportunity]) -> list[Column]:
    """A column per scalar fact the opportunities carry, in the order first met."""
    found: dict[str, Any] = {}
    for opportunity in opportunities:
        for name, facts in opportunity.extras.items():
            for fact, value in facts.items():
                if not isinstance(value, dict | list):
                    key = f"{name}.{fact}"
                    if found.get(key) is None:
                        found[key] = value
    return [fact_column(k, v, EXTRAS_PRIORITY + i) for i, (k, v) in enumerate(found.items())]


def value_of(data: dict[str, Any], key: str) -> Any:
    """The value of column ``key`` in an opportunity's dumped ``data``."""
    if key in data or "." not in key:
        return data.get(key)
    name, _, fact = key.partition(".")
    facts = (data.get("extras") or {}).get(name) or {}
    return facts.get(fact) if isinstance(facts, dict) else None


def summaries(outcomes: list[SymbolOutcome]) -> list[str]:
    """``<enricher> <SYMBOL>: <summary>`` for each symbol's ``summary`` fact."""
    lines = []
    for outcome in outcomes:
        for name, facts in outcome.extras.items():
            summary = facts.get("summary")
            if isinstance(summary, str) and summary:
                lines.append(f"{name} {outcome.symbol}: {summary}")
    return lines
