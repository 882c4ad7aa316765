"""The ``marketdata`` provider on marketdata.app's recorded answers, with HTTP mocked by respx.

The recorded bodies live beside the repository in ``shared/data/market/marketdata_app``
(the vendor's own documentation examples); they are read in place, never copied here,
and the tests that need them skip with the reason when the folder is absent.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import optscan_marketdata
import pytest
import respx
from optscan_marketdata.provider import MarketDataConfig, MarketDataProvider

from optscan import (
    AuthenticationError,
    ConfigError,
    ExpirationNotListedError,
    MalformedPayloadError,
    NetworkUnreachableError,
    PluginHost,
    ProviderError,
    RateLimitedError,
    ScanRequest,
    ScanResult,
    SymbolNotFoundError,
    TransientProviderError,
    check_error_answers,
    check_provider,
    check_provider_class,
    load_settings,
    perform_scan,
)

RECORDED = (
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "market" / "marketdata_app"
)
CHAIN_FILE = "AAPL_chain_docs-example_updated-2023-05-21.json"
BASE = "https://md.example.test"
TOKEN = "tok-SECRET-4f9a1c"
EXPIRY = dt.date(2023, 6, 16)
# A Monday in session after the recording (a Sunday): 25 days to the recorded expiry.
AS_OF = dt.datetime(2023, 5, 22, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
# marketdata's listing answer for the recorded chain: constructed (no recording of the
# expirations endpoint is available), in the documented shape. 2023-07-21 lies outside
# the scan's 28-day window, so a scan requests only the recorded expiry.
LISTING = {"s": "ok", "expirations": ["2023-06-16", "2023-07-21"], "updated": 1684702875}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config, no OPTSCAN_* variables and no token unless a test sets one."""
    for name in list(os.environ):
        if name.startswith("OPTSCAN_") or name == "MD_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(tmp_path)


