"""The valuation plugin on a real fleet: two ``optscan worker`` processes on a real
redis-server, the plugin loaded from its installed entry point by each worker."""

from __future__ import annotations

import json
import os
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
import redis as redis_py

from .fleet import HAVE_SERVER, NEEDS_REDIS, Fleet, store_for
from .test_error_signals import queued_scan, read_log

pytestmark = [
    pytest.mark.skipif(
        not HAVE_SERVER and not os.environ.get("OPTSCAN_TEST_REDIS_URL"), reason=NEEDS_REDIS
    ),
    pytest.mark.slow,  # waits on real workers
]


@pytest.fixture(autouse=True)
def _installed() -> None:
    try:
        distribution("optscan-valuation")
    except PackageNotFoundError:
        pytest.skip(
            "optscan-valuation is not installed (pip install -e ./plugins/optscan-valuation)"
        )


def test_two_workers_badge_every_option_and_share_the_fundamentals(fleet: Fleet, tmp_path: Path):
    log = tmp_path / "requests.log"
    fleet.start(2)
    scan_id, status = queued_scan(
        fleet,
        9,
        'enrichers.enabled=["valuation"]',
        "providers.sim.rate_limit_per_s=200",
        f"providers.sim.request_log={json.dumps(str(log))}",
    )
    assert status["state"] == "finished", (status, fleet.logs())
    result = store_for(fleet.url).result(scan_id)
    assert result["errors"] == [], result["errors"]
    assert result["opportunities"]
    for opportunity in result["opportunities"]:
        badge = opportunity["extras"]["valuation"]["value_badge"]
        assert badge in ("good", "high", "n/a")
    scanned = [s for s in result["symbols"] if s["status"] == "ok"]
    assert all("summary" in s["extras"]["valuation"] for s in scanned)
    # one fundamentals request per scanned symbol across the fleet, kept in Redis a week
    asked = [e.symbol for e in read_log(log) if e.what == "fundamentals"]
    assert sorted(asked) == sorted(s["symbol"] for s in scanned)
    client = redis_py.Redis.from_url(fleet.url)
    for symbol in asked:
        assert 7 * 86400 - 120 <= client.ttl(f"optscan:fundamentals:sim:{symbol}") <= 7 * 86400
