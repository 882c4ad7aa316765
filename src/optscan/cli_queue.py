"""Queue commands: ``enqueue``, ``status``, ``results``, ``worker``, ``schedule``,
``scheduler``, ``dashboard``, ``lock clear``, and ``scan --queue``.

They attach themselves to :data:`optscan.cli.cli` when ``optscan.cli`` imports this
module. Only click is imported here at module level; redis, rq, rq-scheduler and Flask
are imported inside the commands, so ``optscan --help`` stays fast and never touches
Redis.

Plain RQ works too: ``rq worker --url "$OPTSCAN_REDIS_URL" --serializer
rq.serializers.JSONSerializer --worker-class optscan.queueing.OptscanWorker
--with-scheduler optscan`` runs the same worker (with optscan's default timings, which
it keeps even though ``rq worker`` passes its own) as ``optscan worker``.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any

import click

from optscan.cli import (
    EXIT_CLOSED,
    EXIT_FAILED,
    EXIT_OK,
    Env,
    _fail,
    build_request,
    cli,
    finish_scan,
    passes_env,
    scan_options,
    with_env,
)

_EXIT_BY_STATE = {
    "finished": EXIT_OK,
    "failed": EXIT_FAILED,
    "lost": EXIT_FAILED,
    "skipped": EXIT_CLOSED,
}


def _key_part(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Scan ids and profiles become parts of Redis keys: refuse anything else than
    1-64 letters, digits, '_' or '-' before any key is read or written (exit 2)."""
    from optscan.models import SCAN_ID_PATTERN

    if value is not None and not SCAN_ID_PATTERN.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not valid: expected 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def _format_option(choices: tuple[str, ...] = ("table", "json")) -> Any:
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=choices[0], help="Output on stdout."
    )


def _connect(env: Env) -> tuple[Any, Any, str]:
    """Redis client, queue config and key prefix from the settings (exit 1 if down)."""
    from optscan.queueing import QueueConfig, QueueError, connect

    try:
        return (
            connect(env.settings),
            QueueConfig.from_settings(env.settings),
            env.settings.redis.prefix,
        )
    except QueueError as exc:
        _fail(str(exc), EXIT_FAILED)


def _store(env: Env) -> Any:
    from optscan.queueing import Keys, ScanStore

    redis, cfg, prefix = _connect(env)
    return ScanStore(redis, Keys(prefix), cfg)


def _job_request(request: Any) -> Any:
    """Hold back ``--set`` pairs that must not travel in a job (connection, secrets)."""
    from optscan.queueing import job_overrides

    kept, dropped = job_overrides(request.overrides)
    for key in dropped:
        click.echo(
            f"optscan: warning: --set {key} is not sent to workers; "
            "they use their own config and environment for it",
            err=True,
        )
    return request.model_copy(update={"overrides": kept}) if dropped else request


def _print_doc(doc: dict[str, Any], fmt: str, lines: list[str]) -> None:
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    else:
        for line in lines:
            click.echo(line)


# --------------------------------------------------------------------------- enqueue


def _enqueue(env: Env, request: Any) -> tuple[Any, str, str]:
    from optscan.queueing import QueueError, ScanBusyError, enqueue_scan

    store = _store(env)
    try:
        scan_id, job_id = enqueue_scan(
            store.redis, _job_request(request), prefix=store.keys.prefix, cfg=store.cfg
        )
    except ScanBusyError as exc:
        _fail(str(exc), EXIT_FAILED)
    except QueueError as exc:
        _fail(str(exc))
    return store, scan_id, job_id