def _recorded(name: str) -> dict[str, Any]:
    path = RECORDED / name
    if not path.is_file():
        pytest.skip(f"recorded marketdata.app answers not available ({path} is missing)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def chain_body() -> dict[str, Any]:
    return _recorded(CHAIN_FILE)


def _provider(**config: Any) -> MarketDataProvider:
    return MarketDataProvider(MarketDataConfig(base_url=BASE, **config))


def _scan(
    symbols: list[str] | None = None, *, record_dir: Path | None = None, **overrides: Any
) -> ScanResult:
    settings = load_settings(
        overrides={
            "scan.provider": "marketdata",
            "providers.marketdata.base_url": BASE,
            "providers.marketdata.retry_initial_s": 0.0,
            "providers.marketdata.retry_max_s": 0.0,
            # the recorded puts pay little: lower the bar so they show as opportunities
            "strategies.csp.min_annualized_return": 1.0,
            **overrides,
        },
        use_env=False,
    )
    host = PluginHost(load_entrypoints=False, plugins=[optscan_marketdata])
    request = ScanRequest(
        symbols=symbols, as_of=AS_OF, record_dir=str(record_dir) if record_dir else None
    )
    return perform_scan(request, host, settings=settings)


def _route_ok(mock: respx.MockRouter, symbol: str, body: dict[str, Any]) -> respx.Route:
    mock.get(f"/v1/options/expirations/{symbol}/").respond(200, json=LISTING)
    return mock.get(f"/v1/options/chain/{symbol}/", params={"expiration": "2023-06-16"}).respond(
        200, json=body
    )


# --------------------------------------------------------------------------- transform


def test_class_and_transforms_pass_the_core_invariants(chain_body: dict[str, Any]):
    check_provider_class(MarketDataProvider)
    provider = MarketDataProvider(MarketDataConfig())
    (chain,) = check_provider(
        provider,
        "AAPL",
        listing_payload=LISTING,
        chain_payloads={EXPIRY: chain_body},
        expected_expirations=[EXPIRY, dt.date(2023, 7, 21)],
    )
    assert len(chain) == 92
    assert chain.contract_symbol.tolist() == chain_body["optionSymbol"]
    assert chain.kind.tolist() == chain_body["side"]
    assert chain.strike.tolist() == [float(s) for s in chain_body["strike"]]
    assert chain.delta.tolist() == [float(d) for d in chain_body["delta"]]  # as published
    assert chain.iv.tolist() == [float(v) for v in chain_body["iv"]]
    assert chain.open_interest.tolist() == [float(v) for v in chain_body["openInterest"]]
    nulls = [i for i, v in enumerate(chain_body["last"]) if v is None]
    assert nulls and all(math.isnan(chain.last[i]) for i in nulls)  # null -> NaN, never 0
    assert chain.underlying_price == 175.13
    assert chain.quote_time == dt.datetime.fromtimestamp(1684702875, dt.UTC)
    assert chain.last_trade_time.tolist() == [float(t) for t in chain_body["updated"]]


def test_null_greeks_stay_missing():
    body = _recorded("AAPL250117P00150000_quote_historical_2024-02-05.json")
    listing = {"s": "ok", "expirations": ["2025-01-17"], "updated": 1707166800}
    (chain,) = check_provider(
        MarketDataProvider(MarketDataConfig()),
        "AAPL",
        listing_payload=listing,
        chain_payloads={dt.date(2025, 1, 17): body},
    )
    assert math.isnan(chain.delta[0]) and math.isnan(chain.iv[0])  # the core computes or gates


def test_bad_payloads_are_named(chain_body: dict[str, Any]):
    provider = MarketDataProvider(MarketDataConfig())
    short = dict(chain_body, strike=chain_body["strike"][:-1])
    with pytest.raises(MalformedPayloadError, match="'strike' has 91 values, optionSymbol has 92"):
        provider.transform_chain(short, "AAPL", EXPIRY)
    with pytest.raises(ExpirationNotListedError, match="no contract expiring 2023-06-23"):
        provider.transform_chain(chain_body, "AAPL", dt.date(2023, 6, 23))
    with pytest.raises(SymbolNotFoundError, match="no_data"):
        provider.transform_expirations({"s": "no_data"}, "ZZZZ")
    with pytest.raises(MalformedPayloadError, match="unexpected status"):
        provider.transform_expirations({"status": "fine"}, "AAPL")


# --------------------------------------------------------------------------- live, mocked


def test_scan_gets_the_chain_and_the_providers_deltas(
    chain_body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    with respx.mock(base_url=BASE) as mock:
        chain_route = _route_ok(mock, "AAPL", chain_body)
        result = _scan(["AAPL"])
    (outcome,) = result.symbols
    assert outcome.status == "ok", outcome.error
    assert outcome.expirations == [EXPIRY]
    assert outcome.contracts_seen == 92
    assert result.opportunities, "the recorded OTM puts should pass a 1% screen"
    published = dict(zip(chain_body["optionSymbol"], chain_body["delta"], strict=True))
    for opp in result.opportunities:
        assert opp.provider == "marketdata" and opp.kind == "put"
        assert opp.delta_source == "provider"
        assert opp.delta == pytest.approx(published[opp.contract_symbol])
        assert opp.underlying_price == 175.13
    request = chain_route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)  # the token travels in the header only
    assert request.url.params["expiration"] == "2023-06-16"


def test_a_class_share_is_asked_for_in_marketdatas_spelling(monkeypatch: pytest.MonkeyPatch):
    """optscan's canonical BRK-B (however the user wrote it) is BRK.B at marketdata.app."""
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v1/options/expirations/BRK.B/").respond(200, json={"s": "no_data"})
        result = _scan(["BRK/B"])
    assert route.called
    (outcome,) = result.symbols
    assert outcome.symbol == "BRK-B" and outcome.reason == "no_options"


def test_cached_answers_203_are_fine(chain_body: dict[str, Any], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    with respx.mock(base_url=BASE) as mock:
        mock.get("/v1/options/expirations/AAPL/").respond(203, json=LISTING)
        mock.get("/v1/options/chain/AAPL/").respond(203, json=chain_body)
        result = _scan(["AAPL"])
    assert result.symbols[0].status == "ok"


def test_each_error_is_a_clear_per_symbol_outcome(
    chain_body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    with respx.mock(base_url=BASE) as mock:
        _route_ok(mock, "AAPL", chain_body)
        limited = mock.get("/v1/options/expirations/LIMIT/").respond(429, json={"s": "error"})
        mock.get("/v1/options/expirations/NODATA/").respond(404, json={"s": "no_data"})
        mock.get("/v1/options/expirations/OOPS/").respond(
            400, json={"s": "error", "errmsg": "Invalid symbol format: OOPS"}
        )
        down = mock.get("/v1/options/expirations/DOWN/").respond(503, text="maintenance")
        mock.get("/v1/options/expirations/GAP/").respond(200, json=LISTING)
        mock.get("/v1/options/chain/GAP/").respond(404, json={"s": "no_data"})
        result = _scan(["AAPL", "LIMIT", "NODATA", "OOPS", "DOWN", "GAP"])
    by = {s.symbol: s for s in result.symbols}
    assert by["AAPL"].status == "ok"
    assert (by["LIMIT"].reason, by["LIMIT"].status) == ("rate_limited", "failed")
    assert by["LIMIT"].error == "marketdata: LIMIT expirations: HTTP 429 Too Many Requests"
    assert limited.call_count == 4  # no Retry-After: retried by the core (retry_attempts = 4)
    assert by["NODATA"].reason == "no_options" and "no_data" in by["NODATA"].error
    assert by["OOPS"].reason == "provider_error"
    assert by["OOPS"].error == "marketdata: OOPS expirations: Invalid symbol format: OOPS"
    assert by["DOWN"].reason == "transient" and "HTTP 503" in by["DOWN"].error
    assert down.call_count == 4
    assert by["GAP"].reason == "expiration_not_listed"
    assert by["GAP"].failed_expirations == {"2023-06-16": by["GAP"].error}
    assert result.success  # one good symbol: the scan completed


def test_a_rejected_token_costs_one_request_and_is_never_shown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys
):
    """A 401 is the core's AuthenticationError: no further request in this scan."""
    caplog.set_level("DEBUG")
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(url__regex=r"/v1/options/expirations/").respond(
            401, json={"s": "error", "errmsg": f"Invalid token {TOKEN}"}
        )
        # one fetch thread, so "exactly one" is deterministic: with more, requests
        # already under way when the 401 comes back still finish
        result = _scan(["AAPL", "MSFT", "AMD"], **{"scan.concurrency": 1})
    assert route.call_count == 1
    for outcome in result.symbols:
        assert outcome.status == "failed" and outcome.reason == "auth_failed"
        assert outcome.error == (
            "marketdata: AAPL expirations: HTTP 401 Unauthorized: Invalid token ***; "
            "set MD_API_KEY or [providers.marketdata] token"
        )
    (line,) = result.errors  # one line about it, not one per symbol
    assert "provider 'marketdata' refused the credentials; 3 symbols not scanned" in line
    assert not result.success
    shown = json.dumps(result.to_json_dict()) + caplog.text + "".join(capsys.readouterr())
    assert TOKEN not in shown


def test_no_token_fails_before_any_request():
    with respx.mock(base_url=BASE) as mock:  # any request would be an unmocked error
        result = _scan(["AAPL", "MSFT"])
    assert not mock.calls
    assert {s.reason for s in result.symbols} == {"auth_failed"}
    assert "marketdata: no API token; set MD_API_KEY or [providers.marketdata] token" in (
        result.symbols[0].error
    )
    assert len(result.errors) == 1


def test_the_config_token_wins_and_is_masked(chain_body: dict[str, Any]):
    config = MarketDataConfig(base_url=BASE, token=TOKEN)
    assert TOKEN not in repr(config) and TOKEN not in str(config.model_dump())
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v1/options/expirations/AAPL/").respond(200, json=LISTING)
        MarketDataProvider(config).extract_expirations("AAPL")
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


# --------------------------------------------------------------------------- error answers


def _answer(status: int, headers: dict[str, str] | None = None, **body: Any) -> Any:
    """What extract returns for one answer (served by respx): an error answer for
    anything but a 2xx ``{"s": "ok"}`` or ``{"s": "no_data"}`` body."""
    with respx.mock(base_url=BASE) as mock:
        mock.get("/v1/options/expirations/AAPL/").respond(status, headers=headers, **body)
        return _provider(token=TOKEN).extract_expirations("AAPL")


def _http_date(seconds: float) -> str:
    from email.utils import format_datetime

    return format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds), usegmt=True)


