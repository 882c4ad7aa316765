"""rq-dashboard for optscan's Redis, with every page reading JSON jobs.

rq-dashboard 0.9 has a ``serializer`` setting, but several views ignore it: the workers
pages call ``Worker.all()`` without a serializer (a running JSON job then fails them
with a DeserializationError), and the job page, delete and requeue fetch jobs with the
default pickle serializer. :func:`make_app` points those names in ``rq_dashboard.web``
at optscan's JSON-defaulting classes. rq-dashboard also imports ``six`` without
declaring it; optscan depends on it for that reason.
"""

from __future__ import annotations

import functools
from typing import Any


def patch_for_json() -> None:
    """Make every rq-dashboard view read jobs with the JSON serializer (idempotent)."""
    import six  # noqa: F401  (rq-dashboard needs it and does not declare it)
    from rq import requeue_job
    from rq.serializers import JSONSerializer
    from rq_dashboard import web

    from optscan.queue.rq import JsonJob, JsonQueue
    from optscan.queue.worker import OptscanWorker

    web.config.serializer = JSONSerializer
    web.Job = JsonJob
    web.Queue = JsonQueue
    web.Worker = OptscanWorker
    web.requeue_job = functools.partial(requeue_job, serializer=JSONSerializer)


def make_app(redis_url: str, *, url_prefix: str = "") -> Any:
    """A Flask app serving rq-dashboard for ``redis_url``."""
    patch_for_json()
    from rq_dashboard.cli import make_flask_app
    from rq_dashboard.web import setup_rq_connection

    app = make_flask_app(None, None, None, url_prefix)
    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url
    setup_rq_connection(app)
    return app
