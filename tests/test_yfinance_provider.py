"""The yfinance provider on real recorded Yahoo v7 bodies, run through yfinance itself.

The seam
    ``yfinance.data.YfData.get(self, url, params=None, timeout=30)`` is yfinance 1.7's
    HTTP entry point: ``Ticker._download_options`` builds
    ``https://query2.finance.yahoo.com/v7/finance/options/{SYMBOL}[?date=<epoch>]`` and
    calls ``self._data.get(url=url).json()``, and optscan's provider calls the same
    method. The cookie/crumb dance (``_get_cookie_and_crumb``, hitting fc.yahoo.com and
    ``getcrumb``) happens *inside* the real ``get`` (in ``_make_request``), so replacing
    ``get`` on the class with a fake that serves recorded bodies by URL (symbol, and the
    ``date=`` query parameter) runs yfinance's parsing and ours fully offline.
    ``Ticker.option_chain()`` makes no other request (no time-zone or quote lookup);
    the fake turns ``_get_cookie_and_crumb`` and ``post`` into failures to prove it.
    The fake and the network guard are in ``yahoo.py``; error answers and failed
    requests are tested in ``test_yfinance_errors.py``.

The recorded bodies live beside the repository in ``../shared/data/market/yahoo_v7``
(see its README); they are read in place, never copied, and the tests skip when absent.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optscan.default_plugins.providers.yfinance import YFinanceConfig, YFinanceProvider
from optscan.errors import (
    ExpirationNotListedError,
    MalformedPayloadError,
    NetworkUnreachableError,
    ProviderError,
    RateLimitedError,
    SymbolNotFoundError,
    TransientProviderError,
)

from .helpers import shared_market_dir
from .yahoo import Served, fake_yfdata, refuse_network

pytestmark = pytest.mark.shared_data

REPO = Path(__file__).resolve().parents[1]
YAHOO = REPO.parent / "shared" / "data" / "market" / "yahoo_v7"

# Recordings whose front expiry carries contracts, and the two special ones.
WITH_OPTIONS = (
    "AAPL_recorded-2022-02-16T0916Z.json",
    "AAPL_recorded-2022-02-24T1019Z.json",
    "AAPL_recorded-2025-02-24T0924Z.json",
    "ABBV_recorded-2022-02-24T1019Z.json",
    "PYPL_recorded-2025-02-24T0924Z.json",
    "QQQ_recorded-2022-02-16T0916Z.json",
    "QQQ_recorded-2022-02-24T1019Z.json",
    "QQQ_recorded-2025-02-24T0924Z.json",
    "SPOT_recorded-2022-02-24T1019Z.json",
    "SPOT_recorded-2025-02-24T0924Z.json",
)
NON_EXPIRY = "AAPL-expire-2022-03-01_recorded-2022-02-24T1019Z.json"
NO_OPTIONS = "BTC-USD_recorded-2025-02-24T0924Z.json"

# Yahoo's outside-hours implied-volatility placeholders (see the data README).
PLACEHOLDER_IVS = (
    1e-05,
    0.500005,
    0.2500075,
    0.12500875,
    0.062509375,
    0.0312596875,
    0.015634843750000002,
    0.007822421875,
    0.00196310546875,
)


# ------------------------------------------------------------------------ helpers


def recorded(name: str) -> dict:
    """A recorded body by file name (a fresh copy each call); skips without the data."""
    shared_market_dir()
    return json.loads((YAHOO / name).read_text())


def result_of(body: dict) -> dict:
    return body["optionChain"]["result"][0]


def front_rows(body: dict) -> tuple[list[dict], list[dict]]:
    block = result_of(body)["options"][0]
    return block["calls"], block["puts"]


def utc_date(epoch: int) -> dt.date:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date()


def epoch_of(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(0), dt.UTC).timestamp())


def raw_column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([math.nan if r.get(key) is None else r[key] for r in rows], dtype=float)


def provider(tmp_path: Path, **config: Any) -> YFinanceProvider:
    return YFinanceProvider(YFinanceProvider.Config(cache_dir=str(tmp_path / "yf"), **config))


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_network(monkeypatch)


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Served:
    """Replace ``YfData.get`` with a fake serving recorded bodies by URL."""
    return fake_yfdata(monkeypatch)


# ------------------------------------------------------------- recorded bodies, ours


@pytest.mark.parametrize("name", WITH_OPTIONS)
def test_extract_and_transform_recorded_bodies(name, serve, tmp_path):
    body = recorded(name)
    result = result_of(body)
    symbol = result["underlyingSymbol"]
    serve.add(body, symbol)
    p = provider(tmp_path)

    listing = p.extract_expirations(symbol)
    assert listing == recorded(name)  # the raw body, untouched
    assert serve.urls() == [f"https://query2.finance.yahoo.com/v7/finance/options/{symbol}"]
    assert serve.calls[0][1] == 10  # timeout_s reaches yfinance

    dates = p.transform_expirations(listing, symbol)
    assert dates == sorted(utc_date(e) for e in result["expirationDates"])
    first = dates[0]
    assert epoch_of(first) == result["options"][0]["expirationDate"]

    raw = p.extract_chain(symbol, first, listing)
    assert raw is listing and len(serve.calls) == 1  # the nearest chain costs no request
    chain = p.transform_chain(raw, symbol, first)

    calls, puts = front_rows(body)
    rows = calls + puts
    assert int(chain.is_call.sum()) == len(calls) and int((~chain.is_call).sum()) == len(puts)
    assert chain.contract_symbol.tolist() == [r["contractSymbol"] for r in rows]
    assert (chain.expiration == np.datetime64(first)).all()
    # pre-market: zero bids and placeholder IVs pass through unchanged (the gate is later)
    for column, key in (
        ("strike", "strike"),
        ("bid", "bid"),
        ("ask", "ask"),
        ("last", "lastPrice"),
        ("volume", "volume"),
        ("open_interest", "openInterest"),
        ("iv", "impliedVolatility"),
        ("last_trade_time", "lastTradeDate"),
    ):
        assert np.array_equal(getattr(chain, column), raw_column(rows, key), equal_nan=True), column
    assert (chain.bid == 0).sum() > len(rows) // 2
    placeholders = np.isin(chain.iv, PLACEHOLDER_IVS)
    assert placeholders.sum() > len(rows) // 2
    assert np.isnan(chain.delta).all()  # Yahoo publishes no greeks

    quote = result["quote"]
    assert chain.symbol == symbol and chain.provider == "yfinance" and not chain.synthetic
    assert chain.underlying_price == quote["regularMarketPrice"]  # not the pre-market print
    times = [
        quote[k]
        for k in ("regularMarketTime", "preMarketTime", "postMarketTime")
        if quote.get(k) is not None
    ]
    assert chain.quote_time == dt.datetime.fromtimestamp(max(times), dt.UTC)
    assert chain.data_delay_s == 900
    assert chain.dividend_yield == quote.get("trailingAnnualDividendYield")
    assert chain.ex_dividend_date is None  # only dividendDate (the pay date) is recorded


def test_a_later_expiration_is_asked_for_by_date(serve, tmp_path):
    body = recorded("AAPL_recorded-2025-02-24T0924Z.json")
    serve.add(body, "AAPL")
    p = provider(tmp_path)
    listing = p.extract_expirations("AAPL")
    second = p.transform_expirations(listing, "AAPL")[1]
    raw = p.extract_chain("AAPL", second, listing)
    assert serve.urls()[-1].endswith(f"/AAPL?date={epoch_of(second)}")
    # the fake served the undated body again: its chain is the front one, not `second`
    with pytest.raises(ExpirationNotListedError, match="2025-02-28 chain, not 2025-03-07"):
        p.transform_chain(raw, "AAPL", second)


@pytest.mark.parametrize(
    "name", ["QQQ_recorded-2025-02-24T0924Z.json", "QQQ_recorded-2022-02-16T0916Z.json"]
)
def test_qqq_front_expiry_is_zero_dte(name, serve, tmp_path):
    body = recorded(name)
    serve.add(body, "QQQ")
    p = provider(tmp_path)
    listing = p.extract_expirations("QQQ")
    first = p.transform_expirations(listing, "QQQ")[0]
    chain = p.transform_chain(p.extract_chain("QQQ", first, listing), "QQQ", first)
    recorded_on = dt.date.fromisoformat(name.split("_recorded-")[1][:10])
    assert first == recorded_on == chain.quote_time.date()
    assert (chain.expiration == np.datetime64(recorded_on)).all() and len(chain) > 0


def test_recording_time_is_the_quote_time(tmp_path):
    body = recorded("QQQ_recorded-2025-02-24T0924Z.json")
    p = provider(tmp_path)
    chain = p.transform_chain(body, "QQQ", dt.date(2025, 2, 24))
    assert chain.quote_time == dt.datetime(2025, 2, 24, 9, 24, 44, tzinfo=dt.UTC)


def test_a_date_that_is_not_an_expiry(serve, tmp_path):
    serve.add(recorded("AAPL_recorded-2022-02-24T1019Z.json"), "AAPL")
    march_1 = dt.date(2022, 3, 1)
    serve.add(recorded(NON_EXPIRY), "AAPL", epoch_of(march_1))
    p = provider(tmp_path)
    listing = p.extract_expirations("AAPL")
    assert march_1 not in p.transform_expirations(listing, "AAPL")
    raw = p.extract_chain("AAPL", march_1, listing)
    assert serve.urls()[-1].endswith(f"?date={epoch_of(march_1)}")
    assert raw == recorded(NON_EXPIRY)
    with pytest.raises(ExpirationNotListedError, match="not among the 19 listed"):
        p.transform_chain(raw, "AAPL", march_1)


def test_a_symbol_without_options(serve, tmp_path):
    body = recorded(NO_OPTIONS)
    serve.add(body, "BTC-USD")
    p = provider(tmp_path)
    raw = p.extract_expirations("BTC-USD")
    assert serve.urls() == ["https://query2.finance.yahoo.com/v7/finance/options/BTC-USD"]
    with pytest.raises(SymbolNotFoundError, match="BTC-USD: no listed options"):
        p.transform_expirations(raw, "BTC-USD")
    with pytest.raises(ExpirationNotListedError):
        p.transform_chain(raw, "BTC-USD", dt.date(2025, 2, 28))


# -------------------------------------------------- agreement with yfinance's parsing


@pytest.mark.parametrize("name", WITH_OPTIONS)
def test_agrees_with_yfinance_option_chain(name, serve, tmp_path):
    import yfinance

    body = recorded(name)
    symbol = result_of(body)["underlyingSymbol"]
    front = result_of(body)["options"][0]["expirationDate"]
    serve.add(body, symbol)
    serve.add(recorded(name), symbol, front)
    p = provider(tmp_path)
    first = p.transform_expirations(body, symbol)[0]
    ours = p.transform_chain(body, symbol, first)

    ticker = yfinance.Ticker(symbol)
    undated = ticker.option_chain()
    dated = ticker.option_chain(first.isoformat())
    assert serve.urls()[-1].endswith(f"/{symbol}?date={front}")
    assert ticker.options == tuple(d.isoformat() for d in p.transform_expirations(body, symbol))

    for theirs in (undated, dated):
        for kind, frame in (("call", theirs.calls), ("put", theirs.puts)):
            mask = ours.kind == kind
            assert ours.contract_symbol[mask].tolist() == frame["contractSymbol"].tolist()
            for col, their_col in (
                ("strike", "strike"),
                ("bid", "bid"),
                ("ask", "ask"),
                ("iv", "impliedVolatility"),
                ("volume", "volume"),
                ("open_interest", "openInterest"),
                ("last", "lastPrice"),
            ):
                a = getattr(ours, col)[mask]
                b = frame[their_col].to_numpy(dtype=float)
                assert np.array_equal(a, b, equal_nan=True), f"{kind} {col}"
            their_times = frame["lastTradeDate"].map(lambda t: t.timestamp()).to_numpy(float)
            assert np.array_equal(ours.last_trade_time[mask], their_times, equal_nan=True)
        assert theirs.underlying["regularMarketPrice"] == ours.underlying_price


# ------------------------------------------------------------------ the seam, pinned


def test_contract_pins_the_yfinance_seam(serve, tmp_path):
    import yfinance
    import yfinance.cache
    import yfinance.data
    import yfinance.exceptions

    moved = (
        "optscan.default_plugins.providers.yfinance calls yfinance.data.YfData.get(url=, "
        "timeout=) and its tests replace that method; re-read yfinance's data.py/ticker.py and "
        "update the provider and this seam before moving the pin"
    )
    assert yfinance.__version__ == "1.7.0", f"yfinance is {yfinance.__version__}: {moved}"
    params = inspect.signature(yfinance.data.YfData.get).parameters
    assert {"url", "timeout"} <= set(params), f"YfData.get is now {params}: {moved}"
    assert callable(yfinance.data.YfData.get)
    assert issubclass(yfinance.exceptions.YFRateLimitError, Exception), moved
    # a 429 reaches the provider as this exception, not as a response (see network.py)
    source = inspect.getsource(yfinance.data.YfData._make_request)
    assert "status_code == 429" in source and "raise YFRateLimitError()" in source, (
        f"YfData._make_request no longer raises YFRateLimitError on a 429: {moved}"
    )
    source = inspect.getsource(yfinance.Ticker._download_options)
    assert "/v7/finance/options/" in source and "self._data.get(" in source, (
        f"Ticker._download_options no longer calls YfData.get on the v7 URL: {moved}"
    )

    serve.add(recorded("PYPL_recorded-2025-02-24T0924Z.json"), "PYPL")
    yfinance.Ticker("PYPL").option_chain()
    assert serve.urls() == ["https://query2.finance.yahoo.com/v7/finance/options/PYPL"], (
        f"Ticker.option_chain no longer goes through YfData.get alone: {moved}"
    )


def test_cache_dir_moves_yfinance_cookie_and_tz_caches(serve, tmp_path):
    import yfinance.cache

    serve.add(recorded("PYPL_recorded-2025-02-24T0924Z.json"), "PYPL")
    provider(tmp_path).extract_expirations("PYPL")
    where = str(tmp_path / "yf")
    assert yfinance.cache._CookieDBManager.get_location() == where, (
        "yfinance's cookie cache did not follow set_tz_cache_location (moved in yfinance?)"
    )
    assert yfinance.cache._TzDBManager.get_location() == where

    # default: under the user cache dir (conftest points XDG_CACHE_HOME into tmp_path)
    YFinanceProvider(YFinanceProvider.Config()).extract_expirations("PYPL")
    default = tmp_path / "xdg-cache" / "optscan" / "yfinance"
    assert yfinance.cache._CookieDBManager.get_location() == str(default)


def test_config_defaults_and_keys():
    from pydantic import ValidationError

    config = YFinanceProvider.Config()
    assert YFinanceProvider.name == "yfinance"
    assert YFinanceProvider.Config is YFinanceConfig
    assert (
        config.max_concurrency,
        config.rate_limit_per_s,
        config.timeout_s,
        config.cache_dir,
        config.data_delay_s,
    ) == (4, 2.0, 10.0, None, 900.0)
    assert config.retry_attempts == 4  # the core's keys are still there
    with pytest.raises(ValidationError, match="timeout_sec"):
        YFinanceProvider.Config(timeout_sec=3)
    with pytest.raises(ValidationError, match="timeout_s"):
        YFinanceProvider.Config(timeout_s=0)
    # TOML has no null: the shipped config.toml writes the default as ""
    assert YFinanceProvider.Config(cache_dir="").cache_dir is None
    assert YFinanceProvider.Config(cache_dir="~/x").cache_dir == "~/x"


def test_importing_the_provider_imports_neither_yfinance_nor_numpy():
    code = (
        "import sys, optscan.default_plugins.providers.yfinance as m; m.YFinanceProvider.Config(); "
        "heavy = [x for x in ('yfinance', 'numpy', 'pandas', 'curl_cffi') "
        "if x in sys.modules]; assert not heavy, heavy"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=REPO, env={"PYTHONPATH": str(REPO / "src")}
    )


# ------------------------------------------------- unknown symbols, broken payloads


@pytest.mark.parametrize(
    "answer",
    [
        {"optionChain": {"result": [], "error": None}},
        {
            "optionChain": {
                "result": None,
                "error": {"code": "Not Found", "description": "No data found"},
            }
        },
    ],
)
def test_yahoo_not_knowing_the_symbol(answer, tmp_path):
    p = provider(tmp_path)
    with pytest.raises(SymbolNotFoundError, match="unknown to Yahoo"):
        p.transform_expirations(answer, "NOPE")
    with pytest.raises(SymbolNotFoundError):
        p.transform_chain(answer, "NOPE", dt.date(2025, 2, 28))


def _mutated(edit) -> dict:
    body = recorded("AAPL_recorded-2025-02-24T0924Z.json")
    edit(result_of(body))
    return body


@pytest.mark.parametrize(
    ("edit", "text"),
    [
        (lambda r: r["options"][0]["puts"][0].update(bid="1.0"), "bid is '1.0'"),
        (
            lambda r: r["options"][0]["calls"][3].update(impliedVolatility="0.3"),
            "impliedVolatility",
        ),
        (lambda r: r["options"][0]["calls"][3].update(volume=True), "volume is True"),
        (lambda r: r["options"][0]["calls"][3].pop("strike"), "no strike"),
        (lambda r: r["options"][0]["calls"][3].update(contractSymbol=""), "contractSymbol"),
        (lambda r: r["options"][0].update(calls={}), "calls"),
        (lambda r: r["quote"].pop("regularMarketPrice"), "regularMarketPrice"),
        (lambda r: r["quote"].update(regularMarketPrice="245.55"), "regularMarketPrice"),
        (
            lambda r: r["quote"].update(trailingAnnualDividendYield="0.4%"),
            "trailingAnnualDividendYield",
        ),
        (lambda r: [r["quote"].pop(k) for k in ("regularMarketTime", "preMarketTime")], "time"),
        (lambda r: r.pop("quote"), "quote"),
    ],
)
def test_mutated_payloads_fail_cleanly(edit, text, tmp_path):
    with pytest.raises(MalformedPayloadError, match=text):
        provider(tmp_path).transform_chain(_mutated(edit), "AAPL", dt.date(2025, 2, 28))


@pytest.mark.parametrize(
    ("field", "value"), [("bid", -1), ("strike", 0), ("ask", 1e300), ("openInterest", -5)]
)
def test_a_contract_no_quote_can_be_fails_alone(field, value, tmp_path):
    """A value no quote can have fails its contract (the gate says ``malformed_payload``),
    not the chain of a few hundred good ones."""
    good = provider(tmp_path).transform_chain(
        _mutated(lambda r: None), "AAPL", dt.date(2025, 2, 28)
    )
    chain = provider(tmp_path).transform_chain(
        _mutated(lambda r: r["options"][0]["calls"][3].update({field: value})),
        "AAPL",
        dt.date(2025, 2, 28),
    )
    assert len(chain) == len(good) and good.malformed is None
    assert chain.malformed is not None and chain.malformed.sum() == 1
    assert chain.contract_symbol[chain.malformed][0] in chain.malformed_example


def test_missing_contract_fields_are_nan(tmp_path):
    def edit(r):
        for key in (
            "bid",
            "ask",
            "lastPrice",
            "volume",
            "openInterest",
            "impliedVolatility",
            "lastTradeDate",
        ):
            r["options"][0]["puts"][0].pop(key, None)

    chain = provider(tmp_path).transform_chain(_mutated(edit), "AAPL", dt.date(2025, 2, 28))
    put = int(np.flatnonzero(chain.kind == "put")[0])
    for column in ("bid", "ask", "last", "volume", "open_interest", "iv", "last_trade_time"):
        assert math.isnan(getattr(chain, column)[put]), column


# ----------------------------------------------------------- earnings and dividends


def test_upcoming_earnings_window_as_new_york_dates(tmp_path):
    body = recorded("AAPL_recorded-2022-02-24T1019Z.json")
    chain = provider(tmp_path).transform_chain(body, "AAPL", dt.date(2022, 2, 25))
    # 1651003200 = 2022-04-26 20:00 UTC; 1651521600 = 2022-05-02 20:00 UTC (16:00 in NY)
    assert (chain.earnings_start, chain.earnings_end) == (dt.date(2022, 4, 26), dt.date(2022, 5, 2))


def test_past_earnings_and_ex_dividend_dates_are_dropped(tmp_path):
    # SPOT's recorded window (2025-02-04) already lies behind its quote (2025-02-24)
    body = recorded("SPOT_recorded-2025-02-24T0924Z.json")
    result_of(body)["quote"]["exDividendDate"] = epoch_of(dt.date(2025, 2, 10))
    chain = provider(tmp_path).transform_chain(body, "SPOT", dt.date(2025, 2, 28))
    assert chain.earnings_start is None and chain.earnings_end is None
    assert chain.ex_dividend_date is None


def test_ex_dividend_date_is_not_the_pay_date(tmp_path):
    body = recorded("ABBV_recorded-2022-02-24T1019Z.json")
    quote = result_of(body)["quote"]
    p = provider(tmp_path)
    assert p.transform_chain(body, "ABBV", dt.date(2022, 2, 25)).ex_dividend_date is None
    quote["exDividendDate"] = epoch_of(dt.date(2022, 4, 13))  # midnight UTC, as Yahoo sends
    chain = p.transform_chain(body, "ABBV", dt.date(2022, 2, 25))
    assert chain.ex_dividend_date == dt.date(2022, 4, 13)
    assert chain.ex_dividend_date != utc_date(quote["dividendDate"])


def test_earnings_timestamp_is_the_fallback(tmp_path):
    def edit(r):
        q = r["quote"]
        q["earningsTimestampStart"] = q["earningsTimestampEnd"] = None
        q["earningsTimestamp"] = int(dt.datetime(2025, 5, 1, 20, 30, tzinfo=dt.UTC).timestamp())

    chain = provider(tmp_path).transform_chain(_mutated(edit), "AAPL", dt.date(2025, 2, 28))
    assert chain.earnings_start == chain.earnings_end == dt.date(2025, 5, 1)


# ---------------------------------------------------- through the gate and the scan


@pytest.mark.parametrize("name", WITH_OPTIONS)
def test_pre_market_payload_is_rejected_by_the_gate_with_reasons(name, tmp_path):
    from optscan.analytics.occ import standard_root_mask
    from optscan.analytics.screen import screen_chain
    from optscan.config import load_settings

    body = recorded(name)
    symbol = result_of(body)["underlyingSymbol"]
    p = provider(tmp_path)
    first = p.transform_expirations(body, symbol)[0]
    chain = p.transform_chain(body, symbol, first)
    settings = load_settings(use_env=False)
    screened = screen_chain(
        chain,
        strategy=settings.strategies["csp"],
        analytics=settings.analytics,
        as_of=chain.quote_time,
    )
    calls, puts = front_rows(body)
    all_rows = calls + puts
    standard = standard_root_mask([r["contractSymbol"] for r in all_rows], symbol)
    expected = {"non_standard": 0, "no_bid": 0, "ask_below_bid": 0, "iv_placeholder": 0}
    for row, ok_root in zip(all_rows, standard, strict=True):  # the gate's precedence
        if not ok_root:
            expected["non_standard"] += 1
        elif not row.get("bid"):
            expected["no_bid"] += 1
        elif row.get("ask", 0) < row["bid"]:
            expected["ask_below_bid"] += 1
        elif any(math.isclose(row["impliedVolatility"], v, rel_tol=1e-7) for v in PLACEHOLDER_IVS):
            expected["iv_placeholder"] += 1
    for reason, count in expected.items():
        assert screened.rejected.get(reason, 0) == count, reason
    assert expected["no_bid"] > 0
    assert screened.contracts_seen == len(all_rows)
    assert sum(screened.rejected.values()) + len(screened.opportunities) == len(all_rows)


def test_placeholder_ivs_with_a_bid_are_rejected_somewhere_in_the_recordings(tmp_path):
    """Across all recorded expirations, some quotes have a bid but a placeholder IV."""
    from optscan.analytics.screen import screen_chain
    from optscan.config import load_settings

    settings = load_settings(use_env=False)
    total = 0
    for name in WITH_OPTIONS:
        body = recorded(name)
        symbol = result_of(body)["underlyingSymbol"]
        p = provider(tmp_path)
        chain = p.transform_chain(body, symbol, p.transform_expirations(body, symbol)[0])
        screened = screen_chain(
            chain,
            strategy=settings.strategies["csp"],
            analytics=settings.analytics,
            as_of=chain.quote_time,
        )
        total += screened.rejected.get("iv_placeholder", 0)
    assert total > 0


def test_scan_through_record_and_replay_of_recorded_bodies(serve, tmp_path):
    """A live-shaped scan recorded, then replayed offline: identical results."""
    from optscan.config import load_settings
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    serve.add(recorded("AAPL_recorded-2025-02-24T0924Z.json"), "AAPL")
    serve.add(recorded(NO_OPTIONS), "BTC-USD")
    settings = load_settings(
        overrides={
            "scan.provider": "yfinance",
            "scan.max_dte": 4,
            "providers.yfinance.cache_dir": str(tmp_path / "c"),
        },
        use_env=False,
    )
    rec = tmp_path / "rec"
    as_of = dt.datetime(2025, 2, 24, 9, 24, tzinfo=dt.UTC)
    live = perform_scan(
        ScanRequest(symbols=["AAPL", "BTC-USD"], as_of=as_of, force=True, record_dir=str(rec)),
        PluginHost(load_entrypoints=False),
        settings=settings,
    )
    by = {s.symbol: s for s in live.symbols}
    assert by["AAPL"].status == "ok" and by["AAPL"].contracts_seen > 0
    assert by["BTC-USD"].status == "failed" and by["BTC-USD"].reason == "no_options"
    assert (rec / "yfinance" / "AAPL" / "2025-02-28.json").is_file()
    replay = perform_scan(
        ScanRequest(replay_dir=str(rec), symbols=["AAPL"]),
        PluginHost(load_entrypoints=False),
        settings=settings,
    )
    assert replay.as_of == as_of
    assert replay.symbols[0].rejected == by["AAPL"].rejected


def test_record_replay_gives_identical_option_chains(serve, tmp_path):
    from optscan.scan.replay import RecordingProvider, ReplayProvider

    body = recorded("SPOT_recorded-2025-02-24T0924Z.json")
    serve.add(body, "SPOT")
    live = provider(tmp_path)
    recorder = RecordingProvider(live, tmp_path / "rec", dt.datetime(2025, 2, 24, tzinfo=dt.UTC))
    listing = recorder.extract_expirations("SPOT")
    first = recorder.transform_expirations(listing, "SPOT")[0]
    original = recorder.transform_chain(
        recorder.extract_chain("SPOT", first, listing), "SPOT", first
    )
    replay = ReplayProvider(provider(tmp_path), tmp_path / "rec")
    replayed_listing = replay.extract_expirations("SPOT")
    assert replayed_listing == body
    again = replay.transform_chain(
        replay.extract_chain("SPOT", first, replayed_listing), "SPOT", first
    )
    assert again.equals(original) and len(again) > 0


def test_provider_errors_are_provider_errors():
    """Everything the provider raises on purpose is a ProviderError (a per-symbol outcome)."""
    for cls in (
        RateLimitedError,
        NetworkUnreachableError,
        TransientProviderError,
        MalformedPayloadError,
        SymbolNotFoundError,
        ExpirationNotListedError,
    ):
        assert issubclass(cls, ProviderError)
