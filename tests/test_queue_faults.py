"""Issue 18's queue faults, reproduced on real ``optscan worker`` (and plain ``rq
worker``) processes against the suite's real ``redis-server``: a job written into Redis
by hand, a scan reported ``lost`` while its jobs waited behind another scan's, a
coordinator that crashes, a Redis restart under a waiting client, and a worker killed
right after taking a job. Each takes seconds, so all are ``slow``; their logic is also
covered in-process, on fakeredis, by ``test_queue_hardening.py``. Figures are recorded
with ``record_property`` and printed (``pytest -s``); ``docs/reliability.md`` quotes them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import redis as redis_py

from .fleet import (
    AS_OF,
    HAVE_SERVER,
    NEEDS_REDIS,
    OPTSCAN,
    PREFIX,
    Fleet,
    RedisServer,
    child_env,
    optscan,
    store_for,
    symbols,
    wait_until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HAVE_SERVER and not os.environ.get("OPTSCAN_TEST_REDIS_URL"), reason=NEEDS_REDIS
    ),
]

CANARY = """
import pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("imported")

def run(*args, **kwargs):
    pathlib.Path(__file__).with_name("ran.txt").write_text("ran")
"""


def push_hand_made_job(client, job_id: str, call: list) -> None:
    """A job written straight into Redis, as anyone who can reach it could: a JSON call
    ``[function, instance, args, kwargs]``, no RQ code involved."""
    data = zlib.compress(json.dumps(call).encode())
    client.hset(
        f"rq:job:{job_id}",
        mapping={"data": data, "status": "queued", "origin": "optscan", "description": job_id},
    )
    client.sadd("rq:queues", "rq:queue:optscan")
    client.rpush("rq:queue:optscan", job_id)


def test_workers_run_only_optscans_jobs(redis_url: str, tmp_path: Path):
    """``optscan worker`` and plain ``rq worker --worker-class optscan.queueing.OptscanWorker``
    (without ``--serializer``: rq's default is pickle) refuse a hand-made job and any job
    naming a foreign callback: nothing runs, nothing it names is imported, each attempt
    is logged with credentials scrubbed, and optscan's own jobs still run."""
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "optscan_canary.py").write_text(CANARY)
    env = child_env(redis_url, PYTHONPATH=str(canary))
    client = redis_py.Redis.from_url(redis_url)
    rq = str(Path(sys.executable).with_name("rq"))
    workers = {
        "optscan worker": [*OPTSCAN, "worker", "--burst"],
        "rq worker": [
            *[rq, "worker", "--url", redis_url, "--burst"],
            *["--worker-class", "optscan.queueing.OptscanWorker", "optscan"],
        ],
    }
    for which, command in workers.items():
        tag = which.split()[0]
        push_hand_made_job(client, f"{tag}-system", ["os.system", None, ["id > pwned.txt"], {}])
        push_hand_made_job(client, f"{tag}-canary", ["optscan_canary.run", None, [], {}])
        push_hand_made_job(
            client, f"{tag}-secret", ["https://ops:hunter2-canary-pw@h/x.run", None, [], {}]
        )
        push_hand_made_job(client, f"{tag}-method", ["format", "{}", ["x"], {}])
        client.hset(f"rq:job:{tag}-method", "failure_callback_name", "optscan_canary.run")
        push_hand_made_job(client, f"{tag}-ping", ["optscan.jobs.ping", None, [], {}])
        ran = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stderr
        log = ran.stdout + ran.stderr
        for name in ("system", "canary", "secret", "method"):
            assert client.hget(f"rq:job:{tag}-{name}", "status") == b"failed", (which, log)
        assert client.hget(f"rq:job:{tag}-ping", "status") == b"finished", (which, log)
        assert log.count("refused job") == 4, (which, log)
        assert "'os.system' is not one of optscan's jobs" in log
        assert "hunter2-canary-pw" not in log
        assert not (tmp_path / "pwned.txt").exists(), which
        assert sorted(p.name for p in canary.iterdir()) == ["optscan_canary.py"], which