# (status, headers (made when the test runs, for those that depend on the time), body,
# the listing's error, the chain's error, retry_after)
ANSWERS: dict[str, tuple[int, Any, dict[str, Any], type, type, float | None]] = {
    "401": (
        401,
        {},
        {"json": {"s": "error", "errmsg": f"Invalid token {TOKEN}"}},
        AuthenticationError,
        AuthenticationError,
        None,
    ),
    "403": (403, {}, {"text": "Forbidden"}, AuthenticationError, AuthenticationError, None),
    "429_retry_after_seconds": (
        429,
        {"Retry-After": "2"},
        {"json": {"s": "error"}},
        RateLimitedError,
        RateLimitedError,
        2.0,
    ),
    "429_retry_after_date": (
        429,
        lambda: {"Retry-After": _http_date(120)},
        {},
        RateLimitedError,
        RateLimitedError,
        120.0,
    ),
    "429_quota_reset_epoch": (
        429,
        lambda: {"X-Api-Ratelimit-Reset": str(int(time.time() + 3600))},
        {},
        RateLimitedError,
        RateLimitedError,
        3600.0,
    ),
    "429_quota_reset_in_seconds": (
        429,
        {"X-Api-Ratelimit-Reset": "30"},
        {},
        RateLimitedError,
        RateLimitedError,
        30.0,
    ),
    "429_retry_after_wins": (
        429,
        lambda: {"Retry-After": "3", "X-Api-Ratelimit-Reset": str(int(time.time() + 3600))},
        {},
        RateLimitedError,
        RateLimitedError,
        3.0,
    ),
    "429_bare": (429, {}, {}, RateLimitedError, RateLimitedError, None),
    "404_no_data": (
        404,
        {},
        {"json": {"s": "no_data"}},
        SymbolNotFoundError,
        ExpirationNotListedError,
        None,
    ),
    "404_plain": (
        404,
        {},
        {"text": "not here"},
        SymbolNotFoundError,
        ExpirationNotListedError,
        None,
    ),
    "404_errmsg": (
        404,
        {},
        {"json": {"s": "error", "errmsg": "Unknown symbol"}},
        SymbolNotFoundError,
        ExpirationNotListedError,
        None,
    ),
    "500": (
        500,
        {},
        {"json": {"s": "error", "errmsg": f"crashed serving {TOKEN}"}},
        TransientProviderError,
        TransientProviderError,
        None,
    ),
    "502_html": (
        502,
        {},
        {"text": "<html>bad gateway</html>"},
        TransientProviderError,
        TransientProviderError,
        None,
    ),
    "400_errmsg": (
        400,
        {},
        {"json": {"s": "error", "errmsg": "Invalid symbol format: AAPL"}},
        ProviderError,
        ProviderError,
        None,
    ),
    "200_error_body": (
        200,
        {"X-Echo": f"Bearer {TOKEN}"},
        {"json": {"s": "error", "errmsg": f"Token {TOKEN} lacks this plan"}},
        ProviderError,
        ProviderError,
        None,
    ),
    "301": (301, {"Location": "https://elsewhere.test/"}, {}, ProviderError, ProviderError, None),
}


