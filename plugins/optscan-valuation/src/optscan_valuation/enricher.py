"""The ``valuation`` enricher: a badge on every opportunity, a summary on every symbol.

Opportunities get ``extras["valuation"] = {"intrinsic_value", "value_method",
"value_badge"}``; each symbol that was scanned gets ``extras["valuation"] =
{"intrinsic_value", "value_method", "price", "margin_of_safety_pct", "options",
"good", "any_good", "summary", "error"}`` (``options`` and ``good`` count its
opportunities in the result and the good ones). ``price`` and ``margin_of_safety_pct``
are against the scan's own underlying price (the symbol's chain, ``underlying_price``),
never the price the fundamentals carried: those may be cached for days (a queued scan
keeps them ``cache_ttl_s``, a replay's are as old as the recording); only EPS, FCF and
shares come from the fundamentals. Fundamentals come from the scan's own
provider through optscan's fetcher (rate limit, retries, record/replay, the cache);
a symbol without them is ``"n/a"`` and the scan goes on.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from optscan import Enricher, Enrichment
from optscan_valuation.config import ValuationConfig
from optscan_valuation.model import SymbolValue, badge, failed_value, value_of

if TYPE_CHECKING:
    from optscan import EnrichContext, Opportunity, SymbolOutcome


class ValuationEnricher(Enricher[ValuationConfig]):
    """Intrinsic value per symbol; good/high/low per option (:mod:`.model`)."""

    name = "valuation"

    def fundamentals_ttl(self) -> float | None:
        return self.config.cache_ttl_s or None

    def enrich(
        self,
        opportunities: list[Opportunity],
        symbols: list[SymbolOutcome],
        context: EnrichContext,
    ) -> Enrichment:
        wanted = [s.symbol for s in symbols if s.status == "ok"]
        wanted += [o.symbol for o in opportunities]
        fetched = context.fundamentals.get(wanted, ttl_s=self.config.cache_ttl_s or None)
        prices = {o.symbol: o.underlying_price for o in opportunities}
        prices |= {s.symbol: s.underlying_price for s in symbols if s.underlying_price}
        values: dict[str, SymbolValue] = {}
        for symbol, answer in fetched.items():
            if answer.fundamentals is None:
                values[symbol] = failed_value(symbol, answer.error, answer.reason)
            else:
                values[symbol] = value_of(
                    answer.fundamentals,
                    self.config,
                    price=prices.get(symbol),
                    price_source="chain",
                )
        facts: dict[str, dict[str, Any]] = {}
        good: Counter[str] = Counter()
        seen: Counter[str] = Counter()
        for o in opportunities:
            value = values[o.symbol]
            mark = badge(o.kind, o.strike, value.intrinsic_value)
            facts[o.contract_symbol] = {
                "intrinsic_value": _money(value.intrinsic_value),
                "value_method": value.method,
                "value_badge": mark,
            }
            seen[o.symbol] += 1
            good[o.symbol] += mark == "good"
        summaries = {
            s.symbol: _summary(values[s.symbol], seen[s.symbol], good[s.symbol])
            for s in symbols
            if s.symbol in values
        }
        return Enrichment(opportunities=facts, symbols=summaries)


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _summary(value: SymbolValue, options: int, good: int) -> dict[str, Any]:
    if value.intrinsic_value is None:
        text = f"no intrinsic value ({value.error})"
    else:
        found = f"{good} of {options} options good" if options else "no option found"
        text = (
            f"intrinsic value {value.intrinsic_value:,.2f} by {str(value.method).upper()}"
            + (f", price {value.price:,.2f}" if value.price is not None else "")
            + f": {found}"
        )
    return {
        "intrinsic_value": _money(value.intrinsic_value),
        "value_method": value.method,
        "price": value.price,
        "margin_of_safety_pct": _money(value.margin_of_safety_pct),
        "options": options,
        "good": good,
        "any_good": good > 0,
        "summary": text,
        "error": value.error,
    }
