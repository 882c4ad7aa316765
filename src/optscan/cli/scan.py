"""``optscan scan``: a scan in this process, or on RQ workers with ``--queue``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from optscan.cli.env import Env, with_env
from optscan.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, fail
from optscan.cli.options import (
    build_request,
    columns_option,
    format_option,
    scan_options,
    timeout_option,
)
from optscan.cli.output import exit_with_result

if TYPE_CHECKING:
    from optscan.models import ScanRequest
    from optscan.output.columns import Column


@click.command(short_help="Scan option chains for opportunities.")
@click.option(
    "--queue",
    "on_queue",
    is_flag=True,
    help="Run the scan on RQ workers (enqueue + wait); needs Redis and `optscan worker`.",
)
@scan_options
@click.option(
    "--positions",
    "positions_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="A broker's positions file: its cash, less its short puts' collateral, is the "
    "cash of the selection when --cash is not given (default: holdings.file).",
)
@timeout_option("--queue")
@format_option(("table", "json", "csv"))
@columns_option
@with_env
def scan(
    on_queue: bool,
    positions_path: str | None,
    timeout_s: float | None,
    fmt: str,
    columns: list[Column] | None,
    env: Env,
    **opts: Any,
) -> None:
    """Scan option chains and print the opportunities (in this process: no Redis needed)."""
    if timeout_s is not None and not on_queue:
        fail("--timeout needs --queue")
    request = build_request(env, **opts)
    if request.cash is None:
        from optscan.cli.cash import cash_from_positions_file

        cash = cash_from_positions_file(env, positions_path)
        if cash is not None:
            request = request.model_copy(update={"cash": cash})
    if on_queue:
        _scan_on_queue(request, fmt, columns, env, timeout_s)
    _scan_here(request, fmt, columns, env)


def _scan_here(request: ScanRequest, fmt: str, columns: list[Column] | None, env: Env) -> None:
    from optscan.errors import ConfigError, OptscanError, UsageError
    from optscan.scan import perform_scan

    listeners = []
    if sys.stderr.isatty():  # whatever the format: stdout stays the result's own
        from optscan.cli.progress import ProgressListener

        listeners.append(ProgressListener())
    host = env.host(plugins=listeners)
    try:
        result = perform_scan(request, host, settings=env.settings)
    except (UsageError, ConfigError) as exc:
        fail(str(exc))
    except OptscanError as exc:
        fail(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        fail("interrupted: the scan stopped, nothing was published", EXIT_INTERRUPTED)
    finally:
        for listener in listeners:
            listener.close()
    exit_with_result(result, fmt, columns)


def _scan_on_queue(
    request: ScanRequest,
    fmt: str,
    columns: list[Column] | None,
    env: Env,
    timeout_s: float | None,
) -> None:
    """Enqueue, wait, and print like the embedded scan."""
    from redis.exceptions import RedisError

    from optscan.cli.queue import enqueue_or_fail, wait_or_fail
    from optscan.models import ScanResult

    store, scan_id, _job_id = enqueue_or_fail(env, request)
    status = wait_or_fail(store, scan_id, timeout_s)
    try:
        data = store.result(scan_id)
    except RedisError as exc:
        fail(f"scan {scan_id} ended {status['state']}, but its result could not be read: {exc}")
    if data is None:
        reason = status.get("error") or status.get("message") or "no result"
        fail(f"scan {scan_id} ended {status['state']}: {reason}", EXIT_FAILED)
    data.pop("scanned_count", None)
    exit_with_result(ScanResult.model_validate(data), fmt, columns)