@pytest.mark.parametrize("case", ANSWERS)
def test_error_answers_map_to_the_core_errors(case: str):
    status, headers, body, listing_error, chain_error, retry_after = ANSWERS[case]
    raw = _answer(status, headers() if callable(headers) else headers, **body)
    assert list(raw) == ["$http_error"], raw  # returned, not raised: --record saves it
    assert raw["$http_error"]["status"] == status
    assert TOKEN not in json.dumps(raw)  # redacted from the body and the headers
    provider = MarketDataProvider(MarketDataConfig())  # a replay has no token
    (error,) = check_error_answers(provider, "AAPL", [(raw, listing_error)])
    assert type(error) is listing_error or listing_error is ProviderError, repr(error)
    assert error.reason == listing_error.reason
    assert str(error).startswith("marketdata: AAPL")
    with pytest.raises(chain_error) as chain:
        provider.transform_chain(raw, "AAPL", EXPIRY)
    assert chain.value.reason == chain_error.reason
    if retry_after is None:
        assert getattr(error, "retry_after", None) is None
    else:
        assert error.retry_after == pytest.approx(retry_after, abs=3)


def test_the_messages_say_what_marketdata_said():
    def message(status: int, headers: dict[str, str] | None = None, **body: Any) -> str:
        raw = _answer(status, headers, **body)
        with pytest.raises(ProviderError) as info:
            MarketDataProvider(MarketDataConfig()).transform_expirations(raw, "AAPL")
        return str(info.value)

    assert message(400, json={"s": "error", "errmsg": "Invalid symbol format: AAPL"}) == (
        "marketdata: AAPL expirations: Invalid symbol format: AAPL"
    )
    assert (
        message(404, json={"s": "no_data"}) == "marketdata: AAPL: no data for expirations (no_data)"
    )
    assert message(503, text="maintenance") == (
        "marketdata: AAPL expirations: HTTP 503 Service Unavailable: maintenance"
    )
    assert message(401, json={"s": "error", "errmsg": f"Invalid token {TOKEN}"}) == (
        "marketdata: AAPL expirations: HTTP 401 Unauthorized: Invalid token ***; "
        "set MD_API_KEY or [providers.marketdata] token"
    )
    reset = {"X-Api-Ratelimit-Reset": str(int(time.time() + 3.5 * 3600))}
    assert re.fullmatch(
        r"marketdata: AAPL expirations: HTTP 429 Too Many Requests; "
        r"the request quota resets at 20\d\d-.*-0[45]:00 \(in 3h(29|30)m\)",
        message(429, reset),
    )


