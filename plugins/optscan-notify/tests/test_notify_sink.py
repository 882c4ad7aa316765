"""The ``notify`` sink against a real HTTP server on 127.0.0.1, through real ``sim`` scans."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import optscan_notify
import pytest
from optscan_notify.sink import NotifyConfig, NotifySink, StateError, message_text

from optscan import (
    ConfigError,
    PluginHost,
    ScanRequest,
    ScanResult,
    load_settings,
    perform_scan,
)

NY = dt.timezone(dt.timedelta(hours=-5))
OPEN_INSTANT = dt.datetime(2026, 11, 18, 11, 0, tzinfo=NY)  # a Wednesday in session
SATURDAY = dt.datetime(2026, 11, 21, 11, 0, tzinfo=NY)
SECRET = "T0KEN-in-the-path-8c1e"


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    """A local HTTP server; what it answers depends on the path (see ``_Handler``)."""

    base: str
    posts: list[Posted] = field(default_factory=list)
    slow_s: float = 1.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def taken(self, prefix: str = "/") -> list[Posted]:
        with self.lock:
            return [p for p in self.posts if p.path.startswith(prefix)]


class _Handler(BaseHTTPRequestHandler):
    state: Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.state.lock:
            self.state.posts.append(Posted(self.path, dict(self.headers), body))
        if self.path.startswith("/slow"):
            time.sleep(self.state.slow_s)
        status = (
            500 if self.path.startswith("/fail") else 404 if self.path.startswith("/gone") else 200
        )
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up (timeout tests)
            self.wfile.write(b"ok")

    def log_message(self, *_args: Any) -> None:  # keep test output clean
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    state = Server(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = type("Handler", (_Handler,), {"state": state})
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, state or proxies leak in; every test has its own directories."""
    for name in list(os.environ):
        if name.startswith("OPTSCAN_") or name.lower() in (
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ):
            monkeypatch.delenv(name)
    for kind in ("CONFIG", "CACHE", "STATE"):
        monkeypatch.setenv(f"XDG_{kind}_HOME", str(tmp_path / f"xdg-{kind.lower()}"))
    monkeypatch.chdir(tmp_path)


def _scan(
    symbols: list[str],
    as_of: dt.datetime = OPEN_INSTANT,
    overrides: dict[str, Any] | None = None,
    **notify: Any,
) -> ScanResult:
    """A real scan of the synthetic market, published to ``notify`` configured by ``notify``.

    Without ``notify`` options the scan publishes to no sink (for hand-made variants).
    """
    options = {f"sinks.notify.{k}": v for k, v in notify.items()}
    if notify:
        options["sinks.notify.backoff_s"] = 0.0
    settings = load_settings(
        overrides={"scan.provider": "sim", **options, **(overrides or {})}, use_env=False
    )
    host = PluginHost(load_entrypoints=False, plugins=[optscan_notify])
    request = ScanRequest(symbols=symbols, as_of=as_of, sinks=["notify"] if notify else [])
    return perform_scan(request, host, settings=settings)


def _contracts(posted: Posted) -> list[str]:
    return [o["contract_symbol"] for o in posted.json()["opportunities"]]


# --------------------------------------------------------------------------- changes


def test_first_scan_posts_all_then_only_what_is_new(server: Server, tmp_path: Path):
    options = {"webhook_url": server.url("/hook"), "state_file": str(tmp_path / "seen.json")}
    options["max_items"] = 500
    first = _scan(["AAPL", "GOOG"], **options)
    assert first.success and not first.errors and first.opportunities
    (posted,) = server.taken()
    assert posted.headers["Content-Type"] == "application/json"
    document = posted.json()
    assert document["new_count"] == len(first.opportunities) and document["omitted"] == 0
    assert _contracts(posted) == [o.contract_symbol for o in first.opportunities]
    assert document["profile"] == "default" and document["synthetic"] is True

    second = _scan(["AAPL", "GOOG"], **options)  # the same market: quiet
    assert second.opportunities == first.opportunities and not second.errors
    assert len(server.taken()) == 1

    third = _scan(["AAPL", "GOOG", "TSLA"], **options)  # TSLA is new
    tsla = [o.contract_symbol for o in third.opportunities if o.symbol == "TSLA"]
    assert tsla, "the synthetic TSLA chain should offer puts"
    assert len(server.taken()) == 2
    assert sorted(_contracts(server.taken()[1])) == sorted(tsla)

    state = json.loads((tmp_path / "seen.json").read_text())
    assert set(state["seen"]) == {o.contract_symbol for o in third.opportunities}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".seen")] == []  # no temp


