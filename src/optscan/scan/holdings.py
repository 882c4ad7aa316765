"""Stock held, for covered calls: ``[holdings] lots`` in the config and ``holdings.file``
(or ``scan --positions PATH``).

``holdings.file`` is a broker's positions export in any format
:func:`optscan.positions.read_positions` reads (Schwab, Fidelity, Interactive Brokers,
Tastytrade, E*Trade, or a CSV with symbol and quantity columns, optscan's own
``symbol,shares,cost_basis`` among them). Covered calls are written only against shares
not already covered: each short call in the file covers 100 shares. A file that cannot
be read as positions at all is an :class:`~optscan.errors.InputFileError` naming the
file and the line (exit 2; only covered-call scans need the file: a put scan reads it
for its cash line alone, and goes on with a warning when it cannot,
:func:`optscan.scan.context.portfolio_for_puts`); a row that cannot be read is skipped
and becomes one of the scan's warnings (the file's :func:`file_label`, the line and the
reason: never a row's text, which may hold an account).

A queued scan whose client named the file (``--positions``, ``--set holdings.file``)
does not send the path: the client reads the file and its own lots
(:func:`load_portfolio`) and the request carries the :class:`~optscan.models.Portfolio`;
the workers use it as the whole truth about the holdings, their own ``holdings.file``
and ``[holdings] lots`` unread, so nothing is counted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optscan.models import Portfolio
from optscan.positions.text import file_label

if TYPE_CHECKING:
    from pathlib import Path

    from optscan.config import Settings
    from optscan.positions import PositionsReading

CONTRACT_SIZE = 100
QUIET_REASONS = frozenset(
    {
        "preamble",
        "footer",
        "header",
        "account_section",
        "total",
        "other_section",
        "lot_detail",
        "pending_activity",
    }
)
"""Skipped lines that are not positions by design: not worth a scan warning."""


def load_portfolio(settings: Settings) -> Portfolio:
    """Read ``[holdings] lots`` and ``holdings.file`` (raises ``InputFileError``)."""
    from pathlib import Path

    rows: list[tuple[str, float, float | None]] = [
        (lot.symbol, lot.shares, lot.cost_basis) for lot in settings.holdings.lots
    ]
    short_calls: dict[str, int] = {}
    put_collateral = 0.0
    cash: float | None = None
    warnings: list[str] = []
    if settings.holdings.file:
        reading = read_holdings_file(Path(settings.holdings.file).expanduser(), settings)
        rows.extend((s.symbol, s.shares, s.cost_basis) for s in reading.stocks)
        for option in reading.options:
            if option.kind == "call" and option.quantity < 0:
                short_calls[option.symbol] = short_calls.get(option.symbol, 0) - option.quantity
            elif option.kind == "put" and option.quantity < 0:
                put_collateral += option.strike * CONTRACT_SIZE * -option.quantity
        cash = reading.cash
        shown = file_label(settings.holdings.file)
        warnings = [
            f"positions file {shown} (holdings.file): line {s.line} skipped ({s.reason})"
            for s in reading.skipped
            if s.reason not in QUIET_REASONS
        ]
    merged: dict[str, tuple[float, float | None]] = {}
    for symbol, shares, basis in rows:
        held, old = merged.get(symbol, (0.0, 0.0))
        total = held + shares
        if basis is None or old is None:
            merged[symbol] = (total, None)
        else:
            merged[symbol] = (total, (held * old + shares * basis) / total if total else 0.0)
    holdings = {s: (int(shares), basis) for s, (shares, basis) in merged.items()}
    coverable = {
        s: max(0, int((shares - CONTRACT_SIZE * short_calls.get(s, 0)) // CONTRACT_SIZE))
        for s, (shares, _basis) in merged.items()
    }
    return Portfolio(
        holdings=holdings,
        coverable=coverable,
        short_calls=short_calls,
        cash=cash,
        put_collateral=put_collateral,
        warnings=warnings,
    )


def read_holdings_file(path: Path, settings: Settings) -> PositionsReading:
    """``holdings.file`` read as positions (``holdings.broker`` forces the format)."""
    from optscan.errors import InputFileError
    from optscan.positions import read_positions

    try:
        return read_positions(path, settings.holdings.broker or None)
    except InputFileError as exc:  # name the key as well as the file (its account digits
        # masked: the message reaches a queued or web scan's state in Redis)
        shown = file_label(exc.path, folder=True)
        raise InputFileError(f"holdings.file {shown}", exc.line, exc.detail) from None


def load_holdings(settings: Settings) -> dict[str, tuple[int, float | None]]:
    """Stock held, by symbol: ``(shares, average cost basis per share)`` (lots of one
    symbol merged: shares add up, the basis is share-weighted; ``None`` when a row of
    the file gave none)."""
    return load_portfolio(settings).holdings
