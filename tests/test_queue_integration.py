"""Queued scans against a real redis-server and real ``optscan worker`` processes.

Each takes seconds (worker start-up, jobs kept busy on purpose, recovery waits), so all
but the first are marked ``slow`` (``just test`` runs them, ``just test-fast`` does not);
their logic is also covered in-process, on fakeredis, by ``test_queue_unit.py``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import time
import urllib.request

import pytest
import redis as redis_py

from .fleet import (
    AS_OF,
    HAVE_SERVER,
    HOLIDAY,
    NEEDS_REDIS,
    OPTSCAN,
    Fleet,
    RedisServer,
    assert_complete,
    batches,
    child_env,
    descendants,
    embedded_opportunities,
    enqueue,
    enqueue_doc,
    free_port,
    optscan,
    store_for,
    symbols,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    not HAVE_SERVER and not os.environ.get("OPTSCAN_TEST_REDIS_URL"), reason=NEEDS_REDIS
)


# --------------------------------------------------------------------------- tests


def test_two_workers_share_a_scan_and_account_for_every_symbol(fleet):
    from optscan.queue.connection import batch_job_id
    from optscan.queue.rq import JsonJob

    fleet.start(2)
    doc = enqueue_doc(fleet, 40, 100, "--sink", "redis", "--wait")
    store = store_for(fleet.url)
    result = assert_complete(store, doc["scan_id"], 40)
    assert result["opportunities"] == embedded_opportunities(40)
    client = redis_py.Redis.from_url(fleet.url)
    workers = {
        JsonJob.fetch(batch_job_id(doc["scan_id"], i), connection=client).worker_name
        for i in range(batches(store, doc["scan_id"]))
    }
    assert len(workers) == 2, "both workers should have scanned"
    results = optscan(fleet.env, "results", "--format", "json", cwd=fleet.folder)
    assert json.loads(results.stdout)["scan_id"] == doc["scan_id"]
    assert all(key.startswith((b"optscan:", b"rq:")) for key in client.keys("*"))


@pytest.mark.slow  # waits for rq to notice the dead worker and re-run its job
def test_a_killed_worker_and_horse_lose_nothing(fleet, record_property):
    from optscan.queue.rq import JsonJob

    fleet.start(2)
    client = redis_py.Redis.from_url(fleet.url)
    # one batch of 20 per worker, each about 7 s at 4 requests in flight: the kill
    # lands mid-batch, after the batch recorded some of its symbols
    scan_id = enqueue(fleet, 40, 300, "--set", "scan.concurrency=4")
    store = store_for(fleet.url)
    wait_until(lambda: store.status(scan_id)["symbols_done"] >= 4, 30, "the scan to start")

    def scheduler_worker() -> subprocess.Popen[bytes] | None:
        """The worker whose child runs rq's scheduler (the worst one to lose)."""
        name = client.get("rq:scheduler-lock:optscan")
        pid = name and client.hget(f"rq:scheduler:{name.decode()}", "pid")
        for worker in fleet.workers:
            if pid and int(pid) in {p for p, _ in descendants(worker.pid)}:
                return worker
        return None

    def current_batch(worker: subprocess.Popen[bytes]) -> str | None:
        """The batch job of this scan the worker is running now, as rq records it."""
        from optscan.queue.worker import OptscanWorker

        for registered in OptscanWorker.all(connection=client):
            if registered.pid == worker.pid:
                job = registered.get_current_job_id() or ""
                return job if job.startswith(f"optscan-{scan_id}-b") else None
        return None

    def busy_victim() -> tuple[subprocess.Popen[bytes], str] | None:
        victim = scheduler_worker() or fleet.workers[0]
        horses = [p for p, g in descendants(victim.pid) if p == g]
        job = current_batch(victim) if horses else None
        return (victim, job) if job else None

    victim, lost_job = wait_until(busy_victim, 20, "a worker busy with a batch", poll=0.05)
    held_scheduler = victim is scheduler_worker()
    fleet.kill(victim)
    killed_at, killed_wall = time.monotonic(), dt.datetime.now(dt.UTC)
    wait_until(
        lambda: store.status(scan_id)["state"] not in ("queued", "running"),
        60,
        "the scan to finish after the kill",
    )
    recovery = time.monotonic() - killed_at
    record_property("seconds_to_finish_after_sigkill", round(recovery, 1))
    print(f"scan finished {recovery:.1f} s after the SIGKILL (scheduler held: {held_scheduler})")
    assert_complete(store, scan_id, 40)
    assert recovery < 45, f"took {recovery:.1f} s after the kill (target about 30 s)"
    started = JsonJob.fetch(lost_job, connection=client).started_at
    started = started if started.tzinfo else started.replace(tzinfo=dt.UTC)
    rerun = (started - killed_wall).total_seconds()
    assert rerun > 0, "the batch the killed worker was running should have run again"
    record_property("seconds_to_rerun_the_lost_job", round(rerun, 1))
    print(f"the lost batch re-ran {rerun:.1f} s after the SIGKILL")
    assert rerun < 30


