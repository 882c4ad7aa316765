"""rq-dashboard for optscan's Redis, with every page reading JSON jobs.

rq-dashboard 0.9 has a ``serializer`` setting, but several views ignore it: the workers
pages call ``Worker.all()`` without a serializer (a running JSON job then fails them
with a DeserializationError), and the job page, delete and requeue fetch jobs with the
default pickle serializer. :func:`make_app` points those names in ``rq_dashboard.web``
at optscan's JSON-defaulting classes. Two more gaps are closed here:

* the job page decodes ``job.dependency_ids`` as bytes, which rq 3 already gives as
  text, so every job with dependencies (a scan's aggregator) answered 500:
  :class:`DashboardJob` hands it bytes;
* "Scheduled jobs" counts rq's own scheduled registry (retries waiting for their
  interval), not rq-scheduler's timed scans, which live in rq-scheduler's keys: every
  page says so and how many timed scans there are, and ``/optscan/schedules.json``
  lists them (as ``optscan schedule list`` does).

rq-dashboard also imports ``six`` without declaring it; optscan depends on it for that
reason.
"""

from __future__ import annotations

import functools
import html
from typing import Any

from optscan.queue.rq import JsonJob


class DashboardJob(JsonJob):
    """A JSON job whose ``dependency_ids`` are bytes, as rq-dashboard's job page expects
    (rq 3 decodes them; only the dashboard process uses this class)."""

    @property
    def dependency_ids(self) -> list[Any]:  # type: ignore[override]  # bytes, see above
        return list(self.connection.smembers(self.dependencies_key))


def patch_for_json() -> None:
    """Make every rq-dashboard view read jobs with the JSON serializer (idempotent)."""
    import six  # noqa: F401  (rq-dashboard needs it and does not declare it)
    from rq import requeue_job
    from rq.serializers import JSONSerializer
    from rq_dashboard import web

    from optscan.queue.rq import JsonQueue
    from optscan.queue.worker import OptscanWorker

    web.config.serializer = JSONSerializer
    web.Job = DashboardJob
    web.Queue = JsonQueue
    web.Worker = OptscanWorker
    web.requeue_job = functools.partial(requeue_job, serializer=JSONSerializer)


def make_app(redis_url: str, *, url_prefix: str = "", queue_name: str = "optscan") -> Any:
    """A Flask app serving rq-dashboard for ``redis_url``, with optscan's schedules."""
    patch_for_json()
    from flask import Response, current_app, jsonify
    from rq_dashboard.cli import make_flask_app
    from rq_dashboard.web import setup_rq_connection

    app = make_flask_app(None, None, None, url_prefix)
    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url
    setup_rq_connection(app)

    def schedules() -> list[dict[str, Any]]:
        from optscan.config import QueueSection
        from optscan.queue.schedule import list_schedules

        return list_schedules(current_app.redis_conn, QueueSection(name=queue_name))

    @app.route(f"{url_prefix}/optscan/schedules.json")
    def schedules_json() -> Any:
        return jsonify({"schedules": schedules()})

    @app.after_request
    def say_where_schedules_are(response: Response) -> Response:
        if response.mimetype != "text/html" or response.direct_passthrough:
            return response
        page = response.get_data(as_text=True)
        if "<body" not in page:
            return response
        count = len(schedules())
        note = (
            '<div class="alert alert-info" style="margin:0">optscan: '
            f"{count} timed scan{'s' if count != 1 else ''} (rq-scheduler), listed at "
            f'<a href="{html.escape(url_prefix)}/optscan/schedules.json">schedules.json</a>'
            " and by <code>optscan schedule list</code>. &ldquo;Scheduled jobs&rdquo; below "
            "counts only rq's own retries waiting for their interval.</div>"
        )
        head, body_tag, rest = page.partition("<body")
        tag_end = rest.index(">") + 1
        response.set_data(head + body_tag + rest[:tag_end] + note + rest[tag_end:])
        return response

    return app
