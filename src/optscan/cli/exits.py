"""Exit codes, and how a command fails: one message on stderr, one code, no traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CLOSED = 0, 1, 2, 3
"""0 ok; 1 the scan failed or no symbol could be scanned; 2 bad usage or config;
3 the market is closed and the scan was not forced."""


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``optscan: <message>`` (scrubbed of credentials) on stderr and exit."""
    from optscan.secrets import scrub

    click.echo(f"optscan: {scrub(message)}", err=True)
    sys.exit(code)


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