@pytest.mark.slow  # restarts a redis-server and waits for the fleet to reconnect
def test_a_redis_restart_mid_scan_resumes_or_fails_clearly(tmp_path):
    if not HAVE_SERVER:
        pytest.skip("needs redis-server to restart one")
    server = RedisServer(tmp_path / "redis", appendonly=True)
    server.start()
    fleet = Fleet(server.url(0), tmp_path)
    try:
        fleet.start(2)
        scan_id = enqueue(fleet, 40, 300)
        store = store_for(server.url(0))
        wait_until(lambda: store.status(scan_id)["symbols_done"] >= 8, 30, "progress")
        server.stop()
        time.sleep(1.0)
        server.start()
        status = wait_until(
            lambda: (s := store.status(scan_id))["state"] not in ("queued", "running") and s,
            90,
            "the scan to end after the restart",
        )
        result = store.result(scan_id)
        print(f"after the Redis restart the scan ended {status['state']}")
        if status["state"] == "finished":
            assert_complete(store, scan_id, 40)
        else:
            assert status["state"] == "failed" and status["error"], (
                status,
                store.redis.hgetall(store.keys.scan(scan_id)),
            )
            assert result is None or len(result["symbols"]) == 40  # never half a result
    finally:
        fleet.stop()
        server.stop()


@pytest.mark.slow  # a real worker busy for seconds (in-process: test_queue_unit.py)
def test_a_scan_whose_state_vanished_shows_as_lost(fleet):
    fleet.start(1)
    scan_id = enqueue(fleet, 40, 300)
    store = store_for(fleet.url)
    wait_until(lambda: store.status(scan_id)["symbols_done"] >= 4, 30, "progress")
    store.redis.flushdb()
    out = optscan(fleet.env, "status", "--scan-id", scan_id, "--format", "json", cwd=fleet.folder)
    assert json.loads(out.stdout)["state"] == "lost"
    time.sleep(2)  # jobs still running must not bring half the state back
    assert store.status(scan_id)["state"] == "lost"
    assert not store.redis.exists(store.keys.scan(scan_id), store.keys.result(scan_id))
    # and the fleet takes the next scan normally
    again = enqueue(fleet, 4, 0)
    wait_until(lambda: store.status(again)["state"] == "finished", 30, "the next scan")


@pytest.mark.slow  # two enqueue processes racing, a worker busy for seconds
def test_two_scans_at_once_one_runs_the_other_is_refused(fleet):
    fleet.start(1)
    # 600 ms a request keeps the winner's scan running for seconds, longer than the
    # loser's start-up can lag behind (the lock lives as long as the scan runs).
    args = [*OPTSCAN, "enqueue", "--provider", "sim", "--symbols", symbols(8)]
    args += ["--as-of", AS_OF, "--format", "json", "--set", "providers.sim.latency_ms=600"]
    both = [
        subprocess.Popen(args, env=fleet.env, cwd=fleet.folder, stdout=-1, stderr=-1, text=True)
        for _ in range(2)
    ]
    outcomes = sorted((p.wait(timeout=60), *p.communicate()) for p in both)
    (ok_code, ok_out, _), (refused_code, _, refused_err) = outcomes
    assert (ok_code, refused_code) == (0, 1)
    scan_id = json.loads(ok_out)["scan_id"]
    assert "already has a scan in progress" in refused_err and scan_id in refused_err
    store = store_for(fleet.url)
    wait_until(lambda: store.status(scan_id)["state"] == "finished", 30, "the first scan")
    enqueue(fleet, 2, 0)  # the lock was released


