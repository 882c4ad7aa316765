"""Security checks of the reliability issue, on the command line and a real Redis.

1. Secrets never reach logs, errors, ``config show``, job data or anything in Redis.
   Every secret is a distinctive *canary* string starting with ``canary-``; each check
   captures everything a command printed (stdout and stderr, ``--log-level debug``, JSON
   and console logs) and everything stored in Redis, and greps it for ``canary``.
   Commands run in this process (``tests/invoke.py``: click's runner, with the secrets
   optscan remembered forgotten first, as in a fresh process, and stdlib log records,
   warnings and tracebacks counted as printed); the queued scan's ``enqueue`` and
   worker, and the dashboard, are real processes.
   Each check also proves the canary was really in play (a server saw the token, the
   failure it provoked is reported), so a check cannot pass by never using the secret.
2. No pickle: every RQ job, meta and result in Redis is JSON.
3. Keys stay under ``redis.prefix`` (or RQ's own ``rq:``).
4. Scan ids and profile names are validated before they are used in keys.
5. Plugins load only from installed entry points, filtered by ``plugins.allow`` and
   ``plugins.disabled``.
6. The dashboard binds 127.0.0.1 unless told otherwise.

One password-protected ``redis-server`` (``requirepass``) serves the whole module; each
test works in a database of its own. A local HTTP server on 127.0.0.1 plays the
webhook/ntfy endpoints and the marketdata API, answering errors that echo the token
they were sent. Nothing touches the network or the Redis at 127.0.0.1:6379.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .fleet import RedisServer, free_port
from .helpers import OPEN_INSTANT
from .invoke import Ran as Run
from .invoke import invoke

redis_py = pytest.importorskip("redis")

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)"
)

OPTSCAN = [sys.executable, "-m", "optscan"]
AS_OF = "2026-11-18T11:00"  # a Wednesday, mid-session (New York time)

# The canaries: every one contains "canary", and nothing else optscan prints does.
REDIS_PW = "canary-redis-pw-7f3a"
WRONG_PW = "canary-wrong-pw-c3b1"
MD_ENV_TOKEN = "canary-md-token-91c2"
MD_SET_TOKEN = "canary-md-token-set-4d71"
HOOK = "canary-hook-5b8e"
NESTED_HOOK = "canary-hook-nested-2a9f"
NTFY_AUTH = "canary-ntfy-auth-0e6d"
NOTIFY_REDIS_PW = "canary-notify-redis-pw-1b7c"
MARK = "canary"


def assert_clean(text: str, where: str) -> None:
    """No canary, and no piece of one, anywhere in ``text``."""
    at = text.lower().find(MARK)
    assert at < 0, f"{where} leaks a secret: ...{text[max(0, at - 120) : at + 60]!r}..."


# --------------------------------------------------------------------------- servers


@dataclass
class SecureRedis:
    """The module's password-protected redis-server."""

    port: int
    databases: Iterator[int] = field(default_factory=itertools.count)

    def url(self, db: int, password: str = REDIS_PW) -> str:
        return f"redis://:{password}@127.0.0.1:{self.port}/{db}"

    def fresh(self) -> tuple[str, Any]:
        """URL and client of an empty database of its own."""
        db = next(self.databases) % 15 + 1  # redis-server has 16; 0 stays empty
        client = redis_py.Redis.from_url(self.url(db))
        client.flushdb()
        return self.url(db), client


@pytest.fixture(scope="module")
def secure_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureRedis]:
    """RedisServer (shared with the queue tests) plus ``requirepass`` set once it runs."""
    server = RedisServer(tmp_path_factory.mktemp("redis-secure"))
    server.start()
    try:
        redis_py.Redis(port=server.port).config_set("requirepass", REDIS_PW)
        yield SecureRedis(server.port)
    finally:
        server.stop()


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Services:
    """What the local HTTP server was asked."""

    base: str
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> int:
        """Where the requests of what follows begin (for ``requests(since=...)``)."""
        with self.lock:
            return len(self.seen)

    def requests(self, method: str, prefix: str = "/", since: int = 0) -> list[Seen]:
        with self.lock:
            return [
                s for s in self.seen[since:] if s.method == method and s.path.startswith(prefix)
            ]


