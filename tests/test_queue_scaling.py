"""Queued scans that scale: batches sized from the symbols and the workers, recorded as
symbols end; one simulated server for the fleet; a rate limit exact across workers.

Speed itself is measured by ``just bench`` (bench/bench_queue.py), not here.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from optscan.http_answers import read_error_answer
from optscan.models import ScanRequest
from optscan.queue.plan import batch_count, plan_batches

from .helpers import OPEN_INSTANT, run_jobs

fakeredis = pytest.importorskip("fakeredis")
pytest.importorskip("lupa")

from optscan.config import QueueSection  # noqa: E402
from optscan.queue.connection import Keys  # noqa: E402
from optscan.queue.enqueue import enqueue_scan  # noqa: E402
from optscan.queue.store import ScanStore  # noqa: E402

PREFIX = "optscan:"


def names(n: int) -> list[str]:
    return [f"S{i:03d}" for i in range(1, n + 1)]


# --------------------------------------------------------------------------- the plan


@pytest.mark.parametrize(
    ("symbols", "workers", "cap", "sizes"),
    [
        (200, 1, 250, [200]),
        (200, 2, 250, [100, 100]),
        (200, 4, 250, [50, 50, 50, 50]),
        (7, 2, 250, [4, 3]),
        (3, 8, 250, [1, 1, 1]),  # never more jobs than symbols
        (3000, 2, 250, [250] * 12),  # capped: more, even batches than workers
        (1001, 2, 250, [201, 200, 200, 200, 200]),
        (10, 0, 250, [10]),  # no worker counted: one batch (the coordinator's worker)
        (0, 2, 250, []),
    ],
)
def test_batches_are_sized_from_the_symbols_and_the_workers(symbols, workers, cap, sizes):
    batches = plan_batches(names(symbols), batch_size=0, workers=workers, max_batch_size=cap)
    assert [len(b) for b in batches] == sizes
    assert [s for b in batches for s in b] == names(symbols)  # in order, each once
    assert batch_count(symbols, batch_size=0, workers=workers, max_batch_size=cap) == len(sizes)


def test_a_rate_limited_batch_fits_in_half_its_timeout():
    from optscan.queue.plan import rate_cap

    assert rate_cap(0, 600) == 0  # no limit, no cap
    assert rate_cap(2, 600) == 60  # 60 symbols x 10 requests at 2/s: 300 s of 600
    assert rate_cap(50, 600) == 1500
    assert rate_cap(0.01, 60) == 1


def test_a_fixed_batch_size_keeps_0_1_0s_batches():
    batches = plan_batches(names(7), batch_size=3, workers=4, max_batch_size=250)
    assert batches == [names(7)[0:3], names(7)[3:6], names(7)[6:7]]


@pytest.fixture
def redis():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def request(n: int, **overrides: Any) -> ScanRequest:
    return ScanRequest(provider="sim", symbols=names(n), as_of=OPEN_INSTANT, overrides=overrides)


def test_the_coordinator_cuts_one_batch_per_listening_worker(redis, monkeypatch):
    import optscan.queue.workers

    monkeypatch.setattr(optscan.queue.workers, "listening_workers", lambda redis, name: 3)
    cfg = QueueSection()
    scan_id, _ = enqueue_scan(redis, request(10), prefix=PREFIX, cfg=cfg)
    run_jobs(redis)
    store = ScanStore(redis, Keys(PREFIX), cfg)
    assert [len(b) for b in json.loads(store.get(scan_id)["batches"])] == [4, 3, 3]
    status = store.status(scan_id)
    assert (status["state"], status["symbols_done"], status["symbols_failed"]) == (
        "finished",
        10,
        0,
    )
    result = store.result(scan_id)
    assert sorted(s["symbol"] for s in result["symbols"]) == names(10)


def test_a_batch_records_its_symbols_as_they_end(redis, monkeypatch):
    """A big batch records a few symbols at a time while it scans (progress moves, and
    a re-run after its worker died redoes only what was not recorded), each once."""
    from optscan.queue.jobs import recorder as recorder_module

    calls: list[list[str]] = []
    real = ScanStore.record

    def record(self, scan_id, items):
        calls.append([symbol for symbol, _, _ in items])
        return real(self, scan_id, items)

    monkeypatch.setattr(ScanStore, "record", record)
    monkeypatch.setattr(recorder_module, "FLUSH_S", 3600.0)  # flush by count only
    cfg = QueueSection(batch_size=40)
    scan_id, _ = enqueue_scan(redis, request(40), prefix=PREFIX, cfg=cfg)
    run_jobs(redis)
    store = ScanStore(redis, Keys(PREFIX), cfg)
    assert store.status(scan_id)["symbols_done"] == 40
    assert len(calls) == 3  # 16 + 16 + the last 8
    recorded = [s for call in calls for s in call]
    assert sorted(recorded) == names(40)  # each symbol recorded once


def test_a_rerun_batch_scans_only_the_symbols_not_recorded(redis, monkeypatch):
    from optscan.queue.jobs import batch as batch_module

    cfg = QueueSection(batch_size=10)
    scan_id, _ = enqueue_scan(redis, request(10), prefix=PREFIX, cfg=cfg)
    run_jobs(redis, max_jobs=1)  # the coordinator
    store = ScanStore(redis, Keys(PREFIX), cfg)
    done = names(10)[:6]  # recorded before its worker died
    from optscan.models import SymbolOutcome
    from optscan.queue.jobs.env import payload

    store.record(
        scan_id, [(s, payload(SymbolOutcome(symbol=s, status="ok"), []), False) for s in done]
    )
    scanned: list[str] = []
    real = batch_module.run_symbols

    def run_symbols(ctx, symbols, *more):
        scanned.extend(symbols)
        return real(ctx, symbols, *more)

    monkeypatch.setattr(batch_module, "run_symbols", run_symbols)
    run_jobs(redis)
    assert scanned == names(10)[6:]
    assert store.status(scan_id)["symbols_done"] == 10


# --------------------------------------------------------------------------- the shared gate


def test_the_shared_gate_sees_its_own_signals_at_once_and_others_when_fresh(redis):
    from optscan.queue.limits import RedisGate

    keys = Keys(PREFIX)
    mine = RedisGate(redis, keys, "scan", "sim", 60, fresh_s=3600)
    other = RedisGate(redis, keys, "scan", "sim", 60, fresh_s=3600)
    assert mine.state() == (None, 0.0)
    assert other.state() == (None, 0.0)
    other.pause(30)
    assert other.state()[1] > 25  # its own pause: at once
    assert mine.state() == (None, 0.0)  # another worker's: at its next read of Redis
    fresh = RedisGate(redis, keys, "scan", "sim", 60, fresh_s=0)
    assert fresh.state()[1] > 25
    mine.lock_out("HTTP 401")
    assert mine.state()[0] == "HTTP 401"
    assert RedisGate(redis, keys, "scan", "sim", 60).state()[0] == "HTTP 401"


def test_a_read_redis_refused_is_not_kept(redis, monkeypatch):
    import redis as redis_py

    from optscan.queue.limits import RedisGate

    gate = RedisGate(redis, Keys(PREFIX), "scan", "sim", 60, fresh_s=3600)
    real = RedisGate._state
    calls = {"n": 0}

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 1:
            raise redis_py.exceptions.ConnectionError("Connection refused.")
        return real(self)

    monkeypatch.setattr(RedisGate, "_state", flaky)
    with pytest.raises(redis_py.exceptions.ConnectionError):
        gate.state()
    assert gate.trouble.seen
    assert gate.state() == (None, 0.0)
    assert calls["n"] == 2


# --------------------------------------------------------------------------- rate limit


def test_a_limiter_stamps_a_request_with_the_time_it_is_let_through():
    """pyrate-limiter advances a waiting request's stamp by the sleep it planned; one
    that woke late would enter the window back-dated and the server would count more
    than the limit in a second."""
    from pyrate_limiter import InMemoryBucket, Rate, RateItem

    from optscan.scan.limits import stamped

    bucket = stamped(InMemoryBucket)([Rate(5, 1000)])
    late = RateItem("sim", bucket.now() - 400)  # planned wake-up, 400 ms ago
    assert bucket.put(late)
    assert late.timestamp >= bucket.now() - 50


def test_the_fleets_window_counts_a_request_stamped_after_the_callers(redis):
    """Worker B stamps its request, then worker A stamps and enters the window twice
    before B's script runs: B must see A's requests, though stamped after its own."""
    from pyrate_limiter import Rate, RateItem

    from optscan.queue.limits import fleet_bucket

    bucket = fleet_bucket().init([Rate(2, 1000)], redis, "optscan:ratelimit:test")
    bucket.now = lambda: 1_000_500  # worker A
    assert bucket.put(RateItem("sim", 0))
    assert bucket.put(RateItem("sim", 0))
    bucket.now = lambda: 1_000_400  # worker B: stamped earlier, its script runs now
    assert not bucket.put(RateItem("sim", 0))


def test_one_simulated_server_counts_every_workers_requests(redis, monkeypatch):
    """Two workers' sim providers share one server in Redis: its window refuses what
    goes over ``rate_limit_per_s`` whoever sent it, and it counts them all."""
    from optscan.default_plugins.providers import sim_server
    from optscan.default_plugins.providers.sim import SimConfig, SimProvider
    from optscan.default_plugins.providers.sim_server import server_counts

    monkeypatch.setattr(sim_server, "_wall_ms", lambda: 1_000_000.0)  # all in one instant

    key = Keys(PREFIX).provider_server("sim")
    workers = [SimProvider(SimConfig(rate_limit_per_s=5)) for _ in range(2)]
    for provider in workers:
        provider.share_server(redis, key)
    answers = [workers[i % 2].extract_expirations(f"S{i:03d}") for i in range(8)]
    refused = [a for a in answers if read_error_answer(a) is not None]
    assert len(refused) == 3  # 5 let through in the second, whichever worker asked
    assert server_counts(redis, key) == {"requests": 8, "too_many": 3}
    assert sum(p.rejected_for_rate for p in workers) == 3


def test_a_simulated_server_outlives_a_redis_error(monkeypatch):
    import redis as redis_py

    from optscan.default_plugins.providers.sim import SimConfig, SimProvider

    class Down:
        def register_script(self, script):
            def call(**kwargs):
                raise redis_py.exceptions.ConnectionError("Connection refused.")

            return call

    provider = SimProvider(SimConfig(rate_limit_per_s=2))
    provider.share_server(Down(), "optscan:server:sim")
    answers = [provider.extract_expirations("S001") for _ in range(3)]
    # Redis is down: the server judges with its own window (2 a second)
    assert [read_error_answer(a) is None for a in answers] == [True, True, False]


# --------------------------------------------------------------------------- real workers

HAVE_SERVER = bool(__import__("shutil").which("redis-server"))
needs_redis = pytest.mark.skipif(
    not HAVE_SERVER and not os.environ.get("OPTSCAN_TEST_REDIS_URL"),
    reason="needs redis-server (apt-get install redis-server) or OPTSCAN_TEST_REDIS_URL",
)


@needs_redis
@pytest.mark.slow  # a 3,000-symbol scan: about a minute on 2 busy cores
def test_a_3000_symbol_scan_on_2_workers_loses_and_duplicates_nothing(fleet):
    import redis as redis_py

    from .fleet import assert_complete, batches, enqueue, store_for, wait_until

    fleet.start(2)
    scan_id = enqueue(fleet, 3000, 0)
    store = store_for(fleet.url)
    wait_until(
        lambda: store.status(scan_id)["state"] in ("finished", "failed", "lost"),
        600,
        "the 3,000-symbol scan",
        poll=1.0,
    )
    result = assert_complete(store, scan_id, 3000)
    assert len(result["symbols"]) == 3000
    assert batches(store, scan_id) == 12  # 2 workers, at most 250 symbols a batch
    client = redis_py.Redis.from_url(fleet.url)
    assert client.hlen(Keys(PREFIX).outcomes(scan_id)) == 3000
    assert client.scard(Keys(PREFIX).done(scan_id)) == 3000


@needs_redis
@pytest.mark.slow  # 200 requests at 20 a second
def test_two_workers_together_keep_the_rate_limit_the_server_counts(fleet):
    from optscan.default_plugins.providers.sim_server import server_counts

    from .fleet import assert_complete, batches, enqueue, store_for, wait_until

    fleet.start(2)
    scan_id = enqueue(fleet, 40, 20, "--set", "providers.sim.rate_limit_per_s=20")
    store = store_for(fleet.url)
    wait_until(
        lambda: store.status(scan_id)["state"] in ("finished", "failed", "lost"),
        120,
        "the rate-limited scan",
    )
    result = assert_complete(store, scan_id, 40)
    assert batches(store, scan_id) == 2
    requests = sum(1 + len(s["expirations"]) for s in result["symbols"])
    import redis as redis_py

    counts = server_counts(redis_py.Redis.from_url(fleet.url), Keys(PREFIX).provider_server("sim"))
    assert counts == {"requests": requests, "too_many": 0}
