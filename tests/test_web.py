"""``optscan web`` through Flask's test client: the JSON API's contract, the guard
(Host allow-list, access token, same origin, CSRF), rq-dashboard mounted at ``/rq``
with its writes guarded, and escaping. The real browser is in ``test_web_browser.py``."""

from __future__ import annotations

import json
import re

import pytest

from .webapp import LONG_PUT, ORIGIN, XSS, HostileProvider, with_a_long_put
from .webapp import csrf as _csrf
from .webapp import post_scan as _post_scan
from .webapp import wait_for as _wait
from .webapp import web_app as _app
from .webapp import web_settings as _settings

TOKEN = "a-long-enough-access-token-1234"


def _client(app):
    return app.test_client()  # Host: localhost


# --------------------------------------------------------------------------- the API


def test_latest_is_404_before_the_first_scan_then_the_scans_json():
    client = _client(_app())
    assert client.get("/api/results/latest").status_code == 404
    answer = _post_scan(client, {"symbols": ["AAPL", "MSFT"], "strategy": "csp"})
    assert answer.status_code == 202
    scan_id = answer.get_json()["scan_id"]
    status = _wait(client, scan_id)
    assert status["state"] == "finished"
    assert status["symbols_total"] == status["symbols_done"] == 2
    assert {"scan_id", "state", "symbols_total", "symbols_done"} <= set(status)
    latest = client.get("/api/results/latest")
    doc = latest.get_json()
    assert latest.mimetype == "application/json"
    assert doc["scan_id"] == scan_id and doc["synthetic"] is True
    assert [s["symbol"] for s in doc["symbols"]] == ["AAPL", "MSFT"]
    assert doc["opportunities"] and "scanned_count" in doc  # `optscan scan --format json`


