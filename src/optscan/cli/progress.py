"""Progress bars on stderr: for an embedded scan, driven by its lifecycle events, and
for a queued scan, driven by its status in Redis.

:class:`ProgressListener` is an ordinary event-hook plugin: the CLI registers an
instance for interactive scans, which shows how any listener (metrics, notifications)
plugs in.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from optscan.events import ScanEvent, ScanFinished, ScanStarted, SymbolFailed, SymbolScanned
from optscan.hookspecs import hookimpl

if TYPE_CHECKING:
    from optscan.queue.store import ScanStore


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
                TextColumn("{task.fields[last]}", markup=False),  # a symbol: never markup
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


def wait_with_progress(store: ScanStore, scan_id: str) -> dict[str, Any]:
    """Wait for a queued scan to end; a progress bar on stderr when it is a terminal."""
    from optscan.queue.enqueue import wait_for_scan

    if not sys.stderr.isatty():
        return wait_for_scan(store, scan_id)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.fields[state]}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=None, state="queued", failed=0)

        def show(status: dict[str, Any]) -> None:
            progress.update(
                task,
                total=status["symbols_total"] or None,
                completed=status["symbols_done"],
                state=status["state"],
                failed=status["symbols_failed"],
            )

        return wait_for_scan(store, scan_id, on_progress=show)
