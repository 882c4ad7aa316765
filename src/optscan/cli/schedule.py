"""``optscan schedule add|list|remove``: timed scans for rq-scheduler (New York time)."""

from __future__ import annotations

from typing import Any

import click

from optscan.cli.connect import connect, job_request
from optscan.cli.env import Env, with_env
from optscan.cli.exits import EXIT_FAILED, fail
from optscan.cli.options import build_request, format_option, scan_options
from optscan.cli.output import print_doc


@click.group(short_help="Timed scans (cron in New York time).")
def schedule() -> None:
    """Periodic scans with rq-scheduler (cron strings in America/New_York time)."""


@schedule.command("add")
@click.option("--cron", required=True, help='Cron string in New York time, e.g. "*/30 * * * 1-5".')
@scan_options
@format_option()
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
    from optscan.queue.connection import QueueError
    from optscan.queue.schedule import add_schedule, check_cron, list_schedules

    request = job_request(build_request(env, **opts))
    try:
        check_cron(cron)  # before any connection: a bad cron is bad usage (exit 2)
    except QueueError as exc:
        fail(str(exc))
    redis, cfg, prefix = connect(env), env.settings.queue, env.settings.redis.prefix
    try:
        doc = add_schedule(redis, request, cron, prefix=prefix, cfg=cfg)
    except QueueError as exc:
        fail(str(exc))
    for item in list_schedules(redis, cfg):
        if item["id"] == doc["id"]:
            doc.update(
                next_run_utc=item["next_run_utc"], next_run_new_york=item["next_run_new_york"]
            )
    verb = "replaced" if doc["replaced"] else "added"
    print_doc(doc, fmt, [f"{verb} {doc['id']}: {doc['cron']} (New York), profile {doc['profile']}"])


@schedule.command("list")
@format_option()
@with_env
def schedule_list(
    fmt: str,
    env: Env,
) -> None:
    """List optscan's schedules with their next run."""
    from optscan.queue.schedule import list_schedules

    redis, cfg = connect(env), env.settings.queue
    items = list_schedules(redis, cfg)
    lines = [
        f"{s['id']}  {s['cron']:<20}  profile {s['profile']}  next {s['next_run_new_york']}"
        for s in items
    ] or ["no schedules"]
    rows = [{k: v for k, v in item.items() if k != "request"} for item in items]
    print_doc({"schedules": items}, fmt, lines, rows)


@schedule.command("remove")
@click.argument("schedule_id")
@with_env
def schedule_remove(
    schedule_id: str,
    env: Env,
) -> None:
    """Remove a schedule by id (see `optscan schedule list`)."""
    from optscan.queue.schedule import remove_schedule

    redis, cfg = connect(env), env.settings.queue
    if not remove_schedule(redis, cfg, schedule_id):
        fail(f"no schedule {schedule_id!r}", EXIT_FAILED)
    click.echo(f"removed {schedule_id}", err=True)
