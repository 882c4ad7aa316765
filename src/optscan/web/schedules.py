"""``/schedules``: the timed scans (``optscan schedule add``), which rq-dashboard cannot
list (rq-scheduler keeps them in its own keys), with their next run in New York time
and what each scans. Read from Redis: only with ``optscan web --queue``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template

from optscan.web.app import web_state

blueprint = Blueprint("schedules", __name__)
NAV = [("schedules.page", "Scheduled scans")]


def _schedules() -> list[dict[str, Any]] | None:
    """The schedules, or ``None`` when the page runs without Redis."""
    from optscan.queue.schedule import list_schedules

    state = web_state()
    if state.redis is None:
        return None
    return list_schedules(state.redis, state.settings.queue)


@blueprint.get("/schedules")
def page() -> Any:
    return render_template("schedules.html", schedules=_schedules())


@blueprint.get("/api/schedules")
def as_json() -> Any:
    schedules = _schedules()
    if schedules is None:
        return jsonify(error="scheduled scans live in Redis: run `optscan web --queue`"), 404
    return jsonify(schedules=schedules)
