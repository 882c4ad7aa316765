"""rq-dashboard mounted in the web app at ``/rq`` (``optscan web --queue``).

Its blueprint is registered on optscan's app (one process serves both), with
:func:`optscan.queue.dashboard.patch_for_json` applied (every view reads JSON jobs; the
Redis URL shown with its password masked whole). Its write routes (delete, requeue,
empty, compact: every rule accepting a method that changes state) are found from the
URL map and guarded by :class:`optscan.web.security.Guard`: off unless ``[dashboard]
writes = true``, ``POST`` only, same origin, the CSRF token its scripts send from the
``_csrf_token`` cookie as ``X-CSRFToken``, and the access token when one is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask, Response

    from optscan.web.app import WebState


def mount_rq_dashboard(app: Flask, state: WebState) -> None:
    """Register rq-dashboard's blueprint under ``state.rq_prefix`` on ``app``."""
    from flask import request, url_for
    from rq_dashboard import default_settings
    from rq_dashboard.web import blueprint, setup_rq_connection

    from optscan.queue.dashboard import patch_for_json, write_endpoints

    patch_for_json()
    for key in dir(default_settings):
        if key.isupper():
            app.config.setdefault(key, getattr(default_settings, key))
    app.config["RQ_DASHBOARD_REDIS_URL"] = state.settings.redis.url.get_secret_value()
    app.config["RQ_DASHBOARD_DISABLE_DELETE"] = not state.guard.rq_writes
    setup_rq_connection(app)
    app.register_blueprint(blueprint, url_prefix=state.rq_prefix)
    state.guard.rq_write_endpoints = {
        endpoint for endpoint in write_endpoints(app) if endpoint.startswith("rq_dashboard.")
    }
    state.nav.append(("rq_dashboard.queues_overview", "Queues (rq-dashboard)"))

    @app.after_request
    def link_back(response: Response) -> Response:
        """rq-dashboard's pages get a line linking to optscan's own (results, the
        scheduled scans it cannot list)."""
        if (
            response.mimetype != "text/html"
            or response.direct_passthrough
            or not request.path.startswith(f"{state.rq_prefix}/")
        ):
            return response
        page = response.get_data(as_text=True)
        head, body_tag, rest = page.partition("<body")
        if not body_tag:
            return response
        end = rest.index(">") + 1
        note = (
            '<div class="alert alert-info" style="margin:0">optscan: '
            f'<a href="{url_for("pages.results")}">results</a> &middot; '
            f'<a href="{url_for("schedules.page")}">scheduled scans</a> (rq-scheduler '
            "keeps them where this dashboard cannot see them; its &ldquo;Scheduled "
            "jobs&rdquo; are rq's own retries)</div>"
        )
        response.set_data(head + body_tag + rest[:end] + note + rest[end:])
        return response
