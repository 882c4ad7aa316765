"""Queued scans on RQ: 200 symbols on ``sim`` at 100 ms latency over 1, 2 and 4 workers.

Starts its own ``redis-server`` (free port, temporary folder, no persistence) and real
``optscan worker`` processes (forking workers, as in production). Figures:

* wall time from ``enqueue`` to the scan's ``finished`` state with 1, 2 and 4 workers,
  and the 2-vs-1 speedup (target >= 1.6x; these machines have 2 cores, so 4 workers
  mostly show what over-subscription costs);
* the queue's own cost per job: enqueue to result of a job that does nothing, through
  a forking worker (the fork, RQ's bookkeeping and the round trips);
* for reference, the same scan embedded (one process, ``scan.concurrency`` threads).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AS_OF = dt.datetime(2026, 11, 18, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
LATENCY_MS = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    from redis import Redis
    from redis.exceptions import RedisError

    port = _free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    client = Redis(port=port)
    for _ in range(100):
        with contextlib.suppress(RedisError):
            if client.ping():
                return process, port
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def _start_workers(url: str, n: int, folder: Path) -> list[subprocess.Popen[bytes]]:
    from redis import Redis

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTSCAN_")}
    env["OPTSCAN_REDIS_URL"] = url
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "optscan", "worker"],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(n)
    ]
    client = Redis.from_url(url)
    deadline = time.monotonic() + 60
    while client.scard("rq:workers") < n:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        time.sleep(0.1)
    return workers


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _queued_scan(url: str, symbols: list[str]) -> tuple[float, int]:
    from redis import Redis

    from optscan.config import QueueSection as QueueConfig
    from optscan.models import ScanRequest
    from optscan.queue.connection import Keys
    from optscan.queue.enqueue import enqueue_scan, wait_for_scan
    from optscan.queue.store import ScanStore

    cfg = QueueConfig()
    redis = Redis.from_url(url)
    request = ScanRequest(
        provider="sim",
        symbols=symbols,
        as_of=AS_OF,
        overrides={"providers.sim.latency_ms": LATENCY_MS},
    )
    t0 = time.perf_counter()
    scan_id, _ = enqueue_scan(redis, request, prefix="optscan:", cfg=cfg)
    status = wait_for_scan(ScanStore(redis, Keys("optscan:"), cfg), scan_id, poll_s=0.02)
    elapsed = time.perf_counter() - t0
    if status["state"] != "finished" or status["symbols_done"] != len(symbols):
        raise RuntimeError(f"queued scan did not finish cleanly: {status}")
    return elapsed, 0


def _job_round_trips(url: str, count: int) -> list[float]:
    """Enqueue-to-result of ``optscan.jobs.ping`` through a forking worker, one at a time."""
    from redis import Redis

    from optscan.queue.rq import JsonQueue

    queue = JsonQueue("optscan", connection=Redis.from_url(url))
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        job = queue.enqueue("optscan.jobs.ping")
        while job.get_status() != "finished":
            time.sleep(0.001)
        times.append(time.perf_counter() - t0)
    return times


def _embedded(symbols: list[str]) -> float:
    from optscan.config import load_settings
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    settings = load_settings(
        overrides={"scan.provider": "sim", "providers.sim.latency_ms": LATENCY_MS}, use_env=False
    )
    t0 = time.perf_counter()
    perform_scan(ScanRequest(symbols=symbols, as_of=AS_OF), PluginHost(), settings=settings)
    return time.perf_counter() - t0


def run(quick: bool = False) -> list[tuple[str, str, str]]:
    if shutil.which("redis-server") is None:
        return [("queued scans", "skipped", "needs redis-server")]
    n = 80 if quick else 200
    symbols = [f"S{i:03d}" for i in range(1, n + 1)]
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="optscan-bench-") as tmp:
        folder = Path(tmp)
        server, port = _start_redis(folder)
        try:
            walls: dict[int, float] = {}
            jobs = 0
            for db, workers in enumerate((1, 2, 4), start=1):
                url = f"redis://127.0.0.1:{port}/{db}"
                fleet = _start_workers(url, workers, folder)
                try:
                    walls[workers], jobs = _queued_scan(url, symbols)
                finally:
                    _stop_workers(fleet)
            url = f"redis://127.0.0.1:{port}/5"
            fleet = _start_workers(url, 1, folder)
            try:
                _job_round_trips(url, 3)  # warm
                trips = _job_round_trips(url, 10 if quick else 30)
            finally:
                _stop_workers(fleet)
        finally:
            server.terminate()
            server.wait()
    embedded = _embedded(symbols)
    label = f"{n} symbols @ {LATENCY_MS} ms, {jobs} batch jobs"
    for workers, wall in walls.items():
        rows.append((f"{label}, {workers} worker(s)", f"{wall:.2f} s", "enqueue to finished"))
    speedup = walls[1] / walls[2]
    rows.append(("speedup, 2 workers vs 1", f"{speedup:.2f}x", ">= 1.6x"))
    rows.append(("speedup, 4 workers vs 1 (2 cores)", f"{walls[1] / walls[4]:.2f}x", "reported"))
    rows.append(
        (
            "queue overhead per job (no-op job, enqueue to result)",
            f"{statistics.median(trips) * 1000:.1f} ms median, {max(trips) * 1000:.1f} ms max",
            "reported",
        )
    )
    rows.append(("same scan embedded (1 process, threads)", f"{embedded:.2f} s", "reference"))
    return rows


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(*row, sep="\t")
