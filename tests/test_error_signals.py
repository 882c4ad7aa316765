"""The two error signals a provider sends the core, and what the core does with them.

* ``AuthenticationError``: no further request to the provider starts in that scan; the
  symbols not scanned fail ``auth_failed``; the result says so in ONE line.
* ``RateLimitedError(retry_after=s)``: no request to the provider starts until the
  pause ends (on every worker of a queued scan); a pause longer than
  ``max_retry_after_s`` fails the request ``rate_limited`` at once.

Embedded scans use a provider class of this module that raises the errors itself;
the CLI, record/replay and queued scans (real worker processes) use the sim provider's
fault knobs (``rate_limited``, ``retry_after_s``, ``auth_refused``, ``request_log``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import redis as redis_py
from click.testing import CliRunner

from optscan.default_plugins.providers.sim import SimProvider
from optscan.errors import AuthenticationError, RateLimitedError
from optscan.hookspecs import hookimpl
from optscan.models import ScanRequest, ScanResult
from optscan.plugins import PluginHost
from optscan.scan import perform_scan

from .fleet import (
    HAVE_SERVER,
    NEEDS_REDIS,
    Fleet,
    assert_complete,
    batches,
    enqueue_doc,
    store_for,
    wait_until,
)
from .helpers import OPEN_INSTANT, make_settings

SYMBOLS = [f"S{i:03d}" for i in range(1, 21)]
needs_redis = pytest.mark.skipif(
    not HAVE_SERVER and not os.environ.get("OPTSCAN_TEST_REDIS_URL"), reason=NEEDS_REDIS
)


class Server:
    """What the test provider's simulated server does on each request, and when each
    request started (``time.monotonic``)."""

    def __init__(self, respond: Callable[[Server, str, int], None]) -> None:
        self.respond = respond
        self.lock = threading.Lock()
        self.starts: list[tuple[float, str, str]] = []
        self.refused_at: float | None = None

    def serve(self, symbol: str, what: str) -> None:
        with self.lock:
            self.starts.append((time.monotonic(), symbol, what))
            nth = sum(1 for _t, s, _w in self.starts if s == symbol)
        self.respond(self, symbol, nth)

    def refuse(self, error: Exception) -> None:
        with self.lock:
            self.refused_at = time.monotonic()
        raise error

    def times(self, symbol: str | None = None) -> list[float]:
        return sorted(t for t, s, _w in self.starts if symbol in (None, s))


def plugin_for(server: Server) -> object:
    """A plugin registering the provider ``signals``: sim's market behind ``server``."""

    class SignalsProvider(SimProvider):
        name = "signals"

        def _serve(self, symbol: str, what: str, answer: Callable[[], Any]) -> Any:
            server.serve(symbol, what)
            return answer()

    class SignalsPlugin:
        @hookimpl
        def register_option_providers(self, register: Any) -> None:
            register(SignalsProvider)

    return SignalsPlugin()


def scan_with(server: Server, symbol_list: list[str] = SYMBOLS, **overrides: Any) -> ScanResult:
    settings = make_settings(
        **{
            "scan.provider": "signals",
            "providers.signals.retry_initial_s": 0.0,
            "providers.signals.retry_max_s": 0.0,
            **overrides,
        }
    )
    host = PluginHost(load_entrypoints=False, plugins=[plugin_for(server)])
    request = ScanRequest(symbols=symbol_list, as_of=OPEN_INSTANT)
    return perform_scan(request, host, settings=settings)


def reasons(outcomes: list[Any]) -> dict[str, str | None]:
    """symbol -> reason (``None`` when scanned), from models or their JSON."""
    pairs = (o if isinstance(o, dict) else o.model_dump(mode="json") for o in outcomes)
    return {o["symbol"]: o["reason"] for o in pairs}


def seconds(result: ScanResult) -> float:
    return (result.finished_at - result.started_at).total_seconds()


TOKEN_EXPIRED = "S001 expirations: HTTP 401 Unauthorized: token expired"


# --------------------------------------------------------------------------- embedded: auth