def test_ok_and_no_data_bodies_are_returned_as_they_came():
    assert _answer(200, json=LISTING) == LISTING
    assert _answer(203, json={"s": "no_data"}) == {"s": "no_data"}
    with pytest.raises(SymbolNotFoundError, match="no_data"):
        MarketDataProvider(MarketDataConfig()).transform_expirations({"s": "no_data"}, "AAPL")


# --------------------------------------------------------------------------- rate limits


def test_retry_after_pauses_the_next_requests_then_they_succeed(
    chain_body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    started: dict[str, list[float]] = {"AAPL": [], "MSFT": [], "MSFT chain": []}
    limited = threading.Event()

    def aapl(request: httpx.Request) -> httpx.Response:
        started["AAPL"].append(time.monotonic())
        if len(started["AAPL"]) == 1:
            limited.set()
            return httpx.Response(429, headers={"Retry-After": "2"}, json={"s": "error"})
        return httpx.Response(200, json=LISTING)

    def msft(request: httpx.Request) -> httpx.Response:
        started["MSFT"].append(time.monotonic())
        # answer only once AAPL's 429 has paused the provider: MSFT's next request,
        # its chain, starts while the pause holds
        assert limited.wait(10), "AAPL's request never came"
        time.sleep(0.2)
        return httpx.Response(200, json=LISTING)

    def msft_chain(request: httpx.Request) -> httpx.Response:
        started["MSFT chain"].append(time.monotonic())
        return httpx.Response(200, json=chain_body)

    with respx.mock(base_url=BASE) as mock:
        mock.get("/v1/options/expirations/AAPL/").mock(side_effect=aapl)
        mock.get("/v1/options/chain/AAPL/").respond(200, json=chain_body)
        mock.get("/v1/options/expirations/MSFT/").mock(side_effect=msft)
        mock.get("/v1/options/chain/MSFT/").mock(side_effect=msft_chain)
        result = _scan(["AAPL", "MSFT"], **{"scan.concurrency": 2})
    assert [(s.symbol, s.status) for s in result.symbols] == [("AAPL", "ok"), ("MSFT", "ok")]
    first, retried = started["AAPL"]
    assert retried - first >= 1.9  # the retry waited for Retry-After, no backoff
    (chain_started,) = started["MSFT chain"]
    assert chain_started - first >= 1.9  # so did another symbol's next request
    assert retried - first < 10


def test_a_quota_reset_hours_ahead_fails_at_once(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    reset = {"X-Api-Ratelimit-Reset": str(int(time.time() + 3.5 * 3600))}
    started = time.monotonic()
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v1/options/expirations/AAPL/").respond(429, headers=reset)
        result = _scan(["AAPL"])
    (outcome,) = result.symbols
    assert (outcome.status, outcome.reason) == ("failed", "rate_limited")
    assert "the request quota resets at" in outcome.error
    assert "more than max_retry_after_s (60 s)" in outcome.error
    assert route.call_count == 1  # not retried: the core's max_retry_after_s
    assert time.monotonic() - started < 30


def test_max_wait_s_is_still_accepted_as_max_retry_after_s():
    assert MarketDataConfig().max_retry_after_s == 60.0  # the core's default
    assert MarketDataConfig(max_wait_s=5).max_retry_after_s == 5.0
    assert MarketDataConfig(max_wait_s=5, max_retry_after_s=9).max_retry_after_s == 9.0
    assert "max_wait_s" not in MarketDataConfig(max_wait_s=5).model_dump()
    host = PluginHost(load_entrypoints=False, plugins=[optscan_marketdata])
    settings = load_settings(overrides={"providers.marketdata.max_wait_s": 7}, use_env=False)
    config = host.plugin_config("providers", "marketdata", settings)
    assert isinstance(config, MarketDataConfig) and config.max_retry_after_s == 7.0
    settings = load_settings(overrides={"providers.marketdata.max_wait_s": -1}, use_env=False)
    with pytest.raises(ConfigError, match=r"providers\.marketdata\.max_retry_after_s"):
        host.plugin_config("providers", "marketdata", settings)


# --------------------------------------------------------------------------- record, replay


def _replay(root: Path) -> ScanResult:
    settings = load_settings(overrides={"scan.provider": "marketdata"}, use_env=False)
    host = PluginHost(load_entrypoints=False, plugins=[optscan_marketdata])
    with respx.mock() as mock:  # any request would fail as unmocked
        result = perform_scan(ScanRequest(replay_dir=str(root)), host, settings=settings)
    assert not mock.calls
    return result


@pytest.mark.parametrize(
    ("status", "reason"), [(429, "rate_limited"), (401, "auth_failed"), (503, "transient")]
)
def test_a_recorded_error_answer_replays_as_the_same_failure(
    status: int, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    rec = tmp_path / "rec"
    with respx.mock(base_url=BASE) as mock:
        mock.get("/v1/options/expirations/AAPL/").respond(
            status, json={"s": "error", "errmsg": f"refused {TOKEN}"}
        )
        live = _scan(["AAPL"], record_dir=rec)
    (outcome,) = live.symbols
    assert (outcome.status, outcome.reason) == ("failed", reason), outcome.error
    saved = (rec / "marketdata" / "AAPL" / "expirations.json").read_text(encoding="utf-8")
    assert json.loads(saved)["$http_error"]["status"] == status
    assert TOKEN not in saved

    monkeypatch.delenv("MD_API_KEY")  # a replay needs no token
    (again,) = _replay(rec).symbols
    assert (again.status, again.reason, again.error) == ("failed", reason, outcome.error)


# --------------------------------------------------------------------------- transport


def test_transport_failures_map_onto_the_core_errors(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    provider = _provider(timeout_s=0.5)
    cases = [
        (httpx.ReadTimeout("slow"), TransientProviderError, "no answer within 0.5 s"),
        (httpx.ConnectError("refused"), NetworkUnreachableError, "cannot connect to md.example"),
        (httpx.RemoteProtocolError("eof"), TransientProviderError, "RemoteProtocolError"),
    ]
    for exc, kind, message in cases:
        with respx.mock(base_url=BASE) as mock:
            mock.get("/v1/options/expirations/AAPL/").mock(side_effect=exc)
            with pytest.raises(kind, match=message) as info:
                provider.extract_expirations("AAPL")
        assert info.value.retryable == (kind is TransientProviderError)


def test_an_unlisted_expiration_costs_no_request(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    with (
        respx.mock(base_url=BASE) as mock,
        pytest.raises(ExpirationNotListedError, match="2023-06-23 is not a listed"),
    ):
        _provider().extract_chain("AAPL", dt.date(2023, 6, 23), LISTING)
    assert not mock.calls


def test_unknown_config_keys_are_named():
    settings = load_settings(overrides={"providers.marketdata.tokn": "x"}, use_env=False)
    host = PluginHost(load_entrypoints=False, plugins=[optscan_marketdata])
    with pytest.raises(ConfigError, match=r"providers\.marketdata\.tokn: unknown key"):
        host.plugin_config("providers", "marketdata", settings)
    settings = load_settings(overrides={"providers.marketdata.base_url": "ftp://x"}, use_env=False)
    with pytest.raises(ConfigError, match=r"providers\.marketdata\.base_url"):
        host.plugin_config("providers", "marketdata", settings)


# --------------------------------------------------------------------------- replay


def _replay_dir(tmp_path: Path, chain_body: dict[str, Any]) -> Path:
    """What ``optscan scan --record`` would have saved for AAPL (raw bodies, untouched)."""
    root = tmp_path / "replay"
    folder = root / "marketdata" / "AAPL"
    folder.mkdir(parents=True)
    (folder / "expirations.json").write_text(json.dumps(LISTING), encoding="utf-8")
    (folder / f"{EXPIRY.isoformat()}.json").write_text(json.dumps(chain_body), encoding="utf-8")
    return root


def test_replay_needs_no_token_and_no_network(tmp_path: Path, chain_body: dict[str, Any]):
    root = _replay_dir(tmp_path, chain_body)
    settings = load_settings(
        overrides={"scan.provider": "marketdata", "strategies.csp.min_annualized_return": 1.0},
        use_env=False,
    )
    host = PluginHost(load_entrypoints=False, plugins=[optscan_marketdata])
    with respx.mock() as mock:  # any request would fail as unmocked
        result = perform_scan(ScanRequest(replay_dir=str(root)), host, settings=settings)
    assert not mock.calls
    assert [s.symbol for s in result.symbols] == ["AAPL"]
    assert result.symbols[0].status == "ok", result.symbols[0].error
    # no manifest: the clock is the recorded chain's own quote time (parsed by transform)
    assert result.as_of == dt.datetime.fromtimestamp(1684702875, dt.UTC)
    assert result.opportunities
    assert {o.delta_source for o in result.opportunities} == {"provider"}


def test_cli_replay_with_the_installed_plugin(tmp_path: Path, chain_body: dict[str, Any]):
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("optscan-marketdata")
    except PackageNotFoundError:
        pytest.skip(
            "optscan-marketdata is not installed (pip install -e plugins/optscan-marketdata)"
        )
    root = _replay_dir(tmp_path, chain_body)
    env = {k: v for k, v in os.environ.items() if k != "MD_API_KEY"}
    command = [sys.executable, "-m", "optscan", "scan", "--provider", "marketdata"]
    command += ["--replay", str(root), "--format", "json"]
    command += ["--set", "strategies.csp.min_annualized_return=1"]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["provider"] == "marketdata"
    assert document["symbols"][0]["status"] == "ok"
    assert document["opportunities"]
    assert {o["delta_source"] for o in document["opportunities"]} == {"provider"}
