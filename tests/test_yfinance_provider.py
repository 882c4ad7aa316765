"""The yfinance provider on real recorded Yahoo v7 bodies, run through yfinance itself.

The seam: ``yfinance.data.YfData.get`` is yfinance's single HTTP entry point (options,
quotes and crumbs all go through it). Patching that one method with a fake response
serving the recorded bodies runs yfinance's own code, and ours, offline. A socket guard
makes any real network use fail the test.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from optscan.errors import (
    ExpirationNotListedError,
    MalformedPayloadError,
    NetworkUnreachableError,
    RateLimitedError,
    SymbolNotFoundError,
)
from optscan.providers.yfinance import YFinanceConfig, YFinanceProvider

from .conftest import shared_market_dir

pytestmark = pytest.mark.shared_data


class FakeResponse:
    def __init__(self, body, status_code: int = 200) -> None:
        self._body = body
        self.status_code = status_code
        self.url = "https://query2.finance.yahoo.com/"
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self):
        if isinstance(self._body, str):
            return json.loads(self._body)
        return self._body


def recorded(pattern: str) -> dict:
    folder = shared_market_dir() / "yahoo_v7"
    (path,) = sorted(folder.glob(pattern))
    return json.loads(path.read_text())


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def serve(monkeypatch, tmp_path):
    """Serve recorded bodies by symbol (and ``date=``) through YfData.get."""
    import yfinance.data

    bodies: dict[tuple[str, str | None], object] = {}
    calls: list[str] = []

    def fake_get(self, url, params=None, timeout=30):
        calls.append(url)
        parts = urlsplit(url)
        assert "/v7/finance/options/" in parts.path, url
        symbol = parts.path.rsplit("/", 1)[-1]
        date = parse_qs(parts.query).get("date", [None])[0]
        body = bodies.get((symbol, date), bodies.get((symbol, None)))
        if isinstance(body, Exception):
            raise body
        if isinstance(body, FakeResponse):
            return body
        return FakeResponse(body)

    monkeypatch.setattr(yfinance.data.YfData, "get", fake_get)
    serve.calls = calls
    return bodies, calls


def provider(tmp_path: Path) -> YFinanceProvider:
    return YFinanceProvider(YFinanceConfig(cache_dir=str(tmp_path / "yf-cache")))


def body_counts(body: dict) -> tuple[int, int]:
    block = body["optionChain"]["result"][0]["options"][0]
    return len(block["calls"]), len(block["puts"])


RECORDINGS = ["AAPL_recorded-2025-02-24*", "AAPL_recorded-2022-02-16*", "QQQ_recorded-2025*",
              "SPOT_recorded-2025*", "PYPL_recorded-2025*", "ABBV_recorded-2022*"]


@pytest.mark.parametrize("pattern", RECORDINGS)
def test_extract_and_transform_recorded_bodies(pattern, serve, tmp_path):
    bodies, calls = serve
    body = recorded(pattern)
    symbol = body["optionChain"]["result"][0]["underlyingSymbol"]
    bodies[(symbol, None)] = body
    p = provider(tmp_path)
    listing = p.extract_expirations(symbol)
    assert listing == body  # the raw body, untouched
    dates = p.transform_expirations(listing, symbol)
    first = dates[0]
    raw = p.extract_chain(symbol, first, listing)
    assert raw is listing and len(calls) == 1  # the nearest chain costs no request
    chain = p.transform_chain(raw, symbol, first)
    n_calls, n_puts = body_counts(body)
    assert int(chain.is_call.sum()) == n_calls and int((~chain.is_call).sum()) == n_puts
    assert (chain.expiration == np.datetime64(first)).all()
    assert np.isnan(chain.delta).all()  # Yahoo publishes no greeks
    quote = body["optionChain"]["result"][0]["quote"]
    assert chain.underlying_price == quote["regularMarketPrice"]
    assert chain.data_delay_s == 900
    # pre-market: zero bids and placeholder IVs come through untouched (the gate rejects)
    assert (chain.bid == 0).sum() > 0


@pytest.mark.parametrize("pattern", RECORDINGS)
def test_pre_market_payload_is_rejected_by_the_gate_with_reasons(pattern, serve, tmp_path):
    from optscan.analytics import screen_chain
    from optscan.config import load_settings
    from optscan.occ import standard_root_mask

    body = recorded(pattern)
    symbol = body["optionChain"]["result"][0]["underlyingSymbol"]
    p = provider(tmp_path)
    first = p.transform_expirations(body, symbol)[0]
    chain = p.transform_chain(body, symbol, first)
    settings = load_settings(use_env=False)
    screened = screen_chain(chain, strategy=settings.strategies["csp"],
                            analytics=settings.analytics, as_of=chain.quote_time)
    rows = body["optionChain"]["result"][0]["options"][0]
    all_rows = rows["calls"] + rows["puts"]
    standard = standard_root_mask([r["contractSymbol"] for r in all_rows], symbol)
    placeholders = (1e-05, 0.500005, 0.2500075, 0.12500875, 0.062509375, 0.0312596875,
                    0.015634843750000002, 0.007822421875, 0.00196310546875)
    expected = {"non_standard": 0, "no_bid": 0, "ask_below_bid": 0, "iv_placeholder": 0}
    for row, ok_root in zip(all_rows, standard, strict=True):  # the gate's precedence
        if not ok_root:
            expected["non_standard"] += 1
        elif not row.get("bid"):
            expected["no_bid"] += 1
        elif row.get("ask", 0) < row["bid"]:
            expected["ask_below_bid"] += 1
        elif any(math.isclose(row["impliedVolatility"], v, rel_tol=1e-7) for v in placeholders):
            expected["iv_placeholder"] += 1
    for reason, count in expected.items():
        assert screened.rejected.get(reason, 0) == count, reason
    assert expected["no_bid"] > 0
    assert screened.contracts_seen == len(all_rows)
    assert sum(screened.rejected.values()) + len(screened.opportunities) == len(all_rows)


def test_placeholder_ivs_with_a_bid_are_rejected_somewhere_in_the_recordings(tmp_path):
    """Across all recorded expirations, some quotes have a bid but a placeholder IV."""
    from optscan.analytics import screen_chain
    from optscan.config import load_settings

    settings = load_settings(use_env=False)
    total = 0
    for path in sorted((shared_market_dir() / "yahoo_v7").glob("*_recorded-*.json")):
        body = json.loads(path.read_text())
        result = body["optionChain"]["result"]
        if not result or not result[0]["options"] or not result[0]["expirationDates"]:
            continue
        symbol = result[0]["underlyingSymbol"]
        expiration = dt.datetime.fromtimestamp(result[0]["options"][0]["expirationDate"],
                                               dt.UTC).date()
        p = provider(tmp_path)
        try:
            chain = p.transform_chain(body, symbol, expiration)
        except ExpirationNotListedError:
            continue
        screened = screen_chain(chain, strategy=settings.strategies["csp"],
                                analytics=settings.analytics, as_of=chain.quote_time)
        total += screened.rejected.get("iv_placeholder", 0)
    assert total > 0


def test_recording_time_is_the_quote_time(serve, tmp_path):
    bodies, _ = serve
    bodies[("QQQ", None)] = recorded("QQQ_recorded-2025*")
    p = provider(tmp_path)
    listing = p.extract_expirations("QQQ")
    first = p.transform_expirations(listing, "QQQ")[0]
    chain = p.transform_chain(listing, "QQQ", first)
    assert chain.quote_time == dt.datetime(2025, 2, 24, 9, 24, 44, tzinfo=dt.UTC)
    assert first == dt.date(2025, 2, 24)  # QQQ's front expiry is 0DTE on the recording day


def test_non_expiry_date_and_no_options(serve, tmp_path):
    bodies, _ = serve
    bodies[("AAPL", None)] = recorded("AAPL_recorded-2022-02-24*")
    bodies[("AAPL", str(int(dt.datetime(2022, 3, 1, tzinfo=dt.UTC).timestamp())))] = (
        recorded("AAPL-expire-2022-03-01*"))
    bodies[("BTC-USD", None)] = recorded("BTC-USD_*")
    p = provider(tmp_path)
    listing = p.extract_expirations("AAPL")
    raw = p.extract_chain("AAPL", dt.date(2022, 3, 1), listing)
    with pytest.raises(ExpirationNotListedError):
        p.transform_chain(raw, "AAPL", dt.date(2022, 3, 1))
    with pytest.raises(SymbolNotFoundError, match="no listed options"):
        p.transform_expirations(p.extract_expirations("BTC-USD"), "BTC-USD")


@pytest.mark.parametrize("pattern", RECORDINGS[:4])
def test_agrees_with_yfinance_option_chain(pattern, serve, tmp_path):
    import yfinance

    bodies, _ = serve
    body = recorded(pattern)
    symbol = body["optionChain"]["result"][0]["underlyingSymbol"]
    bodies[(symbol, None)] = body
    theirs = yfinance.Ticker(symbol).option_chain()
    p = provider(tmp_path)
    first = p.transform_expirations(body, symbol)[0]
    ours = p.transform_chain(body, symbol, first)
    for kind, frame in (("call", theirs.calls), ("put", theirs.puts)):
        mask = ours.kind == kind
        assert ours.contract_symbol[mask].tolist() == frame["contractSymbol"].tolist()
        for col, theirs_col in (("strike", "strike"), ("bid", "bid"), ("ask", "ask"),
                                ("iv", "impliedVolatility"), ("volume", "volume"),
                                ("open_interest", "openInterest"), ("last", "lastPrice")):
            a = getattr(ours, col)[mask]
            b = frame[theirs_col].to_numpy(dtype=float)
            assert np.allclose(a, b, equal_nan=True), col
    assert theirs.underlying["regularMarketPrice"] == ours.underlying_price


def test_contract_pins_the_yfinance_seam(serve, tmp_path):
    import inspect

    import yfinance
    import yfinance.data

    assert yfinance.__version__ == "1.7.0", (
        "optscan's yfinance provider is pinned to yfinance 1.7.0 and patches "
        "yfinance.data.YfData.get in tests; re-check the seam before moving the pin")
    assert "url" in inspect.signature(yfinance.data.YfData.get).parameters
    bodies, calls = serve
    bodies[("PYPL", None)] = recorded("PYPL_recorded-2025*")
    yfinance.Ticker("PYPL").option_chain()
    assert calls and "/v7/finance/options/PYPL" in calls[0], (
        "Ticker.option_chain no longer goes through YfData.get: the seam moved")


def test_errors_become_per_symbol_outcomes(serve, tmp_path):
    from yfinance.exceptions import YFRateLimitError

    bodies, _ = serve
    bodies[("RATE", None)] = YFRateLimitError()
    bodies[("DOWN", None)] = ConnectionError("Could not resolve host: query2.finance.yahoo.com")
    bodies[("JUNK", None)] = FakeResponse("<html>not json</html>")
    bodies[("SHAPE", None)] = {"unexpected": True}
    bodies[("HTTP", None)] = FakeResponse({"finance": {"error": "x"}}, status_code=503)
    p = provider(tmp_path)
    with pytest.raises(RateLimitedError) as rate:
        p.extract_expirations("RATE")
    assert rate.value.retryable
    with pytest.raises(NetworkUnreachableError, match="--provider sim"):
        p.extract_expirations("DOWN")
    with pytest.raises(MalformedPayloadError):
        p.extract_expirations("JUNK")
    with pytest.raises(MalformedPayloadError):
        p.extract_expirations("SHAPE")
    from optscan.errors import TransientProviderError

    with pytest.raises(TransientProviderError):
        p.extract_expirations("HTTP")


def test_mutated_payloads_fail_cleanly(tmp_path):
    body = recorded("AAPL_recorded-2025-02-24*")
    p = provider(tmp_path)
    first = p.transform_expirations(body, "AAPL")[0]
    bad = json.loads(json.dumps(body))
    bad["optionChain"]["result"][0]["options"][0]["puts"][0]["bid"] = "1.0"
    with pytest.raises(MalformedPayloadError, match="bid"):
        p.transform_chain(bad, "AAPL", first)
    bad = json.loads(json.dumps(body))
    del bad["optionChain"]["result"][0]["quote"]["regularMarketPrice"]
    with pytest.raises(MalformedPayloadError, match="regularMarketPrice"):
        p.transform_chain(bad, "AAPL", first)


def test_scan_through_record_and_replay_of_recorded_bodies(serve, tmp_path):
    """A live-shaped scan recorded, then replayed offline: identical results."""
    from optscan.config import load_settings
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    bodies, _ = serve
    bodies[("AAPL", None)] = recorded("AAPL_recorded-2025-02-24*")
    bodies[("BTC-USD", None)] = recorded("BTC-USD_*")
    settings = load_settings(overrides={"scan.provider": "yfinance", "scan.max_dte": 4,
                                        "providers.yfinance.cache_dir": str(tmp_path / "c")},
                             use_env=False)
    rec = tmp_path / "rec"
    as_of = dt.datetime(2025, 2, 24, 9, 24, tzinfo=dt.UTC)
    live = perform_scan(ScanRequest(symbols=["AAPL", "BTC-USD"], as_of=as_of, force=True,
                                    record_dir=str(rec)),
                        PluginHost(load_entrypoints=False), settings=settings)
    by = {s.symbol: s for s in live.symbols}
    assert by["AAPL"].status == "ok" and by["AAPL"].contracts_seen > 0
    assert by["BTC-USD"].status == "failed" and by["BTC-USD"].reason == "no_options"
    assert (rec / "yfinance" / "AAPL" / "2025-02-28.json").is_file()
    replay = perform_scan(ScanRequest(replay_dir=str(rec), symbols=["AAPL"]),
                          PluginHost(load_entrypoints=False), settings=settings)
    assert replay.as_of == as_of
    assert replay.symbols[0].rejected == by["AAPL"].rejected


def test_record_replay_gives_identical_option_chains(serve, tmp_path):
    from optscan.recording import RecordingProvider, ReplayProvider

    bodies, _ = serve
    body = recorded("SPOT_recorded-2025*")
    bodies[("SPOT", None)] = body
    live = provider(tmp_path)
    recorder = RecordingProvider(live, tmp_path / "rec", dt.datetime(2025, 2, 24, tzinfo=dt.UTC))
    listing = recorder.extract_expirations("SPOT")
    first = recorder.transform_expirations(listing, "SPOT")[0]
    original = recorder.transform_chain(recorder.extract_chain("SPOT", first, listing),
                                        "SPOT", first)
    replay = ReplayProvider(provider(tmp_path), tmp_path / "rec")
    replayed_listing = replay.extract_expirations("SPOT")
    assert replayed_listing == body
    again = replay.transform_chain(replay.extract_chain("SPOT", first, replayed_listing),
                                   "SPOT", first)
    assert again.equals(original) and len(again) > 0
