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
    """The stable JSON document: ``{"as_of", "provider", "positions": [...],
    "long_options_not_rolled": [...]}`` (the last added later; ``[]`` without a file)."""
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


def _folded(text: str, width: int) -> list[str]:
    """``text`` indented by two and folded to ``width`` (long paths broken too)."""
    import textwrap

    return textwrap.wrap(
        text, max(40, width), initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False
    )


FULL_WIDTH = 101
"""The rolls table's width with every column; narrower terminals drop the expiration
(the contract symbol holds it) and the breakeven, and say so."""


def rolls_lines(result: RollsResult, width: int | None = None) -> list[str]:
    """The rolls for people: two lines per position, then its rolls best first, in
    ``width`` columns (default: the terminal's; 80 fits)."""
    import shutil

    width = width or shutil.get_terminal_size((FULL_WIDTH, 24)).columns
    full = width >= FULL_WIDTH
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
            f"exp {p.expiration}" + (f"  [{', '.join(flags)}]" if flags else "")
        )
        lines.append(f"  buy back at {ask}  {price}")
        if p.status == "failed":
            lines += _folded(f"failed: {p.error}", width)
            continue
        if p.error:  # later expirations that did not load: said, never hidden
            lines += _folded(f"partial: {p.error}", width)
        if not p.rolls:
            among = " among the expirations that loaded" if p.error else ""
            lines.append(f"  no roll for a credit passes the [strategies.roll] screen{among}")
            continue
        lines.append(
            f"  {'Roll to':<20}"
            + (f"{'Exp':<12}" if full else "")
            + f"{'Strike':>8}{'Bid':>7}{'Credit':>7}{'Total $':>9}{'Days':>5}{'Ann.%':>7}"
            f"{'Delta':>7}" + (f"{'B/even':>9}" if full else "") + f"{'P(OTM)%':>8}"
        )
        for r in p.rolls:
            prob = "-" if r.prob_otm is None else f"{r.prob_otm * 100:.1f}"
            lines.append(
                f"  {r.contract_symbol:<20}"
                + (f"{r.expiration.isoformat():<12}" if full else "")
                + f"{r.strike:>8,.2f}{r.bid:>7,.2f}{r.net_credit:>7,.2f}"
                f"{r.net_credit_total:>9,.2f}{r.days_added:>5}{r.annualized_return:>7,.1f}"
                f"{r.delta:>+7.3f}" + (f"{r.breakeven:>9,.2f}" if full else "") + f"{prob:>8}"
            )
    if not full and any(p.rolls for p in result.positions):
        lines += [
            "",
            "left out for width: expiration (in the contract), breakeven",
            "(widen the terminal or use --format json)",
        ]
    return lines
