"""What the queue commands share: a Redis connection (exit 1 when it is down), the
scan store, and the part of a request that may travel in a job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from optscan.cli.exits import EXIT_FAILED, fail

if TYPE_CHECKING:
    from optscan.cli.env import Env
    from optscan.models import ScanRequest
    from optscan.queue.store import ScanStore


def connect(env: Env) -> Any:
    """A Redis client for ``[redis] url`` (exit 1, password masked, if it is down)."""
    from optscan.queue.connection import QueueError
    from optscan.queue.connection import connect as connect_redis

    try:
        return connect_redis(env.settings)
    except QueueError as exc:
        fail(str(exc), EXIT_FAILED)


def open_store(env: Env) -> ScanStore:
    """The scan store on the configured Redis, prefix and ``[queue]`` section."""
    from optscan.queue.connection import Keys
    from optscan.queue.store import ScanStore

    return ScanStore(connect(env), Keys(env.settings.redis.prefix), env.settings.queue)


def job_request(request: ScanRequest) -> ScanRequest:
    """Hold back ``--set`` pairs that must not travel in a job (connection, secrets)."""
    from optscan.queue.enqueue import job_overrides

    kept, dropped = job_overrides(request.overrides)
    for key in dropped:
        click.echo(
            f"optscan: warning: --set {key} is not sent to workers; "
            "they use their own config and environment for it",
            err=True,
        )
    return request.model_copy(update={"overrides": kept}) if dropped else request
