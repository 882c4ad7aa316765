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
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import optscan_marketdata
import pytest
import respx
from optscan_marketdata.provider import (
    MarketDataConfig,
    MarketDataProvider,
    QuotaExhaustedError,
)

from optscan.errors import (
    ExpirationNotListedError,
    MalformedPayloadError,
    NetworkUnreachableError,
    RateLimitedError,
    SymbolNotFoundError,
    TransientProviderError,
)
from optscan.models import ScanRequest, ScanResult
from optscan.plugins import PluginHost
from optscan.scan import perform_scan
from optscan.testing import check_provider, check_provider_class

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


def _scan(symbols: list[str] | None = None, **overrides: Any) -> ScanResult:
    from optscan.config import load_settings

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
    request = ScanRequest(symbols=symbols, as_of=AS_OF)
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
    assert "rate limited (HTTP 429)" in by["LIMIT"].error
    assert limited.call_count == 4  # retried by the core (retry_attempts = 4)
    assert by["NODATA"].reason == "no_options" and "no_data" in by["NODATA"].error
    assert by["OOPS"].reason == "provider_error"
    assert by["OOPS"].error == "marketdata: OOPS expirations: Invalid symbol format: OOPS"
    assert by["DOWN"].reason == "transient" and "HTTP 503" in by["DOWN"].error
    assert down.call_count == 4
    assert by["GAP"].reason == "expiration_not_listed"
    assert by["GAP"].failed_expirations == {"2023-06-16": by["GAP"].error}
    assert result.success  # one good symbol: the scan completed


def test_a_rejected_token_is_clear_and_never_shown(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys
):
    caplog.set_level("DEBUG")
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(url__regex=r"/v1/options/expirations/").respond(
            401, json={"s": "error", "errmsg": f"Invalid token {TOKEN}"}
        )
        result = _scan(["AAPL", "MSFT", "AMD"])
    for outcome in result.symbols:
        assert outcome.status == "failed" and outcome.reason == "token_rejected"
        assert outcome.error.startswith("marketdata: token rejected (401); set MD_API_KEY")
    assert route.call_count <= 3  # not retried; later symbols do not even ask
    assert not result.success
    shown = json.dumps(result.to_json_dict()) + caplog.text + "".join(capsys.readouterr())
    assert TOKEN not in shown


def test_no_token_fails_before_any_request():
    with respx.mock(base_url=BASE) as mock:  # any request would be an unmocked error
        result = _scan(["AAPL"])
    assert not mock.calls
    assert result.symbols[0].reason == "token_missing"
    assert "set MD_API_KEY or [providers.marketdata] token" in result.symbols[0].error


def test_the_config_token_wins_and_is_masked(chain_body: dict[str, Any]):
    config = MarketDataConfig(base_url=BASE, token=TOKEN)
    assert TOKEN not in repr(config) and TOKEN not in str(config.model_dump())
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v1/options/expirations/AAPL/").respond(200, json=LISTING)
        MarketDataProvider(config).extract_expirations("AAPL")
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


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


def test_quota_used_up_fails_fast_saying_when_it_resets(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    provider = _provider(max_wait_s=5)
    reset = time.time() + 3.5 * 3600
    headers = {"X-Api-Ratelimit-Remaining": "0", "X-Api-Ratelimit-Reset": str(int(reset))}
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v1/options/expirations/AAPL/").respond(
            200, json=LISTING, headers=headers
        )
        assert provider.extract_expirations("AAPL") == LISTING  # the last credit: still good
        with pytest.raises(QuotaExhaustedError, match=r"used up; it resets at .* \(in 3h") as info:
            provider.extract_expirations("AAPL")
    assert isinstance(info.value, RateLimitedError) and not info.value.retryable
    assert route.call_count == 1  # the refused request was never sent


def test_a_near_reset_is_waited_for(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    provider = _provider(max_wait_s=5)
    headers = {"X-Api-Ratelimit-Remaining": "0", "X-Api-Ratelimit-Reset": f"{time.time() + 0.4}"}
    with respx.mock(base_url=BASE) as mock:
        mock.get("/v1/options/expirations/AAPL/").mock(
            side_effect=[
                httpx.Response(200, json=LISTING, headers=headers),
                httpx.Response(200, json=LISTING, headers={"X-Api-Ratelimit-Remaining": "99"}),
            ]
        )
        provider.extract_expirations("AAPL")
        started = time.monotonic()
        provider.extract_expirations("AAPL")
    assert time.monotonic() - started >= 0.2


def test_http_429_with_a_far_reset_is_not_retried(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    provider = _provider()
    far = {"X-Api-Ratelimit-Reset": str(int(time.time() + 7200))}
    with respx.mock(base_url=BASE) as mock:
        mock.get("/v1/options/expirations/AAPL/").respond(429, headers=far)
        with pytest.raises(QuotaExhaustedError, match=r"HTTP 429.*resets at"):
            provider.extract_expirations("AAPL")
    with respx.mock(base_url=BASE) as mock:
        mock.get("/v1/options/expirations/AAPL/").respond(429)
        with pytest.raises(RateLimitedError) as info:
            _provider().extract_expirations("AAPL")
    assert info.value.retryable  # no reset given: the core's backoff decides


def test_an_unlisted_expiration_costs_no_request(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MD_API_KEY", TOKEN)
    with (
        respx.mock(base_url=BASE) as mock,
        pytest.raises(ExpirationNotListedError, match="2023-06-23 is not a listed"),
    ):
        _provider().extract_chain("AAPL", dt.date(2023, 6, 23), LISTING)
    assert not mock.calls


def test_unknown_config_keys_are_named():
    from optscan.config import load_settings
    from optscan.errors import ConfigError

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
    from optscan.config import load_settings

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