def test_max_items_caps_the_message_not_the_memory(server: Server, tmp_path: Path):
    result = _scan(["AAPL", "GOOG"], webhook_url=server.url("/hook"), max_items=2)
    assert len(result.opportunities) > 2
    (posted,) = server.taken()
    document = posted.json()
    assert len(document["opportunities"]) == 2
    assert document["omitted"] == len(result.opportunities) - 2
    _scan(["AAPL", "GOOG"], webhook_url=server.url("/hook"), max_items=2)
    assert len(server.taken()) == 1  # the omitted ones were remembered too


def test_slack_discord_and_ntfy_bodies(server: Server):
    _scan(["AAPL"], webhook_url=server.url("/slack"), format="slack", state_file="s1.json")
    _scan(["AAPL"], webhook_url=server.url("/discord"), format="discord", state_file="s2.json")
    result = _scan(["AAPL"], ntfy_url=server.url("/mytopic"), state_file="s3.json")
    n = len(result.opportunities)
    (slack,) = server.taken("/slack")
    assert list(slack.json()) == ["text"]
    assert slack.json()["text"].startswith(f"optscan default: {n} new csp opportunit")
    assert "SYNTHETIC" in slack.json()["text"]
    (discord,) = server.taken("/discord")
    assert list(discord.json()) == ["content"] and len(discord.json()["content"]) <= 2000
    (ntfy,) = server.taken("/mytopic")
    assert ntfy.headers["Title"] == f"optscan default: {n} new opportunities"
    assert ntfy.headers["Content-Type"].startswith("text/plain")
    text = ntfy.body.decode()
    assert result.opportunities[0].contract_symbol in text


def test_discord_messages_fit_in_2000_characters(server: Server):
    result = _scan(["AAPL", "GOOG", "TSLA", "INTC"], webhook_url=server.url("/hook"))
    many = list(result.opportunities) * 10
    text = message_text(result, many, max_items=500, limit=2000)
    assert len(text) <= 2000 and text.endswith("more")


def test_skipped_scans_post_nothing_and_keep_the_state(server: Server, tmp_path: Path):
    state = tmp_path / "seen.json"
    result = _scan(
        ["AAPL"],
        as_of=SATURDAY,
        overrides={"providers.sim.ignore_market_hours": False},
        webhook_url=server.url("/hook"),
        state_file=str(state),
    )
    assert result.skipped
    assert not server.taken() and not state.exists()


def test_a_failing_symbol_does_not_re_alert_when_it_comes_back(server: Server, tmp_path: Path):
    config = NotifyConfig(webhook_url=server.url("/hook"), state_file=str(tmp_path / "s.json"))
    result = _scan(["AAPL", "GOOG"])  # no sink: build the variants by hand
    sink = NotifySink(config)
    sink.publish(result)
    assert len(server.taken()) == 1
    goog_failed = result.model_copy(
        update={
            "symbols": [
                s if s.symbol == "AAPL" else s.model_copy(update={"status": "failed"})
                for s in result.symbols
            ],
            "opportunities": [o for o in result.opportunities if o.symbol == "AAPL"],
        }
    )
    sink.publish(goog_failed)
    sink.publish(result)  # GOOG is back with the same contracts: not news
    assert len(server.taken()) == 1
    gone = result.model_copy(
        update={"opportunities": [o for o in result.opportunities if o.symbol == "AAPL"]}
    )
    sink.publish(gone)  # GOOG scanned fine and its contracts are gone ...
    sink.publish(result)  # ... so their return is news
    assert len(server.taken()) == 2
    assert {c[:4] for c in _contracts(server.taken()[1])} == {"GOOG"}


# --------------------------------------------------------------------------- failures


def test_a_500_is_retried_then_reported_and_the_scan_succeeds(server: Server, tmp_path: Path):
    state = tmp_path / "seen.json"
    hook = server.url(f"/fail/{SECRET}")
    result = _scan(["AAPL"], webhook_url=hook, retries=2, state_file=str(state))
    assert result.success
    assert len(server.taken("/fail")) == 3  # the first attempt and two retries
    (error,) = result.errors
    assert error.startswith("sink 'notify' (plugin 'optscan_notify') failed: notify: webhook at")
    assert "HTTP 500" in error and "after 3 attempts" in error
    assert SECRET not in error and SECRET not in json.dumps(result.to_json_dict())
    assert not state.exists()  # not delivered: not remembered ...
    again = _scan(["AAPL"], webhook_url=server.url("/hook"), state_file=str(state))
    assert not again.errors and len(server.taken("/hook")) == 1  # ... so sent next time


def test_a_server_that_sleeps_past_the_timeout_is_retried_then_reported(server: Server):
    server.slow_s = 1.0
    started = time.monotonic()
    result = _scan(["AAPL"], webhook_url=server.url("/slow"), timeout_s=0.2, retries=1)
    assert time.monotonic() - started < 5
    assert result.success
    assert len(server.taken("/slow")) == 2
    (error,) = result.errors
    assert "timed out" in error and "after 2 attempts" in error


