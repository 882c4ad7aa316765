"""``/rolls``: roll candidates for the short options in the configured positions file
(``holdings.file``), the same answer as ``optscan rolls`` (JSON contract of
``optscan rolls --format json``), screened by ``[strategies.roll]``.

Finding rolls asks the provider for chains, so it is a ``POST`` (the page's button,
CSRF token and same origin like every write), one at a time (``409`` while one runs).
Only the configured file is read: a request names no path.

* ``POST /api/rolls`` with ``{"provider"}`` (optional; default ``scan.provider``) ->
  ``200`` the rolls document (the file's long options, not rolled, in its
  ``long_options_not_rolled``); ``404 {"error"}`` without a positions file or short
  options in it; ``400 {"error"}`` for a file that cannot be read or a bad request;
  ``409 {"error"}`` while rolls are being found.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from optscan.web.app import web_state

blueprint = Blueprint("rolls", __name__)
NAV = [("rolls.page", "Rolls")]
_BUSY = threading.Lock()


class NoPositions(Exception):
    """No positions file, or none of its options is short: ``404``."""


def _positions() -> tuple[list[Any], list[str]]:
    """The file's short positions, and the OCC symbols of its long options (not rolled:
    the document names them, as ``optscan rolls`` does)."""
    from optscan.rolls.positions import long_options, short_positions
    from optscan.scan.holdings import read_holdings_file

    settings = web_state().settings
    if not settings.holdings.file:
        raise NoPositions("no positions file: set holdings.file in the config (or --set)")
    path = Path(settings.holdings.file).expanduser()
    reading = read_holdings_file(path, settings)  # as /positions reads it
    positions = short_positions(reading)
    if not positions:
        raise NoPositions(f"holdings.file {path.name!r} holds no short option")
    return positions, long_options(reading)


@blueprint.get("/rolls")
def page() -> Any:
    state = web_state()
    return render_template(
        "rolls.html",
        providers=state.providers,
        default_provider=state.settings.scan.provider,
        has_file=bool(state.settings.holdings.file),
    )


@blueprint.post("/api/rolls")
def find() -> Any:
    from pydantic import ValidationError

    from optscan.config import format_validation_error
    from optscan.errors import OptscanError
    from optscan.output.rolls import rolls_json
    from optscan.rolls.run import perform_rolls, rolls_request

    state = web_state()
    body = request.get_json(silent=True) if request.mimetype == "application/json" else None
    provider = (body or {}).get("provider") or request.form.get("provider") or None
    if provider is not None and provider not in state.providers:
        return jsonify(error=f"unknown provider {provider!r}"), 400
    if not _BUSY.acquire(blocking=False):
        return jsonify(error="rolls are being found: try again when they are"), 409
    try:
        positions, long = _positions()
        scan_request = rolls_request(
            state.settings, positions, provider=provider, overrides=state.overrides
        )
        result = perform_rolls(
            positions, scan_request, state.runner.host, state.settings, long_options=long
        )
    except NoPositions as exc:
        return jsonify(error=str(exc)), 404
    except ValidationError as exc:
        return jsonify(error=f"bad request: {format_validation_error(exc)}"), 400
    except OptscanError as exc:  # a file that is no positions, a bad config
        return jsonify(error=str(exc)), 400
    finally:
        _BUSY.release()
    return jsonify(rolls_json(result))
