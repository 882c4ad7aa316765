"""The JSON API.

* ``GET /api/results/latest`` - the profile's latest scan, the document of ``optscan
  scan --format json``; ``404`` before the first.
* ``POST /api/scans`` with ``{"symbols", "provider", "strategy"}`` (each optional;
  ``symbols`` a list or a string of symbols separated by commas or spaces;
  ``force``: scan even when the market is closed) -> ``202 {"scan_id"}``;
  ``409 {"error", "scan_id"}`` while a scan of the profile runs; ``400 {"error"}`` for
  a request that cannot run.
* ``GET /api/scans/<scan_id>`` - ``{"scan_id", "state", "symbols_total",
  "symbols_done", "symbols_failed", "failures", "message", "error", ...}`` (with
  ``--queue`` also ``workers``: how many listen on the queue); ``404`` when unknown.

Writes need the page's CSRF token and a same-origin request (:mod:`optscan.web.security`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from optscan.web.app import web_state
from optscan.web.runner import ScanRefused, ScanRunning

blueprint = Blueprint("api", __name__, url_prefix="/api")
MAX_SYMBOLS = 10_000
"""The most symbols one request may name."""


class BadRequest(Exception):
    """A request body the API cannot use: ``400`` with this message."""


@blueprint.get("/results/latest")
def latest() -> Any:
    text = web_state().runner.latest_json()
    if text is None:
        return jsonify(error="no result yet: start a scan (POST /api/scans)"), 404
    return Response(text, mimetype="application/json")


def _body() -> dict[str, Any]:
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if body is None:
            raise BadRequest("the body is not valid JSON")
        if not isinstance(body, dict):
            raise BadRequest('the body must be a JSON object: {"symbols", "provider", "strategy"}')
        return body
    return {k: v for k, v in request.form.items() if k != "csrf_token" and v != ""}


def _symbols(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):  # the form's box, as --symbols reads it
        from optscan.symbols import split_symbols

        value = split_symbols(value)
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise BadRequest(
            "symbols must be a list of strings or a string of symbols separated by commas or spaces"
        )
    value = [s.strip() for s in value if s.strip()]
    if not value:
        return None
    if len(value) > MAX_SYMBOLS:
        raise BadRequest(f"at most {MAX_SYMBOLS} symbols a scan")
    return value


def _name(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise BadRequest(f"{key} must be a name (a string of at most 64 characters)")
    return value


def build_request(body: dict[str, Any]) -> Any:
    """The :class:`~optscan.models.ScanRequest` a body asks for, on the server's
    config (its ``--set`` pairs and profile)."""
    from pydantic import ValidationError

    from optscan.config import format_validation_error
    from optscan.models import ScanRequest

    unknown = sorted(set(body) - {"symbols", "provider", "strategy", "force"})
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}")
    force = body.get("force", False)
    if isinstance(force, str):
        force = force.lower() in ("1", "true", "on", "yes")
    if not isinstance(force, bool):
        raise BadRequest("force must be true or false")
    state = web_state()
    try:
        return ScanRequest(
            profile=state.runner.profile,
            # the server's defaults, also for a scan that runs on a worker
            provider=_name(body, "provider") or state.settings.scan.provider,
            strategy=_name(body, "strategy") or state.settings.scan.strategy,
            symbols=_symbols(body.get("symbols")),
            force=force,
            overrides=state.overrides,
        )
    except ValidationError as exc:
        raise BadRequest(f"bad request: {format_validation_error(exc)}") from None


@blueprint.post("/scans")
def start_scan() -> Any:
    runner = web_state().runner
    try:
        scan_id = runner.start(build_request(_body()))
    except (BadRequest, ScanRefused) as exc:
        return jsonify(error=str(exc)), 400
    except ScanRunning as exc:
        return jsonify(error=str(exc), scan_id=exc.scan_id), 409
    return jsonify(scan_id=scan_id), 202


@blueprint.get("/scans/<scan_id>")
def scan_status(scan_id: str) -> Any:
    from optscan.symbols import SCAN_ID_PATTERN

    if not SCAN_ID_PATTERN.fullmatch(scan_id):
        return jsonify(error="not a scan id: 1-64 letters, digits, '_' or '-'"), 400
    status = web_state().runner.status(scan_id)
    if status is None:
        return jsonify(error=f"no scan {scan_id} here"), 404
    return jsonify(status)
