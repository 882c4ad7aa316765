"""The results page (``/``) and the login form (``/login``, ``/logout``).

The results page is one template and one script (``static/results.js``): the server
embeds the latest scan's JSON document in the page (escaped for a ``<script>``
element), and the script draws the banners, the per-symbol table, the opportunities
table and the charts from it, and again from ``/api/results/latest`` after a Scan now:
one renderer, every text set as text (never as HTML).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from markupsafe import Markup

from optscan.web.app import web_state
from optscan.web.security import SESSION_COOKIE

blueprint = Blueprint("pages", __name__)
NAV = [("pages.results", "Results")]

_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(text: str | None) -> Markup:
    """JSON text made safe inside ``<script type="application/json">``: no ``<``,
    ``>`` or ``&`` (so no ``</script>`` can close the element), still the same JSON."""
    return Markup((text or "null").translate(_SCRIPT_ESCAPES))


WEB_COLUMNS: tuple[tuple[str, str], ...] = (
    ("symbol", "symbol"),
    ("contract_symbol", "contract"),
    ("expiration", "expiration"),
    ("dte", "DTE"),
    ("strike", "strike"),
    ("bid", "bid"),
    ("ask", "ask"),
    ("iv", "IV %"),
    ("delta", "delta"),
    ("annualized_return", "annualized %"),
    ("prob_otm", "P(OTM) %"),
    ("cushion_pct", "cushion %"),
    ("open_interest", "open interest"),
    ("premium", "premium $"),
    ("breakeven", "breakeven"),
    ("underlying_price", "price"),
    ("collateral", "collateral $"),
)
"""The opportunities table's first columns, in order, with the page's headers."""


def page_columns() -> list[dict[str, str]]:
    """The table's columns: :data:`WEB_COLUMNS`, then every other column of the
    terminal table (:data:`optscan.output.columns.COLUMNS` with ``in_table``), so a
    column a later change adds there shows here too. ``kind`` picks the formatting."""
    from optscan.output.columns import BY_KEY, COLUMNS

    shown = [{"key": k, "header": h, "kind": BY_KEY[k].kind} for k, h in WEB_COLUMNS]
    keys = {k for k, _ in WEB_COLUMNS}
    shown += [
        {"key": c.key, "header": c.header, "kind": c.kind}
        for c in COLUMNS
        if c.in_table and c.key not in keys
    ]
    return shown


@blueprint.get("/")
def results() -> Any:
    state = web_state()
    settings = state.settings
    return render_template(
        "results.html",
        scan_json=script_json(state.runner.latest_json()),
        columns_json=script_json(json.dumps(page_columns())),
        running=state.runner.running() or "",
        providers=state.providers,
        strategies=sorted(settings.strategies),
        default_provider=settings.scan.provider,
        default_strategy=settings.scan.strategy,
        profile=state.runner.profile,
    )


def _local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)  # browsers drop tabs: "/\t/x" is "//x"
    ):
        return url_for("pages.results")
    return target


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    state = web_state()
    guard = state.guard
    target = _local_path(request.values.get("next"))
    if not guard.access_token:
        return redirect(target)
    error = None
    if request.method == "POST":
        if guard.token_matches(request.form.get("access_token", "")):
            response = make_response(redirect(target))
            response.set_cookie(
                SESSION_COOKIE,
                guard.session_value(),
                samesite="Strict",
                httponly=True,
                secure=request.is_secure,
            )
            return response
        error = "wrong access token"
    page = render_template("login.html", error=error, next=target)
    return page, (401 if error else 200)


@blueprint.post("/logout")
def logout() -> Any:
    response = make_response(redirect(url_for("pages.login")))
    response.delete_cookie(SESSION_COOKIE, samesite="Strict", httponly=True)
    return response
