"""Stock held, for covered calls: ``[holdings] lots`` in the config and ``holdings.file``.

Covered calls need 100 shares per contract, and the strike screen needs the cost basis
(per share), so a scan of the ``cc`` strategy reads them once, here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optscan.symbols import normalize_symbol

if TYPE_CHECKING:
    from optscan.config import Settings


def load_holdings(settings: Settings) -> dict[str, tuple[int, float]]:
    """Stock held, by symbol: ``(shares, average cost basis per share)``.

    Lots of one symbol are merged (shares add up, the basis is share-weighted).
    """
    import csv
    from pathlib import Path

    lots: list[tuple[str, int, float]] = [
        (lot.symbol, lot.shares, lot.cost_basis) for lot in settings.holdings.lots
    ]
    if settings.holdings.file:
        path = Path(settings.holdings.file).expanduser()
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                lots.append((row["symbol"], int(float(row["shares"])), float(row["cost_basis"])))
    holdings: dict[str, tuple[int, float]] = {}
    for symbol, shares, basis in lots:
        symbol = normalize_symbol(symbol)
        held, old_basis = holdings.get(symbol, (0, 0.0))
        total = held + shares
        avg = (held * old_basis + shares * basis) / total if total else 0.0
        holdings[symbol] = (total, avg)
    return holdings
