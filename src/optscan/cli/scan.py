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
@click.option(
    "--positions",
    "positions",
    default=None,
    metavar="PATH",
    help="Your broker's positions export (Schwab, Fidelity, IBKR, Tastytrade, E*Trade or "
    "a CSV; check it with `optscan positions PATH`): covered calls write on its shares "
    "not already covered by short calls, and its cash (less its short puts' collateral) "
    "is the --cash selection's default. Replaces holdings.file (and, with --queue, "
    "the workers' holdings: the file is read here and its holdings sent, not its path).",
)
@scan_options
@timeout_option("--queue")
@format_option(("table", "json", "csv"))
@columns_option
@with_env
def scan(
    on_queue: bool,
    positions: str | None,
    timeout_s: float | None,
    fmt: str,
    columns: list[Column] | None,
    env: Env,
    **opts: Any,
) -> None:
    """Scan option chains and print the opportunities (in this process: no Redis needed).

    Covered calls (--strategy cc) are written on the stock you hold: [holdings] lots in
    the config, plus holdings.file or --positions PATH, a positions export downloaded
    from your broker (see `optscan positions`). Each short call already in the file
    covers 100 shares. With --queue the file and lots are read here and the workers get
    what they hold (never the file's path).
    """
    if timeout_s is not None and not on_queue:
        fail("--timeout needs --queue")
    if positions is not None:
        use_positions(env, positions)
    request = build_request(env, **opts)
    if on_queue:
        _scan_on_queue(request, fmt, columns, env, timeout_s)
    _scan_here(request, fmt, columns, env)


def use_positions(env: Env, path: str) -> None:
    """``--positions PATH``: the file replaces ``holdings.file`` (exit 2 if it is
    unreadable). A queued scan sends the workers the portfolio read from it, with this
    config's lots, and drops the path from the request
    (:func:`optscan.queue.enqueue.carry_portfolio`)."""
    from pathlib import Path

    from optscan.config import load_settings
    from optscan.errors import ConfigError
    from optscan.positions import read_positions

    file = Path(path).expanduser()
    try:
        read_positions(file, env.settings.holdings.broker or None)  # fail early, exit 2
        env.overrides["holdings.file"] = str(file.resolve())
        env.settings = load_settings(env.config_path, env.overrides)
    except ConfigError as exc:
        fail(f"--positions: {exc}")


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
