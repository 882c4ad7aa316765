"""``optscan web``'s embedded mode keeps the profile's latest result in ``[web]
latest_file``: written after each scan that replaces it (owner-only), served by the
next server before any scan, ignored with one warning when it is not this profile's
scan result, and nowhere with ``latest_file = ""``. (conftest points XDG_STATE_HOME,
where the default file lives, into the test's folder.)"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from optscan.errors import ConfigError

from .webapp import post_scan, wait_for, web_app, web_settings

SATURDAY = dt.datetime(2026, 11, 21, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


def _default_file(tmp_path: Path, profile: str = "default") -> Path:
    return tmp_path / "xdg-state" / "optscan" / "web" / f"latest-{profile}.json"


def _scan(app, body=None) -> dict:
    client = app.test_client()
    answer = post_scan(client, body or {"symbols": "AAPL,MSFT"})
    assert answer.status_code == 202
    return wait_for(client, answer.get_json()["scan_id"])


def _latest(app):
    return app.test_client().get("/api/results/latest")


def _warnings(logs: list[dict], event: str) -> list[dict]:
    return [e for e in logs if e["event"] == event and e["log_level"] == "warning"]


def test_a_scan_writes_the_file_owner_only_as_the_api_serves_it(tmp_path: Path):
    app = web_app()
    assert not _default_file(tmp_path).exists()
    assert _scan(app)["state"] == "finished"
    path = _default_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    served = _latest(app)
    assert served.status_code == 200
    assert json.loads(path.read_text(encoding="utf-8")) == served.get_json()
    assert served.get_json()["profile"] == "default"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_new_server_serves_the_kept_result_before_any_scan(tmp_path: Path):
    first = web_app()
    scan_id = _scan(first)["scan_id"]
    before = _latest(first).get_data()
    with capture_logs() as logs:
        second = web_app()
    assert not _warnings(logs, "web_latest_ignored")
    answer = _latest(second)
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    assert answer.get_data() == before  # byte for byte what the first server answered
    page = second.test_client().get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert scan_id in page  # the page embeds it too


def test_a_skipped_scan_does_not_replace_the_kept_result(tmp_path: Path):
    from optscan.models import ScanRequest

    settings = web_settings(**{"providers.hostile.ignore_market_hours": False})
    first = web_app(settings)
    kept = _scan(first, {"symbols": "AAPL", "provider": "hostile", "force": True})["scan_id"]
    path = _default_file(tmp_path)
    written = path.read_bytes()
    second = web_app(settings)  # the result comes from the file now, not from memory
    runner = second.extensions["optscan"].runner
    request = ScanRequest(symbols=["AAPL"], provider="hostile", as_of=SATURDAY)
    status = wait_for(second.test_client(), runner.start(request))
    assert status["state"] == "skipped"
    assert _latest(second).get_json()["scan_id"] == kept
    assert path.read_bytes() == written


def _another_profiles_result(tmp_path: Path, path: Path) -> None:
    other = web_settings(**{"scan.profile": "other", "web.latest_file": str(path)})
    _scan(web_app(other))
    assert json.loads(path.read_text(encoding="utf-8"))["profile"] == "other"


BAD_FILES = {
    "not JSON": lambda tmp_path, path: path.write_text("{half a result", encoding="utf-8"),
    "not UTF-8": lambda tmp_path, path: path.write_bytes(b"\xff\xfe{}"),
    "a JSON list": lambda tmp_path, path: path.write_text("[1, 2]", encoding="utf-8"),
    "not a scan result": lambda tmp_path, path: path.write_text(
        '{"scan_id": "x", "profile": "default"}', encoding="utf-8"
    ),
    "another profile's result": _another_profiles_result,
    "a directory": lambda tmp_path, path: path.mkdir(),
    "a FIFO": lambda tmp_path, path: os.mkfifo(path),  # never opened: it would block
}
"""What may be where the file should be; each is ignored with one warning."""


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_bad_file_is_one_warning_and_an_empty_page(tmp_path: Path, kind: str):
    path = tmp_path / "kept" / "latest.json"
    path.parent.mkdir()
    BAD_FILES[kind](tmp_path, path)
    settings = web_settings(**{"web.latest_file": str(path)})
    with capture_logs() as logs:
        app = web_app(settings)
    ignored = _warnings(logs, "web_latest_ignored")
    assert len(ignored) == 1 and [e for e in logs if e["log_level"] != "debug"] == ignored
    assert ignored[0]["file"] == str(path) and "exc_info" not in ignored[0]
    assert _latest(app).status_code == 404
    page = app.test_client().get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    if kind == "another profile's result":
        assert "'other'" in ignored[0]["reason"]


def test_a_file_that_cannot_be_written_is_one_warning_and_the_page_goes_on(tmp_path: Path):
    path = tmp_path / "kept" / "latest.json"
    path.mkdir(parents=True)  # a folder where the file should go: every write fails
    app = web_app(web_settings(**{"web.latest_file": str(path)}))
    with capture_logs() as logs:
        first = _scan(app)
        second = _scan(app)
    assert first["state"] == second["state"] == "finished"
    unwritten = _warnings(logs, "web_latest_not_written")
    assert len(unwritten) == 1 and unwritten[0]["file"] == str(path)
    assert _latest(app).get_json()["scan_id"] == second["scan_id"]  # from memory
    assert path.is_dir() and not list(path.parent.glob(".latest.json.*"))


def test_an_empty_latest_file_keeps_the_result_in_memory_only(tmp_path: Path):
    before = set(tmp_path.rglob("*"))
    app = web_app(web_settings(**{"web.latest_file": ""}))
    scan_id = _scan(app)["scan_id"]
    assert _latest(app).get_json()["scan_id"] == scan_id
    assert set(tmp_path.rglob("*")) == before
    assert _latest(web_app(web_settings(**{"web.latest_file": ""}))).status_code == 404


def test_profile_is_expanded_in_the_path(tmp_path: Path):
    template = str(tmp_path / "kept" / "latest-{profile}.json")
    settings = web_settings(**{"web.latest_file": template, "scan.profile": "swing"})
    _scan(web_app(settings))
    path = tmp_path / "kept" / "latest-swing.json"
    assert json.loads(path.read_text(encoding="utf-8"))["profile"] == "swing"
    assert _latest(web_app(settings)).get_json()["profile"] == "swing"
    assert not _default_file(tmp_path, "swing").exists()


@pytest.mark.parametrize(
    "value", ["latest-{scan_id}.json", "latest-{profile!r}.json", "a{b", "{profile{{}", "a\0b"]
)
def test_a_bad_latest_file_names_the_key(value: str):
    with pytest.raises(ConfigError, match=r"web\.latest_file: the only placeholder allowed"):
        web_settings(**{"web.latest_file": value})