def _wait(store: Any, scan_id: str) -> dict[str, Any]:
    """Wait for the scan to end; a rich progress bar on stderr when it is a terminal."""
    from optscan.queueing import wait_for_scan

    if not sys.stderr.isatty():
        return wait_for_scan(store, scan_id)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("[bold]{task.fields[state]}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=None, state="queued", failed=0)

        def show(status: dict[str, Any]) -> None:
            progress.update(
                task,
                total=status["symbols_total"] or None,
                completed=status["symbols_done"],
                state=status["state"],
                failed=status["symbols_failed"],
            )

        return wait_for_scan(store, scan_id, on_progress=show)


@cli.command()
@scan_options
@click.option("--wait", is_flag=True, help="Wait for the scan to end (progress bar on stderr).")
@_format_option()
@with_env
def enqueue(
    wait: bool,
    fmt: str,
    env: Env,
    **opts: Any,
) -> None:
    """Queue a scan for RQ workers (`optscan worker`); print its scan_id and job_id.

    The job carries the request with every --set/--force override; workers resolve
    secrets from their own config. One scan runs per profile at a time: a second one
    is refused (exit 1). With --wait, exit codes follow `optscan scan`.
    """
    request = build_request(env, **opts)
    store, scan_id, job_id = _enqueue(env, request)
    doc: dict[str, Any] = {"scan_id": scan_id, "job_id": job_id}
    if not wait:
        _print_doc(doc, fmt, [f"queued scan {scan_id} (job {job_id})"])
        return
    status = _wait(store, scan_id)
    doc.update(status)
    _print_doc(doc, fmt, _status_lines(status))
    sys.exit(_EXIT_BY_STATE.get(status["state"], EXIT_FAILED))


def _scan_on_queue(
    fmt: str,
    env: Env,
    **opts: Any,
) -> None:
    """``optscan scan --queue``: enqueue, wait, and print like the embedded scan."""
    from optscan.models import ScanResult

    request = build_request(env, **opts)
    store, scan_id, _job_id = _enqueue(env, request)
    status = _wait(store, scan_id)
    data = store.result(scan_id)
    if data is None:
        reason = status.get("error") or status.get("message") or "no result"
        _fail(f"scan {scan_id} ended {status['state']}: {reason}", EXIT_FAILED)
    data.pop("scanned_count", None)
    finish_scan(ScanResult.model_validate(data), fmt)


def _add_queue_flag_to_scan() -> None:
    """Give ``optscan scan`` a ``--queue`` flag without touching its code."""
    command = cli.commands["scan"]
    if any(param.name == "queue" for param in command.params):
        return
    command.params.insert(
        0,
        click.Option(
            ["--queue"],
            is_flag=True,
            help="Run the scan on RQ workers (enqueue + wait); needs Redis and `optscan worker`.",
        ),
    )
    original = command.callback
    assert original is not None

    @functools.wraps(original)
    def callback(*args: Any, queue: bool = False, **kwargs: Any) -> Any:
        if not queue:
            return original(*args, **kwargs)
        return passes_env(_scan_on_queue)(**kwargs)

    command.callback = callback


_add_queue_flag_to_scan()


# --------------------------------------------------------------------------- status


def _status_lines(status: dict[str, Any]) -> list[str]:
    lines = [
        f"scan {status['scan_id']} (profile {status.get('profile') or '?'}): {status['state']}",
        f"symbols: {status['symbols_done']}/{status['symbols_total']} done, "
        f"{status['symbols_failed']} failed",
    ]
    for key in ("started_at", "finished_at", "message", "error"):
        if status.get(key):
            lines.append(f"{key.replace('_', ' ')}: {status[key]}")
    for symbol, reason in status.get("failures", {}).items():
        lines.append(f"  {symbol}: {reason}")
    return lines


@cli.command()
@click.option(
    "--scan-id", default=None, callback=_key_part, help="The scan (default: the latest one)."
)
@click.option("--profile", default=None, callback=_key_part, help="Latest scan of this profile.")
@_format_option()
@with_env
def status(
    scan_id: str | None,
    profile: str | None,
    fmt: str,
    env: Env,
) -> None:
    """A queued scan's state: queued, running, finished, failed, skipped or lost."""
    store = _store(env)
    scan_id = scan_id or store.latest(profile)
    if scan_id is None:
        where = f" for profile {profile!r}" if profile else ""
        _fail(f"no queued scan recorded{where} in Redis", EXIT_FAILED)
    doc = store.status(scan_id)
    _print_doc(doc, fmt, _status_lines(doc))


# --------------------------------------------------------------------------- results


@cli.command()
@click.option(
    "--profile", default=None, callback=_key_part, help="Scan profile (default: scan.profile)."
)
@click.option(
    "--scan-id",
    default=None,
    callback=_key_part,
    help="A given queued scan instead of the latest.",
)
@_format_option()
@with_env
def results(
    profile: str | None,
    scan_id: str | None,
    fmt: str,
    env: Env,
) -> None:
    """The latest results of a profile from Redis (the `redis` sink, else the last
    queued scan); JSON is the scan's own format."""
    from optscan.redis_sink import read_result

    store = _store(env)
    profile = profile or env.settings.scan.profile
    data = None
    given_id = scan_id
    if scan_id is None:
        data = read_result(store.redis, store.keys.prefix, profile)
        scan_id = None if data is not None else store.latest(profile)
    if data is None and scan_id is not None:
        data = store.result(scan_id)
        if data is not None and given_id is None and _age_s(data) > env.settings.redis.result_ttl_s:
            data = None  # results live redis.result_ttl_s, like the redis sink's
    if data is None:
        _fail(f"no results in Redis for profile {profile!r} (expired, or no scan yet)", EXIT_FAILED)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    from optscan.models import ScanResult
    from optscan.render import print_table

    body = {k: v for k, v in data.items() if k != "scanned_count"}
    print_table(ScanResult.model_validate(body), file=sys.stdout)


def _age_s(result: dict[str, Any]) -> float:
    import datetime as dt

    finished = dt.datetime.fromisoformat(result["finished_at"])
    return (dt.datetime.now(dt.UTC) - finished).total_seconds()


# --------------------------------------------------------------------------- worker


def _python_logging(level: str) -> None:
    """RQ logs through :mod:`logging`; send it to stderr (stdout is for output)."""
    import logging

    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def _wait_for_redis(redis: Any) -> None:
    import time

    from redis.exceptions import RedisError

    delay = 0.5
    while True:
        time.sleep(delay)
        try:
            redis.ping()
            return
        except RedisError:
            delay = min(delay * 2, 5.0)


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


@cli.command()
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.option(
    "--queues",
    "queue_names",
    multiple=True,
    help="Queues to work on (repeatable or comma-separated; default: queue.name).",
)
@click.option("--name", default=None, help="Worker name (default: random).")
@click.option("--max-jobs", type=int, default=None, help="Quit after this many jobs.")
@with_env
def worker(
    burst: bool,
    queue_names: tuple[str, ...],
    name: str | None,
    max_jobs: int | None,
    env: Env,
) -> None:
    """Run an RQ worker for queued scans (JSON jobs, retries, its scheduler on).

    \b
    Plain RQ runs the same worker:
      rq worker --url "$OPTSCAN_REDIS_URL" --serializer rq.serializers.JSONSerializer \\
        --worker-class optscan.queueing.OptscanWorker --with-scheduler optscan
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from optscan.queueing import OptscanWorker, display_url, warm_up

    level = env.log_level
    _python_logging(level)
    redis, cfg, _prefix = _connect(env)
    names = [n.strip() for item in queue_names for n in item.split(",") if n.strip()]
    names = names or [cfg.name]
    warm_up(env.settings)
    url = display_url(env.settings.redis.url.get_secret_value())
    click.echo(f"optscan: worker on {', '.join(names)} at {url}", err=True)
    while True:
        instance = OptscanWorker(names, connection=redis, name=name, queue_config=cfg)
        try:
            instance.work(
                burst=burst, with_scheduler=True, logging_level=level.upper(), max_jobs=max_jobs
            )
        except (RedisConnectionError, RedisTimeoutError) as exc:
            click.echo(f"optscan: worker lost Redis ({exc}); reconnecting", err=True)
        else:
            stopping = instance._stop_requested or instance._shutdown_requested_date is not None
            if burst or max_jobs or stopping:
                return
            click.echo("optscan: worker loop ended unexpectedly; restarting", err=True)
        # rq's loop quits on errors it does not handle (Redis restarted under a job).
        # Start a new worker once Redis answers: the jobs it held are re-run as lost.
        _reap_children()
        _wait_for_redis(redis)
        name = None  # the old name may still be registered until its key expires


# --------------------------------------------------------------------------- schedules


@cli.group()
def schedule() -> None:
    """Periodic scans with rq-scheduler (cron strings in America/New_York time)."""


@schedule.command("add")
@click.option("--cron", required=True, help='Cron string in New York time, e.g. "*/30 * * * 1-5".')
@scan_options
@_format_option()
@with_env
def schedule_add(
    cron: str,
    fmt: str,
    env: Env,
    **opts: Any,
) -> None:
    """Add a schedule; the same profile, cron and options twice keep one schedule.

    Every scheduled scan checks the market calendar itself and is skipped cleanly
    when the market is closed. Run `optscan scheduler` to fire them.
    """
    from optscan.queueing import QueueError, add_schedule, list_schedules

    request = _job_request(build_request(env, **opts))
    redis, cfg, prefix = _connect(env)
    try:
        doc = add_schedule(redis, request, cron, prefix=prefix, cfg=cfg)
    except QueueError as exc:
        _fail(str(exc))
    for item in list_schedules(redis, cfg):
        if item["id"] == doc["id"]:
            doc.update(
                next_run_utc=item["next_run_utc"], next_run_new_york=item["next_run_new_york"]
            )
    verb = "replaced" if doc["replaced"] else "added"
    _print_doc(
        doc, fmt, [f"{verb} {doc['id']}: {doc['cron']} (New York), profile {doc['profile']}"]
    )


@schedule.command("list")
@_format_option()
@with_env
def schedule_list(
    fmt: str,
    env: Env,
) -> None:
    """List optscan's schedules with their next run."""
    from optscan.queueing import list_schedules

    redis, cfg, _prefix = _connect(env)
    items = list_schedules(redis, cfg)
    lines = [
        f"{s['id']}  {s['cron']:<20}  profile {s['profile']}  next {s['next_run_new_york']}"
        for s in items
    ] or ["no schedules"]
    _print_doc({"schedules": items}, fmt, lines)


@schedule.command("remove")
@click.argument("schedule_id")
@with_env
def schedule_remove(
    schedule_id: str,
    env: Env,
) -> None:
    """Remove a schedule by id (see `optscan schedule list`)."""
    from optscan.queueing import remove_schedule

    redis, cfg, _prefix = _connect(env)
    if not remove_schedule(redis, cfg, schedule_id):
        _fail(f"no schedule {schedule_id!r}", EXIT_FAILED)
    click.echo(f"removed {schedule_id}", err=True)


@cli.command()
@click.option("--burst", is_flag=True, help="Enqueue what is due, then quit.")
@with_env
def scheduler(
    burst: bool,
    env: Env,
) -> None:
    """Run rq-scheduler (JSON jobs; cron read in New York time whatever TZ says)."""
    from optscan.queueing import run_scheduler

    level = env.log_level
    _python_logging(level)
    redis, cfg, _prefix = _connect(env)
    run_scheduler(redis, cfg, burst=burst)


# --------------------------------------------------------------------------- dashboard


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=9181, show_default=True, type=int, help="Port to bind.")
@with_env
def dashboard(
    host: str,
    port: int,
    env: Env,
) -> None:
    """Serve rq-dashboard for the configured Redis (JSON jobs on every page)."""
    from optscan.dashboard import make_app
    from optscan.queueing import display_url

    _connect(env)  # fail early and clearly when Redis is down
    url = env.settings.redis.url.get_secret_value()
    app = make_app(url)
    click.echo(f"optscan: rq-dashboard on http://{host}:{port}/ for {display_url(url)}", err=True)
    app.run(host=host, port=port, threaded=True)


# --------------------------------------------------------------------------- lock


@cli.group()
def lock() -> None:
    """The per-profile scan lock (one queued scan per profile at a time)."""


@lock.command("clear")
@click.option(
    "--profile", default=None, callback=_key_part, help="Scan profile (default: scan.profile)."
)
@with_env
def lock_clear(
    profile: str | None,
    env: Env,
) -> None:
    """Drop a profile's scan lock (for operators, after a dead scan)."""
    from optscan.queueing import clear_lock

    store = _store(env)
    profile = profile or env.settings.scan.profile
    holder = clear_lock(store.redis, store.keys, profile)
    message = f"cleared the lock of profile {profile!r}" + (
        f" (held by scan {holder})" if holder else " (it was not held)"
    )
    click.echo(json.dumps({"profile": profile, "cleared": holder}))
    click.echo(f"optscan: {message}", err=True)
