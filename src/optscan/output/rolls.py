"""``optscan rolls`` output: the JSON document, CSV rows (one per roll) and a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from optscan.rolls.models import RollsResult

NEW_YORK = ZoneInfo("America/New_York")
POSITION_KEYS = (
    "contract_symbol",
    "symbol",
    "kind",
    "strike",
    "expiration",
    "quantity",
    "average_price",
    "close_ask",
    "status",
    "error",
    "itm",
    "early_assignment_risk",
)
ROLL_KEYS = (
    "contract_symbol",
    "expiration",
    "strike",
    "bid",
    "net_credit",
    "net_credit_total",
    "days_added",
    "annualized_return",
    "delta",
    "breakeven",
    "prob_otm",
)


def rolls_json(result: RollsResult) -> dict[str, Any]:
    """The stable JSON document: ``{"as_of", "provider", "positions": [...]}``."""
    return result.model_dump(mode="json")


def rolls_csv_rows(result: RollsResult) -> list[dict[str, Any]]:
    """One row per roll: the position's keys prefixed ``position_`` (its contract as
    ``position``), then the roll's JSON keys; a position without rolls is one row with
    the roll's cells empty."""
    rows = []
    for position in result.model_dump(mode="json")["positions"]:
        head = {
            ("position" if k == "contract_symbol" else f"position_{k}"): position[k]
            for k in POSITION_KEYS
        }
        for roll in position["rolls"] or [None]:
            rows.append({**head, **{k: (roll or {}).get(k) for k in ROLL_KEYS}})
    return rows


def rolls_lines(result: RollsResult) -> list[str]:
    """The rolls for people: a line per position, then its rolls best first."""
    when = result.as_of.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")
    lines = [f"optscan rolls · {result.provider} · as of {when}"]
    for p in result.positions:
        flags = [
            flag
            for flag, on in (("ITM", p.itm), ("EARLY ASSIGNMENT RISK", p.early_assignment_risk))
            if on
        ]
        price = (
            "average price unknown (breakeven assumes 0)"
            if p.average_price is None
            else (f"sold at {p.average_price:,.2f}")
        )
        ask = "-" if p.close_ask is None else f"{p.close_ask:,.2f}"
        lines.append("")
        lines.append(
            f"{p.contract_symbol}  short {p.quantity}  {p.kind} {p.strike:,.2f} "
            f"exp {p.expiration}  buy back at {ask}  {price}"
            + (f"  [{', '.join(flags)}]" if flags else "")
        )
        if p.status == "failed":
            lines.append(f"  failed: {p.error}")
            continue
        if not p.rolls:
            lines.append("  no roll for a credit passes the [strategies.roll] screen")
            continue
        header = (
            f"  {'Roll to':<22}{'Exp':<12}{'Strike':>9}{'Bid':>8}{'Credit':>8}"
            f"{'Total $':>10}{'Days+':>6}{'Ann.%':>8}{'Delta':>8}{'B/even':>9}{'P(OTM)%':>8}"
        )
        lines.append(header)
        for r in p.rolls:
            prob = "-" if r.prob_otm is None else f"{r.prob_otm * 100:.1f}"
            lines.append(
                f"  {r.contract_symbol:<22}{r.expiration.isoformat():<12}{r.strike:>9,.2f}"
                f"{r.bid:>8,.2f}{r.net_credit:>8,.2f}{r.net_credit_total:>10,.2f}"
                f"{r.days_added:>6}{r.annualized_return:>8,.1f}{r.delta:>+8.3f}"
                f"{r.breakeven:>9,.2f}{prob:>8}"
            )
    return lines
