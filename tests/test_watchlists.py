"""Watchlist files for the ``file`` source, ``optscan symbols``, and class shares
spelled every way (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optscan.errors import ConfigError, InputFileError
from optscan.symbols import canonical_symbol, normalize_symbol, provider_spelling
from optscan.watchlists import read_watchlist

from .helpers import OPEN_INSTANT
from .invoke import invoke

FIXTURES = Path(__file__).parent / "fixtures" / "watchlists"


@pytest.mark.parametrize(
    ("name", "fmt", "symbols"),
    [
        ("plain.txt", "text", ["AAPL", "MSFT", "AMD", "NVDA", "SPY", "brk.b", "qqq", "SOFI"]),
        ("tradingview.txt", "tradingview", ["AAPL", "MSFT", "BRK.B", "F", "SOFI", "SPY", "INTC"]),
        ("finviz.csv", "csv", ["AAPL", "AMD", "BRK-B", "PYPL"]),
        ("thinkorswim.csv", "csv", ["AAPL", "BRK/B", "SOFI", "INTC"]),
        ("ticker_name.csv", "csv", ["AAPL", "F", "BF.B"]),
    ],
)
def test_each_watchlist_format_reads_exactly_its_symbols(name: str, fmt: str, symbols: list[str]):
    watchlist = read_watchlist(FIXTURES / name)
    assert watchlist.format == fmt
    assert watchlist.symbols == symbols


def test_skipped_lines_are_reported_with_their_line():
    tv = read_watchlist(FIXTURES / "tradingview.txt")
    assert [(s.line, s.text, s.reason) for s in tv.skipped] == [
        (1, "Mega caps", "section"),
        (1, "Wheel", "section"),
    ]
    tos = read_watchlist(FIXTURES / "thinkorswim.csv")
    assert [(s.line, s.reason) for s in tos.skipped] == [(1, "preamble")]


@pytest.mark.parametrize(
    ("body", "symbols"),
    [
        ("AAPL\nMSFT\n", ["AAPL", "MSFT"]),
        ("AAPL, MSFT\tAMD  NVDA\n", ["AAPL", "MSFT", "AMD", "NVDA"]),
        ("# comment only line\nAAPL # trailing comment\n", ["AAPL"]),
        ("symbol\nAAPL\nMSFT\n", ["AAPL", "MSFT"]),
        ("Symbol\r\nAAPL\r\n", ["AAPL"]),
        ("\ufeffAAPL\n", ["AAPL"]),
        ("ticker,name\nAAPL,Apple Inc\nMSFT,Microsoft\n", ["AAPL", "MSFT"]),
        ("Name,Ticker\nApple,AAPL\n,\nMicrosoft,MSFT\n", ["AAPL", "MSFT"]),
        ("NASDAQ:AAPL\nNYSE:F\n", ["AAPL", "F"]),
        ("symbol;name\nAAPL;Apple\n", ["AAPL"]),
        ("AAPL,MSFT,AMD\nNVDA,SPY,QQQ\n", ["AAPL", "MSFT", "AMD", "NVDA", "SPY", "QQQ"]),
        ("aapl, msft, amd\nnvda, spy, qqq\n", ["aapl", "msft", "amd", "nvda", "spy", "qqq"]),
    ],
)
def test_more_watchlists(tmp_path: Path, body: str, symbols: list[str]):
    path = tmp_path / "list.txt"
    path.write_text(body)
    assert read_watchlist(path).symbols == symbols


def test_configured_column_wins(tmp_path: Path):
    path = tmp_path / "list.csv"
    path.write_text("Ticker,Hedge\nAAPL,SPY\nMSFT,QQQ\n")
    assert read_watchlist(path, "hedge").symbols == ["SPY", "QQQ"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "cannot read it"),
        (b"", "line 1: no symbol in the file"),
        (b"# nothing but comments\n", "line 1: no symbol in the file"),
        (b"\x00\x01\x02", "line 1: binary data"),
        (b"PK\x03\x04", "line 1: an Excel workbook"),
        (
            b"Date,Open,Close\n2026-11-27,1,2\n2026-11-28,2,3\n",
            "line 1: a CSV table without a symbol column",
        ),
    ],
)
def test_a_file_that_is_no_watchlist_raises_naming_file_and_line(tmp_path: Path, body, message):
    path = tmp_path / "list.csv"
    if body is not None:
        path.write_bytes(body)
    with pytest.raises(InputFileError, match=message) as caught:
        read_watchlist(path)
    assert str(path) in str(caught.value) and isinstance(caught.value, ConfigError)


# --------------------------------------------------------------------------- the scan


def _scan_file(path: Path, *args: str) -> dict:
    proc = invoke(
        "scan", "--provider", "sim", "--as-of", OPEN_INSTANT.isoformat(), "--format", "json",
        "--set", 'sources.enabled=["file"]', "--set", f'sources.file.path="{path}"', *args,
    )  # fmt: skip
    assert proc.returncode == 0, proc.report
    return json.loads(proc.stdout)


def test_finviz_export_scans_exactly_its_tickers_with_the_default_column():
    result = _scan_file(FIXTURES / "finviz.csv")
    assert [s["symbol"] for s in result["symbols"]] == ["AAPL", "AMD", "BRK-B", "PYPL"]
    assert {o["symbol"] for o in result["opportunities"]} <= {"AAPL", "AMD", "BRK-B", "PYPL"}


def test_ticker_name_csv_does_not_scan_ticker():
    result = _scan_file(FIXTURES / "ticker_name.csv")
    assert [s["symbol"] for s in result["symbols"]] == ["AAPL", "F", "BF-B"]


def test_a_watchlist_that_is_no_watchlist_stops_the_scan_with_exit_2(tmp_path: Path):
    path = tmp_path / "prices.csv"
    path.write_text("Date,Open,Close\n2026-11-27,1,2\n2026-11-28,2,3\n")
    proc = invoke(
        "scan", "--provider", "sim", "--set", 'sources.enabled=["file"]',
        "--set", f'sources.file.path="{path}"',
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.text
    assert f"{path}: line 1: a CSV table without a symbol column" in proc.stderr


def test_symbols_command_lists_symbols_and_skipped_lines():
    proc = invoke(
        "symbols", "--format", "json",
        "--set", 'sources.enabled=["file", "watchlist"]',
        "--set", f'sources.file.path="{FIXTURES / "thinkorswim.csv"}"',
        "--set", 'sources.watchlist.symbols=["brk.b", "$(id)", "MSFT"]',
    )  # fmt: skip
    assert proc.returncode == 0, proc.report
    doc = json.loads(proc.stdout)
    assert doc["symbols"] == ["AAPL", "BRK-B", "SOFI", "INTC", "MSFT"]
    assert doc["skipped"] == [
        {
            "source": "file",
            "line": 1,
            "text": "Watchlist Wheel Candidates on 11/27/26 10:05:12",
            "reason": "preamble",
        },
        {"source": "watchlist", "line": None, "text": "$(id)", "reason": "invalid_symbol"},
    ]
    table = invoke(
        "symbols",
        "--set",
        'sources.enabled=["watchlist"]',
        "--set",
        'sources.watchlist.symbols=["AAPL","BRK/B"]',
    )
    assert table.returncode == 0 and table.stdout.split() == ["AAPL", "BRK-B"]


def test_symbols_command_bad_file_exits_2():
    proc = invoke(
        "symbols", "--set", 'sources.enabled=["file"]', "--set", 'sources.file.path="/no/such.txt"'
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "/no/such.txt: cannot read it" in proc.stderr


# --------------------------------------------------------------------------- class shares


@pytest.mark.parametrize("spelling", ["BRK.B", "BRK/B", "BRK B", "BRK-B", "brk.b", " brk/b "])
def test_class_shares_in_every_spelling_are_one_symbol(spelling: str):
    assert normalize_symbol(spelling) == "BRK-B"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("BF.B", "BF-B"),
        ("RY.TO", "RY.TO"),
        ("BTC-USD", "BTC-USD"),
        ("AAPL", "AAPL"),
        ("MOG.A", "MOG-A"),
        ("SHOP.TO", "SHOP.TO"),
    ],
)
def test_only_a_one_letter_suffix_is_a_class(raw: str, canonical: str):
    assert canonical_symbol(raw) == canonical


def test_each_provider_spells_the_canonical_symbol_its_way():
    assert provider_spelling("BRK-B", ".") == "BRK.B"
    assert provider_spelling("BRK-B", "/") == "BRK/B"
    assert provider_spelling("BRK-B", "") == "BRKB"
    assert provider_spelling("AAPL", ".") == "AAPL"
    assert provider_spelling("BTC-USD", ".") == "BTC-USD"


def test_symbols_option_dedupes_spellings():
    proc = invoke(
        "scan", "--provider", "sim", "--as-of", OPEN_INSTANT.isoformat(), "--format", "json",
        "--symbols", "BRK.B,BRK/B,brk-b",
    )  # fmt: skip
    assert proc.returncode == 0, proc.report
    assert [s["symbol"] for s in json.loads(proc.stdout)["symbols"]] == ["BRK-B"]


def test_holdings_lots_and_dividend_yields_take_every_spelling():
    from optscan.config import load_settings

    settings = load_settings(
        overrides={
            "holdings.lots": [{"symbol": "BRK.B", "shares": 100, "cost_basis": 410.0}],
            "analytics.dividend_yields": {"BRK/B": 0.0, "bf.b": 0.02},
        },
        use_env=False,
    )
    assert settings.holdings.lots[0].symbol == "BRK-B"
    assert settings.analytics.dividend_yields == {"BRK-B": 0.0, "BF-B": 0.02}


@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_property_any_file_is_a_watchlist_or_one_input_file_error(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("any") / "list.txt"
    path.write_bytes(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    try:
        watchlist = read_watchlist(path)
    except InputFileError as exc:
        assert str(path) in str(exc)
        return
    assert watchlist.entries and all(e.text.strip() for e in watchlist.entries)
    header_words = {"symbol", "ticker", "symbols", "tickers"}
    assert not any(e.text.lower() in header_words for e in watchlist.entries)


def test_a_worded_header_without_a_symbol_column_is_no_watchlist(tmp_path: Path):
    path = tmp_path / "companies.csv"
    path.write_text("Company,Market Cap,Sector\nApple,3T,Tech\nFord,40B,Autos\n")
    with pytest.raises(InputFileError, match="line 1: a CSV table without a symbol column"):
        read_watchlist(path)
