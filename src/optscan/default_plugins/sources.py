"""Built-in stock sources: ``watchlist`` (symbols in the config) and ``file`` (a
watchlist file, :mod:`optscan.watchlists`).

Sources hand back raw text; the core upper-cases, validates and de-duplicates it, so a
bad symbol is reported as ``skipped`` and the others still scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import Field

from optscan.hookspecs import hookimpl
from optscan.protocols import PluginConfig, StockSource
from optscan.watchlists import Watchlist, read_watchlist

DEFAULT_WATCHLIST = ["AAPL", "MSFT", "AMD", "NVDA", "SPY", "QQQ", "PYPL", "INTC", "F", "SOFI"]


class WatchlistConfig(PluginConfig):
    symbols: list[str] = Field(default_factory=lambda: list(DEFAULT_WATCHLIST))


class WatchlistSource(StockSource[WatchlistConfig]):
    """The symbols listed under ``[sources.watchlist] symbols``."""

    name = "watchlist"

    def symbols(self) -> Iterable[str]:
        return list(self.config.symbols)


class FileConfig(PluginConfig):
    path: str = ""
    column: str = Field(
        default="symbol", description="A CSV's symbol column (Symbol and Ticker always count)"
    )


class FileSource(StockSource[FileConfig]):
    """A watchlist file: plain text, a TradingView export, a Finviz or thinkorswim CSV,
    or any CSV with a symbol column (:mod:`optscan.watchlists`)."""

    name = "file"

    def read(self) -> Watchlist:
        """The file's symbols with their lines, and the lines skipped (``optscan
        symbols`` shows both). Raises ``InputFileError`` (exit 2) for a file that is no
        watchlist."""
        from optscan.errors import InputFileError
        from optscan.positions.text import file_label

        cfg = self.config
        if not cfg.path:
            raise ValueError("sources.file.path is not set")
        try:
            return read_watchlist(Path(cfg.path).expanduser(), cfg.column)
        except InputFileError as exc:  # a positions export named by its account: the
            # message reaches a queued or web scan's state in Redis, so mask its digits
            shown = f"sources.file.path {file_label(exc.path, folder=True)}"
            raise InputFileError(shown, exc.line, exc.detail) from None

    def symbols(self) -> Iterable[str]:
        return self.read().symbols


@hookimpl(trylast=True)
def register_stock_sources(register: Callable[[type[StockSource]], None]) -> None:
    register(WatchlistSource)
    register(FileSource)
