"""``optscan web`` as a command: its options, its refusals, and a real process serving
the page with waitress; no secret in any page, answer or log line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .fleet import free_port
from .invoke import invoke

CANARY_TOKEN = "canary-web-token-5e1f0a2b"
CANARY_PW = "canary-web-redis-pw-8d2c"


def test_help_lists_the_options():
    ran = invoke("web", "--help")
    assert ran.returncode == 0
    for words in ("--host", "[default: 127.0.0.1]", "--port", "8050", "--queue"):
        assert words in ran.stdout
    assert "web" in invoke("--help").stdout


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_another_address_without_an_access_token_exits_2(host):
    ran = invoke("web", "--host", host, "--set", "scan.provider=sim")
    assert ran.returncode == 2
    assert "[web] access_token" in ran.stderr and "Traceback" not in ran.stderr


def test_a_short_access_token_names_the_key():
    ran = invoke("web", "--set", "web.access_token='short'")
    assert ran.returncode == 2 and "web.access_token" in ran.stderr
    assert "short" not in ran.stderr


def test_queue_mode_without_redis_exits_1_with_the_password_masked():
    url = f"redis://:{CANARY_PW}@127.0.0.1:{free_port()}/0"
    ran = invoke("web", "--queue", env={"OPTSCAN_REDIS_URL": url})
    assert ran.returncode == 1
    assert "canary" not in ran.stdout + ran.stderr


def _get(url: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _start(args: list[str], env: dict[str, str], folder: Path, port: int, **headers: str):
    """``optscan web`` in its own process, once it answers ``/``: (process, log, page)."""
    log = (folder / f"web-{port}.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "optscan", "web", "--port", str(port), *args],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            log.close()
            raise AssertionError(Path(log.name).read_text())
        try:
            _status, page = _get(f"http://127.0.0.1:{port}/", **headers)
            return process, log, page
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "optscan web did not start"
            time.sleep(0.2)


def _post(url: str, body: dict, page: str, **headers: str) -> dict:
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    origin = url.split("/api/")[0]
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            **headers,
            "Origin": origin,
            "X-CSRF-Token": token,
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=20) as answer:
        return json.load(answer)


def _follow(base: str, scan_id: str, seen: list[str], **headers: str) -> dict:
    for _ in range(1200):
        body = _get(f"{base}/api/scans/{scan_id}", **headers)[1]
        seen.append(body)
        status = json.loads(body)
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"scan {scan_id} did not end: {body}")


@pytest.mark.slow  # starts redis-server, a worker and the web process
def test_a_real_queue_mode_process_queues_shows_progress_and_serves_rq(fleet, tmp_path: Path):
    from .fleet import child_env

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process, log, page = _start(["--queue"], child_env(fleet.url), tmp_path, port)
    seen: list[str] = []
    try:
        assert "queued on RQ workers" in page
        scan_id = _post(
            base + "/api/scans", {"symbols": "AAPL,AMD", "provider": "sim", "force": True}, page
        )["scan_id"]
        waiting = json.loads(_get(f"{base}/api/scans/{scan_id}")[1])
        assert waiting["state"] == "queued" and waiting["workers"] == 0
        fleet.start(1)
        status = _follow(base, scan_id, seen)
        assert status["state"] == "finished" and status["symbols_done"] == 2
        assert status["workers"] == 1
        latest = json.loads(_get(base + "/api/results/latest")[1])
        assert latest["scan_id"] == scan_id
        code, rq_page = _get(base + "/rq/")
        assert code == 200 and "RQ" in rq_page
        assert _get(base + "/rq/0/data/queues.json")[0] == 200
        assert _get(base + "/rq/requeue/optscan")[0] in (403, 405)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_a_real_process_serves_the_page_and_runs_scan_now(tmp_path: Path):
    """`optscan web` in its own process (waitress), an access token set: login by
    Bearer, Scan now on sim to the end; the token is in no page, answer or log line."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTSCAN_")}
    env["OPTSCAN_WEB__ACCESS_TOKEN"] = CANARY_TOKEN
    base = f"http://127.0.0.1:{port}"
    bearer = {"Authorization": f"Bearer {CANARY_TOKEN}"}
    process, log, page = _start(["--set", "scan.provider=sim"], env, tmp_path, port, **bearer)
    seen: list[str] = [page]
    try:
        assert "Scan now" in page
        assert _get(base + "/api/results/latest")[0] == 401  # no token
        scan_id = _post(base + "/api/scans", {"symbols": ["AAPL", "AMD"]}, page, **bearer)[
            "scan_id"
        ]
        assert _follow(base, scan_id, seen, **bearer)["state"] == "finished"
        code, body = _get(base + "/api/results/latest", **bearer)
        seen.append(body)
        assert code == 200 and json.loads(body)["scan_id"] == scan_id
        for path in ("/schedules", "/login", "/nope"):
            seen.append(_get(base + path, **bearer)[1])
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    output = Path(log.name).read_text()
    assert "optscan: web page on http://127.0.0.1:" in output
    assert "canary" not in output and all("canary" not in text for text in seen)


def test_a_port_in_use_is_one_line_before_any_announcement():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = invoke("web", "--port", str(port), "--set", "scan.provider=sim")
        assert ran.returncode == 1, ran.stderr
        assert (
            ran.stderr.strip()
            == f"optscan: cannot serve on 127.0.0.1:{port}: Address already in use"
        )
        ran = invoke("dashboard", "--port", str(port))  # the same for rq-dashboard
        assert "web page on" not in ran.stderr and "Traceback" not in ran.stderr
