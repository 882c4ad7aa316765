"""Long-running queue processes: ``optscan worker``, ``scheduler`` and ``dashboard``.

Plain RQ runs the same worker: ``rq worker --url "$OPTSCAN_REDIS_URL" --serializer
rq.serializers.JSONSerializer --worker-class optscan.queue.worker.OptscanWorker
--with-scheduler optscan`` (with optscan's default timings, which it keeps even though
``rq worker`` passes its own).
"""

from __future__ import annotations

import click

from optscan.cli.connect import connect
from optscan.cli.env import Env, with_env


def _python_logging(level: str) -> None:
    """RQ logs through :mod:`logging`: into optscan's log (stderr, one format)."""
    from optscan.logs import route_standard_logging

    route_standard_logging(level)


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
    from rq.exceptions import StopRequested

    from optscan.cli.restarts import keep_running, problem_of
    from optscan.queue.warmup import warm_up
    from optscan.queue.worker import OptscanWorker
    from optscan.secrets import mask_url

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

    def run() -> str | None:
        nonlocal name
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
            return None
        except Exception as exc:  # the worker outlives any Redis error
            # rq's loop quits on errors it does not handle (a full Redis refusing the
            # worker's own bookkeeping, Redis restarted under a job): start a new worker.
            problem = problem_of(exc)
        else:
            if burst or max_jobs:
                return None
            problem = "its loop ended"
        if instance is not None and (
            instance._stop_requested or instance._shutdown_requested_date is not None
        ):
            return None  # asked to stop (SIGTERM, Ctrl-C)
        name = None  # the old name may still be registered until its key expires
        return problem

    keep_running("worker", redis, run)


# --------------------------------------------------------------------------- schedules


@click.command(short_help="Run rq-scheduler for the timed scans.")
@click.option("--burst", is_flag=True, help="Enqueue what is due, then quit.")
@with_env
def scheduler(
    burst: bool,
    env: Env,
) -> None:
    """Run rq-scheduler (JSON jobs; cron read in New York time whatever TZ says).

    A Redis that fails under it (restarting, full, failing over) does not stop it: it
    says so and starts again, as `optscan worker` does, so the timed scans resume when
    Redis does. SIGTERM or Ctrl-C stops it.
    """
    from optscan.cli.restarts import is_redis_error, keep_running, problem_of
    from optscan.queue.schedule import list_schedules, make_scheduler, run_scheduler
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
    if burst:
        run_scheduler(make_scheduler(redis, cfg), burst=True)  # a Redis error: exit 1
        return

    def run() -> str | None:
        instance = make_scheduler(redis, cfg)  # a new one each time: the failed one's
        # name may still be registered as alive (its death could not be written)
        try:
            run_scheduler(instance)
        except Exception as exc:  # timed scans resume when Redis does
            if instance.stopping and is_redis_error(exc):
                return None  # SIGTERM while Redis was down: its cleanup failed, no matter
            return problem_of(exc)
        return None

    keep_running("scheduler", redis, run)


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
