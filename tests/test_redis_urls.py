"""Every Redis URL form redis-py accepts works everywhere optscan takes one.

``redis://`` (TCP), ``rediss://`` (TLS, the CA passed in the URL's query as
``ssl_ca_certs=``) and ``unix://`` (a unix socket, ``?db=N``), each against a real
``redis-server`` started for it with a password: every queue command, a real ``optscan
worker`` process, the ``redis`` sink's own ``url``, the ``notify`` plugin's
``redis_url`` and the dashboard. The password never shows: ``optscan config show``, the
worker's banner and every line printed carry the masked URL
(:func:`optscan.secrets.mask_url`).

The TLS server needs ``openssl`` (for a self-signed certificate) and a redis-server
built with TLS; without them the ``rediss://`` cases check that the URL is accepted and
that a command fails with one clean line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .fleet import (
    AS_OF,
    HAVE_SERVER,
    NEEDS_REDIS,
    Fleet,
    RedisServer,
    child_env,
    tls_server,
)
from .helpers import run_jobs
from .invoke import invoke

pytestmark = pytest.mark.skipif(not HAVE_SERVER, reason=NEEDS_REDIS)

PASSWORD = "Ur1-f0rms-pw-5e7a"
FORMS = ["redis", "rediss", "unix"]
SIM = ("--provider", "sim", "--symbols", "S001,S002,S003", "--as-of", AS_OF)


@pytest.fixture(scope="module", params=FORMS)
def server(request, tmp_path_factory) -> Iterator[RedisServer | None]:
    """A redis-server with a password, reached by the URL form of the parameter (None:
    this redis-server or machine cannot do TLS)."""
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "rediss":
        started = tls_server(folder)
        if started is not None:
            started.stop()  # again with a password
            started = RedisServer(folder / "redis-tls", tls=started.tls, password=PASSWORD)
            started.start()
    else:
        started = RedisServer(folder, password=PASSWORD, unix=request.param == "unix")
        started.start()
    yield started
    if started is not None:
        started.remove()


@pytest.fixture
def url(server: RedisServer | None, request) -> str:
    if server is None:
        pytest.skip("no TLS here (openssl or a TLS-built redis-server missing): see the test below")
    client = server.client(1)
    client.flushdb()
    assert url_form(server.url(1)) in FORMS
    return server.url(1)


def url_form(url: str) -> str:
    return url.partition("://")[0]


def env(url: str, **extra: str) -> dict[str, str]:
    return {"OPTSCAN_REDIS_URL": url, **extra}


def assert_no_password(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text and PASSWORD[:8] not in text, text


def test_every_queue_command_works_on_every_url_form(url):
    import redis as redis_py

    client = redis_py.Redis.from_url(url)
    shown = invoke("config", "show", "--format", "json", env=env(url))
    assert shown.returncode == 0, shown.report
    masked = json.loads(shown.stdout)["redis"]["url"]
    assert masked.startswith(f"{url_form(url)}://:***@"), masked
    queued = invoke("enqueue", *SIM, "--format", "json", env=env(url))
    assert queued.returncode == 0, queued.report
    scan_id = json.loads(queued.stdout)["scan_id"]
    run_jobs(client)
    status = invoke("status", "--scan-id", scan_id, "--format", "json", env=env(url))
    assert status.returncode == 0, status.report
    assert json.loads(status.stdout)["state"] == "finished"
    results = invoke("results", "--format", "json", env=env(url))
    assert results.returncode == 0 and json.loads(results.stdout)["scan_id"] == scan_id
    added = invoke(
        "schedule", "add", "--cron", "30 10 * * 1-5", *SIM, "--format", "json", env=env(url)
    )
    assert added.returncode == 0, added.report
    listed = invoke("schedule", "list", "--format", "json", env=env(url))
    assert [s["id"] for s in json.loads(listed.stdout)["schedules"]] == [
        json.loads(added.stdout)["id"]
    ]
    removed = invoke("schedule", "remove", json.loads(added.stdout)["id"], env=env(url))
    assert removed.returncode == 0, removed.report
    cleared = invoke("lock", "clear", env=env(url))
    assert cleared.returncode == 0, cleared.report
    assert_no_password(*(r.text for r in (shown, queued, status, results, added, listed, cleared)))


def test_the_redis_sink_and_the_notify_plugin_take_every_url_form(url, tmp_path):
    """``[sinks.redis] url`` and ``[sinks.notify] redis_url`` of an embedded scan."""
    import redis as redis_py

    hook = _Hook()
    try:
        done = invoke(
            "scan",
            *SIM,
            "--sink",
            "redis",
            "--sink",
            "notify",
            "--set",
            f'sinks.redis.url="{url}"',
            "--set",
            'sinks.redis.prefix="urls:"',
            "--set",
            f'sinks.notify.redis_url="{url}"',
            "--set",
            f'sinks.notify.webhook_url="{hook.url}"',
            "--format",
            "json",
            env={"OPTSCAN_REDIS_URL": "redis://127.0.0.1:1/0"},  # not used: the sinks' own
        )
    finally:
        hook.close()
    assert done.returncode == 0, done.report
    assert json.loads(done.stdout)["errors"] == []
    client = redis_py.Redis.from_url(url)
    assert client.hget("urls:results:default", "scan_id")
    assert client.scard("optscan:notify:default:seen") > 0
    assert len(hook.posts) == 1
    assert_no_password(done.text)


def test_the_dashboard_takes_every_url_form(url):
    from optscan.queue.dashboard import make_app

    page = make_app(url).test_client().get("/", follow_redirects=True)
    assert page.status_code == 200
    assert_no_password(page.get_data(as_text=True))


@pytest.mark.slow  # a real worker process: start-up, warm-up, a scan
def test_a_worker_process_runs_scans_on_every_url_form(url, tmp_path):
    fleet = Fleet(url, tmp_path, child_env(url))
    try:
        fleet.start(1)
        done = invoke("enqueue", *SIM, "--wait", "--format", "json", env=env(url))
        assert done.returncode == 0, done.report + fleet.logs()
        assert json.loads(done.stdout)["state"] == "finished"
    finally:
        fleet.stop()
    logs = (tmp_path / "worker-0.log").read_text()
    assert f"optscan: worker on optscan at {url_form(url)}://:***@" in logs
    assert_no_password(logs, done.text)


def test_a_rediss_url_is_accepted_and_a_tls_failure_is_one_clean_line(tmp_path):
    """Whatever the machine: a ``rediss://`` URL with TLS options in its query loads,
    shows masked, and a server that does not answer TLS gives one line, exit 1."""
    plain = RedisServer(tmp_path / "plain", password=PASSWORD)
    plain.start()
    try:
        url = f"rediss://:{PASSWORD}@127.0.0.1:{plain.port}/0?ssl_cert_reqs=required&ssl_ca_certs={tmp_path}/none.pem"
        shown = invoke("config", "show", "--format", "json", env=env(url))
        assert shown.returncode == 0, shown.report
        masked = json.loads(shown.stdout)["redis"]["url"]
        assert (
            masked
            == f"rediss://:***@127.0.0.1:{plain.port}/0?ssl_cert_reqs=required&ssl_ca_certs=***"
        )
        for args in (("status",), ("enqueue", *SIM), ("results",), ("schedule", "list")):
            done = invoke(*args, env=env(url))
            assert done.returncode == 1, done.report
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(
                "optscan: cannot reach Redis at rediss://:***@"
            ), done.report
            assert "Traceback" not in done.stderr
            assert_no_password(done.text)
    finally:
        plain.remove()


def test_mask_url_keeps_the_form_and_hides_every_credential():
    from optscan.secrets import mask_url, remember, scrub

    cases = {
        "unix:///run/redis.sock?db=2": "unix:///run/redis.sock?db=2",
        f"unix://:{PASSWORD}@/run/redis.sock?db=0": "unix://:***@/run/redis.sock?db=0",
        f"unix:///run/redis.sock?password={PASSWORD}&db=0": "unix:///run/redis.sock?password=***&db=0",
        f"rediss://u:{PASSWORD}@h:6380/0?ssl_ca_certs=/etc/ca.pem": "rediss://u:***@h:6380/0?ssl_ca_certs=***",
        f"redis://:{PASSWORD}@h:6379/0": "redis://:***@h:6379/0",
    }
    for url, shown in cases.items():
        assert mask_url(url) == shown
        if PASSWORD in url:  # a library quoting the URL, or the password alone
            remember(url, "url")
            assert_no_password(scrub(f"error talking to {url}: bad {PASSWORD}"))


class _Hook:
    """A local webhook that records the bodies posted to it."""

    def __init__(self) -> None:
        posts: list[bytes] = []
        self.posts = posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                posts.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
