"""Queued scans on RQ against the same scan embedded: 200 ``sim`` symbols at 100 ms.

Starts its own ``redis-server`` (free port, temporary folder, no persistence) and real
``optscan worker`` processes (forking workers, as in production): fleets of 1, 2 and 4
workers, each on its own Redis database, all started before the first scan. Every
worker and the embedded scan run at the same ``scan.concurrency`` (32). Figures, side
by side from one run, each the best of 3 rounds (a round runs embedded, 1, 2 and 4
workers in turn, so a slow spell of a shared machine hits all of them):

* wall time, enqueue to the scan's ``finished`` state (embedded: ``perform_scan``),
  against its latency bound ``requests x latency / (workers x concurrency)``; targets:
  2 workers >= 1.6x faster than embedded and <= 1.5x their bound, 4 workers beat 2;
* with ``rate_limit_per_s = 50``, 2 workers against the rate bound ``requests / rate``
  (<= 1.1x), and the "too many requests" answers the simulated server counted in
  Redis for the whole fleet (0);
* the queue's overhead per symbol (1 worker's best minus embedded's best, over the
  symbols) and per job (a no-op job through a forking worker, enqueue to result).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
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
from typing import Any

AS_OF = dt.datetime(2026, 11, 18, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
LATENCY_MS = 100
CONCURRENCY = 32
RATE = 50.0
FLEETS = (1, 2, 4)
PREFIX = "optscan:"


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


def _queued_scan(
    url: str, symbols: list[str], overrides: dict[str, Any] | None = None
) -> tuple[float, int, int, int]:
    """``(wall s, requests, too many, batch jobs)`` of one queued scan."""
    from redis import Redis

    from optscan.config import QueueSection as QueueConfig
    from optscan.default_plugins.providers.sim_server import server_counts
    from optscan.models import ScanRequest
    from optscan.queue.connection import Keys
    from optscan.queue.enqueue import enqueue_scan, wait_for_scan
    from optscan.queue.store import ScanStore

    cfg = QueueConfig()
    keys = Keys(PREFIX)
    redis = Redis.from_url(url)
    server = keys.provider_server("sim")
    redis.delete(*(f"{server}:{k}" for k in ("window", "requests", "too_many")))
    request = ScanRequest(
        provider="sim",
        symbols=symbols,
        as_of=AS_OF,
        overrides={
            "providers.sim.latency_ms": LATENCY_MS,
            "scan.concurrency": CONCURRENCY,
            **(overrides or {}),
        },
    )
    store = ScanStore(redis, keys, cfg)
    t0 = time.perf_counter()
    scan_id, _ = enqueue_scan(redis, request, prefix=PREFIX, cfg=cfg)
    status = wait_for_scan(store, scan_id, poll_s=0.02)
    elapsed = time.perf_counter() - t0
    if status["state"] != "finished" or status["symbols_done"] != len(symbols):
        raise RuntimeError(f"queued scan did not finish cleanly: {status}")
    counts = server_counts(redis, server)
    jobs = len(json.loads(store.get(scan_id).get("batches") or "[]"))
    return elapsed, counts["requests"], counts["too_many"], jobs


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


def _embedded(symbols: list[str]) -> tuple[float, int]:
    """``(wall s, requests)`` of the same scan in this process."""
    from optscan.config import load_settings
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    settings = load_settings(
        overrides={
            "scan.provider": "sim",
            "providers.sim.latency_ms": LATENCY_MS,
            "scan.concurrency": CONCURRENCY,
        },
        use_env=False,
    )
    t0 = time.perf_counter()
    request = ScanRequest(symbols=symbols, as_of=AS_OF)
    result = perform_scan(request, PluginHost(), settings=settings)
    elapsed = time.perf_counter() - t0
    return elapsed, sum(1 + len(s.expirations) for s in result.symbols)


def _bound(requests: int, workers: int) -> float:
    """The latency bound: every slot of every worker busy from start to end."""
    return requests * LATENCY_MS / 1000 / (workers * CONCURRENCY)


def run(quick: bool = False) -> list[tuple[str, str, str]]:
    if shutil.which("redis-server") is None:
        return [("queued scans", "skipped", "needs redis-server")]
    n = 80 if quick else 200
    rounds = 1 if quick else 3
    symbols = [f"S{i:03d}" for i in range(1, n + 1)]
    walls: dict[str, list[float]] = {"embedded": [], **{str(w): [] for w in FLEETS}}
    requests: dict[str, int] = {}
    jobs: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="optscan-bench-") as tmp:
        folder = Path(tmp)
        server, port = _start_redis(folder)
        fleets: dict[int, list[subprocess.Popen[bytes]]] = {}
        try:
            urls = {w: f"redis://127.0.0.1:{port}/{db}" for db, w in enumerate(FLEETS, start=1)}
            for workers, url in urls.items():
                fleets[workers] = _start_workers(url, workers, folder)
            _embedded(symbols[:8])  # warm this process's scan path
            for url in urls.values():  # and each fleet's
                _queued_scan(url, symbols[:8])
            for _ in range(rounds):
                wall, requests["embedded"] = _embedded(symbols)
                walls["embedded"].append(wall)
                for workers, url in urls.items():
                    wall, requests[str(workers)], _, jobs[workers] = _queued_scan(url, symbols)
                    walls[str(workers)].append(wall)
            rl_symbols = symbols[: 40 if quick else 200]
            rl = _queued_scan(urls[2], rl_symbols, {"providers.sim.rate_limit_per_s": RATE})
            _job_round_trips(urls[1], 3)  # warm
            trips = _job_round_trips(urls[1], 10 if quick else 30)
        finally:
            for fleet in fleets.values():
                _stop_workers(fleet)
            server.terminate()
            server.wait()
    best = {k: min(v) for k, v in walls.items()}
    label = f"{n} symbols @ {LATENCY_MS} ms, scan.concurrency {CONCURRENCY}, best of {rounds}"
    rows: list[tuple[str, str, str]] = []
    embedded = best["embedded"]
    e_bound = _bound(requests["embedded"], 1)
    rows.append(
        (
            f"{label}: embedded (1 process), {requests['embedded']} requests",
            f"{embedded:.2f} s",
            f"latency bound {e_bound:.2f} s -> {embedded / e_bound:.2f}x",
        )
    )
    for workers in FLEETS:
        wall = best[str(workers)]
        bound = _bound(requests[str(workers)], workers)
        target = f"latency bound {bound:.2f} s -> {wall / bound:.2f}x"
        if workers == 2:
            target = (
                f">= 1.6x faster than embedded -> {embedded / wall:.2f}x; "
                f"<= 1.5x latency bound {bound:.2f} s -> {wall / bound:.2f}x"
            )
        if workers == 4:
            verdict = "yes" if wall < best["2"] else "no"
            target += f"; beats 2 workers ({best['2']:.2f} s) -> {verdict}"
        rows.append(
            (
                f"the same, {workers} worker(s), {jobs[workers]} batch job(s), "
                f"{requests[str(workers)]} requests, enqueue to finished",
                f"{wall:.2f} s ({embedded / wall:.2f}x embedded)",
                target,
            )
        )
    rl_wall, rl_requests, rl_too_many, rl_jobs = rl
    rl_bound = rl_requests / RATE
    rows.append(
        (
            f"{len(rl_symbols)} symbols, 2 workers, rate_limit_per_s={RATE:g}, "
            f"{rl_requests} requests ({rl_jobs} batch jobs)",
            f"{rl_wall:.2f} s; server's too-many answers: {rl_too_many}",
            f"<= 1.1 x requests/rate {rl_bound:.2f} s -> {rl_wall / rl_bound:.2f}x; too many = 0",
        )
    )
    rows.append(
        (
            "queue overhead per symbol (1 worker minus embedded, best of each, / symbols)",
            f"{(best['1'] - embedded) / n * 1000:.1f} ms",
            "reported",
        )
    )
    rows.append(
        (
            "queue overhead per job (no-op job, enqueue to result)",
            f"{statistics.median(trips) * 1000:.1f} ms median, {max(trips) * 1000:.1f} ms max",
            "reported",
        )
    )
    return rows


if __name__ == "__main__":
    for row in run("--quick" in sys.argv):
        print(*row, sep="\t")
