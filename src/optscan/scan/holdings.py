"""Stock held, for covered calls: ``[holdings] lots`` in the config and ``holdings.file``.

Covered calls need 100 shares per contract, and the strike screen needs the cost basis
(per share), so a scan of the ``cc`` strategy reads them once, here. Every row of the
file is checked like a lot in the config (a known symbol, whole shares, a finite cost
basis within bounds): a bad row, a missing column or an unreadable file is a
:class:`~optscan.errors.ConfigError` naming ``holdings.file``, the file and the line,
never a silently switched-off cost-basis guard (a ``nan`` basis compares false with
every strike).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from optscan.errors import ConfigError
from optscan.symbols import normalize_symbol

if TYPE_CHECKING:
    from pathlib import Path

    from optscan.config import Settings

COLUMNS = ("symbol", "shares", "cost_basis")


def load_holdings(settings: Settings) -> dict[str, tuple[int, float]]:
    """Stock held, by symbol: ``(shares, average cost basis per share)``.

    Lots of one symbol are merged (shares add up, the basis is share-weighted).
    """
    from pathlib import Path

    lots = [(lot.symbol, lot.shares, lot.cost_basis) for lot in settings.holdings.lots]
    if settings.holdings.file:
        lots.extend(_read_file(Path(settings.holdings.file).expanduser()))
    holdings: dict[str, tuple[int, float]] = {}
    for symbol, shares, basis in lots:
        held, old_basis = holdings.get(symbol, (0, 0.0))
        total = held + shares
        avg = (held * old_basis + shares * basis) / total if total else 0.0
        holdings[symbol] = (total, avg)
    return holdings


def _read_file(path: Path) -> list[tuple[str, int, float]]:
    """The lots of a ``symbol,shares,cost_basis`` CSV file, each row checked."""
    import csv

    where = f"holdings.file {str(path)!r}"
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise ConfigError(
                    f"{where}: no column {missing[0]!r} (the header must name {', '.join(COLUMNS)})"
                )
            return [_row(row, where, reader.line_num) for row in reader]
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except csv.Error as exc:
        raise ConfigError(f"{where}: not a CSV file: {exc}") from None


def _row(row: dict[str | None, str | None], where: str, line: int) -> tuple[str, int, float]:
    from pydantic import ValidationError

    from optscan.config import HoldingsLot

    try:
        symbol = normalize_symbol(row.get("symbol") or "")
        shares = _number(row.get("shares"), "shares")
        if not shares.is_integer():
            raise ValueError(f"shares: {shares:g} is not a whole number of shares")
        basis = _number(row.get("cost_basis"), "cost_basis")
        lot = HoldingsLot(symbol=symbol, shares=int(shares), cost_basis=basis)
    except ValueError as exc:  # ValidationError is one
        if isinstance(exc, ValidationError):
            from optscan.config import format_validation_error

            exc = ValueError(format_validation_error(exc))
        raise ConfigError(f"{where}, line {line}: {exc}") from None
    return lot.symbol, lot.shares, lot.cost_basis


def _number(text: str | None, column: str) -> float:
    """A finite number from a CSV cell (``nan``, ``inf`` and blanks refused)."""
    try:
        value = float((text or "").strip())
    except ValueError:
        raise ValueError(f"{column}: {str(text)[:24]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{column}: {text!r} is not a finite number")
    return value
