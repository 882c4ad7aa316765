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
from optscan.symbols import printable

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
            self._progress.update(self._task, completed=event.done, last=printable(event.symbol))
        elif isinstance(event, ScanFinished):
            self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def wait_with_progress(
    store: ScanStore, scan_id: str, *, timeout_s: float | None = None
) -> dict[str, Any]:
    """Wait for a queued scan to end. On a terminal, a progress bar on stderr (state,
    symbols done, failures, time left); anywhere, a warning when no worker listens on
    the scan's queue, so a wait never looks like a hang. Raises what
    :func:`~optscan.queue.enqueue.wait_for_scan` raises (``timeout_s``, Redis gone)."""
    import time

    from optscan.queue.enqueue import wait_for_scan
    from optscan.queue.worker import listening_workers

    queue = store.cfg.name
    nobody = f"no worker is listening on queue {queue!r}: start one with `optscan worker`"
    checked = {"at": 0.0, "workers": 1, "warned": False}

    def workers() -> int:
        if time.monotonic() - checked["at"] > 2.0:
            checked["workers"] = listening_workers(store.redis, queue)
            checked["at"] = time.monotonic()
        return int(checked["workers"])

    if not sys.stderr.isatty():

        def warn(status: dict[str, Any]) -> None:
            if not checked["warned"] and status["state"] in ("queued", "running") and not workers():
                checked["warned"] = True
                print(f"optscan: waiting for scan {scan_id}: {nobody}", file=sys.stderr)

        return wait_for_scan(store, scan_id, on_progress=warn, timeout_s=timeout_s)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.fields[state]}", style="bold", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed", markup=False),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}", style="yellow", markup=False),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=None, state="queued", failed=0, note="")

        def show(status: dict[str, Any]) -> None:
            waiting = status["state"] in ("queued", "running") and not workers()
            if waiting and not checked["warned"]:  # the whole hint once, above the bar
                checked["warned"] = True
                progress.console.print(f"optscan: {nobody}", style="yellow", markup=False)
            progress.update(
                task,
                total=status["symbols_total"] or None,
                completed=status["symbols_done"],
                state=status["state"],
                failed=status["symbols_failed"],
                note="no worker" if waiting else "",
            )

        return wait_for_scan(store, scan_id, on_progress=show, timeout_s=timeout_s)
