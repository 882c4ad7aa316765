"""Faults on the queue path, with figures: a lock left by a dead scan, a batch job that
exceeds its timeout, a sink that raises, and a soak of consecutive scheduled scans.

(A worker and its work horse killed with SIGKILL, and Redis restarted mid-scan, are in
``test_queue_integration.py``.) Every test runs real ``optscan worker`` processes against
the suite's real ``redis-server`` and records its figures with ``record_property`` and
on stdout (``pytest -s``); ``docs/reliability.md`` quotes them. The soak's length comes
from ``OPTSCAN_SOAK_SCANS`` (default 100).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import redis as redis_py

from .fleet import (
    AS_OF,
    HOLIDAY,
    PREFIX,
    Fleet,
    enqueue,
    optscan,
    store_for,
    symbols,
    wait_until,
)

SOAK_SCANS = int(os.environ.get("OPTSCAN_SOAK_SCANS", "100"))


@pytest.mark.slow  # waits out the lock's TTL
def test_a_lock_left_by_a_dead_scan_expires_or_is_cleared(fleet: Fleet, record_property):
    """A scan that died holding its profile's lock blocks the profile only until the
    lock's TTL runs out, or until an operator clears it."""
    from optscan.queue.connection import Keys
    from optscan.queue.lock import acquire_lock

    fleet.start(1)
    client = redis_py.Redis.from_url(fleet.url)
    keys = Keys(PREFIX)
    ttl_s = 5
    acquire_lock(client, keys, "default", "20261118T160000Z-dead00", ttl_s)
    died = time.monotonic()
    refused = _enqueue_two(fleet)
    assert refused.returncode == 1
    assert "20261118T160000Z-dead00" in refused.stderr and "lock clear" in refused.stderr

    # nobody refreshes a dead scan's lock: it expires and the next scan runs
    scan_id = wait_until(
        lambda: _try_enqueue(fleet), ttl_s + 10, "the dead scan's lock to expire", poll=0.25
    )
    recovered = time.monotonic() - died
    store = store_for(fleet.url)
    wait_until(lambda: store.status(scan_id)["state"] == "finished", 30, "the next scan")
    record_property("seconds_until_a_dead_lock_expired", round(recovered, 1))
    print(f"a dead scan's lock (ttl {ttl_s} s) freed the profile after {recovered:.1f} s")
    assert recovered >= ttl_s - 1  # never freed early; late is bounded by the wait above

    # an operator does not have to wait
    acquire_lock(client, keys, "default", "20261118T160000Z-dead01", 600)
    cleared = optscan(fleet.env, "lock", "clear", "--profile", "default", cwd=fleet.folder)
    assert cleared.returncode == 0, cleared.stderr
    assert "20261118T160000Z-dead01" in cleared.stdout + cleared.stderr
    assert _try_enqueue(fleet)


def _try_enqueue(fleet: Fleet) -> str | None:
    """The new scan's id, or None when the profile is busy."""
    done = _enqueue_two(fleet)
    return json.loads(done.stdout)["scan_id"] if done.returncode == 0 else None


def _enqueue_two(fleet: Fleet) -> subprocess.CompletedProcess[str]:
    """``optscan enqueue`` of two symbols, JSON out."""
    return optscan(
        fleet.env,
        "enqueue",
        "--provider",
        "sim",
        "--symbols",
        symbols(2),
        "--as-of",
        AS_OF,
        "--format",
        "json",
        cwd=fleet.folder,
    )


@pytest.mark.slow  # waits out a job timeout, twice
def test_a_batch_job_over_its_timeout_is_retried_then_reported(fleet: Fleet, record_property):
    """RQ kills a batch job that overruns ``queue.batch_timeout_s``; after its retries the
    aggregator still runs and reports each of its symbols as failed, with the reason."""
    fleet.start(1)
    started = time.monotonic()
    scan_id = enqueue(
        fleet,
        2,
        1500,  # each request takes 1.5 s: a symbol needs at least 3 s
        "--set",
        "queue.batch_timeout_s=2",
        "--set",
        "queue.retry_max=1",
        "--set",
        "queue.retry_intervals_s=[0]",
    )
    store = store_for(fleet.url)
    status = wait_until(
        lambda: (s := store.status(scan_id))["state"] not in ("queued", "running") and s,
        60,
        "the scan to end",
    )
    took = time.monotonic() - started
    record_property("seconds_to_report_a_timed_out_batch", round(took, 1))
    print(f"a batch over its 2 s timeout, retried once, was reported after {took:.1f} s")
    assert status["state"] == "failed"  # no symbol could be scanned
    assert status["symbols_done"] == status["symbols_total"] == 2
    assert sorted(status["failures"]) == ["S001", "S002"]
    assert all("JobTimeoutException" in why for why in status["failures"].values()), status
    result = store.result(scan_id)
    assert {s["reason"] for s in result["symbols"]} == {"job_failed"}
    assert _try_enqueue(fleet), "the aggregator must release the profile's lock"