class _Handler(BaseHTTPRequestHandler):
    """POST (webhook, ntfy): 500. GET of marketdata's listing: AAA 401, BBB 500, CCC 400,
    each answer echoing the token it was sent (a provider that prints bodies leaks)."""

    state: Services

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(data)

    def _record(self) -> str:
        with self.state.lock:
            self.state.seen.append(Seen(self.command, self.path, dict(self.headers)))
        return str(self.headers.get("Authorization", "")).removeprefix("Bearer ")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._record()
        self._answer(500, {"error": f"cannot deliver to {self.path}"})

    def do_GET(self) -> None:
        token = self._record()
        symbol = self.path.rstrip("/").rsplit("/", 1)[-1]
        if symbol == "AAA":
            self._answer(401, {"s": "error", "errmsg": f"Invalid token {token}"})
        elif symbol == "BBB":
            self._answer(500, {"s": "error", "errmsg": f"crashed serving {token}"})
        else:
            self._answer(400, {"s": "error", "errmsg": f"Token {token} lacks this plan"})

    def log_message(self, *_args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    state = Services(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = type("Handler", (_Handler,), {"state": state})
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------- running optscan


def base_env(folder: Path, **extra: str) -> dict[str, str]:
    """The parent's environment without optscan settings, tokens or proxies; user dirs
    in ``folder``."""
    drop = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "md_api_key")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPTSCAN_") and k.lower() not in drop
    }
    for kind in ("CONFIG", "CACHE", "STATE"):
        env[f"XDG_{kind}_HOME"] = str(folder / f"xdg-{kind.lower()}")
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def optscan(env: dict[str, str], cwd: Path, *args: str) -> Run:
    """``optscan *args`` in this process, with exactly the environment ``env``."""
    return invoke(*args, environ=env, cwd=cwd)


