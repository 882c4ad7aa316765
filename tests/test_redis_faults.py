"""A Redis that refuses writes (``maxmemory`` reached, ``noeviction``), and what RQ leaves
behind when it refuses some writes and not others.

* Every command on a full or unreachable Redis exits with one line, never a traceback.
* The repairs of :mod:`optscan.queue.sweep`, each on the state a refused write leaves
  (jobs run in this process, on the suite's real redis-server).
* Real ``optscan worker`` processes through 30 s of a full Redis (slow): none exits,
  and every scan ends ``finished`` or ``failed`` with a reason once Redis has room,
  leaving no key, lock or job without a TTL.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis as redis_py

from optscan.config import QueueSection
from optscan.models import ScanRequest
from optscan.queue.connection import Keys, aggregator_job_id, batch_job_id, coordinator_job_id
from optscan.queue.enqueue import enqueue_scan
from optscan.queue.jobs import JobRuntime, use_runtime
from optscan.queue.rq import JsonJob, JsonQueue
from optscan.queue.store import ScanStore
from optscan.queue.sweep import MAX_REPAIRS, Sweeper, release_stranded, requeue_undelivered

from .fleet import (
    AS_OF,
    HAVE_SERVER,
    NEEDS_REDIS,
    OPTSCAN,
    PREFIX,
    Filler,
    Fleet,
    RedisServer,
    child_env,
    free_port,
    keys_without_ttl,
    optscan,
    symbols,
    wait_until,
)
from .helpers import OPEN_INSTANT, run_jobs
from .invoke import invoke

pytestmark = pytest.mark.skipif(not HAVE_SERVER, reason=NEEDS_REDIS)

SIM = ("--provider", "sim", "--symbols", "S001,S002", "--as-of", AS_OF)
PASSWORD = "Full-redis-pw-93c1"


# --------------------------------------------------------------------------- commands


@pytest.fixture
def full_redis(tmp_path) -> Iterator[RedisServer]:
    """A redis-server of its own that refuses every write (``maxmemory`` below its use,
    ``noeviction``); reads still work."""
    server = RedisServer(tmp_path / "full", password=PASSWORD)
    server.start()
    client = server.client()
    client.set("filler", b"x" * 200_000)
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", used // 2)
    with pytest.raises(redis_py.exceptions.OutOfMemoryError):
        client.set("one-more", "x")
    yield server
    server.remove()


COMMANDS = [
    ("enqueue", *SIM),
    ("enqueue", *SIM, "--wait"),
    ("scan", *SIM, "--queue"),
    ("status",),
    ("results",),
    ("lock", "clear"),
    ("schedule", "add", "--cron", "30 10 * * 1-5", *SIM),
    ("schedule", "list"),
    ("schedule", "remove", "nope"),
    ("scheduler", "--burst"),
]
WRITES = {"enqueue", "scan", "add", "scheduler"}


def _service_chatter(line: str) -> bool:
    """The banner ("scheduler on redis://...") or a timestamped log line of a service."""
    return " on redis://:***@" in line or re.match(r"\d{4}-\d\d-\d\dT", line) is not None


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_on_a_full_redis_exits_with_one_line(full_redis, args):
    done = invoke(*args, env={"OPTSCAN_REDIS_URL": full_redis.url()})
    assert "Traceback" not in done.stderr, done.report
    assert PASSWORD not in done.text
    if done.returncode != 0:  # one line (after a service's banner and its log lines)
        lines = [x for x in done.stderr.strip().splitlines() if not _service_chatter(x)]
        assert done.returncode == 1 and len(lines) == 1, done.report
        assert lines[0].startswith("optscan: ")
    if WRITES & set(args[:2]):
        assert done.returncode == 1, done.report
        assert "Redis is full (maxmemory reached)" in done.stderr, done.report
        assert "raise its maxmemory" in done.stderr


@pytest.mark.parametrize(
    "args", [*COMMANDS, ("worker", "--burst"), ("dashboard",)], ids=lambda a: " ".join(a[:2])
)
def test_every_command_on_an_unreachable_redis_exits_with_one_line(args):
    url = f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0"
    done = invoke(*args, env={"OPTSCAN_REDIS_URL": url})
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.report
    assert lines[0].startswith("optscan: cannot reach Redis at redis://:***@127.0.0.1:")
    assert PASSWORD not in done.text


@pytest.mark.slow  # a real worker process backing off for seconds
def test_a_worker_on_a_full_redis_backs_off_and_stops_on_sigterm(full_redis, tmp_path):
    """Started on a full Redis, ``optscan worker`` does not exit: each try ends in one
    scrubbed line and a growing pause; SIGTERM during a pause stops it at once (rc 0)."""
    import signal
    import subprocess

    log = tmp_path / "worker.log"
    with log.open("wb") as err:
        worker = subprocess.Popen(
            [*OPTSCAN, "worker"],
            env=child_env(full_redis.url()),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        try:
            wait_until(lambda: log.read_text().count("starting again") >= 3, 60, "3 tries")
            assert worker.poll() is None
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=10) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    text = log.read_text()
    assert "Traceback" not in text and PASSWORD not in text
    tries = [line for line in text.splitlines() if "starting again" in line]
    assert all("Redis error (OutOfMemoryError" in line for line in tries), tries
    assert [t.split("starting again in ")[1].split(" s")[0] for t in tries[:3]] == ["0.5", "1", "2"]


@pytest.mark.slow  # a scheduler process through two Redis outages
def test_the_scheduler_outlives_redis_going_away_and_stops_on_sigterm(tmp_path):
    """``optscan scheduler`` does not exit when Redis goes away under it (restarted,
    failed over): one scrubbed line and a pause, and once Redis is back it enqueues what
    is due again, so timed scans resume; SIGTERM while Redis is down stops it (rc 0)."""
    import datetime as dt
    import signal
    import subprocess

    from optscan.queue.schedule import make_scheduler

    server = RedisServer(tmp_path / "redis", password=PASSWORD)
    server.start()
    log = tmp_path / "scheduler.log"
    env = child_env(server.url(), OPTSCAN_QUEUE__SCHEDULER_INTERVAL_S="1")
    with log.open("wb") as err:
        scheduler = subprocess.Popen(
            [*OPTSCAN, "scheduler"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
        try:
            client = server.client()
            wait_until(lambda: client.keys("rq:scheduler_instance:*"), 30, "the scheduler")
            server.stop()
            wait_until(lambda: "starting again" in log.read_text(), 30, "the outage noticed")
            time.sleep(2)
            assert scheduler.poll() is None, log.read_text()
            server.start()  # the same port, empty (no persistence): a restarted Redis
            client = server.client()
            now = dt.datetime.now(dt.UTC)
            due = make_scheduler(client, QueueSection()).enqueue_at(now, "optscan.jobs.ping")
            queue = JsonQueue("optscan", connection=client)
            wait_until(lambda: due.id in queue.job_ids, 60, "the due job enqueued after")
            tries = log.read_text().count("starting again")
            server.stop()
            wait_until(lambda: log.read_text().count("starting again") > tries, 30, "again")
            scheduler.send_signal(signal.SIGTERM)
            assert scheduler.wait(timeout=15) == 0
        finally:
            if scheduler.poll() is None:
                scheduler.kill()
                scheduler.wait()
            server.remove()
    text = log.read_text()
    assert "Traceback" not in text and PASSWORD not in text, text
    lines = [line for line in text.splitlines() if "starting again" in line]
    assert all(line.startswith("optscan: scheduler stopped: Redis error (") for line in lines), (
        lines
    )


# --------------------------------------------------------------------------- repairs


@pytest.fixture
def redis(redis_url: str) -> redis_py.Redis:
    return redis_py.Redis.from_url(redis_url)


def start_scan(redis: redis_py.Redis, n: int = 4) -> tuple[str, QueueSection]:
    """Queue a scan of ``n`` symbols in batches of 2, without RQ retries, and run its
    coordinator (the batches queued, the aggregator deferred)."""
    cfg = QueueSection(batch_size=2, retry_max=0)
    request = ScanRequest(provider="sim", symbols=symbols(n).split(","), as_of=OPEN_INSTANT)
    scan_id, _job = enqueue_scan(redis, request, prefix=PREFIX, cfg=cfg)
    run_jobs(redis, max_jobs=1)
    return scan_id, cfg


def status(redis: redis_py.Redis, scan_id: str) -> dict:
    return ScanStore(redis, Keys(PREFIX), QueueSection()).status(scan_id)


def sweeper(grace_s: float = 0.0) -> Sweeper:
    return Sweeper(Keys(PREFIX), QueueSection(), grace_s=grace_s)


def failing_runtime() -> JobRuntime:
    """Jobs whose every step fails the way a refused write does (not an optscan error,
    so the job fails and, without retries, fails for good)."""

    def refuse(_overrides):
        raise redis_py.exceptions.OutOfMemoryError(
            "command not allowed when used memory > 'maxmemory'."
        )

    return JobRuntime(load_settings=refuse)


def test_an_aggregator_left_deferred_after_its_batches_ended_is_enqueued(redis):
    """A batch ended, but enqueuing its dependents was refused: RQ never looks at the
    deferred aggregator again. The sweep enqueues it; the scan finishes."""
    scan_id, _cfg = start_scan(redis)
    aggregator = aggregator_job_id(scan_id)
    for i in range(2):  # what a refused enqueue_dependents leaves: nobody will enqueue it
        redis.srem(JsonJob.dependents_key_for(batch_job_id(scan_id, i)), aggregator)
    run_jobs(redis)
    assert JsonJob.fetch(aggregator, connection=redis).get_status() == "deferred"
    assert status(redis, scan_id)["state"] == "running"
    assert release_stranded(JsonQueue("optscan", connection=redis)) == [aggregator]
    run_jobs(redis)
    assert status(redis, scan_id)["state"] == "finished"
    assert 0 < redis.ttl(JsonJob.key_for(aggregator)) <= 3600


def test_a_job_rq_left_out_of_place_is_run_again(redis):
    """``Job.retry`` sets ``scheduled`` on its own, then schedules the job in a pipeline
    that Redis refused: the job is in no queue and no registry. After the grace the
    sweep enqueues it again; the scan finishes with every symbol once."""
    scan_id, _cfg = start_scan(redis)
    lost = batch_job_id(scan_id, 0)
    redis.lrem(JsonQueue("optscan", connection=redis).key, 0, lost)
    redis.hset(JsonJob.key_for(lost), "status", "scheduled")
    run_jobs(redis)
    assert status(redis, scan_id)["symbols_done"] == 2
    patient = sweeper(grace_s=60)
    assert patient(redis) == []  # an RQ step may be in flight: only suspected
    done = sweeper()(redis)
    assert done == [f"{scan_id}: job {lost} (scheduled) enqueued again"]
    run_jobs(redis)
    doc = status(redis, scan_id)
    assert (doc["state"], doc["symbols_done"], doc["symbols_failed"]) == ("finished", 4, 0)


@contextmanager
def failure_callback_refused(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """RQ's failure callback ends a scan whose coordinator or aggregator failed for
    good; here Redis refuses its write (it never raises), so only the sweep can."""
    with monkeypatch.context() as patch:
        patch.setattr(ScanStore, "end", refuse_write)
        yield


def refuse_write(*_args: object, **_kwargs: object) -> int:
    raise redis_py.exceptions.OutOfMemoryError("command not allowed when used memory")


def test_a_failure_callback_ends_the_scan_of_a_failed_aggregator_at_once(redis):
    scan_id, _cfg = start_scan(redis)
    run_jobs(redis, max_jobs=2)  # the batches
    with use_runtime(failing_runtime()):
        run_jobs(redis)  # the aggregator fails, no retry left
    doc = status(redis, scan_id)
    assert doc["state"] == "failed" and "OutOfMemoryError" in doc["error"]
    assert "the aggregator job failed" in doc["error"]
    assert not redis.exists(f"{PREFIX}lock:default"), "the profile's lock is released"


def test_a_scan_whose_aggregator_failed_for_good_ends_failed_with_the_reason(redis, monkeypatch):
    scan_id, _cfg = start_scan(redis)
    run_jobs(redis, max_jobs=2)  # the batches
    with use_runtime(failing_runtime()), failure_callback_refused(monkeypatch):
        run_jobs(redis)  # the aggregator fails, no retry left
    assert JsonJob.fetch(aggregator_job_id(scan_id), connection=redis).get_status() == "failed"
    assert status(redis, scan_id)["state"] == "running"
    sweeper()(redis)
    doc = status(redis, scan_id)
    assert doc["state"] == "failed"
    assert "aggregator job failed for good" in doc["error"]
    assert "OutOfMemoryError" in doc["error"]
    assert not redis.exists(f"{PREFIX}lock:default"), "the profile's lock is released"


def test_a_scan_whose_coordinator_failed_before_its_fan_out_ends_failed(redis, monkeypatch):
    cfg = QueueSection(retry_max=0)
    request = ScanRequest(provider="sim", symbols=["S001"], as_of=OPEN_INSTANT)
    scan_id, _job = enqueue_scan(redis, request, prefix=PREFIX, cfg=cfg)
    with use_runtime(failing_runtime()), failure_callback_refused(monkeypatch):
        run_jobs(redis)
    assert status(redis, scan_id)["state"] == "queued"
    sweeper()(redis)
    doc = status(redis, scan_id)
    assert doc["state"] == "failed" and "coordinator job failed for good" in doc["error"]


def test_a_coordinator_that_failed_between_fan_out_and_aggregator_runs_again(redis):
    """Its batches are queued but the aggregator never was: the coordinator is enqueued
    again (a re-run after the fan-out only enqueues the aggregator)."""
    from rq.registry import DeferredJobRegistry, FailedJobRegistry

    scan_id, _cfg = start_scan(redis)
    aggregator, coordinator = aggregator_job_id(scan_id), coordinator_job_id(scan_id)
    JsonJob.fetch(aggregator, connection=redis).delete()
    DeferredJobRegistry("optscan", connection=redis).remove(aggregator)
    redis.hset(JsonJob.key_for(coordinator), "status", "failed")
    FailedJobRegistry("optscan", connection=redis).add(
        JsonJob.fetch(coordinator, connection=redis), ttl=600
    )
    run_jobs(redis)
    assert status(redis, scan_id)["state"] == "running"
    assert sweeper()(redis) == [f"{scan_id}: job {coordinator} (failed) enqueued again"]
    run_jobs(redis)
    assert status(redis, scan_id)["state"] == "finished"


def test_a_job_dequeued_but_never_started_goes_back_on_its_queue(redis):
    """A worker moved the job to the intermediate list, then Redis refused (or dropped)
    the step that registers its execution: after the grace the job is queued again,
    without spending a retry (RQ would wait a minute, then fail it)."""
    scan_id, _cfg = start_scan(redis)
    queue = JsonQueue("optscan", connection=redis)
    dequeued = redis.lmove(queue.key, queue.intermediate_queue_key).decode()
    assert release_stranded(queue) == [] and requeue_undelivered(queue, grace_s=0) == []
    assert requeue_undelivered(queue, grace_s=60) == []  # seen once, not long enough
    assert requeue_undelivered(queue, grace_s=0) == [dequeued]
    assert not redis.llen(queue.intermediate_queue_key)
    assert JsonJob.fetch(dequeued, connection=redis).get_status() == "queued"
    run_jobs(redis)  # (no retries here: RQ's own clean-up would have failed it for good)
    doc = status(redis, scan_id)
    assert (doc["state"], doc["symbols_done"], doc["symbols_failed"]) == ("finished", 4, 0)


def test_a_scan_with_a_job_to_run_keeps_its_lock(redis):
    """A fault delayed the scan's jobs past its lock's TTL: the scan still shows
    ``running`` (its jobs will run) but another scan of its profile could start beside
    it. The sweep takes the lock back for it."""
    scan_id, _cfg = start_scan(redis)
    redis.delete(f"{PREFIX}lock:default")
    assert status(redis, scan_id)["state"] == "running"
    sweeper()(redis)
    assert redis.get(f"{PREFIX}lock:default").decode() == scan_id
    assert status(redis, scan_id)["state"] == "running"


def test_symbols_failed_by_a_redis_fault_are_scanned_again(redis, monkeypatch):
    """Redis dropped the shared gate's reads mid-batch (a restart): the requests that
    met it failed their symbols. The batch scans those again once Redis answers, so the
    scan finishes with every symbol ``ok`` instead of recording the fault as theirs."""
    from optscan.queue.limits import RedisGate

    real = RedisGate._state
    calls = {"n": 0}

    def flaky(self):
        calls["n"] += 1
        if calls["n"] <= 2:  # the first round's first requests
            raise redis_py.exceptions.ConnectionError("Error 111 connecting. Connection refused.")
        return real(self)

    monkeypatch.setattr(RedisGate, "_state", flaky)
    scan_id, _cfg = start_scan(redis)
    run_jobs(redis)
    doc = status(redis, scan_id)
    assert calls["n"] > 2, "the fault was not met"
    assert (doc["state"], doc["symbols_done"], doc["symbols_failed"]) == ("finished", 4, 0), doc


def test_a_scan_is_repaired_a_bounded_number_of_times(redis):
    scan_id, _cfg = start_scan(redis)
    lost = batch_job_id(scan_id, 0)
    redis.hset(f"{PREFIX}scan:{{{scan_id}}}", "repairs", MAX_REPAIRS)
    redis.lrem(JsonQueue("optscan", connection=redis).key, 0, lost)
    redis.hset(JsonJob.key_for(lost), "status", "scheduled")
    sweeper()(redis)
    doc = status(redis, scan_id)
    assert doc["state"] == "failed" and f"after {MAX_REPAIRS} repairs" in doc["error"]


def test_a_worker_repairs_in_its_maintenance(redis):
    """The sweep runs inside :class:`OptscanWorker`'s maintenance, and a maintenance
    Redis refuses is logged, not the worker's end."""
    from optscan.queue import worker as worker_module
    from optscan.queue.worker import OptscanWorker

    scan_id, _cfg = start_scan(redis)
    lost = batch_job_id(scan_id, 0)
    redis.lrem(JsonQueue("optscan", connection=redis).key, 0, lost)
    redis.hset(JsonJob.key_for(lost), "status", "scheduled")
    worker = OptscanWorker(["optscan"], connection=redis, prefix=PREFIX)
    worker_module._sweepers[PREFIX] = sweeper()
    try:
        worker.run_maintenance_tasks()
    finally:
        worker_module._sweepers.pop(PREFIX)
    assert JsonJob.fetch(lost, connection=redis).get_status() == "queued"
    assert not redis.exists(JsonQueue("optscan", connection=redis).registry_cleaning_key)

    def refuse(*_args, **_kwargs):
        raise redis_py.exceptions.OutOfMemoryError("command not allowed")

    worker.clean_registries = refuse  # type: ignore[method-assign]
    worker.run_maintenance_tasks()  # logged, not raised


