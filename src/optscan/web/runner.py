"""Who runs the page's scans: in the server process (:class:`EmbeddedRunner`, the
default) or on RQ workers (:class:`QueueRunner`, ``optscan web --queue``).

Both answer the same questions, so the pages and the API never ask which one runs:

* :meth:`latest_json` - the profile's latest result as the scan's JSON document
  (the contract of ``optscan scan --format json``), or ``None`` before the first (it
  survives a restart: in Redis with ``--queue``, else in ``[web] latest_file``);
* :meth:`start` - start a scan for a request: its ``scan_id``; raises
  :class:`ScanRunning` while a scan of the profile runs;
* :meth:`status` - a scan's progress document (the keys of ``optscan status --format
  json``: ``scan_id``, ``state``, ``symbols_total``, ``symbols_done``,
  ``symbols_failed``, ``failures``, ``message``, ``error``...), or ``None`` when the
  scan is unknown;
* :meth:`running` - the scan id running now, if any.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

from optscan.events import ScanEvent, ScanFinished, ScanStarted, SymbolFailed, SymbolScanned
from optscan.hookspecs import hookimpl

if TYPE_CHECKING:
    from optscan.config import Settings
    from optscan.models import ScanRequest, ScanResult
    from optscan.plugins import PluginHost

TERMINAL_STATES = frozenset(("finished", "failed", "skipped", "lost"))
"""States a scan does not leave (the page stops following it)."""
KEPT_STATUSES = 100
"""How many past scans' progress the embedded runner remembers."""


class ScanRunning(Exception):
    """A scan of the profile is running: the API answers 409 naming it."""

    def __init__(self, profile: str, scan_id: str | None, message: str = "") -> None:
        self.profile, self.scan_id = profile, scan_id
        held = f" (scan {scan_id})" if scan_id else ""
        super().__init__(
            message or f"a scan of profile {profile!r} is running{held}; wait for it to end"
        )


class ScanRefused(Exception):
    """The request cannot run (unknown provider or strategy...): the API answers 400."""


class Runner(Protocol):
    mode: str
    profile: str

    def latest_json(self) -> str | None: ...
    def start(self, request: ScanRequest) -> str: ...
    def status(self, scan_id: str) -> dict[str, Any] | None: ...
    def running(self) -> str | None: ...


