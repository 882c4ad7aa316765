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


def test_a_real_process_serves_the_page_and_runs_scan_now(tmp_path: Path):
    """`optscan web` in its own process (waitress), an access token set: login by
    Bearer, Scan now on sim to the end; the token is in no page, answer or log line."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTSCAN_")}
    env["OPTSCAN_WEB__ACCESS_TOKEN"] = CANARY_TOKEN
    log = (tmp_path / "web.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "optscan", "web", "--port", str(port), "--set", "scan.provider=sim"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    bearer = {"Authorization": f"Bearer {CANARY_TOKEN}"}
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, Path(log.name).read_text()
            try:
                status, page = _get(base + "/", **bearer)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "optscan web did not start"
                time.sleep(0.2)
        assert status == 200 and "Scan now" in page
        seen.append(page)
        assert _get(base + "/api/results/latest")[0] == 401  # no token
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        request = urllib.request.Request(
            base + "/api/scans",
            data=json.dumps({"symbols": ["AAPL", "AMD"]}).encode(),
            method="POST",
            headers={
                **bearer,
                "Origin": base,
                "X-CSRF-Token": token,
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=20) as answer:
            scan_id = json.load(answer)["scan_id"]
        for _ in range(600):
            code, body = _get(f"{base}/api/scans/{scan_id}", **bearer)
            seen.append(body)
            if json.loads(body)["state"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert json.loads(body)["state"] == "finished"
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
