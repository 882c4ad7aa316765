"""Real redis-servers and real ``optscan worker`` processes for tests (helpers, not tests).

The fixtures built on these (``redis_base``, ``redis_url``, ``fleet``) live in
``conftest.py``. A suite starts its own ``redis-server`` on a free port in a temporary
folder (or uses the server in ``OPTSCAN_TEST_REDIS_URL``); each test works in a database
of its own (1, 2, ...), which it flushes first. Workers are started in their own
sessions and stopped by their ids, with their work horses.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis as redis_py

from optscan.models import ScanRequest

from .helpers import OPEN_INSTANT, make_settings

HAVE_SERVER = shutil.which("redis-server") is not None
NEEDS_REDIS = "needs redis-server (apt-get install redis-server) or OPTSCAN_TEST_REDIS_URL"
OPTSCAN = [sys.executable, "-m", "optscan"]
AS_OF = "2026-11-18T11:00"  # a Wednesday, mid-session
HOLIDAY = "2026-11-26T11:00"  # Thanksgiving: the NYSE is closed
PREFIX = "optscan:"


def symbols(n: int) -> str:
    return ",".join(f"S{i:03d}" for i in range(1, n + 1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of our own, in a folder of our own.

    ``args`` are more server options (``["--maxmemory", "2mb"]``); ``password`` sets
    ``requirepass``; ``unix`` listens on a unix socket in the folder instead of TCP;
    ``tls`` (``(cert, key)`` files of a self-signed certificate, which is also the CA)
    listens with TLS instead of plain TCP. :meth:`url` gives the matching URL and
    :meth:`client` an admin client.
    """

    def __init__(
        self,
        folder: Path,
        *,
        appendonly: bool = False,
        args: list[str] | None = None,
        password: str | None = None,
        unix: bool = False,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.folder = folder
        self.port = free_port()
        self.appendonly = appendonly
        self.args = list(args or [])
        self.password = password
        # a socket's path has at most ~107 bytes: a short folder of its own
        self.socket = Path(tempfile.mkdtemp(prefix="optscan-")) / "redis.sock" if unix else None
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server; on a port another server took meanwhile (another test
        session on this machine, another xdist worker), try a new port."""
        for _attempt in range(5):
            if self._start():
                return
            self.port = free_port()
        raise RuntimeError(f"redis-server did not start (last port {self.port})")

    def _start(self) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--bind", "127.0.0.1"]
        if self.socket is not None:
            args += ["--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        elif self.tls is not None:
            cert, key = self.tls
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert)]
            args += ["--tls-key-file", str(key), "--tls-ca-cert-file", str(cert)]
            args += ["--tls-auth-clients", "no"]
        else:
            args += ["--port", str(self.port)]
        args += ["--save", "", "--dir", str(self.folder)]
        args += ["--appendonly", "yes" if self.appendonly else "no"]
        if self.password:
            args += ["--requirepass", self.password]
        process = self.process = subprocess.Popen([*args, *self.args], stdout=subprocess.DEVNULL)
        client = self.client()
        for _ in range(100):
            with contextlib.suppress(redis_py.RedisError):
                # the server that answers must be ours, not one already on the port
                if client.info("server")["process_id"] == process.pid:
                    return True
            if process.poll() is not None:
                break
            time.sleep(0.05)
        process.kill()
        process.wait(timeout=20)
        self.process = None
        return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # SHUTDOWN: the append-only file is flushed
            self.process.wait(timeout=20)
            self.process = None

    def remove(self) -> None:
        """Stop, and remove the socket's folder (the data folder is the test's)."""
        self.stop()
        if self.socket is not None:
            shutil.rmtree(self.socket.parent, ignore_errors=True)

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.socket is not None:
            return f"unix://{auth}{self.socket}?db={db}"
        if self.tls is not None:
            return f"rediss://{auth}127.0.0.1:{self.port}/{db}?ssl_ca_certs={self.tls[0]}"
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis_py.Redis:
        return redis_py.Redis.from_url(self.url(db))


def self_signed_certificate(folder: Path) -> tuple[Path, Path] | None:
    """``(cert, key)`` for 127.0.0.1, made with ``openssl``; None without openssl."""
    if shutil.which("openssl") is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        [*request, "-keyout", str(key), "-out", str(cert), *names],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def tls_server(folder: Path) -> RedisServer | None:
    """A started redis-server that speaks only TLS (a self-signed certificate, which is
    also its CA), or None when there is no ``openssl`` or the installed redis-server was
    built without TLS."""
    pair = self_signed_certificate(folder / "tls")
    if pair is None or not HAVE_SERVER:
        return None
    server = RedisServer(folder / "redis-tls", tls=pair)
    try:
        server.start()
    except RuntimeError:
        return None
    return server


class Filler:
    """Keeps a Redis at its ``maxmemory`` (``noeviction``) from a thread, as another
    tenant filling it would: every write that fits is taken, so the workers' writes are
    refused (a few slip through as memory churns, which is realistic)."""

    def __init__(self, client: redis_py.Redis, headroom: int = 500_000) -> None:
        self.client = client
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + headroom)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._fill, daemon=True)
        self.thread.start()
        wait_until(self._full, 30, "Redis to be full", poll=0.05)

    def _full(self) -> bool:
        try:
            self.client.set("optscan-test-probe", "x", ex=60)
        except redis_py.exceptions.OutOfMemoryError:
            return True
        return False

    def _fill(self) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                self.client.set(f"filler:{i}", b"x" * 1000)
                i += 1
            except redis_py.exceptions.OutOfMemoryError:
                time.sleep(0.02)

    @contextlib.contextmanager
    def hard(self) -> Iterator[None]:
        """Within the block Redis refuses every write, with no byte slipping through
        (``maxmemory`` far below its use), for a check that must see a refusal."""
        limit = self.client.config_get("maxmemory")["maxmemory"]
        self.client.config_set("maxmemory", 1024)
        try:
            yield
        finally:
            self.client.config_set("maxmemory", limit)

    def empty(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        keys = list(self.client.scan_iter("filler:*", count=1000))
        for start in range(0, len(keys), 1000):
            self.client.delete(*keys[start : start + 1000])
        self.client.config_set("maxmemory", 0)


def child_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTSCAN_")}
    env.update(OPTSCAN_REDIS_URL=url, PYTHONUNBUFFERED="1", **extra)
    return env


def descendants(pid: int) -> list[tuple[int, int]]:
    """``(pid, process group)`` of every child of ``pid`` (work horses, the scheduler)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append((int(entry), int(fields[2])))
    return found