def in_flight_index(redis: redis_py.Redis) -> set[str]:
    return {m.decode() for m in redis.smembers(Keys(PREFIX).inflight())}


def test_a_scan_is_in_the_in_flight_index_until_it_ends(redis):
    """The sweep's index of scans in flight: a scan enters it when it is created, leaves
    it when it ends, and the index keeps a TTL meanwhile (no key without one)."""
    scan_id, cfg = start_scan(redis)
    assert in_flight_index(redis) == {scan_id}
    assert 0 < redis.ttl(Keys(PREFIX).inflight()) <= cfg.state_ttl_s
    assert sweeper().in_flight(redis) == [Keys(PREFIX).scan(scan_id)]
    run_jobs(redis)
    assert status(redis, scan_id)["state"] == "finished"
    assert in_flight_index(redis) == set() and sweeper().in_flight(redis) == []
    assert keys_without_ttl(redis) == []


def test_one_sweep_prunes_the_index_entries_of_scans_not_in_flight(redis):
    """An entry whose hash was deleted, one whose scan was ended by a path that left it
    (a worker of an older version), one with no hash at all: one pass drops them,
    keeps the scan in flight, and still repairs it."""
    scan_id, _cfg = start_scan(redis)
    store = ScanStore(redis, Keys(PREFIX), QueueSection())
    for stale in ("deleted", "ended"):
        store.create(stale, "p", state="queued", job_id=coordinator_job_id(stale))
    redis.delete(store.keys.scan("deleted"))
    redis.hset(store.keys.scan("ended"), "state", "finished")
    redis.sadd(store.keys.inflight(), "never")
    redis.delete(f"{PREFIX}lock:default")
    sweeper()(redis)
    assert in_flight_index(redis) == {scan_id}
    assert redis.get(f"{PREFIX}lock:default").decode() == scan_id  # the repair happened


