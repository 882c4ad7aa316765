"""Built-in stock sources: ``watchlist`` (symbols in the config) and ``file``.

Sources hand back raw text; the core upper-cases, validates and de-duplicates it, so a
bad symbol is reported as ``skipped`` and the others still scan.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import Field

from optscan.hookspecs import hookimpl
from optscan.protocols import PluginConfig, StockSource

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
    column: str = Field(default="symbol", description="CSV column holding the symbols")


class FileSource(StockSource[FileConfig]):
    """A text file (one symbol a line, ``#`` comments) or a CSV with a ``symbol`` column."""

    name = "file"

    def symbols(self) -> Iterable[str]:
        cfg = self.config
        if not cfg.path:
            raise ValueError("sources.file.path is not set")
        path = Path(cfg.path).expanduser()
        text = path.read_text(encoding="utf-8-sig")
        lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
        lines = [ln for ln in lines if ln]
        if lines and ("," in lines[0] or path.suffix.lower() == ".csv"):
            return _csv_symbols(lines, cfg.column)
        return lines


def _csv_symbols(lines: list[str], column: str) -> list[str]:
    rows = list(csv.reader(lines))
    header = [h.strip().lower() for h in rows[0]]
    if column.lower() in header:
        index = header.index(column.lower())
        rows = rows[1:]
    else:
        index = 0
    return [row[index].strip() for row in rows if len(row) > index and row[index].strip()]


@hookimpl(trylast=True)
def register_stock_sources(register: Callable[[type[StockSource]], None]) -> None:
    register(WatchlistSource)
    register(FileSource)