def test_a_scan_with_jobs_queued_is_never_lost(fleet: Fleet, record_property):
    """The repro: no worker; a 16-symbol ``blocker`` scan, then an 8-symbol ``victim``
    with ``queue.lock_ttl_s=5`` and ``--wait``; a worker starts after the victim's lease
    lapsed, and the victim's batch then waits seconds behind the blocker's. The victim
    is never ``lost``, its profile stays taken until it ends, and its client exits 0."""
    blocker = optscan(
        fleet.env,
        *["enqueue", "--profile", "blocker", "--provider", "sim", "--symbols", symbols(16)],
        *["--as-of", AS_OF, "--set", "providers.sim.latency_ms=2000", "--format", "json"],
        cwd=fleet.folder,
    )
    assert blocker.returncode == 0, blocker.stderr
    victim_args = ["enqueue", "--profile", "victim", "--provider", "sim", "--symbols", symbols(8)]
    victim_args += ["--as-of", AS_OF, "--set", "queue.lock_ttl_s=5", "--format", "json"]
    waiting = subprocess.Popen(
        [*OPTSCAN, *victim_args, "--wait"],
        env=fleet.env,
        cwd=fleet.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = store_for(fleet.url)
    scan_id = wait_until(lambda: store.latest("victim"), 30, "the victim to be queued")
    client = store.redis
    wait_until(lambda: not client.exists(store.keys.lock("victim")), 15, "the lease to lapse")
    assert store.status(scan_id)["state"] == "queued"
    second = optscan(fleet.env, *victim_args, cwd=fleet.folder)
    assert second.returncode == 1 and scan_id in second.stderr, second.stderr

    fleet.start(1)
    states, refused_while_running = [], False
    while (state := store.status(scan_id)["state"]) in ("queued", "running"):
        states.append(state)
        if state == "running" and not refused_while_running:
            again = optscan(fleet.env, *victim_args, cwd=fleet.folder)
            assert again.returncode == 1 and scan_id in again.stderr, again.stderr
            refused_while_running = True
        time.sleep(0.2)
    out, err = waiting.communicate(timeout=120)
    lapsed = client.pttl(store.keys.lock("victim"))
    print(f"victim states while waiting: {sorted(set(states))}, then {state}")
    assert state == "finished", (state, err, fleet.logs())
    assert waiting.returncode == 0, err
    assert json.loads(out)["state"] == "finished"
    assert refused_while_running and "lost" not in states
    assert lapsed == -2  # released at the end
    record_property("victim_seconds_queued_or_running", round(len(states) * 0.2, 1))


def test_a_crashed_coordinator_fails_its_scan_and_wait_returns(fleet: Fleet):
    """The coordinator cannot run the scan (a missing holdings file in the worker's own
    config: no retry helps): the scan ends ``failed`` with the error and ``--wait``
    exits 1; ``--timeout`` stops a wait on a scan no worker takes, naming it and its
    state. (A coordinator that crashes outright ends its scan once its retries are spent:
    ``test_queue_hardening.py``.)"""
    args = ["enqueue", "--provider", "sim", "--symbols", symbols(4), "--as-of", AS_OF]
    args += ["--format", "json", "--wait"]
    timed_out = optscan(fleet.env, *args, "--profile", "nobody", "--timeout", "2", cwd=fleet.folder)
    assert timed_out.returncode == 1
    assert "is still queued after 2 s" in timed_out.stderr, timed_out.stderr
    assert "Traceback" not in timed_out.stderr

    client_env = fleet.env
    fleet.env = {**client_env, "OPTSCAN_HOLDINGS__FILE": "/nonexistent.csv"}  # the worker's
    fleet.start(1)
    fleet.env = client_env
    crashed = optscan(
        client_env,
        *args,
        *["--strategy", "cc", "--set", "queue.retry_intervals_s=[0]", "--timeout", "60"],
        cwd=fleet.folder,
    )
    assert crashed.returncode == 1, crashed.stderr + fleet.logs()
    doc = json.loads(crashed.stdout)
    assert doc["state"] == "failed", doc
    assert "/nonexistent.csv" in doc["error"]
    assert not store_for(fleet.url).redis.exists(f"{PREFIX}lock:default")


def test_the_waiting_client_rides_out_a_redis_restart(tmp_path: Path, record_property):
    """Redis (``appendonly yes``) is down for 3 s while ``enqueue --wait`` waits: the
    client reconnects and reports how the scan ended, never a traceback."""
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    fleet = Fleet(server.url(0), tmp_path)
    try:
        fleet.start(1)
        args = ["enqueue", "--provider", "sim", "--symbols", symbols(24), "--as-of", AS_OF]
        args += ["--set", "providers.sim.latency_ms=300", "--format", "json", "--wait"]
        waiting = subprocess.Popen(
            [*OPTSCAN, *args], env=fleet.env, cwd=tmp_path, stdout=-1, stderr=-1, text=True
        )
        store = store_for(server.url(0))
        scan_id = wait_until(lambda: store.latest(), 30, "the scan to be queued")
        wait_until(lambda: store.status(scan_id)["symbols_done"] >= 4, 60, "progress")
        server.stop()
        time.sleep(3.0)
        server.start()
        restarted = time.monotonic()
        out, err = waiting.communicate(timeout=150)
        took = time.monotonic() - restarted
    finally:
        fleet.stop()
        server.stop()
    print(f"the waiting client reported the scan {took:.1f} s after Redis came back")
    record_property("seconds_to_report_after_a_redis_restart", round(took, 1))
    assert "Traceback" not in err, err
    doc = json.loads(out)
    assert doc["scan_id"] == scan_id
    assert doc["state"] in ("finished", "failed"), doc
    assert waiting.returncode == (0 if doc["state"] == "finished" else 1)


def _waiting_in_dequeue(client) -> bool:
    """The (only) worker waits in BLMOVE, issued under a second ago: more than 3 s of
    its 5 s dequeue wait remain."""
    return any(
        entry.get("cmd") == "blmove" and int(entry.get("idle", 99)) <= 1
        for entry in client.client_list()
    )


def test_a_worker_killed_right_after_taking_a_job_costs_under_30_s(fleet: Fleet, record_property):
    """A worker stopped while it waits for a job takes the next one off the queue
    (Redis serves its BLMOVE), and is SIGKILLed before it starts it: the job sits in
    the queue's intermediate list, which rq cleans after more than a minute. Another
    worker re-runs it (rq's retry) within about 30 s."""
    from optscan.config import QueueSection
    from optscan.models import ScanRequest
    from optscan.queue.connection import coordinator_job_id
    from optscan.queue.enqueue import enqueue_scan

    fleet.start(1)
    [victim] = fleet.workers
    client = redis_py.Redis.from_url(fleet.url)
    for _attempt in range(50):
        if _waiting_in_dequeue(client):
            os.kill(victim.pid, signal.SIGSTOP)
            break
        time.sleep(0.1)
    else:
        pytest.fail("the worker never waited in BLMOVE")
    request = ScanRequest(provider="sim", symbols=symbols(4).split(","), as_of=AS_OF)
    scan_id, job_id = enqueue_scan(client, request, prefix=PREFIX, cfg=QueueSection())
    assert job_id == coordinator_job_id(scan_id)
    intermediate = "rq:queue:optscan:intermediate"
    wait_until(lambda: client.lrange(intermediate, 0, -1) == [job_id.encode()], 5, "the take")
    fleet.kill(victim)
    killed = time.monotonic()
    fleet.start(1)  # another worker (in production it would already be running)
    store = store_for(fleet.url)
    status = wait_until(
        lambda: (s := store.status(scan_id))["state"] not in ("queued", "running") and s,
        90,
        "the scan to end",
    )
    took = time.monotonic() - killed
    print(f"a job taken by a worker killed before starting it re-ran; scan ended {took:.1f} s")
    record_property("seconds_to_finish_after_killing_a_worker_that_took_a_job", round(took, 1))
    assert status["state"] == "finished", (status, fleet.logs())
    assert took < 35, f"took {took:.1f} s (target: about 30 s)"
