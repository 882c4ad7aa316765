"""``/positions``: what optscan reads in the configured positions file
(``holdings.file``, format detected or forced by ``holdings.broker``), the same reading
``optscan positions`` prints, so a trader can check it before trusting a covered-call
scan. Only the configured file is read: the page takes no path from a request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, render_template

from optscan.web.app import web_state

blueprint = Blueprint("positions", __name__)
NAV = [("positions.page", "Positions")]


def _reading() -> tuple[dict[str, Any] | None, str | None]:
    """``(the reading as JSON, None)``, ``(None, why there is none)``: no file is
    configured, or it cannot be read as positions (the error names the file and line)."""
    from optscan.errors import ConfigError
    from optscan.scan.holdings import read_holdings_file

    settings = web_state().settings
    if not settings.holdings.file:
        return None, "no positions file: set holdings.file in the config (or --set)"
    try:
        reading = read_holdings_file(Path(settings.holdings.file).expanduser(), settings)
    except ConfigError as exc:
        return None, str(exc)
    return reading.model_dump(mode="json"), None


@blueprint.get("/positions")
def page() -> Any:
    reading, problem = _reading()
    return render_template("positions.html", reading=reading, problem=problem)


@blueprint.get("/api/positions")
def as_json() -> Any:
    """The reading (the contract of ``optscan positions --format json``); 404 with an
    ``error`` when there is none."""
    reading, problem = _reading()
    if reading is None:
        return jsonify(error=problem), 404
    return jsonify(reading)
