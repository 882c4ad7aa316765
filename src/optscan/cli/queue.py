"""Queue commands for scans: ``enqueue``, ``status``, ``results``, ``lock clear``.

Only click is imported at module level; redis and rq are imported inside the commands,
so ``optscan --help`` stays fast and never touches Redis.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from optscan.cli.connect import job_request, open_store
from optscan.cli.env import Env, with_env
from optscan.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, fail
from optscan.cli.options import (
    build_request,
    columns_option,
    format_option,
    key_part,
    scan_options,
    timeout_option,
)
from optscan.cli.output import EXIT_BY_STATE, print_doc, status_lines

if TYPE_CHECKING:
    from optscan.models import ScanRequest
    from optscan.output.columns import Column
    from optscan.queue.store import ScanStore


def enqueue_or_fail(env: Env, request: ScanRequest) -> tuple[ScanStore, str, str]:
    """Queue the scan: ``(store, scan_id, job_id)``; exit 1 when the profile is busy or
    Redis is down, 2 when the request cannot be queued or the positions file it names
    cannot be read here (it travels as its portfolio, never as its path:
    :func:`~optscan.queue.enqueue.carry_portfolio`)."""
    from optscan.errors import ConfigError
    from optscan.queue.connection import QueueError, ScanBusyError
    from optscan.queue.enqueue import carry_portfolio, enqueue_scan

    try:
        request = carry_portfolio(request, env.settings)
    except ConfigError as exc:
        fail(str(exc))
    store = open_store(env)
    try:
        scan_id, job_id = enqueue_scan(
            store.redis, job_request(request), prefix=store.keys.prefix, cfg=store.cfg
        )
    except ScanBusyError as exc:
        fail(str(exc), EXIT_FAILED)
    except QueueError as exc:
        fail(str(exc))
    return store, scan_id, job_id


def wait_or_fail(store: ScanStore, scan_id: str, timeout_s: float | None) -> dict[str, Any]:
    """Wait for a queued scan to end: its status. Exit 1 naming the scan when it has not
    ended within ``timeout_s`` or Redis stays unreachable (the scan itself goes on)."""
    from optscan.cli.progress import wait_with_progress
    from optscan.queue.connection import QueueError

    try:
        return wait_with_progress(store, scan_id, timeout_s=timeout_s)
    except QueueError as exc:
        fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:  # the scan is the workers': only the waiting stops
        fail(
            f"stopped waiting; scan {scan_id} goes on: `optscan status --scan-id {scan_id}`",
            EXIT_INTERRUPTED,
        )


@click.command(short_help="Queue a scan for RQ workers.")
@scan_options
@click.option("--wait", is_flag=True, help="Wait for the scan to end (progress bar on stderr).")
@timeout_option("--wait")
@format_option()
@with_env
def enqueue(
    wait: bool,
    timeout_s: float | None,
    fmt: str,
    env: Env,
    **opts: Any,
) -> None:
    """Queue a scan for RQ workers (`optscan worker`); print its scan_id and job_id.

    The job carries the request with every --set/--force override; workers resolve
    secrets from their own config. A positions file named with --set holdings.file is
    read here and sent as the stock and cash it holds, never as its path. One scan runs
    per profile at a time: a second one is refused (exit 1). With --wait, exit codes
    follow `optscan scan`.
    """
    if timeout_s is not None and not wait:
        fail("--timeout needs --wait")
    request = build_request(env, **opts)
    store, scan_id, job_id = enqueue_or_fail(env, request)
    doc: dict[str, Any] = {"scan_id": scan_id, "job_id": job_id}
    if not wait:
        print_doc(doc, fmt, [f"queued scan {scan_id} (job {job_id})"])
        return
    status = wait_or_fail(store, scan_id, timeout_s)
    doc.update(status)
    print_doc(doc, fmt, status_lines(status))
    sys.exit(EXIT_BY_STATE.get(status["state"], EXIT_FAILED))


@click.command(short_help="A queued scan's state and progress.")
@click.option(
    "--scan-id", default=None, callback=key_part, help="The scan (default: the latest one)."
)
@click.option("--profile", default=None, callback=key_part, help="Latest scan of this profile.")
@format_option()
@with_env
def status(
    scan_id: str | None,
    profile: str | None,
    fmt: str,
    env: Env,
) -> None:
    """A queued scan's state: queued, running, finished, failed, skipped or lost."""
    store = open_store(env)
    scan_id = scan_id or store.latest(profile)
    if scan_id is None:
        where = f" for profile {profile!r}" if profile else ""
        fail(f"no queued scan recorded{where} in Redis", EXIT_FAILED)
    from optscan.queue.worker import listening_workers

    doc = store.status(scan_id)
    doc["workers"] = listening_workers(store.redis, store.cfg.name)
    doc["queue"] = store.cfg.name
    print_doc(doc, fmt, status_lines(doc))
    if doc["state"] == "lost":  # an unknown id, an expired or flushed scan: not a success
        sys.exit(EXIT_FAILED)


# --------------------------------------------------------------------------- results


@click.command(short_help="A profile's latest result, from Redis.")
@click.option(
    "--profile", default=None, callback=key_part, help="Scan profile (default: scan.profile)."
)
@click.option(
    "--scan-id",
    default=None,
    callback=key_part,
    help="A given queued scan instead of the profile's latest result.",
)
@format_option(("table", "json", "csv"))
@columns_option
@with_env
def results(
    profile: str | None,
    scan_id: str | None,
    fmt: str,
    columns: list[Column] | None,
    env: Env,
) -> None:
    """The latest result of a profile, from Redis (kept redis.result_ttl_s), or a given
    queued scan's; JSON is the scan's own document."""
    from optscan.cli.output import print_result
    from optscan.default_plugins.redis_sink import read_result
    from optscan.models import ScanResult

    store = open_store(env)
    profile = profile or env.settings.scan.profile
    if scan_id is None:
        data = read_result(store.redis, store.keys.prefix, profile)
        missing = f"no results in Redis for profile {profile!r} (expired, or no scan yet)"
    else:
        data = store.result(scan_id)
        missing = f"no result in Redis for scan {scan_id} (expired, not ended, or unknown)"
    if data is None:
        fail(missing, EXIT_FAILED)
    if fmt == "json":
        from optscan.output.jsondoc import dumps

        click.echo(dumps(data, indent=2))
        return
    from pydantic import ValidationError

    body = {k: v for k, v in data.items() if k != "scanned_count"}
    try:
        result = ScanResult.model_validate(body)
    except ValidationError as exc:  # stored by another version, or damaged
        from optscan.config import format_validation_error

        fail(f"the stored result cannot be read: {format_validation_error(exc)}", EXIT_FAILED)
    print_result(result, fmt, columns)


@click.group(short_help="The per-profile scan lock.")
def lock() -> None:
    """The per-profile scan lock (one queued scan per profile at a time)."""


@lock.command("clear")
@click.option(
    "--profile", default=None, callback=key_part, help="Scan profile (default: scan.profile)."
)
@format_option()
@with_env
def lock_clear(
    profile: str | None,
    fmt: str,
    env: Env,
) -> None:
    """Drop a profile's scan lock (for operators, after a dead scan)."""
    from optscan.queue.lock import clear_lock

    store = open_store(env)
    profile = profile or env.settings.scan.profile
    holder = clear_lock(store.redis, store.keys, profile)
    message = f"cleared the lock of profile {profile!r}" + (
        f" (held by scan {holder})" if holder else " (it was not held)"
    )
    print_doc({"profile": profile, "cleared": holder}, fmt, [message])
