"""``optscan web``: the results page, Scan now, the JSON API and (``--queue``)
rq-dashboard at ``/rq``, in one process served by waitress."""

from __future__ import annotations

import click

from optscan.cli.env import Env, with_env


@click.command(short_help="The results page (and its JSON API) in a browser.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=8050, show_default=True, type=click.IntRange(0, 65535), help="Port."
)
@click.option(
    "--queue",
    "on_queue",
    is_flag=True,
    help="Queue Scan now on RQ workers (like `optscan enqueue`) and serve rq-dashboard "
    "at /rq; needs Redis. Without it scans run in this process, one at a time.",
)
@with_env
def web(host: str, port: int, on_queue: bool, env: Env) -> None:
    """Serve the results page: a sortable table, charts, Scan now, per-symbol errors.

    \b
    Offline, on synthetic data:  optscan web --set scan.provider=sim
    Binding another address than 127.0.0.1 needs [web] access_token.
    """
    from optscan.cli.exits import fail
    from optscan.cli.serving import serve_wsgi
    from optscan.web.server import WebConfigError, build_app

    env.for_service()
    redis = None
    if on_queue:
        from optscan.cli.connect import connect

        redis = connect(env)  # exit 1, password masked, when Redis is down
    try:
        app = build_app(
            env.settings,
            bind=host,
            redis=redis,
            overrides=env.overrides,
            plugins=(),
        )
    except WebConfigError as exc:
        fail(str(exc))
    guard = app.extensions["optscan"].guard

    def announce(port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        where = " and rq-dashboard at /rq" if on_queue else " (scans run in this process)"
        click.echo(f"optscan: web page on http://{shown}:{port}/{where}", err=True)
        hosts = ", ".join(sorted(guard.hosts))
        also = " and any address of this machine" if guard.every_interface else ""
        click.echo(f"optscan: it answers requests for these hosts only: {hosts}{also}", err=True)

    serve_wsgi(app, host, port, announce)
