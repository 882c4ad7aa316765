"""The Flask app of ``optscan web``: the pages, the JSON API and, with ``--queue``,
rq-dashboard at ``/rq``, all behind one guard (:mod:`optscan.web.security`).

**Adding a page** takes a module with a Flask ``blueprint`` (its templates extend
``base.html``) and, for a link in the top bar, ``NAV = [("endpoint", "Title")]``; then
one line in :data:`BLUEPRINT_MODULES`. Views reach the runner, the settings and the
guard through :func:`web_state`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask, Response

    from optscan.config import Settings
    from optscan.web.runner import Runner
    from optscan.web.security import Guard

BLUEPRINT_MODULES = (
    "optscan.web.pages",
    "optscan.web.positions",
    "optscan.web.rolls",
    "optscan.web.schedules",
    "optscan.web.api",
)
"""Each module holds ``blueprint`` (and ``NAV``: the top bar's links, in order)."""

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
"""optscan's own pages load nothing from elsewhere and run no inline script."""


@dataclass
class WebState:
    """What every view needs: kept in ``app.extensions["optscan"]``."""

    settings: Settings
    runner: Runner
    guard: Guard
    providers: list[str]
    overrides: dict[str, Any] = field(default_factory=dict)
    redis: Any = None
    rq_prefix: str | None = None
    nav: list[tuple[str, str]] = field(default_factory=list)


def web_state() -> WebState:
    """The app's :class:`WebState` (inside a request)."""
    from flask import current_app

    return current_app.extensions["optscan"]  # type: ignore[no-any-return]


def create_app(state: WebState) -> Flask:
    """The app for ``state``; with ``state.redis`` and ``state.rq_prefix`` set,
    rq-dashboard is mounted there (JSON jobs, its writes behind the guard)."""
    from flask import Flask, jsonify, render_template, request

    app = Flask("optscan.web", root_path=str(_here()))
    app.config.update(MAX_CONTENT_LENGTH=256 * 1024)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # answers keep their order
    app.extensions["optscan"] = state
    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(name)
        app.register_blueprint(module.blueprint)
        state.nav.extend(getattr(module, "NAV", ()))
    if state.redis is not None and state.rq_prefix:
        from optscan.web.rq_mount import mount_rq_dashboard

        mount_rq_dashboard(app, state)

    guard = state.guard

    @app.before_request
    def check() -> Any:
        refused = guard.refusal(request)
        if refused is None:
            return None
        status, reason = refused
        if status == 401 and _wants_page():
            from flask import redirect, url_for

            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        if _wants_page():
            return render_template("error.html", status=status, reason=reason), status
        return jsonify(error=reason), status

    @app.after_request
    def headers(response: Response) -> Response:
        return _protect(response, state)

    @app.context_processor
    def common() -> dict[str, Any]:
        return {
            "csrf_token": guard.csrf_token,
            "nav": state.nav,
            "signed_in": bool(guard.access_token),
            "mode": state.runner.mode,
            "rq_prefix": state.rq_prefix,
        }

    for code in (400, 404, 405, 413, 500):
        app.register_error_handler(code, _error_handler(code))
    return app


def _here() -> Any:
    from pathlib import Path

    return Path(__file__).parent


def _wants_page() -> bool:
    """A browser asking for a page (not the API, not rq-dashboard's JSON)."""
    from flask import request

    if request.path.startswith("/api/") or request.method != "GET":
        return False
    return "text/html" in request.headers.get("Accept", "")


def _error_handler(code: int) -> Any:
    def handle(error: Any) -> Any:
        from flask import jsonify, render_template

        reason = getattr(error, "description", None) or "error"
        if code == 500:
            from optscan.logs import get_logger
            from optscan.secrets import scrub_exception

            original = getattr(error, "original_exception", None) or error
            get_logger().error("web_error", error=scrub_exception(original))
            reason = "internal error (see the server's log)"
        if _wants_page():
            return render_template("error.html", status=code, reason=reason), code
        return jsonify(error=reason), code

    return handle


def _protect(response: Response, state: WebState) -> Response:
    from flask import request

    from optscan.web.security import RQ_CSRF_COOKIE

    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    on_rq = bool(state.rq_prefix) and request.path.startswith(f"{state.rq_prefix}/")
    if on_rq:  # rq-dashboard's pages run inline scripts: only framing is forbidden
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        if response.mimetype == "text/html":
            response.set_cookie(
                RQ_CSRF_COOKIE,
                state.guard.csrf_token,
                samesite="Strict",
                httponly=False,  # rq-dashboard's script reads it
                path=str(state.rq_prefix),
            )
    else:
        response.headers["Content-Security-Policy"] = PAGE_CSP
    if request.path.startswith("/api/") or response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response