def optscan_process(env: dict[str, str], cwd: Path, *args: str, timeout: float = 60) -> Run:
    """``python -m optscan *args``: a real process."""
    done = subprocess.run(
        [*OPTSCAN, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    return Run(list(args), done.returncode, done.stdout, done.stderr)


def words(command: str) -> list[str]:
    """A command line without quoting (``"scan --provider sim"``) as arguments."""
    return command.split()


def debug(log_format: str) -> list[str]:
    return ["--log-level", "debug", "--log-format", log_format]


def notify_env(services: Services) -> dict[str, str]:
    """A notify sink posting to the 500-answering server, secrets in path and query."""
    return {
        "OPTSCAN_SINKS__NOTIFY__WEBHOOK_URL": f"{services.base}/hooks/{HOOK}",
        "OPTSCAN_SINKS__NOTIFY__NTFY_URL": f"{services.base}/topic?auth={NTFY_AUTH}",
        "OPTSCAN_SINKS__NOTIFY__RETRIES": "1",
        "OPTSCAN_SINKS__NOTIFY__BACKOFF_S": "0",
    }


def notify_failures(errors: list[str], services: Services, since: int) -> None:
    """The sink failed on both destinations, named by host only, and really posted."""
    host = services.base.removeprefix("http://")
    joined = "\n".join(errors)
    assert f"webhook at {host} failed after 2 attempts: HTTP 500" in joined, errors
    assert f"ntfy at {host} failed after 2 attempts: HTTP 500" in joined, errors
    assert len(services.requests("POST", f"/hooks/{HOOK}", since)) == 2, "webhook not called"
    assert len(services.requests("POST", f"/topic?auth={NTFY_AUTH}", since)) == 2, "ntfy?"


# --------------------------------------------------------------------------- dumping Redis


@dataclass
class Dump:
    """Every key of a database with its raw values and their decoded forms."""

    keys: list[str]
    raw: list[tuple[str, bytes]]  # (key[/field], value) as stored
    decoded: list[tuple[str, str]]  # rq's zlib/base64 layers undone
    jobs: dict[str, dict[bytes, bytes]]
    results: dict[str, list[dict[bytes, bytes]]]

    def text(self) -> str:
        parts = [*self.keys, *(f"{k} {v!r}" for k, v in self.raw)]
        parts += [f"{k} {v}" for k, v in self.decoded]
        return "\n".join(parts)


def dump(client: Any) -> Dump:
    out = Dump([], [], [], {}, {})
    for key_b in sorted(client.keys("*")):
        key = key_b.decode()
        out.keys.append(key)
        kind = client.type(key_b).decode()
        if kind == "string":
            out.raw.append((key, client.get(key_b)))
        elif kind == "hash":
            fields = client.hgetall(key_b)
            out.raw += [(f"{key}/{f.decode()}", v) for f, v in fields.items()]
            if key.startswith("rq:job:") and b"data" in fields:
                out.jobs[key] = fields
        elif kind == "set":
            out.raw += [(key, m) for m in client.smembers(key_b)]
        elif kind == "list":
            out.raw += [(key, m) for m in client.lrange(key_b, 0, -1)]
        elif kind == "zset":
            out.raw += [(key, m) for m, _score in client.zrange(key_b, 0, -1, withscores=True)]
        elif kind == "stream":
            entries = [fields for _id, fields in client.xrange(key_b)]
            out.raw += [(f"{key}/{f.decode()}", v) for e in entries for f, v in e.items()]
            out.results[key] = entries
        else:
            raise AssertionError(f"{key}: unexpected Redis type {kind}")
    # rq stores job data and exc_info zlib-compressed, results base64-encoded
    for key, fields in out.jobs.items():
        out.decoded.append((f"{key}/data", zlib.decompress(fields[b"data"]).decode()))
        if fields.get(b"exc_info"):
            out.decoded.append((f"{key}/exc_info", zlib.decompress(fields[b"exc_info"]).decode()))
    for key, entries in out.results.items():
        for entry in entries:
            if entry.get(b"return_value"):
                value = base64.b64decode(entry[b"return_value"]).decode()
                out.decoded.append((f"{key}/return_value", value))
            if entry.get(b"exc_string"):
                text = zlib.decompress(base64.b64decode(entry[b"exc_string"])).decode()
                out.decoded.append((f"{key}/exc_string", text))
    return out


# --------------------------------------------------------------------------- 1. config show


def _secret_config(
    folder: Path, services: Services, redis_port: int
) -> tuple[Path, dict[str, str], list[str]]:
    """Secrets from all three sources, none overriding another: a config file (notify's
    Redis), the environment (Redis, webhook, ntfy) and ``--set`` (marketdata's token)."""
    config = folder / "config.toml"
    notify_redis = f"redis://:{NOTIFY_REDIS_PW}@127.0.0.1:{redis_port}/2"
    config.write_text(f'[sinks.notify]\nredis_url = "{notify_redis}"\n', encoding="utf-8")
    env = {
        "MD_API_KEY": MD_ENV_TOKEN,
        "OPTSCAN_REDIS_URL": f"redis://:{REDIS_PW}@127.0.0.1:{redis_port}/0",
        **notify_env(services),
    }
    return config, env, ["--set", f"providers.marketdata.token={MD_SET_TOKEN}"]


@pytest.mark.parametrize(
    ("fmt", "log_format"), [("json", "json"), ("json", "console"), ("toml", "json")]
)
def test_config_show_masks_every_secret(
    tmp_path: Path, services: Services, fmt: str, log_format: str
) -> None:
    """``config show`` is what operators paste into bug reports: every secret must be
    masked, in both output formats, whichever source it came from."""
    port = free_port()
    config, extra, sets = _secret_config(tmp_path, services, port)
    env = base_env(tmp_path, **extra)
    show = ("config", "show", "--format", fmt, "--config", str(config))
    run = optscan(env, tmp_path, *show, *sets, *debug(log_format))
    assert run.returncode == 0, run.report
    assert_clean(run.text, "config show")
    if fmt == "json":
        data = json.loads(run.stdout)
        assert data["providers"]["marketdata"]["token"] == "***"
        assert data["redis"]["url"] == f"redis://:***@127.0.0.1:{port}/0"
        notify = data["sinks"]["notify"]
        assert notify["webhook_url"] == f"{services.base}/***"
        assert notify["ntfy_url"] == f"{services.base}/***?***"
        assert notify["redis_url"] == f"redis://:***@127.0.0.1:{port}/2"
    else:
        assert 'token = "***"' in run.stdout


@pytest.mark.parametrize(
    "pair",
    [
        f'sinks.notify.webhook_url="ftp://example.invalid/{HOOK}"',
        f'redis.url=["{REDIS_PW}"]',
        f'providers.marketdata.token=["{MD_SET_TOKEN}"]',
    ],
)
def test_a_rejected_secret_is_not_echoed(tmp_path: Path, pair: str) -> None:
    """Validation errors quote the bad value; for a secret they must not."""
    run = optscan(base_env(tmp_path), tmp_path, "config", "show", "--set", pair, *debug("json"))
    assert run.returncode == 2, run.report
    assert "config error" in run.stderr and "(got '***')" in run.stderr, run.report
    assert_clean(run.text, "a config error")


# --------------------------------------------------------------------------- 1. Redis errors


@pytest.mark.parametrize("log_format", ["json", "console"])
@pytest.mark.parametrize("where", ["closed port", "wrong password"])
def test_redis_errors_never_show_the_password(
    tmp_path: Path, secure_redis: SecureRedis, where: str, log_format: str
) -> None:
    """A Redis that is down or refuses the password is reported with the URL masked."""
    if where == "closed port":
        port = free_port()
        url = f"redis://:{REDIS_PW}@127.0.0.1:{port}/0"
        why = "Connection refused"
    else:
        port, url = secure_redis.port, secure_redis.url(0, WRONG_PW)
        why = "invalid username-password pair"
    env = base_env(tmp_path, OPTSCAN_REDIS_URL=url, MD_API_KEY=MD_ENV_TOKEN)
    for args in (
        ["status"],
        ["enqueue", "--provider", "sim", "--symbols", "AAPL", "--as-of", AS_OF],
        ["results", "--set", f"providers.marketdata.token={MD_SET_TOKEN}"],
    ):
        run = optscan(env, tmp_path, *args, *debug(log_format))
        assert run.returncode == 1, run.report
        assert f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0" in run.stderr, run.report
        assert why in run.stderr, run.report
        assert_clean(run.text, f"optscan {args[0]} ({where})")


# --------------------------------------------------------------------------- 1. failing services


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_cli_scans_against_failing_services_show_no_secret(
    tmp_path: Path, services: Services, log_format: str
) -> None:
    """A notify sink whose endpoints answer 500, and a marketdata API that answers 401,
    500 and 400 echoing the token: the failures are reported, the secrets are not."""
    env = base_env(tmp_path, MD_API_KEY=MD_ENV_TOKEN, **notify_env(services))
    since = services.mark()
    sim = optscan(
        env,
        tmp_path,
        *words("scan --provider sim --symbols AAPL,MSFT --sink notify --format json"),
        *("--as-of", AS_OF, *debug(log_format)),
    )
    assert sim.returncode == 0, sim.report
    result = json.loads(sim.stdout)
    assert result["opportunities"], "no opportunity: the notify sink would post nothing"
    notify_failures(result["errors"], services, since)
    assert_clean(sim.text, "a scan with a failing notify sink")

    base = ["--set", f"providers.marketdata.base_url={services.base}"]
    base += ["--set", "providers.marketdata.retry_initial_s=0"]
    base += ["--set", "providers.marketdata.retry_max_s=0"]
    for symbols, token, sets in (
        ("AAA", MD_ENV_TOKEN, []),
        ("BBB,CCC", MD_SET_TOKEN, ["--set", f"providers.marketdata.token={MD_SET_TOKEN}"]),
    ):
        since = services.mark()
        run = optscan(
            env,
            tmp_path,
            *("scan", "--provider", "marketdata", "--symbols", symbols, "--format", "json"),
            *("--as-of", AS_OF, *base, *sets, *debug(log_format)),
        )
        assert run.returncode == 1, run.report
        outcomes = {s["symbol"]: s for s in json.loads(run.stdout)["symbols"]}
        for symbol in symbols.split(","):
            sent = services.requests("GET", f"/v1/options/expirations/{symbol}/", since)
            assert sent and sent[-1].headers["Authorization"] == f"Bearer {token}"
            assert outcomes[symbol]["status"] == "failed"
        if "AAA" in outcomes:
            assert outcomes["AAA"]["reason"] == "auth_failed"  # the core's credential latch
        else:
            assert "HTTP 500" in outcomes["BBB"]["error"]
            assert (
                outcomes["CCC"]["error"] == "marketdata: CCC expirations: Token *** lacks this plan"
            )
        assert_clean(run.text, f"a marketdata scan of {symbols}")


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_marketdata_errors_in_process_show_no_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, log_format: str
) -> None:
    """The same 401/500/400 answers through ``perform_scan`` with httpx mocked by respx,
    with structlog rendering to a captured stderr and stdlib logging (httpx) captured."""
    respx = pytest.importorskip("respx")
    optscan_marketdata = pytest.importorskip("optscan_marketdata")
    import structlog

    from optscan.config import load_settings
    from optscan.logs import configure_logging
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    base = "https://md.example.test"
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setenv("MD_API_KEY", MD_ENV_TOKEN)
    caplog.set_level("DEBUG")
    configure_logging("debug", log_format)
    shown: list[str] = []
    try:
        for symbols, token in ((["AAA"], MD_ENV_TOKEN), (["BBB", "CCC"], MD_SET_TOKEN)):
            settings = load_settings(
                overrides={
                    "scan.provider": "marketdata",
                    "providers.marketdata.base_url": base,
                    "providers.marketdata.retry_initial_s": 0.0,
                    "providers.marketdata.retry_max_s": 0.0,
                    **({"providers.marketdata.token": token} if token == MD_SET_TOKEN else {}),
                },
                use_env=False,
            )
            host = PluginHost(load_entrypoints=False, plugins=[optscan_marketdata])
            with respx.mock(base_url=base, assert_all_called=False) as mock:
                aaa = mock.get("/v1/options/expirations/AAA/").respond(
                    401, json={"s": "error", "errmsg": f"Invalid token {token}"}
                )
                bbb = mock.get("/v1/options/expirations/BBB/").respond(
                    500, json={"s": "error", "errmsg": f"crashed serving {token}"}
                )
                mock.get("/v1/options/expirations/CCC/").respond(
                    400, json={"s": "error", "errmsg": f"Token {token} lacks this plan"}
                )
                request = ScanRequest(symbols=symbols, as_of=OPEN_INSTANT)
                result = perform_scan(request, host, settings=settings)
            used = aaa if symbols == ["AAA"] else bbb
            assert used.calls.last.request.headers["Authorization"] == f"Bearer {token}"
            reasons = {s.symbol: s.reason for s in result.symbols}
            expected = {"AAA": "auth_failed", "BBB": "transient", "CCC": "provider_error"}
            assert reasons == {s: expected[s] for s in symbols}
            shown.append(json.dumps(result.to_json_dict()))
    finally:
        structlog.reset_defaults()  # the next get_logger() sets up the real stderr again
    logged = stderr.getvalue()
    assert "symbol_failed" in logged and "401 Unauthorized: Invalid token ***" in logged, logged
    assert_clean("\n".join([*shown, logged, caplog.text]), "an in-process marketdata scan")


# --------------------------------------------------------------------------- 1-3. queued scan


@dataclass
class QueuedScan:
    runs: list[Run]
    scan_id: str
    status: dict[str, Any]
    result: dict[str, Any]
    dump: Dump
    enqueue: Run
    since: int  # the local HTTP server's requests from this scan on


@pytest.fixture(scope="module")
def queued_scan(
    tmp_path_factory: pytest.TempPathFactory, secure_redis: SecureRedis, services: Services
) -> QueuedScan:
    """One queued scan on the password-protected Redis with the ``redis`` and ``notify``
    sinks and ``--set redis.prefix=tst:``, worked by ``optscan worker --burst``, with
    secrets in the enqueuer's ``--set`` pairs (plain and as tables) and the worker's
    environment. Everything printed and everything left in Redis is kept."""
    folder = tmp_path_factory.mktemp("queued")
    url, client = secure_redis.fresh()
    env = base_env(folder, OPTSCAN_REDIS_URL=url, MD_API_KEY=MD_ENV_TOKEN, **notify_env(services))
    prefix = ["--set", "redis.prefix=tst:"]
    secrets = [
        f'redis={{url="{url}"}}',  # a whole table: the connection, password included
        "redis.prefix=tst:",
        f"providers.marketdata.token={MD_SET_TOKEN}",
        f'providers.marketdata={{token="{MD_SET_TOKEN}", timeout_s=5}}',
        f'sinks.notify.webhook_url="{services.base}/hooks/{HOOK}"',
        f'sinks.notify={{webhook_url="{services.base}/hooks/{NESTED_HOOK}"}}',
    ]
    since = services.mark()
    enqueue = optscan_process(
        env,
        folder,
        *words("enqueue --provider sim --symbols AAPL,MSFT,AMD --sink redis --sink notify"),
        *("--as-of", AS_OF, "--format", "json", *debug("json")),
        *(arg for pair in secrets for arg in ("--set", pair)),
    )
    assert enqueue.returncode == 0, enqueue.report
    scan_id = json.loads(enqueue.stdout)["scan_id"]
    worker = optscan_process(env, folder, "worker", "--burst", *prefix, *debug("json"), timeout=90)
    assert worker.returncode == 0, worker.report
    status = optscan(
        env, folder, "status", "--scan-id", scan_id, "--format", "json", *prefix, *debug("console")
    )
    # the scan's own result (the redis sink's copy is written before later sinks fail)
    results = optscan(
        env, folder, "results", "--scan-id", scan_id, "--format", "json", *prefix, *debug("json")
    )
    latest = optscan(env, folder, "results", "--format", "json", *prefix, *debug("console"))
    for run in (status, results, latest):
        assert run.returncode == 0, run.report
    return QueuedScan(
        runs=[enqueue, worker, status, results, latest],
        scan_id=scan_id,
        status=json.loads(status.stdout),
        result=json.loads(results.stdout),
        dump=dump(client),
        enqueue=enqueue,
        since=since,
    )


def test_queued_scan_prints_no_secret(queued_scan: QueuedScan, services: Services) -> None:
    """enqueue, the worker (rq's own debug log included), status and results."""
    assert queued_scan.status["state"] == "finished", queued_scan.status
    assert queued_scan.result["scan_id"] == queued_scan.scan_id
    notify_failures(queued_scan.result["errors"], services, queued_scan.since)
    for key in ("redis", "providers.marketdata.token", "providers.marketdata", "sinks.notify"):
        assert f"--set {key} is not sent to workers" in queued_scan.enqueue.stderr, key
    for run in queued_scan.runs:
        assert_clean(run.text, f"optscan {run.args[0]}")


def test_queued_scan_leaves_no_secret_in_redis(queued_scan: QueuedScan) -> None:
    """Job data (the request and its ``--set`` pairs), meta, results, progress hashes,
    the redis sink's result: none holds a secret, however the secret was given."""
    data = [v for k, v in queued_scan.dump.decoded if k.endswith("/data")]
    assert len(data) == 3, queued_scan.dump.keys  # coordinator, one batch, aggregator
    assert all('"overrides": {}' in d for d in data), data
    assert_clean(queued_scan.dump.text(), "Redis")


def test_queued_scan_stores_no_pickle(queued_scan: QueuedScan) -> None:
    """rq keeps a job's call as ``zlib.compress(serializer.dumps(...))``, its meta as
    ``serializer.dumps`` and results as base64 of it: with JSON everywhere each decodes
    as JSON, and no stored value (raw or unwrapped) starts with pickle's ``\\x80``."""
    dumped = queued_scan.dump
    assert dumped.jobs and dumped.results
    for key, fields in dumped.jobs.items():
        call = json.loads(zlib.decompress(fields[b"data"]))
        assert isinstance(call, list) and call[0].startswith("optscan.queue.jobs."), (key, call)
        assert isinstance(json.loads(fields[b"meta"]), dict), key
    for entries in dumped.results.values():
        for entry in entries:
            json.loads(base64.b64decode(entry[b"return_value"]))
    for where, value in dumped.raw:
        assert not value.startswith(b"\x80"), f"{where} holds a pickle"
    for where, value in dumped.decoded:
        assert not value.startswith("\x80"), f"{where} holds a pickle"


def test_queued_scan_keys_stay_under_the_prefix(queued_scan: QueuedScan) -> None:
    """With ``redis.prefix=tst:`` every key is optscan's (``tst:``) or rq's (``rq:``)."""
    keys = queued_scan.dump.keys
    stray = [k for k in keys if not k.startswith(("tst:", "rq:"))]
    assert stray == [], stray
    assert "tst:results:default" in keys  # the redis sink wrote under the prefix
    assert f"tst:scan:{{{queued_scan.scan_id}}}" in keys


# --------------------------------------------------------------------------- 4. names in keys


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--scan-id", "../../x"],
        ["status", "--scan-id", "a*"],
        ["status", "--scan-id", "a\nb"],
        ["status", "--profile", "{x}"],
        ["results", "--scan-id", "a:b"],
        ["results", "--profile", "*"],
        ["lock", "clear", "--profile", "x:*"],
        ["enqueue", "--provider", "sim", "--profile", "x:*"],
        ["results", "--set", "scan.profile='a b'"],
        ["lock", "clear", "--set", "scan.profile='*'"],
    ],
    ids=lambda args: " ".join(args).replace("\n", "\\n"),
)
def test_bad_scan_ids_and_profiles_are_refused_before_redis(
    tmp_path: Path, secure_redis: SecureRedis, args: list[str]
) -> None:
    """A scan id or profile ends up in a key (``<prefix>lock:<profile>``); a glob, a
    colon, braces (hash tags), a path or a newline is refused with exit 2 and a clear
    message before optscan even connects. The database holds keys those names would
    address (``lock clear --profile 'x:*'`` used to delete ``optscan:lock:x:*``)."""
    url, client = secure_redis.fresh()
    for key in ("optscan:lock:x:*", "optscan:latest:*", "optscan:results:*"):
        client.set(key, "keep")
    before = dump(client).text()
    connections = client.info("stats")["total_connections_received"]
    run = optscan(base_env(tmp_path, OPTSCAN_REDIS_URL=url), tmp_path, *args)
    assert run.returncode == 2, run.report
    assert "Traceback" not in run.stderr and run.stdout == "", run.report
    assert any(
        phrase in run.stderr
        for phrase in ("expected 1-64 letters", "must be 1-64 letters", "should match pattern")
    ), run.report
    assert dump(client).text() == before
    assert client.info("stats")["total_connections_received"] == connections