def _now() -> str:
    """Now, ISO 8601 with the New York offset (as every time optscan prints)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo("America/New_York")).isoformat(timespec="seconds")


def _status(scan_id: str, profile: str) -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "profile": profile,
        "state": "queued",
        "symbols_total": 0,
        "symbols_done": 0,
        "symbols_failed": 0,
        "failures": {},
        "symbols_skipped": 0,
        "skipped": {},
        "queued_at": _now(),
        "started_at": None,
        "finished_at": None,
        "message": None,
        "error": None,
    }


def check_request(request: ScanRequest, settings: Settings, host: PluginHost) -> None:
    """Refuse a request naming an unknown provider or strategy before it starts
    (:class:`ScanRefused`), rather than as a failed scan later."""
    provider = request.provider or settings.scan.provider
    if provider not in host.names("providers"):
        known = ", ".join(sorted(host.names("providers")))
        raise ScanRefused(f"unknown provider {provider!r} (known: {known})")
    strategy = request.strategy or settings.scan.strategy
    if strategy not in settings.strategies:
        known = ", ".join(sorted(settings.strategies))
        raise ScanRefused(f"unknown strategy {strategy!r} (known: {known})")


class EmbeddedRunner:
    """Scans in the server process, one at a time, on a background thread; progress
    comes from the scan's lifecycle events (this object is an event-hook plugin of the
    host it is given). The latest result is also kept in ``[web] latest_file``
    (:mod:`optscan.web.latest`): read here at start, written each time it changes."""

    mode = "embedded"

    def __init__(self, settings: Settings, host_factory: Any) -> None:
        from optscan.web.latest import LatestFile

        self.settings = settings
        self.profile = settings.scan.profile
        self._lock = threading.Lock()
        self._statuses: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._running: str | None = None
        self._file = LatestFile.for_settings(settings)
        self._latest: str | None = self._file.load() if self._file is not None else None
        self.host: PluginHost = host_factory([self])

    # -- the events of the scan this runner started
    @hookimpl
    def optscan_event(self, event: ScanEvent) -> None:
        with self._lock:
            status = self._statuses.get(event.scan_id)
            if status is None:
                return
            if isinstance(event, ScanStarted):
                status.update(state="running", symbols_total=event.symbols_total)
            elif isinstance(event, SymbolScanned):
                status["symbols_done"] = event.done
            elif isinstance(event, SymbolFailed):
                status["symbols_done"] = event.done
                if event.status == "skipped":  # an invalid symbol: as the result counts it
                    status["symbols_skipped"] += 1
                    status["skipped"][event.symbol] = event.error
                else:
                    status["symbols_failed"] += 1
                    status["failures"][event.symbol] = event.error
            elif isinstance(event, ScanFinished):
                status["symbols_done"] = status["symbols_total"]

    def latest_json(self) -> str | None:
        return self._latest

    def running(self) -> str | None:
        return self._running

    def status(self, scan_id: str) -> dict[str, Any] | None:
        with self._lock:
            status = self._statuses.get(scan_id)
            if status is None:
                return None
            return {
                **status,
                "failures": dict(status["failures"]),
                "skipped": dict(status["skipped"]),
            }

    def start(self, request: ScanRequest) -> str:
        from optscan.scan import new_scan_id

        check_request(request, self.settings, self.host)
        with self._lock:
            if self._running is not None:
                raise ScanRunning(self.profile, self._running)
            scan_id = request.scan_id or new_scan_id()
            self._running = scan_id
            self._statuses[scan_id] = _status(scan_id, request.profile)
            while len(self._statuses) > KEPT_STATUSES:
                self._statuses.popitem(last=False)
        request = request.model_copy(update={"scan_id": scan_id})
        thread = threading.Thread(
            target=self._run, args=(request,), name=f"optscan-web-scan-{scan_id}", daemon=True
        )
        thread.start()
        return scan_id

    def _run(self, request: ScanRequest) -> None:
        from optscan.logs import get_logger
        from optscan.scan import perform_scan
        from optscan.secrets import scrub_exception

        scan_id = str(request.scan_id)
        self._update(scan_id, started_at=_now(), state="running")
        try:
            result = perform_scan(request, self.host, settings=self.settings)
        except Exception as exc:  # one clear line on the page, never a traceback
            get_logger().warning("web_scan_failed", scan_id=scan_id, error=scrub_exception(exc))
            self._end(scan_id, state="failed", error=scrub_exception(exc, with_type=False))
            return
        self._publish(result)

    def _publish(self, result: ScanResult) -> None:
        from optscan.output.jsondoc import dumps

        text = dumps(result.to_json_dict())
        state = "skipped" if result.skipped else "finished" if result.success else "failed"
        with self._lock:
            # a scan skipped on a closed market found nothing: keep the last results
            replaced = not result.skipped or self._latest is None
            if replaced:
                self._latest = text
        if replaced and self._file is not None:  # before the scan ends: one scan at a time
            self._file.save(text)
        self._end(
            result.scan_id,
            state=state,
            message=result.message,
            error=None if result.success or result.skipped else result.message,
        )

    def _update(self, scan_id: str, **fields: Any) -> None:
        with self._lock:
            if scan_id in self._statuses:
                self._statuses[scan_id].update(fields)

    def _end(self, scan_id: str, **fields: Any) -> None:
        with self._lock:
            if scan_id in self._statuses:
                self._statuses[scan_id].update(fields, finished_at=_now())
            if self._running == scan_id:
                self._running = None


class QueueRunner:
    """Scans on RQ workers, as ``optscan enqueue`` queues them; progress and results
    come from the scan store in Redis. :meth:`status` adds ``workers`` (how many
    listen on the scan's queue) so the page can say when nobody will take the scan."""

    mode = "queue"

    def __init__(self, settings: Settings, redis: Any, host: PluginHost) -> None:
        from optscan.queue.connection import Keys
        from optscan.queue.store import ScanStore

        self.settings = settings
        self.profile = settings.scan.profile
        self.redis = redis
        self.host = host
        self.store = ScanStore(redis, Keys(settings.redis.prefix), settings.queue)

    def latest_json(self) -> str | None:
        from optscan.default_plugins.redis_sink import read_result
        from optscan.output.jsondoc import dumps

        data = read_result(self.redis, self.store.keys.prefix, self.profile)
        if data is None:
            return None
        data.pop("scanned_count", None)  # a Redis-side count, not in the scan's contract
        return dumps(data)

    def running(self) -> str | None:
        scan_id = self.store.latest(self.profile)
        if scan_id is None:
            return None
        state = self.store.get(scan_id).get("state")
        return scan_id if state in ("queued", "running") else None

    def status(self, scan_id: str) -> dict[str, Any] | None:
        from optscan.queue.worker import listening_workers

        if not self.store.exists(scan_id):
            return None
        doc = self.store.status(scan_id)
        doc["workers"] = listening_workers(self.redis, self.store.cfg.name)
        doc["queue"] = self.store.cfg.name
        return doc

    def start(self, request: ScanRequest) -> str:
        """Queue the scan like ``optscan enqueue``: a positions file the server's
        ``--set`` pairs name is read here and sent as its portfolio (never its path;
        :class:`ScanRefused` when it cannot be read)."""
        from optscan.errors import ConfigError
        from optscan.queue.connection import QueueError, ScanBusyError
        from optscan.queue.enqueue import carry_portfolio, enqueue_scan, job_overrides

        check_request(request, self.settings, self.host)
        try:
            request = carry_portfolio(request, self.settings)
        except ConfigError as exc:
            raise ScanRefused(str(exc)) from None
        kept, _dropped = job_overrides(request.overrides)
        request = request.model_copy(update={"overrides": kept})
        try:
            scan_id, _job_id = enqueue_scan(
                self.redis, request, prefix=self.store.keys.prefix, cfg=self.store.cfg
            )
        except ScanBusyError as exc:
            raise ScanRunning(request.profile, self.running(), str(exc)) from None
        except QueueError as exc:
            raise ScanRefused(str(exc)) from None
        return scan_id