def test_a_scan_of_the_profile_running_gives_409():
    HostileProvider.gate.clear()
    client = _client(_app())
    first = _post_scan(client, {"symbols": "SLOW", "provider": "hostile"})
    assert first.status_code == 202
    try:
        second = _post_scan(client, {"symbols": "AAPL"})
        assert second.status_code == 409
        assert second.get_json()["scan_id"] == first.get_json()["scan_id"]
        assert "running" in second.get_json()["error"]
    finally:
        HostileProvider.gate.set()
    assert _wait(client, first.get_json()["scan_id"])["state"] == "finished"
    assert _post_scan(client, {"symbols": "AAPL"}).status_code == 202


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"provider": "nope"}, "unknown provider 'nope'"),
        ({"strategy": "nope"}, "unknown strategy 'nope'"),
        ({"symbols": 5}, "symbols must be"),
        ({"colour": "red"}, "unknown field(s): colour"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_a_bad_request_is_400_with_one_message(body, words):
    client = _client(_app())
    answer = _post_scan(client, body)
    assert answer.status_code == 400
    assert words in answer.get_json()["error"]


def test_an_unknown_or_bad_scan_id():
    client = _client(_app())
    assert client.get("/api/scans/nothing-here").status_code == 404
    assert client.get("/api/scans/..%2F..%2Fetc").status_code in (400, 404)


def test_a_scan_in_which_every_symbol_failed_is_the_latest_and_its_errors_are_data():
    client = _client(_app())
    scan_id = _post_scan(client, {"symbols": ["FAIL"], "provider": "hostile"}).get_json()["scan_id"]
    status = _wait(client, scan_id)
    assert status["state"] == "failed" and status["failures"]["FAIL"].endswith(XSS)
    doc = client.get("/api/results/latest").get_json()
    assert doc["scan_id"] == scan_id and doc["success"] is False
    assert XSS in doc["symbols"][0]["error"]
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert XSS not in page  # in the embedded JSON as \u003cimg ...: never markup
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page


def test_embedded_json_cannot_close_its_script_element():
    from optscan.web.pages import script_json

    text = json.dumps({"error": "</script><script>alert(1)</script>&\u2028"})
    safe = str(script_json(text))
    assert "<" not in safe and ">" not in safe and "&" not in safe
    assert json.loads(safe) == json.loads(text)


# --------------------------------------------------------------------------- the guard


def test_a_cross_origin_or_tokenless_write_is_refused():
    client = _client(_app())
    token = _csrf(client)
    body = {"symbols": "AAPL"}
    for headers in (
        {"X-CSRF-Token": token},  # no Origin, no Referer
        {"X-CSRF-Token": token, "Origin": "http://evil.example"},
        {"X-CSRF-Token": token, "Origin": "null"},
        {"Origin": ORIGIN},  # no CSRF token
        {"Origin": ORIGIN, "X-CSRF-Token": "forged"},
    ):
        answer = client.post("/api/scans", json=body, headers=headers)
        assert answer.status_code == 403, headers
    assert client.get("/api/results/latest").status_code == 404  # nothing ran
    referer = {"Referer": f"{ORIGIN}/", "X-CSRF-Token": token}
    assert client.post("/api/scans", json=body, headers=referer).status_code == 202


def test_the_csrf_token_may_come_as_a_form_field():
    client = _client(_app())
    form = {"csrf_token": _csrf(client), "symbols": "AAPL"}
    assert client.post("/api/scans", data=form, headers={"Origin": ORIGIN}).status_code == 202


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8050", "127.0.0.2:8050", ""])
def test_a_host_it_does_not_serve_gets_403(host):
    client = _client(_app())
    for path in ("/", "/api/results/latest", "/static/web.css"):
        with client.get(path, headers={"Host": host}) as answer:
            assert answer.status_code == 403


def test_allowed_hosts_and_localhost_are_served():
    client = _client(_app(_settings(**{"web.allowed_hosts": ["scanner.lan"]})))
    for host in ("localhost:8050", "scanner.lan:8050", "127.0.0.1", "[::1]:8050"):
        assert client.get("/api/results/latest", headers={"Host": host}).status_code == 404


def test_another_address_needs_an_access_token():
    from optscan.web.server import WebConfigError

    with pytest.raises(WebConfigError, match=r"\[web\] access_token"):
        _app(bind="0.0.0.0")
    _app(_settings(**{"web.access_token": TOKEN}), bind="0.0.0.0")


def test_the_access_token_by_bearer_or_by_the_login_form():
    client = _client(_app(_settings(**{"web.access_token": TOKEN})))
    assert client.get("/api/results/latest").status_code == 401
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    with client.get("/static/web.css") as style:  # the login page's own style
        assert style.status_code == 200
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/results/latest", headers=bearer).status_code == 404
    assert (
        client.get("/api/results/latest", headers={"Authorization": "Bearer x"}).status_code == 401
    )

    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    wrong = client.post(
        "/login", data={"access_token": "nope", "csrf_token": csrf}, headers={"Origin": ORIGIN}
    )
    assert wrong.status_code == 401 and TOKEN not in wrong.get_data(as_text=True)
    right = client.post(
        "/login",
        data={"access_token": TOKEN, "csrf_token": csrf, "next": "//evil.example/"},
        headers={"Origin": ORIGIN},
    )
    assert right.status_code == 302 and right.headers["Location"] == "/"  # no open redirect
    cookie = right.headers["Set-Cookie"]
    assert "SameSite=Strict" in cookie and "HttpOnly" in cookie and TOKEN not in cookie
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Scan now" in page and TOKEN not in page


def test_the_access_token_is_a_secret_everywhere():
    from optscan.config import load_settings

    settings = load_settings(overrides={"web.access_token": TOKEN}, use_env=False)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())
    with pytest.raises(Exception, match="at least 16"):
        load_settings(overrides={"web.access_token": "short"}, use_env=False)