def test_scan_ids_have_the_validated_shape() -> None:
    """The CLI refuses ids that do not match the pattern: the ids optscan makes must."""
    from optscan.scan import new_scan_id
    from optscan.symbols import SCAN_ID_PATTERN

    scan_id = new_scan_id(dt.datetime(2026, 11, 29, 6, 26, 51, tzinfo=dt.UTC))
    assert scan_id.startswith("20261129T062651Z-") and SCAN_ID_PATTERN.fullmatch(scan_id)


# --------------------------------------------------------------------------- 5. plugins


def _listed(env: dict[str, str], cwd: Path, *options: str) -> dict[str, dict[str, Any]]:
    """``optscan plugins --format json``, by plugin name."""
    run = optscan(env, cwd, "plugins", "--format", "json", *options)
    assert run.returncode == 0, run.report
    return {p["name"]: p for p in json.loads(run.stdout)["plugins"]}


def test_plugins_come_only_from_entry_points_filtered_by_allow_and_disabled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the command line with both plugin packages installed (the host-level
    filtering with fake entry points is tests/test_plugins.py::test_disabled_and_allow_lists;
    listing and load failures, in real processes, are tests/test_installed_plugins.py).
    A module on the path that no installed package declares is never imported, however
    the config names it."""
    pytest.importorskip("optscan_marketdata")
    pytest.importorskip("optscan_notify")
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "imported"
    (site / "optscan_evil_xyz.py").write_text(
        "import os, pathlib\n"
        "pathlib.Path(os.environ['EVIL_MARKER']).write_text('imported')\n"
        "from optscan.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def register_option_providers(register):\n"
        "    raise RuntimeError('never')\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(site)  # in this process, what PYTHONPATH=site would do
    env = base_env(tmp_path, EVIL_MARKER=str(marker))
    allow = ["--set", 'plugins.allow=["optscan_evil_xyz", "notify"]']
    named = [
        "--set",
        'sinks.enabled=["optscan_evil_xyz"]',
        "--set",
        "scan.provider=optscan_evil_xyz",
    ]
    plugins = _listed(env, tmp_path, *allow, *named)
    assert "optscan_evil_xyz" not in plugins and "notify" in plugins
    for family, options in (
        ("sink", named),
        ("provider", ["--provider", "optscan_evil_xyz"]),
    ):
        scan = optscan(env, tmp_path, *words("scan --symbols AAPL"), *allow, *options)
        assert scan.returncode == 2, scan.report
        assert f"unknown {family} 'optscan_evil_xyz'" in scan.stderr, scan.report
    assert not marker.exists(), "a module that is no entry point was imported"
    assert "optscan_evil_xyz" not in sys.modules

    env = base_env(tmp_path)
    assert {"marketdata", "notify", "optscan.providers"} <= set(_listed(env, tmp_path))
    disabled = _listed(env, tmp_path, "--set", 'plugins.disabled=["notify"]')
    assert "notify" not in disabled and {"marketdata", "optscan.providers"} <= set(disabled)
    allowed = _listed(env, tmp_path, "--set", 'plugins.allow=["notify"]')
    assert "marketdata" not in allowed and {"notify", "optscan.providers"} <= set(allowed)
    # and what is filtered out cannot be used
    only_notify = ("--set", 'plugins.allow=["notify"]')
    scan = optscan(env, tmp_path, *words("scan --provider marketdata --symbols AAPL"), *only_notify)
    assert scan.returncode == 2 and "unknown provider 'marketdata'" in scan.stderr, scan.report


# --------------------------------------------------------------------------- 6. dashboard


def _listening(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, port_hex = local.split(":")
                if state == "0A" and int(port_hex, 16) == port:
                    found.append(address)
    return found


def test_dashboard_binds_loopback_by_default(tmp_path: Path, secure_redis: SecureRedis) -> None:
    """rq-dashboard shows and deletes jobs without any login: it must not be reachable
    from other machines unless the operator asks (``--host``)."""
    env = base_env(tmp_path, OPTSCAN_REDIS_URL=secure_redis.fresh()[0])
    assert "[default: 127.0.0.1]" in optscan(env, tmp_path, "dashboard", "--help").stdout
    port = free_port()
    log = (tmp_path / "dashboard.log").open("w+")
    process = subprocess.Popen(
        [*OPTSCAN, "dashboard", "--port", str(port), *debug("console")],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not _listening(port):
            assert process.poll() is None, Path(log.name).read_text()
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.1)
        assert _listening(port) == ["0100007F"]  # 127.0.0.1, and nothing else (no ::)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            page = response.read().decode()
        assert "rq" in page.lower()
        assert_clean(page, "the dashboard page")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
    assert_clean(Path(log.name).read_text(), "the dashboard's output")
