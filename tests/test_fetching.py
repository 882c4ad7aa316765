"""Polite fetching (rate limit, retries) and generic record/replay, on the sim provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from optscan.config import load_settings
from optscan.default_plugins.providers.sim import SimConfig, SimProvider
from optscan.errors import RateLimitedError, TransientProviderError
from optscan.models import ScanRequest
from optscan.plugins import PluginHost
from optscan.scan import perform_scan
from optscan.scan.fetch import ProviderClient
from optscan.scan.replay import RecordingProvider, ReplayProvider

from .helpers import OPEN_INSTANT


def _scan(request: ScanRequest, **overrides):
    settings = load_settings(overrides={"scan.provider": "sim", **overrides}, use_env=False)
    return perform_scan(request, PluginHost(load_entrypoints=False), settings=settings)


def test_rate_limit_is_never_exceeded_in_any_one_second_window():
    rate = 20
    provider = SimProvider(SimConfig(rate_limit_per_s=rate))
    provider.as_of = OPEN_INSTANT
    fetcher = ProviderClient(provider, provider.config, plugin="test")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(fetcher.expirations, [f"S{i}" for i in range(3 * rate)]))
    times = sorted(provider.request_times)
    assert len(times) == 3 * rate
    for i, start in enumerate(times):  # every window that starts at a request
        in_window = sum(1 for t in times[i:] if t - start < 1.0)
        assert in_window <= rate, f"{in_window} requests within 1 s of request {i}"
    assert provider.rejected_for_rate == 0  # the client never tripped the server's limit
    assert times[-1] - times[0] >= 2.0  # 60 requests at 20/s need at least 2 s


def test_server_side_limit_answers_too_many_requests_without_client_limit():
    provider = SimProvider(SimConfig(rate_limit_per_s=5))
    provider.as_of = OPEN_INSTANT
    with pytest.raises(RateLimitedError, match="too many requests"):
        for i in range(10):  # an error answer, which the transform raises
            provider.transform_expirations(provider.extract_expirations(f"S{i}"), f"S{i}")


def test_retries_back_off_then_report():
    class AlwaysDown(SimProvider):
        def extract_expirations(self, symbol):
            self.requests += 1
            raise TransientProviderError("down")

    provider = AlwaysDown(SimConfig(retry_attempts=4, retry_initial_s=0.0, retry_max_s=0.0))
    fetcher = ProviderClient(provider, provider.config, plugin="test")
    with pytest.raises(TransientProviderError):
        fetcher.expirations("AAPL")
    assert provider.requests == 4 and fetcher.retries == 3


def test_sim_faults_are_reproducible():
    def failures() -> list[str]:
        provider = SimProvider(SimConfig(error_rate=0.5, seed=3))
        provider.as_of = OPEN_INSTANT
        out = []
        for i in range(20):
            try:
                provider.transform_expirations(provider.extract_expirations(f"S{i}"), f"S{i}")
                out.append("ok")
            except TransientProviderError:
                out.append("fail")
        return out

    first = failures()
    assert first == failures()
    assert 3 < first.count("fail") < 17


def test_record_then_replay_gives_identical_chains_and_scan(tmp_path: Path):
    rec = tmp_path / "rec"
    recorded = _scan(ScanRequest(symbols=["AAPL", "MSFT"], as_of=OPEN_INSTANT, record_dir=str(rec)))
    files = sorted(p.relative_to(rec).as_posix() for p in rec.rglob("*.json"))
    assert "sim/AAPL/expirations.json" in files
    assert any(f.startswith("sim/MSFT/2026-11-20") for f in files)
    assert "sim/manifest.json" in files

    # the replayed scan takes its clock from the recording and needs no --symbols
    replayed = _scan(ScanRequest(replay_dir=str(rec)))
    assert replayed.as_of == recorded.as_of
    assert [s.symbol for s in replayed.symbols] == ["AAPL", "MSFT"]
    assert replayed.opportunities == recorded.opportunities

    # chain by chain, the transform of a replayed payload equals the live one
    live = SimProvider(SimConfig())
    live.as_of = OPEN_INSTANT
    replay = ReplayProvider(SimProvider(SimConfig()), rec)
    listing = replay.extract_expirations("AAPL")
    for expiration in replay.transform_expirations(listing, "AAPL")[:3]:
        a = live.transform_chain(
            live.extract_chain("AAPL", expiration, live.extract_expirations("AAPL")),
            "AAPL",
            expiration,
        )
        b = replay.transform_chain(
            replay.extract_chain("AAPL", expiration, listing), "AAPL", expiration
        )
        assert a.equals(b)


def test_replay_of_missing_recording_is_reported_per_symbol(tmp_path: Path):
    rec = tmp_path / "rec"
    _scan(ScanRequest(symbols=["AAPL"], as_of=OPEN_INSTANT, record_dir=str(rec)))
    chain_file = next((rec / "sim" / "AAPL").glob("2026-11-20.json"))
    chain_file.unlink()
    result = _scan(ScanRequest(symbols=["AAPL", "NVDA"], as_of=OPEN_INSTANT, replay_dir=str(rec)))
    by = {s.symbol: s for s in result.symbols}
    assert by["NVDA"].status == "failed" and by["NVDA"].reason == "not_recorded"
    assert by["AAPL"].status == "ok"
    assert "not recorded" in by["AAPL"].failed_expirations["2026-11-20"]


def test_recording_writes_raw_payloads_untouched(tmp_path: Path):
    provider = SimProvider(SimConfig())
    provider.as_of = OPEN_INSTANT
    recorder = RecordingProvider(provider, tmp_path, OPEN_INSTANT)
    raw = recorder.extract_expirations("AAPL")
    saved = json.loads((tmp_path / "sim" / "AAPL" / "expirations.json").read_text())
    assert saved == raw


def test_redis_shared_rate_limit_holds_across_limiters():
    """Two limiters (two workers) on one Redis key share one budget."""
    import time

    import fakeredis

    from optscan.queue.limits import redis_limiter

    server = fakeredis.FakeServer()
    a = redis_limiter(5, fakeredis.FakeRedis(server=server), "optscan:ratelimit:sim")
    b = redis_limiter(5, fakeredis.FakeRedis(server=server), "optscan:ratelimit:sim")
    # Each acquisition happened somewhere between its `before` and `after` stamps, so
    # two acquisitions certainly fell within one second only if after[j] - before[i] < 1.
    before: list[float] = []
    after: list[float] = []
    for i in range(12):
        before.append(time.monotonic())
        (a if i % 2 else b).try_acquire("sim")
        after.append(time.monotonic())
    for i, start in enumerate(before):
        assert sum(1 for end in after[i:] if end - start < 1.0) <= 5
    assert after[-1] - before[0] >= 2.0  # 12 requests at 5/s need more than 2 s