def test_pages_carry_a_strict_content_security_policy():
    client = _client(_app())
    page = client.get("/", headers={"Accept": "text/html"})
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_every_asset_ships_in_the_package_under_500_kb():
    from pathlib import Path

    import optscan.web

    static = Path(optscan.web.__file__).parent / "static"
    files = [p for p in static.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 500 * 1024
    assert (static / "vendor/uplot/LICENSE").is_file()
    page = (Path(optscan.web.__file__).parent / "templates/results.html").read_text()
    assert "http://" not in page and "https://" not in page  # no CDN


# --------------------------------------------------------------------------- --queue

fakeredis = pytest.importorskip("fakeredis")


@pytest.fixture
def queued(monkeypatch):
    pytest.importorskip("lupa")
    from rq_dashboard import web

    redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    monkeypatch.setattr(web, "from_url", lambda *a, **k: (None, redis))
    return redis


def test_queue_mode_enqueues_and_says_no_worker_listens(queued):
    from .helpers import run_jobs

    client = _client(_app(redis=queued))
    answer = _post_scan(client, {"symbols": "AAPL,MSFT", "force": True})
    assert answer.status_code == 202
    scan_id = answer.get_json()["scan_id"]
    status = client.get(f"/api/scans/{scan_id}").get_json()
    assert status["state"] == "queued" and status["workers"] == 0
    busy = _post_scan(client, {"symbols": "AAPL"})
    assert busy.status_code == 409 and busy.get_json()["scan_id"] == scan_id
    run_jobs(queued)
    status = client.get(f"/api/scans/{scan_id}").get_json()
    assert status["state"] == "finished" and status["symbols_done"] == 2
    doc = client.get("/api/results/latest").get_json()
    assert doc["scan_id"] == scan_id and "scanned_count" not in doc


def test_rq_dashboard_is_mounted_and_its_writes_are_guarded(queued):
    client = _client(_app(redis=queued))
    page = client.get("/rq/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "_csrf_token" in page.headers["Set-Cookie"]
    assert client.get("/rq/0/data/queues.json").status_code == 200
    # a plain GET never requeues; writes are off by default
    assert client.get("/rq/requeue/optscan").status_code in (403, 405)
    token = _csrf(client)
    headers = {"Origin": ORIGIN, "X-CSRFToken": token}
    assert client.post("/rq/requeue/optscan", headers=headers).status_code == 403
    on = _client(_app(_settings(**{"dashboard.writes": True}), redis=queued))
    token = _csrf(on)
    assert on.get("/rq/requeue/optscan").status_code == 405
    cross = {"Origin": "http://evil.example", "X-CSRFToken": token}
    assert on.post("/rq/requeue/optscan", headers=cross).status_code == 403
    assert on.post("/rq/requeue/optscan", headers={"Origin": ORIGIN}).status_code == 403
    ok = on.post("/rq/requeue/optscan", headers={"Origin": ORIGIN, "X-CSRFToken": token})
    assert ok.status_code == 200
    # compacting an empty queue was a 500 (rq renames a list Redis does not have)
    ok = on.post("/rq/queue/optscan/compact", headers={"Origin": ORIGIN, "X-CSRFToken": token})
    assert ok.status_code == 200 and ok.get_json() == {"status": "OK"}


def test_rq_dashboards_url_display_masks_the_whole_password():
    from optscan.queue.dashboard import masked_instance_list

    for url in ("redis://:S3c@ret@h:6379/0", "redis://u:S3c%40ret@h:6379/0"):
        shown = " ".join(masked_instance_list(url))
        assert "ret" not in shown and "S3c" not in shown


def test_the_schedules_page_lists_timed_scans(queued):
    from optscan.models import ScanRequest
    from optscan.queue.schedule import add_schedule

    settings = _settings()
    add_schedule(
        queued, ScanRequest(symbols=["AAPL"]), "0 10 * * 1-5", cfg=settings.queue, prefix="optscan:"
    )
    client = _client(_app(settings, redis=queued))
    page = client.get("/schedules", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "0 10 * * 1-5" in page and "AAPL" in page
    assert len(client.get("/api/schedules").get_json()["schedules"]) == 1
    embedded = _client(_app(settings))
    assert "optscan web --queue" in embedded.get("/schedules").get_data(as_text=True)


def test_a_scan_skipped_on_a_closed_market_keeps_the_last_results():
    import datetime as dt

    from optscan.models import ScanRequest

    settings = _settings(**{"providers.hostile.ignore_market_hours": False})
    app = _app(settings)
    client = _client(app)
    first = _post_scan(client, {"symbols": "AAPL", "force": True, "provider": "hostile"})
    _wait(client, first.get_json()["scan_id"])
    runner = app.extensions["optscan"].runner
    saturday = dt.datetime(2026, 11, 21, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    request = ScanRequest(symbols=["AAPL"], provider="hostile", as_of=saturday)
    status = _wait(client, runner.start(request))
    assert status["state"] == "skipped" and "closed" in status["message"]
    latest = client.get("/api/results/latest").get_json()
    assert latest["scan_id"] == first.get_json()["scan_id"]


def test_no_page_or_answer_shows_the_redis_password_or_the_token(queued):
    password, token = "canary-pw-with-9f3e", "canary-web-token-77aa1b"
    settings = _settings(
        **{"redis.url": f"redis://:{password}@127.0.0.1:6390/0", "web.access_token": token}
    )
    client = _client(_app(settings, redis=queued))
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    bearer = {"Accept": "text/html"}
    assert _post_scan(client, {"symbols": "AAPL"}).status_code == 202
    answers = [
        client.get(path, headers=bearer).get_data(as_text=True)
        for path in (
            "/",
            "/schedules",
            "/api/results/latest",
            "/api/schedules",
            "/rq/",
            "/rq/0/view/queues",
            "/rq/0/view/workers",
            "/rq/0/view/jobs",
            "/rq/0/data/queues.json",
            "/login",
        )
    ]
    assert any("redis://***" in a or "127.0.0.1:6390" in a for a in answers)  # shown, masked
    assert all("canary" not in a and "9f3e" not in a for a in answers)


def test_the_table_shows_every_column_of_the_terminal_table():
    """A column added to optscan's column list (a later change) shows on the page too."""
    from optscan.output.columns import COLUMNS
    from optscan.web.pages import WEB_COLUMNS, page_columns

    keys = [c["key"] for c in page_columns()]
    assert keys[: len(WEB_COLUMNS)] == [k for k, _ in WEB_COLUMNS]
    assert {c.key for c in COLUMNS if c.in_table} <= set(keys)
    assert len(keys) == len(set(keys))


def test_bound_to_every_interface_the_machines_own_names_are_served():
    import socket

    client = _client(_app(_settings(**{"web.access_token": TOKEN}), bind="0.0.0.0"))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    name = socket.gethostname()
    assert client.get("/api/results/latest", headers={**bearer, "Host": name}).status_code == 404
    evil = {**bearer, "Host": "rebind.evil.example"}
    assert client.get("/api/results/latest", headers=evil).status_code == 403


# --------------------------------------------------------------------------- positions

POSITIONS = __import__("pathlib").Path(__file__).parent / "fixtures" / "positions"


def test_the_positions_page_shows_the_same_reading_as_optscan_positions():
    from optscan.positions import read_positions

    schwab = POSITIONS / "schwab.csv"
    client = _client(_app(_settings(**{"holdings.file": str(schwab)})))
    answer = client.get("/api/positions")
    assert answer.status_code == 200
    assert answer.get_json() == read_positions(schwab).model_dump(mode="json")
    aapl = next(s for s in answer.get_json()["stocks"] if s["symbol"] == "AAPL")
    assert aapl["contracts_coverable"] == 2  # 300 shares, one short call
    page = client.get("/positions").get_data(as_text=True)
    assert 'id="positions-stocks"' in page and "<td>AAPL</td>" in page
    assert "...482" not in page and "Individual" not in page  # the account's title line


def test_the_positions_page_says_what_is_missing_or_wrong_and_takes_no_path(tmp_path):
    client = _client(_app())
    assert client.get("/api/positions").status_code == 404
    assert "set holdings.file" in client.get("/positions").get_data(as_text=True)
    bad = tmp_path / "broken.csv"
    bad.write_text(f"{XSS}\n1,2,3\n")
    client = _client(_app(_settings(**{"holdings.file": str(bad)})))
    answer = client.get("/api/positions")
    assert answer.status_code == 404 and "broken.csv" in answer.get_json()["error"]
    page = client.get("/positions").get_data(as_text=True)
    assert XSS not in page  # escaped, whatever the file holds
    other = client.get(f"/api/positions?path={POSITIONS / 'schwab.csv'}")
    assert other.status_code == 404  # a path in the request is never read


# --------------------------------------------------------------------------- rolls


def test_rolls_are_found_by_a_guarded_post_and_answer_as_optscan_rolls():
    schwab = POSITIONS / "schwab.csv"
    client = _client(_app(_settings(**{"holdings.file": str(schwab)})))
    assert client.post("/api/rolls", json={}).status_code == 403  # no token, no origin
    token = _csrf(client)
    answer = client.post(
        "/api/rolls", json={"provider": "sim"}, headers={"Origin": ORIGIN, "X-CSRF-Token": token}
    )
    assert answer.status_code == 200, answer.get_json()
    doc = answer.get_json()
    assert set(doc) == {"as_of", "provider", "positions", "long_options_not_rolled"}
    assert doc["provider"] == "sim" and doc["long_options_not_rolled"] == []
    (position,) = doc["positions"]  # the export's one short option
    assert (
        position["contract_symbol"] == "AAPL261218C00240000" and position["quantity"] == 1
    )  # short contracts
    assert position["status"] == "ok" and position["rolls"]
    for roll in position["rolls"]:
        assert roll["strike"] >= position["strike"] and roll["expiration"] > "2026-12-18"
        assert roll["net_credit"] >= 0.05
    headers = {"Origin": ORIGIN, "X-CSRF-Token": token}
    bad = client.post("/api/rolls", json={"provider": "nope"}, headers=headers)
    assert bad.status_code == 400 and "unknown provider" in bad.get_json()["error"]


def test_the_rolls_page_names_the_long_options_it_does_not_roll(tmp_path):
    """``optscan rolls --positions`` said which long options it skipped; the page and
    ``POST /api/rolls`` said nothing. The document names them; rolls.js draws the line
    under the positions, as text."""
    from optscan.rolls.positions import not_rolled_note

    client = _client(_app(_settings(**{"holdings.file": str(with_a_long_put(tmp_path))})))
    headers = {"Origin": ORIGIN, "X-CSRF-Token": _csrf(client)}
    answer = client.post("/api/rolls", json={"provider": "sim"}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    doc = answer.get_json()
    assert doc["long_options_not_rolled"] == [LONG_PUT]
    assert [p["contract_symbol"] for p in doc["positions"]] == ["AAPL261218C00240000"]
    assert not_rolled_note(doc["long_options_not_rolled"]) == (
        f"1 long option(s) not rolled (rolls are for short ones): {LONG_PUT}"
    )
    page = client.get("/rolls").get_data(as_text=True)
    assert '<p id="rolls-not-rolled" class="banner info" hidden></p>' in page
    script = client.get("/static/rolls.js").get_data(as_text=True)
    assert "doc.long_options_not_rolled" in script and "innerHTML" not in script
    assert "long option(s) not rolled (rolls are for short ones): " in script  # the CLI's words


def test_rolls_without_a_positions_file_say_so():
    client = _client(_app())
    assert "set <code>holdings.file</code>" in client.get("/rolls").get_data(as_text=True)
    headers = {"Origin": ORIGIN, "X-CSRF-Token": _csrf(client)}
    answer = client.post("/api/rolls", json={}, headers=headers)
    assert answer.status_code == 404 and "holdings.file" in answer.get_json()["error"]


def test_bound_to_every_interface_any_address_of_this_machine_is_served():
    """The machine's own IP in Host was refused: its host name resolves through
    /etc/hosts to a loopback address on Debian. Any address a socket can be bound to
    is this machine's; a name never is (DNS rebinding)."""
    from optscan.web.security import Guard

    every = Guard.for_binding("0.0.0.0", [], TOKEN, rq_writes=False)
    assert every.serves("127.0.0.2")  # an own address that no name lists
    assert not every.serves("192.0.2.55")  # TEST-NET-1: nobody's interface
    assert not every.serves("attacker.example")
    loopback = Guard.for_binding("127.0.0.1", [], "", rq_writes=False)
    assert not loopback.serves("127.0.0.2")


def test_an_invalid_symbol_counts_as_skipped_as_the_result_says():
    """The progress said "1 failed" while the result said "0 failed, 1 skipped"."""
    client = _client(_app())
    answer = _post_scan(client, {"symbols": ["AAPL", XSS], "force": True})
    assert answer.status_code == 202
    status = _wait(client, answer.get_json()["scan_id"])
    doc = client.get("/api/results/latest").get_json()
    by_status = {s["symbol"]: s["status"] for s in doc["symbols"]}
    assert sorted(by_status.values()) == ["ok", "skipped"]
    assert status["symbols_failed"] == 0 and status["failures"] == {}
    assert status["symbols_skipped"] == 1 and list(status["skipped"]) != []
    assert "0 failed, 1 skipped" in status["message"]


def test_the_forms_symbols_are_split_as_the_command_line_splits_them():
    """'AAPL MSFT' was one invalid symbol on the page while --symbols read two."""
    from optscan.web.api import _symbols

    assert _symbols("AAPL MSFT") == ["AAPL", "MSFT"]
    assert _symbols("JPM C,\nBRK.B") == ["JPM", "C", "BRK.B"]
    assert _symbols(["BRK B"]) == ["BRK B"]  # one list item: the class-share spelling
    assert _symbols("  ") is None