def test_a_wrong_url_is_not_retried(server: Server):
    result = _scan(["AAPL"], webhook_url=server.url("/gone"), retries=3)
    assert len(server.taken("/gone")) == 1
    assert "HTTP 404; check the URL (not retried)" in result.errors[0]


def test_one_failing_destination_does_not_stop_the_other(server: Server):
    result = _scan(["AAPL"], webhook_url=server.url("/fail"), ntfy_url=server.url("/t"), retries=0)
    assert len(server.taken("/t")) == 1
    assert "webhook at 127.0.0.1" in result.errors[0] and "ntfy" not in result.errors[0]


def test_a_refused_connection_is_reported(server: Server):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _scan(["AAPL"], webhook_url=f"http://127.0.0.1:{port}/x", retries=1)
    assert result.success and "after 2 attempts" in result.errors[0]


def test_a_damaged_state_file_is_reported(server: Server, tmp_path: Path):
    state = tmp_path / "seen.json"
    state.write_text("{not json")
    result = _scan(["AAPL"], webhook_url=server.url("/hook"), state_file=str(state))
    assert result.success and "cannot read state file" in result.errors[0]
    assert not server.taken()


# --------------------------------------------------------------------------- state stores


def test_redis_state(server: Server, monkeypatch: pytest.MonkeyPatch):
    import fakeredis
    import optscan_notify.sink as sink_module

    fake = fakeredis.FakeRedis(decode_responses=True)
    urls = []

    def client(url: str, timeout_s: float) -> Any:
        urls.append(url)
        return fake

    monkeypatch.setattr(sink_module, "_redis_client", client)
    options = {"webhook_url": server.url("/hook"), "redis_url": "redis://:pw@redis.test:6379/3"}
    first = _scan(["AAPL"], **options)
    _scan(["AAPL"], **options)
    assert len(server.taken()) == 1
    assert urls == ["redis://:pw@redis.test:6379/3"] * 2
    key = "optscan:notify:default:seen"
    assert fake.type(key) == "set"
    assert fake.smembers(key) == {o.contract_symbol for o in first.opportunities}
    assert not list(Path.cwd().rglob("notify-*.json"))  # no file state on the side


def test_the_default_state_file_is_in_the_user_state_dir(server: Server, tmp_path: Path):
    result = _scan(["AAPL"], webhook_url=server.url("/hook"))
    path = tmp_path / "xdg-state" / "optscan" / "notify-default.json"
    assert set(json.loads(path.read_text())["seen"]) == {
        o.contract_symbol for o in result.opportunities
    }


def test_the_state_file_may_name_the_profile(tmp_path: Path):
    sink = NotifySink(
        NotifyConfig(ntfy_url="https://ntfy.sh/x", state_file=str(tmp_path / "{profile}.json"))
    )
    assert sink.state_path("weekly") == tmp_path / "weekly.json"


def test_file_store_rejects_a_foreign_file(tmp_path: Path):
    from optscan_notify.state import FileStore

    path = tmp_path / "s.json"
    path.write_text('{"seen": 3}')
    with pytest.raises(StateError, match="holds no 'seen' list"):
        FileStore(path).load()


# --------------------------------------------------------------------------- config


def test_urls_are_secrets_and_keys_are_checked():
    config = NotifyConfig(
        webhook_url=f"https://hooks.example.test/services/{SECRET}",
        ntfy_url=f"https://ntfy.sh/{SECRET}",
        redis_url=f"redis://:{SECRET}@localhost/0",
    )
    assert SECRET not in repr(config) and SECRET not in str(config)
    host = PluginHost(load_entrypoints=False, plugins=[optscan_notify])
    cases = {
        "sinks.notify.webhok_url": r"sinks\.notify\.webhok_url: unknown key",
        "sinks.notify.format": r"sinks\.notify\.format: Input should be 'json', 'slack' or",
        "sinks.notify.webhook_url": r"sinks\.notify\.webhook_url: .*starting with http or https",
        "sinks.notify.state_file": r"sinks\.notify\.state_file: .*only placeholder allowed",
    }
    for key, message in cases.items():
        settings = load_settings(
            overrides={"sinks.notify.ntfy_url": "https://ntfy.sh/t", key: "ftp://{x}"},
            use_env=False,
        )
        with pytest.raises(ConfigError, match=message):
            host.plugin_config("sinks", "notify", settings)
    NotifyConfig()  # an empty section validates: `optscan config show` lists every plugin's


def test_a_sink_with_nowhere_to_post_says_so():
    result = _scan(["AAPL"], format="slack")
    assert result.success
    assert result.errors == [
        "sink 'notify' (plugin 'optscan_notify') failed: "
        "notify: nowhere to post; set sinks.notify.webhook_url or ntfy_url"
    ]