def test_the_sweep_reads_the_index_not_the_keyspace(tmp_path):
    """On a Redis shared with another application (thousands of keys) and holding many
    ended scans, finding the scans in flight costs three commands (``SMEMBERS``, a
    pipelined ``HGET`` of each entry's state, the index's ``EXPIRE``), and a whole
    pass never ``SCAN``s (counted by the server itself, ``INFO commandstats``)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        client = server.client()
        pipe = client.pipeline(transaction=False)
        for i in range(5000):
            pipe.set(f"another-app:{i}", i)
        pipe.execute()
        store = ScanStore(client, Keys(PREFIX), QueueSection())
        for i in range(50):
            store.create(f"ended-{i}", "p", state="queued", job_id="j")
            store.end(f"ended-{i}", "p", state="finished", message="done")
        scan_id, _cfg = start_scan(client)
        client.config_resetstat()
        assert sweeper().in_flight(client) == [Keys(PREFIX).scan(scan_id)]
        stats = client.info("commandstats")
        calls = {k: v["calls"] for k, v in stats.items() if not k.startswith("cmdstat_config")}
        assert calls == {
            "cmdstat_smembers": 1,
            "cmdstat_hget": 1,
            "cmdstat_expire": 1,
        }
        client.config_resetstat()
        assert sweeper()(client) == []
        assert "cmdstat_scan" not in client.info("commandstats")
    finally:
        server.remove()


# --------------------------------------------------------------------------- workers


@pytest.mark.slow  # 30 s of a full Redis, then the recovery
def test_a_full_redis_kills_no_worker_and_every_scan_ends(tmp_path, record_property):
    """The issue's fault: Redis reaches ``maxmemory`` mid-scan for 30 s. Every worker
    process outlives it (it logs the refusals, scrubbed, and backs off), ``optscan
    enqueue`` meanwhile exits 1 with one line, and once Redis has room every scan ends
    ``finished`` (each symbol once) or ``failed`` with a reason, none ``lost``, leaving
    no key, lock or job without a TTL. Jobs wait only 5 s for Redis here
    (``queue.redis_wait_s``; 60 by default), so RQ's retries and the sweep's repairs
    are what recover the scans."""
    server = RedisServer(tmp_path / "redis", password=PASSWORD)
    server.start()
    url = server.url()
    fleet = Fleet(url, tmp_path, child_env(url))
    try:
        fleet.start(4)
        client = server.client()
        scans = [_enqueue(fleet, profile) for profile in ("p0", "p1", "p2")]
        store = ScanStore(client, Keys(PREFIX), QueueSection())
        wait_until(
            lambda: all(store.status(s)["symbols_done"] for s in scans), 60, "the scans to run"
        )
        filler = Filler(client)
        with filler.hard():  # (at the brim a small write may slip through)
            refused = optscan(fleet.env, "enqueue", *SIM, "--set", "scan.profile=p9", cwd=tmp_path)
        time.sleep(30)
        alive = [w.poll() is None for w in fleet.workers]
        filler.empty()
        freed = time.monotonic()
        ended = wait_until(
            lambda: (
                (d := [store.status(s) for s in scans])
                and all(x["state"] not in ("queued", "running") for x in d)
                and d
            ),
            120,
            "every scan to end",
            poll=0.25,
        )
        recovered = time.monotonic() - freed
        assert all(alive) and all(w.poll() is None for w in fleet.workers), fleet.logs()
        wait_until(lambda: not _busy(client), 60, "the queue to drain")
        time.sleep(1)
        stray = keys_without_ttl(client)
    finally:
        fleet.stop()
        logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("worker-*.log"))
        server.remove()
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert "Redis is full" in refused.stderr and "Traceback" not in refused.stderr
    states = [doc["state"] for doc in ended]
    assert "lost" not in states, ended
    for doc in ended:
        if doc["state"] == "finished":
            assert doc["symbols_done"] == doc["symbols_total"] == 24, doc
        else:
            assert doc["state"] == "failed" and (doc["error"] or doc["failures"]), doc
    assert stray == [], f"keys without a TTL: {stray[:10]}"
    assert "OutOfMemoryError" in logs  # the refusals are logged...
    assert PASSWORD not in logs  # ...scrubbed
    record_property("seconds_to_end_every_scan_after_a_full_redis", round(recovered, 1))
    print(f"30 s of a full Redis: {states}; every scan ended {recovered:.1f} s after it had room")


def _enqueue(fleet: Fleet, profile: str) -> str:
    out = optscan(
        fleet.env,
        "enqueue",
        "--provider",
        "sim",
        "--symbols",
        symbols(24),
        "--as-of",
        AS_OF,
        "--set",
        "providers.sim.latency_ms=1000",
        "--set",
        f"scan.profile={profile}",
        "--set",
        "queue.batch_size=4",
        "--set",
        "queue.redis_wait_s=5",
        "--format",
        "json",
        cwd=fleet.folder,
    )
    assert out.returncode == 0, out.stderr + fleet.logs()
    return json.loads(out.stdout)["scan_id"]


def _busy(client: redis_py.Redis) -> bool:
    from rq.registry import DeferredJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    queue = JsonQueue("optscan", connection=client)
    return bool(
        queue.count
        or StartedJobRegistry(queue=queue).count
        or DeferredJobRegistry(queue=queue).count
        or ScheduledJobRegistry(queue=queue).count
    )
