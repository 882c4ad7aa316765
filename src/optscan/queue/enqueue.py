"""Queueing a scan and waiting for it: what ``optscan enqueue`` and ``scan --queue`` do.

The job carries the request with every ``--set`` pair except connection settings,
secrets and a positions file's path (:func:`job_overrides`): workers resolve those from
their own config and environment. A positions file the client names is read by the
client and travels as its contents (:func:`carry_portfolio`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from optscan.queue.connection import (
    COORDINATE_SCAN,
    Keys,
    QueueError,
    ScanBusyError,
    coordinator_job_id,
    coordinator_kwargs,
)
from optscan.queue.lock import acquire_lock, release_lock
from optscan.queue.rq import JsonJob, make_queue, on_failure, rq_retry
from optscan.queue.store import TERMINAL_STATES, ScanStore
from optscan.secrets import is_secret, scrub_exception

if TYPE_CHECKING:
    from redis import Redis

    from optscan.config import QueueSection, Settings
    from optscan.models import ScanRequest


POSITIONS_FILE = "holdings.file"
"""The key naming a positions file: a path on the client, never sent in a job."""


def job_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The ``--set`` pairs that may travel inside a job, and the ones held back.

    Connection settings (``redis.*``) and anything that looks like a secret stay on
    this machine: a worker resolves those from its own config and environment. A table
    value (``--set 'sinks.notify={webhook_url="..."}'``) is held back when any key inside
    it looks like a secret. ``holdings.file`` (also inside a ``holdings`` table) is held
    back too: a path on this machine, often naming the account, that a worker may not
    read and Redis must not store (:func:`carry_portfolio` sends what it holds).
    """
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in _without_positions_file(overrides).items():
        if key == "redis" or key.startswith("redis.") or _holds_secret(key, value):
            dropped.append(key)
        else:
            kept[key] = value
    if names_positions_file(overrides):
        dropped.append(POSITIONS_FILE)
    return kept, dropped


def names_positions_file(overrides: dict[str, Any]) -> bool:
    """Whether the ``--set`` pairs name a positions file (``holdings.file``, or
    ``file`` in a ``holdings`` table), empty or not."""
    table = overrides.get("holdings")
    return POSITIONS_FILE in overrides or (isinstance(table, dict) and "file" in table)


def _without_positions_file(overrides: dict[str, Any]) -> dict[str, Any]:
    """The pairs without ``holdings.file``; a ``holdings`` table left empty is dropped
    (an empty table would replace the worker's whole ``[holdings]``)."""
    out = {k: v for k, v in overrides.items() if k != POSITIONS_FILE}
    if isinstance(out.get("holdings"), dict):
        table = {k: v for k, v in out.pop("holdings").items() if k != "file"}
        if table:
            out["holdings"] = table
    return out


def carry_portfolio(request: ScanRequest, settings: Settings) -> ScanRequest:
    """A request to queue whose ``--set`` pairs name a positions file (``--positions``
    sets ``holdings.file``): the file read here, with this machine's ``[holdings] lots``,
    on ``settings`` (the settings the overrides were applied to), carried as the
    request's ``portfolio`` and the path dropped from its overrides. Workers take that
    portfolio as the whole truth about the holdings (their own file and lots unread).
    Any other request is returned as it is: a worker reads ``holdings.file`` of its own
    config.

    The file is read as the embedded scan would read it
    (:func:`~optscan.scan.context.scan_portfolio`, by the strategy's type in
    ``settings``): a covered-call scan (or a strategy unknown here) raises
    :class:`~optscan.errors.InputFileError` when the file cannot be read as positions
    (exit 2); a put scan carries a warning instead, and nothing when ``--cash`` gives
    the cash.
    """
    if not names_positions_file(request.overrides):
        return request
    from optscan.scan.context import scan_portfolio

    strategy = settings.strategies.get(request.strategy or settings.scan.strategy)
    kind = strategy.type if strategy is not None else "cc"
    portfolio = scan_portfolio(settings, request, kind)
    return request.model_copy(
        update={"portfolio": portfolio, "overrides": _without_positions_file(request.overrides)}
    )


def _holds_secret(key: str, value: Any) -> bool:
    if key and is_secret(key):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(k, v) for k, v in value.items())
    if isinstance(value, list):
        return any(isinstance(v, dict) and _holds_secret("", v) for v in value)
    return False