def test_a_refused_credential_costs_exactly_one_request():
    def respond(server: Server, symbol: str, nth: int) -> None:
        if symbol == "S001":
            server.refuse(AuthenticationError(TOKEN_EXPIRED))

    server = Server(respond)
    result = scan_with(server, **{"scan.concurrency": 1})
    assert [(s, w) for _t, s, w in server.starts] == [("S001", "expirations")]
    assert reasons(result.symbols) == dict.fromkeys(SYMBOLS, "auth_failed")
    assert all(o.error == TOKEN_EXPIRED for o in result.symbols)
    assert result.errors == [
        f"provider 'signals' refused the credentials; 20 symbols not scanned: {TOKEN_EXPIRED}"
    ]
    assert not result.success


def test_with_requests_in_flight_none_starts_after_the_refusal():
    """Eight requests in flight: S001's is refused after 0.3 s while the other seven
    are still being answered (1 s each). Those may finish; none starts after."""

    def respond(server: Server, symbol: str, nth: int) -> None:
        if symbol == "S001":
            time.sleep(0.3)
            server.refuse(AuthenticationError(TOKEN_EXPIRED))
        time.sleep(1.0)

    server = Server(respond)
    result = scan_with(server, **{"scan.concurrency": 8})
    assert server.refused_at is not None
    assert 1 <= len(server.starts) <= 8  # the first wave, and nothing after it
    assert max(server.times()) < server.refused_at
    assert reasons(result.symbols) == dict.fromkeys(SYMBOLS, "auth_failed")
    assert len(result.errors) == 1 and "20 symbols not scanned" in result.errors[0]


# --------------------------------------------------------------------------- embedded: 429


def _paced(server: Server, symbol: str, nth: int) -> None:
    time.sleep(0.05)


def test_retry_after_pauses_every_request_then_the_scan_succeeds():
    def respond(server: Server, symbol: str, nth: int) -> None:
        if symbol == "S003" and nth == 1:
            server.refuse(RateLimitedError("S003 expirations: HTTP 429", retry_after=2))
        _paced(server, symbol, nth)

    few = SYMBOLS[:12]
    baseline = scan_with(Server(_paced), few, **{"scan.concurrency": 4})
    server = Server(respond)
    result = scan_with(server, few, **{"scan.concurrency": 4})
    assert reasons(result.symbols) == dict.fromkeys(few)  # every symbol scanned
    assert result.errors == [] and result.success
    refused = server.refused_at
    assert refused is not None
    # a request that passed the gate just before the pause was set may start a moment
    # later; after that, nothing starts for the 2 s asked
    assert [t - refused for t in server.times() if refused + 0.05 < t < refused + 2.0] == []
    after = [t for t in server.times() if t >= refused + 2.0]
    assert after, "the scan went on after the pause"
    assert server.times("S003")[1] >= refused + 2.0  # retried once the pause ended
    extra = seconds(result) - seconds(baseline)
    assert 1.7 < extra < 5.0, f"the pause cost {extra:.2f} s"


def test_a_retry_after_over_the_maximum_fails_at_once_and_asks_no_more():
    """ "Come back in 30 s" with max_retry_after_s 5: that request fails rate_limited
    without waiting, and so does every request that had not started yet (the provider
    is paused past the maximum), with no request to the source: it would answer the
    same. Requests already in flight finish."""

    def respond(server: Server, symbol: str, nth: int) -> None:
        if symbol == "S003":
            server.refuse(RateLimitedError("S003 expirations: HTTP 429", retry_after=30))
        _paced(server, symbol, nth)

    few = SYMBOLS[:12]
    server = Server(respond)
    result = scan_with(
        server, few, **{"scan.concurrency": 4, "providers.signals.max_retry_after_s": 5}
    )
    found = reasons(result.symbols)
    assert found["S003"] == "rate_limited"
    assert set(found.values()) <= {None, "rate_limited"}
    [s003] = [o for o in result.symbols if o.symbol == "S003"]
    assert "30 s" in s003.error and "max_retry_after_s (5 s)" in s003.error
    assert len(server.times("S003")) == 1  # not retried
    refused_at = server.times("S003")[0]
    late = [t for t in server.times() if t > refused_at + 0.05]
    assert len(late) <= 3, "only requests already in flight may start after the refusal"
    gated = [o for o in result.symbols if o.symbol != "S003" and o.reason == "rate_limited"]
    assert gated, "symbols not yet started should fail at the gate"
    assert all("more than max_retry_after_s" in (o.error or "") for o in gated)
    assert seconds(result) < 5.0  # nobody waited


# --------------------------------------------------------------------------- the CLI


