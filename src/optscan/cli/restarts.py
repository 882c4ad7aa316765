"""Long-running queue processes that outlive Redis: start again, with a backoff.

``optscan worker`` and ``optscan scheduler`` run loops from RQ and rq-scheduler that
quit on errors they do not handle (a full Redis refusing their own bookkeeping, a Redis
restarted or failed over under them). :func:`keep_running` starts such a loop again
after a pause (0.5 s doubling to 30 s; at once after a healthy run of
:data:`HEALTHY_S`), saying so in one line, until the process is asked to stop (SIGTERM,
SIGINT) or the loop ends on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

HEALTHY_S = 60.0
"""A loop that ran this long before it failed starts again at once (backoff reset)."""
MAX_PAUSE_S = 30.0
"""The longest pause before starting a failed loop again."""


def keep_running(what: str, redis: Any, run: Callable[[], str | None]) -> None:
    """Call ``run()`` until it returns ``None`` (its loop ended for good: done, or asked
    to stop); when it returns a problem (``"Redis error (...)"``), print
    ``optscan: <what> stopped: <problem>; starting again in N s`` and call it again after
    the pause (and once Redis answers; when Redis is full, as soon as it has room).
    SIGTERM or SIGINT during the pause ends this at once."""
    import time

    failures = 0
    while True:
        started = time.monotonic()
        problem = run()
        if problem is None:
            return
        failures = 1 if time.monotonic() - started > HEALTHY_S else failures + 1
        delay = min(0.5 * 2 ** (failures - 1), MAX_PAUSE_S)
        full = not _has_room(redis)  # then start again as soon as it has room
        again = f"in {delay:g} s" + (", or once Redis has room" if full else "")
        click.echo(f"optscan: {what} stopped: {problem}; starting again {again}", err=True)
        _reap_children()
        if not _pause(delay, redis, full=full):
            return


def problem_of(exc: BaseException) -> str:
    """One line for what stopped a loop: ``Redis error (...)`` or ``unexpected error
    (...)``, scrubbed of secrets."""
    from optscan.secrets import scrub_exception

    what = "Redis error" if is_redis_error(exc) else "unexpected error"
    return f"{what} ({scrub_exception(exc)})".replace("\n", " ")


def _pause(seconds: float, redis: Any, *, full: bool = False) -> bool:
    """Sleep ``seconds`` (or, after a Redis that was ``full``, until it has room again),
    then until Redis answers; False when SIGTERM or SIGINT came meanwhile (the process
    should stop, not start again)."""
    import signal
    import time

    from redis.exceptions import RedisError

    stop: list[int] = []
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda sig, _frame: stop.append(sig)) for sig in signals}

    def sleep(until: float) -> bool:
        while not stop and time.monotonic() < until:
            time.sleep(0.05)
        return not stop

    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not sleep(min(deadline, time.monotonic() + 0.5)):
                return False
            if full and _has_room(redis):
                break
        delay = 0.5
        while True:
            try:
                redis.ping()
                return True
            except RedisError:
                if not sleep(time.monotonic() + delay):
                    return False
                delay = min(delay * 2, 5.0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _has_room(redis: Any) -> bool:
    """Whether Redis is under its ``maxmemory`` (a read: allowed when it is full)."""
    from redis.exceptions import RedisError

    try:
        memory = redis.info("memory")
    except RedisError:
        return False
    limit = int(memory.get("maxmemory") or 0)
    return not limit or int(memory.get("used_memory") or 0) < limit


def _reap_children() -> None:
    """Collect work horses (and scheduler) of a worker that quit, so none stay zombies."""
    import os

    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def is_redis_error(exc: BaseException) -> bool:
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError)
