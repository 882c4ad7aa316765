"""Exit codes, and how a command fails: one message on stderr, one code, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CLOSED = 0, 1, 2, 3
"""0 ok; 1 the scan failed or no symbol could be scanned; 2 bad usage or config;
3 the market is closed and the scan was not forced."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT), as shells report it (128 + 2)."""

MAX_MESSAGE = 500
"""A crash's message is cut to this many characters (one line)."""


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``optscan: <message>`` (scrubbed of credentials) on stderr and exit."""
    from optscan.secrets import scrub

    click.echo(f"optscan: {scrub(message)}", err=True)
    sys.exit(code)


def crash(exc: BaseException, args: Sequence[str] | None = None) -> NoReturn:
    """The last word on an error no command handled: one scrubbed line on stderr and
    exit 1 (2 for optscan's config and usage errors). With ``--log-level debug`` (or
    ``logging.level = "debug"`` from the environment) the traceback follows, scrubbed."""
    from optscan.errors import ConfigError, UsageError
    from optscan.secrets import scrub, scrub_exception

    if isinstance(exc, ConfigError | UsageError):
        text, code = str(exc), EXIT_USAGE
    else:
        text, code = f"error: {scrub_exception(exc)}", EXIT_FAILED
    text = " ".join(scrub(text).split())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 3] + "..."
    if _debugging(args):
        import traceback

        click.echo(scrub("".join(traceback.format_exception(exc))).rstrip(), err=True)
    elif code == EXIT_FAILED:
        text += " (--log-level debug shows the traceback)"
    click.echo(f"optscan: {text}", err=True)
    sys.exit(code)


def _debugging(args: Sequence[str] | None) -> bool:
    """Whether the command line or the environment asked for debug logs."""
    import os

    words = list(sys.argv[1:] if args is None else args)
    for i, word in enumerate(words):
        if word == "--log-level=debug" or (
            word == "--log-level" and i + 1 < len(words) and words[i + 1] == "debug"
        ):
            return True
    return os.environ.get("OPTSCAN_LOGGING__LEVEL", "").strip().strip("\"'") == "debug"


def redis_failure(exc: BaseException) -> str | None:
    """One line saying what a Redis error means for the user, or None when ``exc`` is
    not one (redis is never imported here: a command that raised one imported it)."""
    errors = sys.modules.get("redis.exceptions")
    if errors is None or not isinstance(exc, errors.RedisError):
        return None
    from optscan.secrets import scrub_exception

    detail = " ".join(scrub_exception(exc).split())
    if isinstance(exc, errors.OutOfMemoryError) or "used memory > 'maxmemory'" in detail:
        why = "Redis is full (maxmemory reached) and refused a write"
        hint = "free memory in Redis or raise its maxmemory, then try again"
    elif isinstance(exc, errors.ConnectionError | errors.TimeoutError):
        why, hint = "lost the connection to Redis", "check that Redis is up, then try again"
    elif isinstance(exc, errors.BusyLoadingError | errors.ReadOnlyError):
        why, hint = "Redis cannot take writes now (loading or a replica)", "try again shortly"
    else:
        why, hint = "Redis refused the command", "see the Redis server's log"
    return f"{why}: {detail}; {hint}"