def session(sid: int, folder: Path) -> list[int]:
    """Every process of session ``sid`` (a worker started in a session of its own, its
    work horses and scheduler, orphaned or not) that runs in ``folder``. Both must
    match: on a busy machine pids are reused within minutes (``pid_max`` 32768), and a
    dead worker's pid may already be a stranger's; never kill by pid or group alone."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and Path(f"/proc/{entry}/cwd").resolve() == folder:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


class Fleet:
    """``optscan worker`` processes for one test."""

    def __init__(self, url: str, folder: Path, env: dict[str, str] | None = None) -> None:
        self.url = url
        self.folder = folder
        self.env = env or child_env(url)
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self, n: int) -> None:
        for _ in range(n):
            log = (self.folder / f"worker-{len(self.workers)}.log").open("wb")
            self.workers.append(
                subprocess.Popen(
                    [*OPTSCAN, "worker", "--log-level", "info"],
                    env=self.env,
                    cwd=self.folder,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    start_new_session=True,
                )
            )
        client = redis_py.Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        while client.scard("rq:workers") < len(self.workers):
            assert time.monotonic() < deadline, self.logs()
            time.sleep(0.1)

    def kill(self, worker: subprocess.Popen[bytes]) -> None:
        """SIGKILL a worker, its work horse and its scheduler (its whole session)."""
        self._kill_session(worker)
        worker.wait(timeout=10)

    def _kill_session(self, worker: subprocess.Popen[bytes]) -> None:
        for pid in session(worker.pid, self.folder.resolve()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill(worker)
            else:  # a work horse or scheduler it left behind
                self._kill_session(worker)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.folder.glob("*.log"))


def optscan(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OPTSCAN, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def store_for(url: str) -> Any:
    from optscan.config import QueueSection as QueueConfig
    from optscan.queue.connection import Keys
    from optscan.queue.store import ScanStore

    return ScanStore(redis_py.Redis.from_url(url), Keys(PREFIX), QueueConfig())


def wait_until(predicate, timeout: float, what: str, poll: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)


def enqueue(fleet: Fleet, n: int, latency_ms: int, *extra: str) -> str:
    """Queue a scan of ``n`` sim symbols; its scan id."""
    return enqueue_doc(fleet, n, latency_ms, *extra)["scan_id"]


def enqueue_doc(fleet: Fleet, n: int, latency_ms: int, *extra: str) -> dict[str, Any]:
    """Queue a scan of ``n`` sim symbols; ``optscan enqueue``'s JSON answer."""
    out = optscan(
        fleet.env,
        "enqueue",
        "--provider",
        "sim",
        "--symbols",
        symbols(n),
        "--as-of",
        AS_OF,
        "--set",
        f"providers.sim.latency_ms={latency_ms}",
        "--format",
        "json",
        *extra,
        cwd=fleet.folder,
    )
    assert out.returncode == 0, out.stderr + fleet.logs()
    return json.loads(out.stdout)


def assert_complete(store: Any, scan_id: str, n: int) -> dict[str, Any]:
    """Every symbol accounted for exactly once, in the status and in the result."""
    status = store.status(scan_id)
    assert status["state"] == "finished", status
    assert status["symbols_total"] == status["symbols_done"] == n
    result = store.result(scan_id)
    names = [s["symbol"] for s in result["symbols"]]
    assert sorted(names) == sorted(symbols(n).split(",")), "a symbol lost or counted twice"
    assert all(s["status"] == "ok" for s in result["symbols"])
    return result


def batches(store: Any, scan_id: str) -> int:
    return len(json.loads(store.get(scan_id)["batches"]))


def embedded_opportunities(n: int) -> list[dict[str, Any]]:
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    request = ScanRequest(provider="sim", symbols=symbols(n).split(","), as_of=OPEN_INSTANT)
    result = perform_scan(request, PluginHost(load_entrypoints=False), settings=make_settings())
    return [o.model_dump(mode="json") for o in result.opportunities]


RQ_BOOKKEEPING = ("rq:queues", "rq:workers", "rq:workers:optscan")
RQ_REGISTRIES = ("rq:wip:", "rq:finished:", "rq:failed:", "rq:deferred:", "rq:scheduled:")
RQ_REGISTRIES += ("rq:worker:", "rq:canceled:", "rq:queue:", "rq:executions:", "rq:ready:")
RQ_REGISTRIES += ("rq:intermediate:", "rq:cleaning_lock:", "rq:scheduler")


def keys_without_ttl(client: redis_py.Redis) -> list[str]:
    """Keys that never expire, but RQ's own per-queue and per-worker bookkeeping (sorted
    sets its cleaners prune: bounded by queues and workers, not by scans)."""
    return [
        key.decode()
        for key in client.scan_iter(count=1000)
        if client.ttl(key) == -1
        and key.decode() not in RQ_BOOKKEEPING
        and not key.decode().startswith(RQ_REGISTRIES)
    ]
