"""The chaos soak: ``just chaos`` (not part of ``just test`` or CI; a few minutes).

100 queued scans (one profile each, 8 ``sim`` symbols in 2 batches) on 2 real ``optscan
worker`` processes, while a bounded loop, one event every ``EVERY_S`` seconds, SIGKILLs a
worker with its work horse (and starts a new one, as a supervisor would), restarts
Redis (SIGKILL, then the same port and folder: ``appendonly yes``, ``appendfsync
always``) and, once, fills Redis to its ``maxmemory`` for ``FULL_S`` seconds. Then it
waits for every scan to end and prints the figures ``docs/reliability.md`` quotes:

* scans finished, failed (each with a reason), lost (must be 0 with persistence) and
  still in flight when the wait ran out (hung: must be 0);
* symbols duplicated in a scan's result or counted twice (must be 0), and symbols that
  ended ``failed`` (a fault is not a symbol's failure: expect 0);
* the worst recovery time, per kind of event: from the end of the fault (the worker
  killed and a new one started, Redis back, Redis emptied) to the next symbol recorded
  or scan ended anywhere; and the longest stall of that progress while scans waited;
* when the last scan ended (the faults must cover the run);
* keys left without a TTL (must be none but RQ's bookkeeping), workers alive.

``OPTSCAN_CHAOS_APPENDONLY=no`` runs Redis without persistence: a restart may lose
scans, which must then end ``lost`` or ``failed`` with a reason, never hang.
``OPTSCAN_CHAOS_SEED`` changes which worker each kill picks.

    just chaos        # = python -m pytest -s -p no:cacheprovider tests/chaos.py -m chaos
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis as redis_py

from .fleet import (
    HAVE_SERVER,
    NEEDS_REDIS,
    OPTSCAN,
    PREFIX,
    Filler,
    Fleet,
    RedisServer,
    child_env,
    descendants,
    keys_without_ttl,
    symbols,
    wait_until,
)
from .helpers import OPEN_INSTANT

pytestmark = [pytest.mark.chaos, pytest.mark.skipif(not HAVE_SERVER, reason=NEEDS_REDIS)]

SCANS = 100
SYMBOLS = 8
EVERY_S = 8.0
FULL_S = 15.0
EVENTS = ["kill", "redis", "kill", "kill", "redis", "fill", "kill", "redis", "kill", "redis"]
EVENTS += ["kill", "kill", "redis", "kill"]
END_WAIT_S = 600.0
PASSWORD = "Chaos-pw-4b1d9e"
PERSIST = os.environ.get("OPTSCAN_CHAOS_APPENDONLY", "yes") != "no"
SEED = int(os.environ.get("OPTSCAN_CHAOS_SEED", "18"))


@dataclass
class Progress:
    """Symbols recorded plus scans ended, sampled from a thread (Redis may be down)."""

    client: redis_py.Redis
    scans: list[str]
    samples: list[tuple[float, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.stop.wait(0.25):
            with contextlib.suppress(redis_py.RedisError):
                self.samples.append((time.monotonic(), self.read()))

    def read(self) -> int:
        pipe = self.client.pipeline(transaction=False)
        for scan_id in self.scans:
            pipe.scard(f"{PREFIX}scan:{{{scan_id}}}:done")
            pipe.hget(f"{PREFIX}scan:{{{scan_id}}}", "state")
        values = pipe.execute()
        done = sum(int(v) for v in values[0::2])
        ended = sum(v in (b"finished", b"failed", b"skipped") for v in values[1::2])
        return done + ended

    def next_after(self, at: float) -> float | None:
        """Seconds from ``at`` to the first progress after it (None: no more)."""
        before = [v for t, v in self.samples if t <= at]
        base = before[-1] if before else 0
        for t, v in self.samples:
            if t > at and v > base:
                return t - at
        return None

    def last_change(self) -> float:
        """When the last symbol was recorded or the last scan ended."""
        last_v, at = -1, 0.0
        for t, v in self.samples:
            if v != last_v:
                last_v, at = v, t
        return at

    def longest_stall(self, until: float) -> float:
        worst, last_t, last_v = 0.0, None, -1
        for t, v in self.samples:
            if t > until:
                break
            if v != last_v:
                if last_t is not None:
                    worst = max(worst, t - last_t)
                last_t, last_v = t, v
        return worst


def test_chaos_soak(tmp_path: Path, record_property) -> None:
    args = ["--appendfsync", "always"] if PERSIST else []
    server = RedisServer(tmp_path / "redis", appendonly=PERSIST, args=args, password=PASSWORD)
    server.start()
    url = server.url()
    env = child_env(url)
    fleet = Fleet(url, tmp_path, env)
    chooser = random.Random(SEED)
    events: list[tuple[str, float, float]] = []  # (what, at, back: when the fault ended)
    try:
        fleet.start(2)
        client = server.client()
        scans = [_enqueue(client, i) for i in range(SCANS)]
        started = time.monotonic()
        progress = Progress(server.client(), scans)
        progress.start()
        for what in EVENTS:
            time.sleep(EVERY_S)
            at = time.monotonic()
            if what == "kill":
                _kill_one(fleet, chooser)
                back = time.monotonic()
                _spawn(fleet)
            elif what == "redis":
                server.process.send_signal(signal.SIGKILL)
                server.process.wait(timeout=20)
                server.process = None
                time.sleep(1.0)
                assert server._start(), "redis-server did not come back on its port"
                back = time.monotonic()
            else:
                filler = Filler(server.client())
                time.sleep(FULL_S)
                filler.empty()
                back = time.monotonic()
            events.append((what, at, back))
            codes = [w.returncode for w in fleet.workers if w.poll() is not None]
            print(
                f"{at - started:6.1f} s  {what}  (exit codes of workers gone: {codes})", flush=True
            )
        chaos_s = time.monotonic() - started
        store_client = server.client()
        lost_since: dict[str, float] = {}
        ended = wait_until(
            lambda: _all_ended(store_client, scans, lost_since),
            END_WAIT_S,
            "every scan to end",
            poll=1.0,
        )
        finished_at = time.monotonic()
        progress.stop.set()
        alive = sum(w.poll() is None for w in fleet.workers)
        time.sleep(2)
        stray = keys_without_ttl(store_client)
    finally:
        fleet.stop()
        server.remove()

    states = [doc["state"] for doc in ended.values()]
    without_reason = [
        s for s, doc in ended.items() if doc["state"] == "failed" and not _reason(doc)
    ]
    duplicated = sum(doc["duplicated"] for doc in ended.values())
    recoveries = [
        (what, r) for what, _at, back in events if (r := progress.next_after(back)) is not None
    ]
    worst = {
        kind: round(max((r for w, r in recoveries if w == kind), default=0.0), 1)
        for kind in ("kill", "redis", "fill")
    }
    stall = progress.longest_stall(finished_at)
    figures = {
        "scans": SCANS,
        "persistence": "appendonly yes, appendfsync always" if PERSIST else "none",
        "events": {k: sum(e[0] == k for e in events) for k in ("kill", "redis", "fill")},
        "chaos_s": round(chaos_s, 1),
        "last_scan_ended_s": round(progress.last_change() - started, 1),
        "finished": states.count("finished"),
        "failed_with_reason": states.count("failed") - len(without_reason),
        "failed_without_reason": len(without_reason),
        "lost": states.count("lost"),
        "symbols_duplicated": duplicated,
        "symbols_failed": sum(doc["symbols_failed"] for doc in ended.values()),
        "worst_recovery_s": max(worst.values()),
        "worst_recovery_s_after": worst,
        "longest_stall_s": round(stall, 1),
        "keys_without_ttl": stray,
        "workers_alive": alive,
    }
    print("chaos figures: " + json.dumps(figures, indent=1))
    for key, value in figures.items():
        record_property(key, value)
    assert not without_reason, without_reason
    assert duplicated == 0
    assert alive == 2
    assert stray == [], stray
    if PERSIST:
        assert figures["lost"] == 0, {s: d for s, d in ended.items() if d["state"] == "lost"}
    assert figures["finished"] + figures["failed_with_reason"] + figures["lost"] == SCANS


def _enqueue(client: redis_py.Redis, i: int) -> str:
    """Queue scan ``i`` as ``optscan enqueue`` does (in this process: 100 commands would
    cost 100 s of start-up)."""
    from optscan.config import QueueSection
    from optscan.models import ScanRequest
    from optscan.queue.enqueue import enqueue_scan

    request = ScanRequest(
        provider="sim",
        symbols=symbols(SYMBOLS).split(","),
        as_of=OPEN_INSTANT,
        profile=f"p{i:03d}",
        overrides={"providers.sim.latency_ms": 300},
    )
    scan_id, _job = enqueue_scan(client, request, prefix=PREFIX, cfg=QueueSection(batch_size=4))
    return scan_id


def _kill_one(fleet: Fleet, chooser: random.Random) -> None:
    """SIGKILL a live worker (one with a work horse if any) and its work horse."""
    live = [w for w in fleet.workers if w.poll() is None]
    assert live, f"every worker died: {[w.returncode for w in fleet.workers]}\n{fleet.logs()}"
    busy = [w for w in live if descendants(w.pid)]
    fleet.kill(chooser.choice(busy or live))


def _spawn(fleet: Fleet) -> None:
    """A new worker in place of a killed one (what a supervisor does)."""
    log = (fleet.folder / f"worker-{len(fleet.workers)}.log").open("wb")
    fleet.workers.append(
        subprocess.Popen(
            [*OPTSCAN, "worker", "--log-level", "info"],
            env=fleet.env,
            cwd=fleet.folder,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    )


LOST_FOR_S = 30.0
"""A scan counts as lost once it has shown ``lost`` this long (a fault may delay its
jobs past its lock's TTL; a worker's sweep takes the lock back within seconds)."""


def _all_ended(
    client: redis_py.Redis, scans: list[str], lost_since: dict[str, float]
) -> dict[str, dict] | None:
    """Every scan's end (state, reason, duplicates), or None while one is in flight."""
    from optscan.config import QueueSection
    from optscan.queue.connection import Keys
    from optscan.queue.store import ScanStore

    store = ScanStore(client, Keys(PREFIX), QueueSection())
    out = {}
    try:
        for scan_id in scans:
            doc = store.status(scan_id)
            if doc["state"] in ("queued", "running"):
                return None
            if doc["state"] == "lost":
                since = lost_since.setdefault(scan_id, time.monotonic())
                if time.monotonic() - since < LOST_FOR_S:
                    return None
            else:
                lost_since.pop(scan_id, None)
            result = store.result(scan_id) or {}
            names = [s["symbol"] for s in result.get("symbols", [])]
            doc["duplicated"] = (
                len(names) - len(set(names)) + max(0, doc["symbols_done"] - doc["symbols_total"])
            )
            out[scan_id] = doc
    except redis_py.RedisError:
        return None
    return out


def _reason(doc: dict) -> str | None:
    return doc.get("error") or (json.dumps(doc["failures"]) if doc.get("failures") else None)
