"""Logging with structlog, always to stderr (stdout carries only command output).

Readable key=value lines on a terminal, JSON lines with ``--log-format json``. Every
log line inside a scan carries its ``scan_id`` (bound with structlog's context vars).
A processor masks secret-named fields and scrubs every string of credentials
(:mod:`optscan.secrets`), as a last line of defence: code should never log secrets in
the first place.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from optscan.secrets import is_secret, is_url_key, mask_url, scrub

NEW_YORK = ZoneInfo("America/New_York")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _new_york_timestamp(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """ISO 8601 in New York time with its offset: the one convention of optscan's output."""
    event["timestamp"] = dt.datetime.now(NEW_YORK).isoformat(timespec="milliseconds")
    return event


def _mask_processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str) and is_url_key(key):
            event[key] = scrub(mask_url(value))
        elif value and is_secret(key):
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = scrub(value)
        elif isinstance(value, BaseException):
            event[key] = scrub(repr(value))
    return event


class StderrLogger:
    """Writes each rendered line to ``sys.stderr`` as it is *now*.

    structlog's ``PrintLogger`` keeps the stream it was given; when that was a
    temporary one (a test runner's capture, click's ``CliRunner``) and it gets closed,
    every later log call would raise. Looking the stream up per line avoids that, and a
    stream that cannot be written (closed, broken pipe) costs the line, never the scan.
    """

    _lock = threading.Lock()

    def msg(self, message: str) -> None:
        stream = sys.stderr
        if stream is None:  # pythonw, or a daemon that closed it
            return
        try:
            with self._lock:
                print(message, file=stream, flush=True)
        except (ValueError, OSError):
            pass  # a closed or broken stderr must not fail the work being logged

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


_STDERR_LOGGER = StderrLogger()


def _stderr_logger(*_args: Any) -> StderrLogger:
    return _STDERR_LOGGER


def configure_logging(level: str = "warning", fmt: str = "console") -> None:
    """Set structlog up once per process (idempotent)."""
    renderer: Any
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _new_york_timestamp,
            # tracebacks become text first, so the mask processor scrubs them too
            structlog.processors.format_exc_info,
            _mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.WARNING)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def get_logger(**initial: Any) -> Any:
    """optscan's logger; sets up stderr logging first if nobody configured structlog."""
    if not structlog.is_configured():
        configure_logging()
    return structlog.get_logger("optscan", **initial)


class _ToDebug(logging.Handler):
    """Hands a library's log records to optscan's log at debug level."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            get_logger().debug("library_log", library=record.name, message=record.getMessage())
        except Exception:  # a log line must never fail the work being logged
            self.handleError(record)


def quiet_library(name: str) -> None:
    """Send library ``name``'s own log (yfinance warns about cookies and crumbs on every
    failed request) to optscan's log at debug level instead of straight to stderr: optscan
    reports the outcome once, in its own words (idempotent)."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, _ToDebug) for h in logger.handlers):
        logger.addHandler(_ToDebug())
    logger.propagate = False


class _ToStructlog(logging.Handler):
    """Hands a standard-library log record (rq's, rq-scheduler's) to optscan's log at
    its own level, so a worker's lines share one format (``--log-format json``), one
    clock and the secret scrubbing."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            get_logger().log(record.levelno, record.getMessage(), logger=record.name)
        except Exception:  # a log line must never fail the work being logged
            self.handleError(record)


def route_standard_logging(level: str) -> None:
    """Send the standard library's logging (RQ logs through it) to optscan's log."""
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _ToStructlog)]
    root.addHandler(_ToStructlog())
    root.setLevel(_LEVELS.get(level, logging.WARNING))