@pytest.mark.slow  # a real worker (in-process: test_scan.py, the failing sink)
def test_a_sink_that_raises_costs_only_its_own_output(fleet: Fleet, tmp_path, record_property):
    """The json sink told to write over a folder raises on publish: the scan still
    finishes, the failure is in the result's ``errors``, the other sinks publish."""
    fleet.start(1)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    scan_id = enqueue(
        fleet,
        4,
        0,
        "--sink",
        "json",
        "--sink",
        "redis",
        "--set",
        f'sinks.json.path="{folder}"',
    )
    store = store_for(fleet.url)
    wait_until(lambda: store.status(scan_id)["state"] == "finished", 30, "the scan")
    result = store.result(scan_id)
    assert result["success"] is True
    assert [s["status"] for s in result["symbols"]] == ["ok"] * 4
    assert any("json" in error for error in result["errors"]), result["errors"]
    assert folder.is_dir() and not any(folder.iterdir())
    shown = optscan(fleet.env, "results", "--format", "json", cwd=fleet.folder)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["scan_id"] == scan_id  # the redis sink published
    record_property("scans_completed_with_a_raising_sink", 1)


@pytest.mark.slow  # the soak: OPTSCAN_SOAK_SCANS scans, one after another
def test_consecutive_scheduled_scans_leave_nothing_behind(fleet: Fleet, record_property):
    """A soak of scheduled scans (some on a holiday, so skipped) through rq-scheduler's
    path: afterwards no lock, no queued or started job, no failed job, and every key
    optscan or RQ left has a TTL, so nothing accumulates over weeks of schedules."""
    from optscan.config import QueueSection as QueueConfig
    from optscan.models import ScanRequest
    from optscan.queue.rq import JsonQueue

    fleet.start(2)
    client = redis_py.Redis.from_url(fleet.url)
    cfg = QueueConfig()
    queue = JsonQueue(cfg.name, connection=client)
    started = time.monotonic()
    for i in range(SOAK_SCANS):
        request = ScanRequest(
            provider="sim",
            symbols=symbols(3).split(","),
            as_of=HOLIDAY if i % 5 == 4 else AS_OF,
            scheduled=True,
            overrides={"providers.sim.ignore_market_hours": False},
        )
        # what rq-scheduler enqueues for a schedule: the coordinator, no lock, no id
        queue.enqueue_call(
            "optscan.jobs.coordinate_scan",
            kwargs={
                "request": request.model_dump(mode="json"),
                "prefix": PREFIX,
                "queue": cfg.model_dump(),
            },
        )
        wait_until(lambda n=i + 1: _ended(client) == n, 60, f"scheduled scan {i + 1}", poll=0.05)
    took = time.monotonic() - started
    wait_until(lambda: not _busy(client, cfg.name), 30, "the queue to drain")

    states = _states(client)
    assert states.count("finished") == SOAK_SCANS - SOAK_SCANS // 5
    assert states.count("skipped") == SOAK_SCANS // 5
    assert not client.exists(f"{PREFIX}lock:default")
    assert not client.keys(f"{PREFIX}*:tmp:*")
    forever = [
        key.decode()
        for key in client.scan_iter(count=1000)
        if client.ttl(key) == -1 and not _rq_bookkeeping(key.decode())
    ]
    assert forever == [], f"keys without a TTL pile up: {forever[:10]}"
    record_property("scheduled_scans_in_the_soak", SOAK_SCANS)
    record_property("soak_seconds", round(took, 1))
    print(f"{SOAK_SCANS} scheduled scans in {took:.1f} s, no stray key, lock or job left")


def _ended(client) -> int:
    """How many scans have ended (one at a time: the next starts after the last ends)."""
    return sum(state in ("finished", "skipped", "failed") for state in _states(client))


def _busy(client, name: str) -> bool:
    from rq.registry import DeferredJobRegistry, FailedJobRegistry, StartedJobRegistry

    from optscan.queue.rq import JsonQueue

    queue = JsonQueue(name, connection=client)
    assert FailedJobRegistry(queue=queue).count == 0, "a job failed during the soak"
    return bool(
        queue.count
        or StartedJobRegistry(queue=queue).count
        or DeferredJobRegistry(queue=queue).count
    )


def _states(client) -> list[str]:
    return [
        client.hget(key, "state").decode()
        for key in client.scan_iter(match=f"{PREFIX}scan:*", count=1000)
        if client.type(key) == b"hash" and client.hget(key, "state")
    ]


def _rq_bookkeeping(key: str) -> bool:
    """RQ's own long-lived structures: bounded by the number of queues and workers, not
    by the number of scans (registries are sorted sets pruned by their cleaners)."""
    return key in ("rq:queues", "rq:workers", f"rq:workers:{'optscan'}") or key.startswith(
        (
            "rq:wip:",
            "rq:finished:",
            "rq:failed:",
            "rq:deferred:",
            "rq:scheduled:",
            "rq:worker:",
            "rq:canceled:",
            "rq:queue:",
            "rq:executions:",
            "rq:intermediate:",
            "rq:cleaning_lock:",
            "rq:scheduler",
        )
    )