def _cli(*args: str) -> Any:
    from optscan.cli import cli

    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "250"}, catch_exceptions=False)


SIM_SCAN = ("scan", "--provider", "sim", "--as-of", OPEN_INSTANT.isoformat())


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_the_cli_shows_one_line_for_a_refused_credential(fmt: str, tmp_path: Path):
    log = tmp_path / "requests.log"
    out = _cli(
        *SIM_SCAN,
        "--symbols",
        ",".join(SYMBOLS),
        "--set",
        'providers.sim.auth_refused=["S001"]',
        "--set",
        f"providers.sim.request_log={json.dumps(str(log))}",
        "--set",
        "scan.concurrency=1",
        "--format",
        fmt,
    )
    assert out.exit_code == 1, out.output  # no symbol scanned
    assert len(log.read_text().splitlines()) == 1  # one request, refused
    line = "provider 'sim' refused the credentials; 20 symbols not scanned"
    if fmt == "json":
        doc = json.loads(out.stdout)
        assert reasons(doc["symbols"]) == dict.fromkeys(SYMBOLS, "auth_failed")
        [error] = doc["errors"]
        assert error.startswith(line) and "HTTP 401" in error
    else:
        assert out.stdout.count(line) == 1
        assert "error provider 'sim' refused the credentials" in out.stdout


# --------------------------------------------------------------------------- record/replay


@pytest.mark.parametrize(
    ("knobs", "symbol", "reason"),
    [
        (
            [  # one attempt: the 429 is the last answer, so the recording holds it
                'providers.sim.rate_limited=["S002"]',
                "providers.sim.retry_after_s=1",
                "providers.sim.retry_attempts=1",
            ],
            "S002",
            "rate_limited",
        ),
        (['providers.sim.auth_refused=["S001"]', "scan.concurrency=1"], "S001", "auth_failed"),
    ],
    ids=["rate_limited", "auth_failed"],
)
def test_a_recorded_error_replays_as_the_same_error(knobs, symbol, reason, tmp_path: Path):
    rec = tmp_path / "rec"
    settings = [arg for knob in knobs for arg in ("--set", knob)]
    live = _cli(
        *SIM_SCAN,
        "--symbols",
        "S001,S002,S003",
        "--record",
        str(rec),
        *settings,
        "--format",
        "json",
    )
    live_doc = json.loads(live.stdout)
    live_by = {o["symbol"]: o for o in live_doc["symbols"]}
    assert live_by[symbol]["reason"] == reason
    answer = json.loads((rec / "sim" / symbol / "expirations.json").read_text())
    assert answer["$http_error"]["status"] == (429 if reason == "rate_limited" else 401)

    # the replay knows nothing of the knobs: the error comes from the recording
    replay = _cli("scan", "--provider", "sim", "--replay", str(rec), "--format", "json")
    doc = json.loads(replay.stdout)
    by = {o["symbol"]: o for o in doc["symbols"]}
    assert by[symbol]["reason"] == reason
    assert by[symbol]["error"].startswith(f"{symbol} expirations: HTTP ")
    assert live_by[symbol]["error"].startswith(by[symbol]["error"])
    if reason == "rate_limited":  # the other symbols replay as they were scanned
        assert reasons(doc["symbols"]) == reasons(live_doc["symbols"])
        assert doc["opportunities"] == live_doc["opportunities"] != []
        assert replay.exit_code == live.exit_code == 0
    else:  # nothing else was requested, so nothing else was recorded
        assert reasons(doc["symbols"]) == {symbol: "auth_failed"}
        assert doc["errors"] == [
            f"provider 'sim' refused the credentials; 1 symbol not scanned: {by[symbol]['error']}"
        ]
        assert live_doc["errors"][0].endswith(by[symbol]["error"])


# --------------------------------------------------------------------------- queued


class Request(NamedTuple):
    """One line of sim's request log."""

    at: float
    pid: int
    symbol: str
    what: str
    status: str | None


def read_log(path: Path) -> list[Request]:
    entries = []
    for line in path.read_text().splitlines():
        at, pid, symbol, what, *status = line.split()
        entries.append(Request(float(at), int(pid), symbol, what, status[0] if status else None))
    return sorted(entries)