def enqueue_scan(
    redis: Redis, request: ScanRequest, *, prefix: str, cfg: QueueSection
) -> tuple[str, str]:
    """Lock the profile, record the scan as queued and enqueue its coordinator.

    Returns ``(scan_id, job_id)``; raises :class:`ScanBusyError` when another scan of
    the profile holds the lock, :class:`QueueError` when the request names local
    folders or a positions file's path (:func:`carry_portfolio` first).
    """
    from optscan.scan import new_scan_id

    if request.record_dir or request.replay_dir:
        raise QueueError("--record/--replay name local folders; they cannot run on workers")
    if names_positions_file(request.overrides):
        raise QueueError(
            "holdings.file names a file on this machine; a queued scan carries its "
            "portfolio instead (carry_portfolio)"
        )
    scan_id = request.scan_id or new_scan_id()
    request = request.model_copy(update={"scan_id": scan_id})
    keys = Keys(prefix)
    holder = acquire_lock(
        redis, keys, request.profile, scan_id, cfg.lock_ttl_s, owner_ttl_s=cfg.state_ttl_s
    )
    if holder != scan_id:
        raise ScanBusyError(request.profile, holder)
    job_id = coordinator_job_id(scan_id)
    store = ScanStore(redis, keys, cfg)
    try:
        store.create(scan_id, request.profile, state="queued", job_id=job_id)
        make_queue(redis, cfg).enqueue_call(
            COORDINATE_SCAN,
            kwargs=coordinator_kwargs(request, prefix, cfg),
            job_id=job_id,
            timeout=cfg.coordinator_timeout_s,
            result_ttl=cfg.job_result_ttl_s,
            failure_ttl=cfg.job_failure_ttl_s,
            retry=rq_retry(cfg),
            on_failure=on_failure(),
            description=f"optscan scan {scan_id} (profile {request.profile}): coordinator",
            meta={"optscan": {"scan_id": scan_id, "role": "coordinator", "state": "queued"}},
        )
    except BaseException:
        release_lock(redis, keys, request.profile, scan_id)
        store.discard(scan_id)
        raise
    return scan_id, job_id


class WaitTimeout(QueueError):
    """A waited-for scan had not ended within the client's ``--timeout``."""

    def __init__(self, scan_id: str, state: str, timeout_s: float) -> None:
        super().__init__(
            f"scan {scan_id} is still {state} after {timeout_s:g} s (--timeout); it goes "
            f"on without this client: `optscan status --scan-id {scan_id}`"
        )
        self.scan_id = scan_id
        self.state = state


RECONNECT_S = 60.0
"""How long a waiting client keeps trying a Redis that stopped answering."""


def wait_for_scan(
    store: ScanStore,
    scan_id: str,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    poll_s: float = 0.25,
    timeout_s: float | None = None,
    reconnect_s: float = RECONNECT_S,
) -> dict[str, Any]:
    """Poll the scan's status until it reaches a terminal state; return that status.

    Raises :class:`WaitTimeout` after ``timeout_s`` (the scan goes on). A Redis that
    stops answering (restarted, a network blip) is tried again with backoff for up to
    ``reconnect_s`` seconds, then :class:`QueueError` names the scan.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    started = time.monotonic()
    state, down_since, delay = "queued", None, poll_s
    while True:
        now = time.monotonic()
        if timeout_s is not None and now - started > timeout_s:
            raise WaitTimeout(scan_id, state, timeout_s)
        try:
            status = store.status(scan_id)
            if on_progress is not None:
                on_progress(status)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            down_since = down_since or now
            if now - down_since > reconnect_s:
                raise QueueError(
                    f"lost Redis while waiting for scan {scan_id} (last seen {state}): "
                    f"{scrub_exception(exc, with_type=False)}; it may still be running: "
                    f"`optscan status --scan-id {scan_id}`"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        down_since, delay, state = None, poll_s, status["state"]
        if state in TERMINAL_STATES:
            return status
        time.sleep(poll_s)


def mirror_meta(redis: Redis, job_id: str, snapshot: dict[str, Any]) -> None:
    """Show a scan's progress in an RQ job's ``meta`` (rq-dashboard displays it)."""
    from rq.exceptions import NoSuchJobError

    try:
        job = JsonJob.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return
    job.meta["optscan"] = {**job.meta.get("optscan", {}), **snapshot}
    job.save_meta()
