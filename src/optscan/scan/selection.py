"""A scan's ``selection`` (``scan --cash``): the best cash-secured puts for the cash.

Cash comes from the request (``--cash``), else the positions file's cash less the
collateral of its short puts (``holdings.file`` or ``scan --positions``:
:attr:`~optscan.scan.holdings.Portfolio.free_cash`, read where the scan runs, so a queued
scan's aggregator reads it too), else ``[selection] cash``; with none of them there is
no selection. The candidates
are the scan's put opportunities (after its ranking cuts); the embedded scan and a
queued scan's aggregator both call :func:`scan_selection` from
:func:`~optscan.scan.result.assemble_result`, so they agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optscan.models import Opportunity, Selection
    from optscan.scan.context import ScanContext


def scan_selection(ctx: ScanContext, opportunities: list[Opportunity]) -> Selection | None:
    """The selection for the scan's cash, or ``None`` when no cash is given. An instance
    too large to solve exactly is said in the result's warnings (no selection)."""
    cash = ctx.request.cash
    portfolio = ctx.portfolio
    if cash is None and portfolio.free_cash is not None:
        cash = portfolio.free_cash
        if portfolio.cash is not None and portfolio.put_collateral > portfolio.cash:
            ctx.warnings.append(
                f"selection: the positions file's cash ({portfolio.cash:,.2f}) is less than "
                f"the collateral of its short puts ({portfolio.put_collateral:,.2f}): "
                "no cash is free for new puts (give --cash to choose anyway)"
            )
    if cash is None:
        cash = ctx.settings.selection.cash
    if cash is None:
        return None
    from optscan.analytics.selection import Candidate, SelectionTooLarge, select_puts
    from optscan.models import SelectedContract, Selection

    candidates = [
        Candidate(
            contract_symbol=o.contract_symbol,
            symbol=o.symbol,
            strike=o.strike,
            bid=o.bid,
            dte=o.dte,
        )
        for o in opportunities
        if o.kind == "put"
    ]
    if not candidates and ctx.strategy.type != "csp":
        ctx.warnings.append(
            f"selection: it chooses cash-secured puts, and this {ctx.strategy.type} scan "
            "has none (scan with a csp strategy)"
        )
    try:
        chosen = select_puts(candidates, cash, ctx.settings.selection.max_contracts_per_symbol)
    except SelectionTooLarge as exc:
        ctx.warnings.append(f"no selection: {exc}")
        return None
    return Selection(
        cash=cash,
        collateral_used=chosen.collateral_used,
        premium_total=chosen.premium_total,
        annualized_income=chosen.annualized_income,
        contracts=[
            SelectedContract(contract_symbol=c.contract_symbol, quantity=1)
            for c in chosen.contracts
        ],
    )