def queued_scan(fleet: Fleet, n: int, *knobs: str) -> tuple[str, dict[str, Any]]:
    """Queue a scan of ``n`` sim symbols in batches of 3 with the ``knobs``; wait for
    its end; its id and status."""
    extra = [arg for knob in (*knobs, "queue.batch_size=3") for arg in ("--set", knob)]
    scan_id = enqueue_doc(fleet, n, 150, *extra)["scan_id"]
    store = store_for(fleet.url)
    status = wait_until(
        lambda: (s := store.status(scan_id))["state"] not in ("queued", "running") and s,
        60,
        "the queued scan to end",
    )
    return scan_id, status


def workers_by_symbol(fleet: Fleet, scan_id: str) -> dict[str, str]:
    """symbol -> the name of the worker whose batch job scanned it."""
    from optscan.queue.connection import batch_job_id
    from optscan.queue.rq import JsonJob

    client = redis_py.Redis.from_url(fleet.url)
    out = {}
    for i in range(batches(store_for(fleet.url), scan_id)):
        job = JsonJob.fetch(batch_job_id(scan_id, i), connection=client)
        for symbol in job.kwargs["symbols"]:
            out[symbol] = job.worker_name
    return out


@needs_redis
def test_a_429_on_one_worker_pauses_both_workers(fleet: Fleet, tmp_path: Path):
    log = tmp_path / "requests.log"
    fleet.start(2)
    scan_id, status = queued_scan(
        fleet,
        24,
        'providers.sim.rate_limited=["S010"]',
        "providers.sim.retry_after_s=2",
        f"providers.sim.request_log={json.dumps(str(log))}",
    )
    assert status["state"] == "finished", (status, fleet.logs())
    assert_complete(store_for(fleet.url), scan_id, 24)  # every symbol scanned, once

    entries = read_log(log)
    [refusal] = [e for e in entries if e.status is not None]
    assert (refusal.symbol, refusal.what, refusal.status) == ("S010", "expirations", "429")
    owner = workers_by_symbol(fleet, scan_id)
    assert len(set(owner.values())) == 2, "both workers took batches"
    t = refusal.at
    for worker in set(owner.values()):
        mine = [e.at - t for e in entries if owner[e.symbol] == worker]
        assert [d for d in mine if 0.25 < d < 1.95] == [], f"{worker} did not pause"
        assert any(d >= 1.95 for d in mine), f"{worker} had work after the pause"
    assert any(d < 0 for d in (e.at - t for e in entries if owner[e.symbol] != owner["S010"]))


@needs_redis
def test_an_auth_refusal_stops_every_worker_for_that_scan_only(fleet: Fleet, tmp_path: Path):
    log = tmp_path / "requests.log"
    fleet.start(2)
    scan_id, status = queued_scan(
        fleet,
        24,
        'providers.sim.auth_refused=["S010"]',
        f"providers.sim.request_log={json.dumps(str(log))}",
    )
    store = store_for(fleet.url)
    result = store.result(scan_id)
    assert result is not None, (status, fleet.logs())

    entries = read_log(log)
    [refusal] = [e for e in entries if e.status is not None]
    assert (refusal.symbol, refusal.status) == ("S010", "401")
    # requests in flight may finish, but none starts after the refusal, on any worker
    assert [e for e in entries if e.at > refusal.at + 0.25] == []

    by = reasons(result["symbols"])
    assert len(by) == 24 and set(by.values()) <= {None, "auth_failed"}
    assert by["S010"] == "auth_failed"
    # the last two batches cannot have started: they failed without a request
    later = [f"S{i:03d}" for i in range(19, 25)]
    assert all(by[s] == "auth_failed" for s in later)
    assert not {e.symbol for e in entries} & set(later)
    # and the refusal on S010's worker stopped the other worker too
    owner = workers_by_symbol(fleet, scan_id)
    assert len(set(owner.values())) == 2, "both workers took batches"
    stopped = [s for s, r in by.items() if r == "auth_failed" and owner[s] != owner["S010"]]
    assert stopped, "the other worker scanned everything it had despite the refusal"
    [line] = result["errors"]
    assert line.startswith("provider 'sim' refused the credentials; ")
    assert "S010 expirations: HTTP 401" in line

    # the latch is per scan: the next scan of the same provider is not blocked
    next_id, next_status = queued_scan(fleet, 24)
    assert next_status["state"] == "finished", (next_status, fleet.logs())
    assert next_id != scan_id
    assert_complete(store, next_id, 24)
