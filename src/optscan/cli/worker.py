"""Long-running queue processes: ``optscan worker``, ``scheduler`` and ``dashboard``.

Plain RQ runs the same worker: ``rq worker --url "$OPTSCAN_REDIS_URL" --serializer
rq.serializers.JSONSerializer --worker-class optscan.queue.worker.OptscanWorker
--with-scheduler optscan`` (with optscan's default timings, which it keeps even though
``rq worker`` passes its own).
"""

from __future__ import annotations

from typing import Any

import click

from optscan.cli.connect import connect
from optscan.cli.env import Env, with_env


def _python_logging(level: str) -> None:
    """RQ logs through :mod:`logging`: into optscan's log (stderr, one format)."""
    from optscan.logs import route_standard_logging

    route_standard_logging(level)


def _pause(seconds: float, redis: Any, *, full: bool = False) -> bool:
    """Sleep ``seconds`` (or, after a Redis that was ``full``, until it has room again),
    then until Redis answers; False when SIGTERM or SIGINT came meanwhile (the worker
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


_HEALTHY_S = 60.0
"""A worker that ran this long before it failed starts again at once (backoff reset)."""


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


@click.command(short_help="Run an RQ worker for queued scans.")
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
      rq worker --url "$OPTSCAN_REDIS_URL" \\
        --serializer rq.serializers.JSONSerializer \\
        --worker-class optscan.queue.worker.OptscanWorker \\
        --with-scheduler optscan
    """
    import time

    from rq.exceptions import StopRequested

    from optscan.queue.warmup import warm_up
    from optscan.queue.worker import OptscanWorker
    from optscan.secrets import mask_url, scrub_exception

    env.for_service()
    level = env.service_log_level
    _python_logging(level)
    redis, cfg = connect(env), env.settings.queue
    names = [n.strip() for item in queue_names for n in item.split(",") if n.strip()]
    names = names or [cfg.name]
    warm_up(env.settings)
    url = mask_url(env.settings.redis.url.get_secret_value())
    click.echo(
        f"optscan: worker on {', '.join(names)} at {url}; Ctrl-C (SIGTERM) stops after the "
        "current job, twice stops now",
        err=True,
    )
    failures = 0
    while True:
        started = time.monotonic()
        instance = None
        try:
            instance = OptscanWorker(
                names,
                connection=redis,
                name=name,
                queue_config=cfg,
                prefix=env.settings.redis.prefix,
            )
            instance.work(
                burst=burst, with_scheduler=True, logging_level=level.upper(), max_jobs=max_jobs
            )
        except StopRequested:  # SIGTERM while a new worker was being set up
            return
        except Exception as exc:  # the worker outlives any Redis error
            # rq's loop quits on errors it does not handle (a full Redis refusing the
            # worker's own bookkeeping, Redis restarted under a job): start a new worker.
            what = "Redis error" if _is_redis_error(exc) else "unexpected error"
            problem = f"{what} ({scrub_exception(exc)})".replace("\n", " ")
        else:
            if burst or max_jobs:
                return
            problem = "its loop ended"
        if instance is not None and (
            instance._stop_requested or instance._shutdown_requested_date is not None
        ):
            return  # asked to stop (SIGTERM, Ctrl-C)
        failures = 1 if time.monotonic() - started > _HEALTHY_S else failures + 1
        delay = min(0.5 * 2 ** (failures - 1), 30.0)
        full = not _has_room(redis)  # then start again as soon as it has room
        again = f"in {delay:g} s" + (", or once Redis has room" if full else "")
        click.echo(f"optscan: worker stopped: {problem}; starting again {again}", err=True)
        _reap_children()
        if not _pause(delay, redis, full=full):
            return
        name = None  # the old name may still be registered until its key expires


def _is_redis_error(exc: BaseException) -> bool:
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError)


# --------------------------------------------------------------------------- schedules


@click.command(short_help="Run rq-scheduler for the timed scans.")
@click.option("--burst", is_flag=True, help="Enqueue what is due, then quit.")
@with_env
def scheduler(
    burst: bool,
    env: Env,
) -> None:
    """Run rq-scheduler (JSON jobs; cron read in New York time whatever TZ says)."""
    from optscan.queue.schedule import list_schedules, run_scheduler
    from optscan.secrets import mask_url

    env.for_service()
    _python_logging(env.service_log_level)
    redis, cfg = connect(env), env.settings.queue
    count = len(list_schedules(redis, cfg))
    url = mask_url(env.settings.redis.url.get_secret_value())
    click.echo(
        f"optscan: scheduler on {url}, queue {cfg.name}: {count} timed scan"
        f"{'s' if count != 1 else ''} (cron in New York time; `optscan schedule list`)",
        err=True,
    )
    run_scheduler(redis, cfg, burst=burst)


# --------------------------------------------------------------------------- dashboard


@click.command(short_help="rq-dashboard for the configured Redis.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=9181, show_default=True, type=int, help="Port to bind.")
@with_env
def dashboard(
    host: str,
    port: int,
    env: Env,
) -> None:
    """Serve rq-dashboard for the configured Redis (JSON jobs on every page), with
    waitress (a production WSGI server, not Flask's development server)."""
    from optscan.cli.serving import serve_wsgi
    from optscan.queue.dashboard import make_app
    from optscan.secrets import mask_url

    env.for_service()
    connect(env)  # fail early and clearly when Redis is down
    url, cfg = env.settings.redis.url.get_secret_value(), env.settings.dashboard
    hosts = [host, *cfg.allowed_hosts]
    app = make_app(url, queue_name=env.settings.queue.name, writes=cfg.writes, allowed_hosts=hosts)

    def announce(port: int) -> None:
        click.echo(f"optscan: rq-dashboard on http://{host}:{port}/ for {mask_url(url)}", err=True)
        click.echo(
            "optscan: write actions (delete, requeue, empty, compact) "
            + (
                "on, from the dashboard's own pages only"
                if cfg.writes
                else "off ([dashboard] writes)"
            ),
            err=True,
        )

    serve_wsgi(app, host, port, announce)


# --------------------------------------------------------------------------- lock