@pytest.mark.slow  # a dashboard process beside a worker busy for seconds
def test_dashboard_json_endpoints_answer_while_a_json_job_runs(fleet):
    from optscan.queue.rq import JsonJob

    fleet.start(1)
    client = redis_py.Redis.from_url(fleet.url)
    port = free_port()
    server = subprocess.Popen(
        [*OPTSCAN, "dashboard", "--port", str(port)],
        env=fleet.env,
        cwd=fleet.folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def get(path: str) -> tuple[int, bytes]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                return r.status, r.read()

        def up() -> bool:
            with contextlib.suppress(OSError):
                return get("/0/data/queues.json")[0] == 200
            return False

        # the dashboard first, so that its start (slow on a loaded machine) cannot
        # outlast the job; then one batch job, busy for several seconds
        wait_until(up, 30, "the dashboard")
        enqueue(fleet, 8, 6000)
        running = wait_until(
            lambda: [k for k in client.zrange("rq:wip:optscan", 0, -1)], 30, "a running job"
        )
        job_id = running[0].decode().split(":")[0]
        assert JsonJob.fetch(job_id, connection=client).get_status() == "started"
        for path in (
            "/0/data/queues.json",
            "/0/data/workers.json",
            "/0/data/jobs/optscan/started/8/asc/1.json",
            "/0/data/jobs/optscan/queued/8/asc/1.json",
            f"/0/data/job/{job_id}.json",
            "/0/view/workers",
            f"/0/view/job/{job_id}",
        ):
            status, _body = get(path)
            assert status == 200, path
        workers = json.loads(get("/0/data/workers.json")[1])["workers"]
        assert any(w["current_job"] != "idle" for w in workers)
        queues = json.loads(get("/0/data/queues.json")[1])["queues"]
        assert any(q["name"] == "optscan" for q in queues)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


@pytest.mark.slow  # five optscan processes, rq-scheduler and a worker
def test_schedules_are_unique_in_new_york_time_and_skip_holidays(redis_url, tmp_path):
    env = child_env(redis_url, TZ="Asia/Tokyo")
    fleet = Fleet(redis_url, tmp_path, env)
    add = [
        "schedule",
        "add",
        "--cron",
        "0 10 * * *",
        "--provider",
        "sim",
        "--symbols",
        symbols(4),
        "--as-of",
        HOLIDAY,
        "--set",
        "providers.sim.ignore_market_hours=false",
        "--format",
        "json",
    ]
    first = optscan(env, *add, cwd=tmp_path)
    second = optscan(env, *add, cwd=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr
    assert json.loads(first.stdout)["id"] == json.loads(second.stdout)["id"]
    listed = json.loads(optscan(env, "schedule", "list", "--format", "json", cwd=tmp_path).stdout)
    assert len(listed["schedules"]) == 1
    when = dt.datetime.fromisoformat(listed["schedules"][0]["next_run_new_york"])
    assert (when.hour, when.minute) == (10, 0)  # 10:00 in New York, not Tokyo
    # make it due now, let `optscan scheduler` (in Tokyo) fire it and a worker run it
    client = redis_py.Redis.from_url(redis_url)
    client.zadd("rq:scheduler:scheduled_jobs", {listed["schedules"][0]["id"]: 0})
    fired = optscan(env, "scheduler", "--burst", cwd=tmp_path)
    assert fired.returncode == 0, fired.stderr
    relisted = json.loads(optscan(env, "schedule", "list", "--format", "json", cwd=tmp_path).stdout)
    when = dt.datetime.fromisoformat(relisted["schedules"][0]["next_run_new_york"])
    assert (when.hour, when.minute) == (10, 0)  # rescheduled in New York time
    try:
        fleet.start(1)
        store = store_for(redis_url)
        scan_id = wait_until(lambda: store.latest("default"), 30, "the scheduled scan")
        status = wait_until(
            lambda: (s := store.status(scan_id))["state"] not in ("queued", "running") and s,
            30,
            "the scheduled scan to end",
        )
    finally:
        fleet.stop()
    assert status["state"] == "skipped" and status["scheduled"], status
    assert "market closed" in status["message"]
