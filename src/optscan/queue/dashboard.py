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

**Writes** (rq-dashboard's delete, requeue, requeue-all, empty and compact routes, and
any other route that accepts a method that changes state) are refused, ``403``, unless
``[dashboard] writes = true``: rq-dashboard has no login, and a page on any web site a
user visits could otherwise post to ``127.0.0.1:9181`` (a plain ``GET
/requeue/<queue>`` even requeued every failed job). With writes on, a write must be a
``POST`` whose ``Host`` is one the dashboard serves (its address, ``localhost``, or
``[dashboard] allowed_hosts``: no DNS rebinding), whose ``Origin`` (or ``Referer``) is
that same host, and which carries the dashboard's CSRF token in ``X-CSRFToken``: the
pages set it in the ``_csrf_token`` cookie (``SameSite=Strict``), where rq-dashboard's
own scripts already read it. No page may be framed by another site.
"""

from __future__ import annotations

import functools
import hmac
import html
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

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
    web.escape_format_instance_list = masked_instance_list


def masked_instance_list(urls: Any) -> list[str]:
    """rq-dashboard's list of Redis URLs for display, passwords masked whole.

    Its own masking (``://[^@]*@``) stops at the first ``@``, so a password holding one
    showed its end: ``redis://:S3c@ret@h`` became ``redis://***:***@ret@h``.
    """
    from optscan.secrets import mask_url

    return [mask_url(str(url)) for url in ([urls] if isinstance(urls, str) else list(urls))]


WRITE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
CSRF_COOKIE = "_csrf_token"
"""The cookie rq-dashboard's scripts read and send back as ``X-CSRFToken``."""
CSRF_HEADER = "X-CSRFToken"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def write_endpoints(app: Any) -> set[str]:
    """Every endpoint with a rule that accepts a method that changes state (so a route
    a later rq-dashboard adds is guarded too; requeue-all also answers ``GET``)."""
    return {rule.endpoint for rule in app.url_map.iter_rules() if rule.methods & WRITE_METHODS}


def _hostname(netloc: str) -> str:
    """``host:port`` -> ``host`` (``[::1]:9181`` -> ``::1``), lower case."""
    try:
        return (urlsplit(f"//{netloc}").hostname or "").lower()
    except ValueError:
        return ""


def _refusal(request: Any, *, writes: bool, hosts: set[str], token: str) -> tuple[int, str] | None:
    """Why a write request is refused (status, reason), or ``None`` to let it through."""
    if not writes:
        return 403, "writes are off: set [dashboard] writes = true to allow them"
    if request.method not in WRITE_METHODS:
        return 405, f"{request.method} cannot change state: use POST"
    if _hostname(request.host) not in hosts:
        return (
            403,
            f"Host {request.host!r} is not one this dashboard serves ([dashboard] allowed_hosts)",
        )
    origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
    if not origin or origin == "null":
        return 403, "no Origin or Referer: a write must come from the dashboard's own pages"
    if urlsplit(origin).netloc.lower() != request.host.lower():
        return 403, "cross-origin write refused"
    sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf_token") or ""
    if not hmac.compare_digest(sent.encode(), token.encode()):
        return 403, "missing or wrong CSRF token (reload the page)"
    return None


def make_app(
    redis_url: str,
    *,
    url_prefix: str = "",
    queue_name: str = "optscan",
    writes: bool = False,
    allowed_hosts: Iterable[str] = (),
) -> Any:
    """A Flask app serving rq-dashboard for ``redis_url``, with optscan's schedules.

    ``writes`` turns on rq-dashboard's write actions, for requests to one of
    ``allowed_hosts`` (and ``localhost``, ``127.0.0.1``, ``::1``) from the dashboard's own
    pages, carrying its CSRF token; without it every write answers 403.
    """
    patch_for_json()
    from flask import Response, current_app, jsonify, request
    from rq_dashboard.cli import make_flask_app
    from rq_dashboard.web import setup_rq_connection

    app = make_flask_app(None, None, None, url_prefix)
    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url
    app.config["RQ_DASHBOARD_DISABLE_DELETE"] = not writes  # hides the delete buttons
    setup_rq_connection(app)
    token = secrets.token_urlsafe(32)
    hosts = {*LOCAL_HOSTS, *(_hostname(h) or h.lower() for h in allowed_hosts)}
    guarded = write_endpoints(app)

    @app.before_request
    def guard_writes() -> Any:
        if request.endpoint not in guarded:
            return None
        refused = _refusal(request, writes=writes, hosts=hosts, token=token)
        if refused is None:
            return None
        status, reason = refused
        return jsonify(status="REFUSED", error=reason), status

    @app.after_request
    def protect(response: Response) -> Response:
        response.headers["X-Frame-Options"] = "DENY"  # no clicks on a framed dashboard
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        if writes and response.mimetype == "text/html":
            response.set_cookie(
                CSRF_COOKIE, token, samesite="Strict", httponly=False, path=url_prefix or "/"
            )
        return response

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
            "counts only rq's own retries waiting for their interval."
            + (
                ""
                if writes
                else " Delete, requeue, empty and compact are off (read-only): "
                "<code>[dashboard] writes = true</code> turns them on."
            )
            + "</div>"
        )
        head, body_tag, rest = page.partition("<body")
        tag_end = rest.index(">") + 1
        response.set_data(head + body_tag + rest[:tag_end] + note + rest[tag_end:])
        return response

    return app
