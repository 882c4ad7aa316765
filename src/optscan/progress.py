"""A rich progress bar on stderr, driven by scan lifecycle events.

It is an ordinary event-hook plugin: the CLI registers an instance for interactive
scans, which shows how any listener (metrics, notifications) plugs in.
"""

from __future__ import annotations

from typing import Any

from optscan.events import ScanEvent, ScanFinished, ScanStarted, SymbolFailed, SymbolScanned
from optscan.hookspecs import hookimpl


class ProgressListener:
    """Shows ``done/total`` while a scan runs; silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    @hookimpl
    def optscan_event(self, event: ScanEvent) -> None:
        if isinstance(event, ScanStarted):
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("[bold]scanning[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[last]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("scan", total=event.symbols_total, last="")
        elif isinstance(event, SymbolScanned | SymbolFailed) and self._progress is not None:
            self._progress.update(self._task, completed=event.done, last=event.symbol)
        elif isinstance(event, ScanFinished):
            self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
