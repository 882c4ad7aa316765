"""Issue 14, second pass: what a tester found in positions and watchlist reading, each
kind of fault with its repro and more of the same kind (made-up data only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optscan.errors import InputFileError
from optscan.positions import read_positions
from optscan.symbols import split_symbols
from optscan.tradingview import tradingview_symbol
from optscan.watchlists import read_watchlist

from .helpers import OPEN_INSTANT
from .invoke import invoke

POSITIONS = Path(__file__).parent / "fixtures" / "positions"
SCHWAB_HEADER = (
    '"Symbol","Description","Qty (Quantity)","Price","Mkt Val (Market Value)",'
    '"Cost Basis","Security Type"\n'
)
SCHWAB_ALL = (
    '"Positions for All-Accounts as of 10:42 AM ET, 11/27/2026"\n'
    "\n"
    '"Jane Doe Trading ...482"\n'
    + SCHWAB_HEADER
    + '"AAPL","APPLE INC","300","$231.45","$69,435.00","$54,150.00","Equity"\n'
    '"Account Total","--","--","--","$69,435.00","$54,150.00","--"\n'
    "\n"
    '"Mary Major Roth"\n'
    + SCHWAB_HEADER
    + '"AAPL","APPLE INC","100","$231.45","$23,145.00","$18,000.00","Equity"\n'
    '"Cash & Cash Investments","--","--","--","$1,000.00","--","Cash and Money Market"\n'
    '"Account Total","--","--","--","$24,145.00","--","--"\n'
    "\n"
    '"XXXX-1234"\n'
    + SCHWAB_HEADER
    + '"MSFT","MICROSOFT","100","$400","$40,000.00","$35,000.00","Equity"\n'
)
NAMES = ("Jane", "Doe", "Trading", "482", "Mary", "Major", "1234")


def _write(tmp_path: Path, name: str, body: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body)
    return path


def _symbols_cmd(path: Path, *args: str) -> dict:
    proc = invoke(
        "symbols", "--format", "json", "--set", 'sources.enabled=["file"]',
        "--set", f'sources.file.path="{path}"', *args,
    )  # fmt: skip
    assert proc.returncode == 0, proc.report
    return json.loads(proc.stdout)


# ------------------------------------------------------------ 1. account names leak


def test_account_section_lines_of_an_all_accounts_export_are_withheld_whole(tmp_path: Path):
    path = _write(tmp_path, "all.csv", SCHWAB_ALL)
    doc = read_positions(path).model_dump(mode="json")
    assert [(s["symbol"], s["shares"]) for s in doc["stocks"]] == [("AAPL", 400), ("MSFT", 100)]
    sections = [s for s in doc["skipped"] if s["reason"] == "account_section"]
    assert [s["line"] for s in sections] == [3, 8, 14]
    assert {s["text"] for s in sections} == {"(account section: name and number withheld)"}
    text = json.dumps(doc["skipped"])
    for name in NAMES:
        assert name not in text, name
    watch = _symbols_cmd(path)
    assert watch["symbols"] == ["AAPL", "MSFT"]
    for name in NAMES:
        assert name not in json.dumps(watch), name


@pytest.mark.parametrize(
    "line",
    ["Jane Doe Trading ...482", "Rollover IRA -1234", "Joint XXXX-5678 brokerage", "U7654321 main"],
)
def test_a_free_line_naming_an_account_is_withheld_whole(tmp_path: Path, line: str):
    path = _write(tmp_path, "p.csv", f'"{line}"\n\nsymbol,shares\nAAPL,100\n')
    doc = read_positions(path).model_dump(mode="json")
    assert doc["skipped"] == [
        {"line": 1, "text": "(account line: name and number withheld)", "reason": "preamble"}
    ]
    watch = read_watchlist(path)
    assert watch.symbols == ["AAPL"]
    assert all(line.split()[0] not in s.text for s in watch.skipped)


def test_watchlist_of_an_ibkr_activity_statement_reads_its_positions_only():
    doc = _symbols_cmd(POSITIONS / "ibkr_activity.csv")
    assert doc["symbols"] == ["NVDA", "BRK-B"]
    text = json.dumps(doc)
    assert "Jane Q Trader" not in text and "U7654321" not in text
    assert "SECURITIES" not in doc["symbols"]
    reasons = {s["reason"] for s in doc["skipped"]}
    assert {"other_section", "option", "total", "lot_detail", "cash"} <= reasons
    sections = [s["text"] for s in doc["skipped"] if s["reason"] == "other_section"]
    assert sections[:2] == ["Statement (5 lines)", "Account Information (5 lines)"]


def test_every_positions_fixture_as_a_watchlist_gives_its_stocks_and_no_account():
    from .test_positions import ACCOUNT_SECRETS, leaks

    for fixture in POSITIONS.glob("*.csv"):
        held = [s.symbol for s in read_positions(fixture).stocks]
        watch = read_watchlist(fixture)
        assert sorted(set(watch.symbols)) == sorted(held), fixture.name
        shown = json.dumps([s.text for s in watch.skipped])
        for secret in ACCOUNT_SECRETS:
            assert not leaks(secret, shown), (fixture.name, secret)


# ------------------------------------------------------------ 2, 3. plain-text lists


@pytest.mark.parametrize(
    ("body", "symbols", "skipped"),
    [
        ("My wheel watchlist\nAAPL\nMSFT\n", ["AAPL", "MSFT"], [(1, "title")]),
        ("wheel candidates\nAAPL MSFT\n", ["AAPL", "MSFT"], [(1, "title")]),
        ("Tech\nAAPL\n", ["AAPL"], [(1, "title")]),
        ("NOT A TICKER!!\nAAPL\n", ["AAPL"], [(1, "title")]),
        ("AAPL\nMSFT\nSymbol\nAMD\n", ["AAPL", "MSFT", "AMD"], [(3, "header")]),
        ("AAPL\nTicker\n", ["AAPL"], [(2, "header")]),
        ("Symbol\nAAPL\nMSFT\n", ["AAPL", "MSFT"], [(1, "header")]),
        ("ticker\nBAC C\n", ["BAC", "C"], [(1, "header")]),
        ("Symbol\nAAPL, MSFT\nAMD\n", ["AAPL", "MSFT", "AMD"], [(1, "header")]),
        ("ticker\nAAPL,Apple Inc\nF,Ford\n", ["AAPL", "F"], []),
        ("Symbol\nAAPL,231.45\n", ["AAPL"], []),
        ("brk.b\n", ["brk.b"], []),
        ("aapl, msft\n", ["aapl", "msft"], []),
        ("AAPL MSFT AMD\n", ["AAPL", "MSFT", "AMD"], []),
        ("AAPL, MSFT AMD\nNVDA, SPY QQQ\n", ["AAPL", "MSFT", "AMD", "NVDA", "SPY", "QQQ"], []),
        ("AAPL MSFT\nTSX:RY TVC:DXY\n", ["AAPL", "MSFT", "RY.TO"], [(2, "not_a_stock")]),
    ],
)
def test_plain_lists_titles_and_stray_header_words(tmp_path: Path, body, symbols, skipped):
    watch = read_watchlist(_write(tmp_path, "list.txt", body))
    assert watch.symbols == symbols
    assert [(s.line, s.reason) for s in watch.skipped] == skipped


def test_a_header_word_after_symbols_is_not_a_failure(tmp_path: Path):
    path = _write(tmp_path, "list.txt", "AAPL\nSYMBOL\n")
    assert _symbols_cmd(path)["symbols"] == ["AAPL"]


# ------------------------------------------------------------ 4. summary rows


@pytest.mark.parametrize(
    ("body", "symbols", "skipped"),
    [
        ("Symbol,Description\nAAPL,Apple Inc\nTotal,\n", ["AAPL"], [(3, "total")]),
        ("Symbol,Description\nAAPL,Apple Inc\nAccount Total,\n", ["AAPL"], [(3, "total")]),
        ("Symbol,Description\nAAPL,Apple\nCash & Cash Investments,\n", ["AAPL"], [(3, "cash")]),
        ("Symbol,Description\nSPAXX**,Money market\nAAPL,Apple\n", ["AAPL"], [(2, "cash")]),
        (
            "Symbol,Description\nAAPL,Apple\nPending Activity,\n",
            ["AAPL"],
            [(3, "pending_activity")],
        ),
        ("Symbol,Name,Sector\nCASH,Pathward Financial,Financial\n", ["CASH"], []),
        (
            "Symbol,Description\nAAPL,Apple\nAAPL 12/18/2026 240.00 C,Call\n",
            ["AAPL"],
            [(3, "option")],
        ),
    ],
)
def test_summary_and_option_rows_of_a_csv_watchlist_are_skipped(
    tmp_path: Path, body, symbols, skipped
):
    watch = read_watchlist(_write(tmp_path, "list.csv", body))
    assert watch.symbols == symbols
    assert [(s.line, s.reason) for s in watch.skipped] == skipped


def test_etrade_export_as_a_watchlist_scans_no_cash_or_total():
    doc = _symbols_cmd(POSITIONS / "etrade.csv")
    assert "CASH" not in doc["symbols"] and "TOTAL" not in doc["symbols"]
    assert sorted(doc["symbols"]) == [
        s.symbol for s in read_positions(POSITIONS / "etrade.csv").stocks
    ]


# ------------------------------------------------------------ 5. --symbols


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("JPM C", ["JPM", "C"]),
        ("AAPL MSFT", ["AAPL", "MSFT"]),
        ("AAPL,MSFT", ["AAPL", "MSFT"]),
        (" AAPL ,\tMSFT  AMD,", ["AAPL", "MSFT", "AMD"]),
        ("BRK.B, BRK/B", ["BRK.B", "BRK/B"]),
    ],
)
def test_typed_symbol_lists_split_on_commas_and_whitespace(text: str, symbols: list[str]):
    assert split_symbols(text) == symbols


def test_symbols_option_with_spaces_scans_each_symbol():
    proc = invoke(
        "scan", "--provider", "sim", "--as-of", OPEN_INSTANT.isoformat(), "--format", "json",
        "--symbols", "JPM C",
    )  # fmt: skip
    assert proc.returncode == 0, proc.report
    assert [s["symbol"] for s in json.loads(proc.stdout)["symbols"]] == ["JPM", "C"]


# ------------------------------------------------------------ 6. TradingView exchanges


@pytest.mark.parametrize(
    ("item", "symbol", "reason"),
    [
        ("NASDAQ:AAPL", "AAPL", ""),
        ("NYSE:BRK.B", "BRK.B", ""),
        ("AMEX:SPY", "SPY", ""),
        ("BATS:QQQ", "QQQ", ""),
        ("OTC:NSRGY", "NSRGY", ""),
        ("TSX:RY", "RY.TO", ""),
        ("TSX:BBD.B", "BBD-B.TO", ""),
        ("TSXV:ABC", "ABC.V", ""),
        ("LSE:VOD", "VOD.L", ""),
        ("XETR:SAP", "SAP.DE", ""),
        ("TVC:DXY", None, "not_a_stock"),
        ("BINANCE:BTCUSDT", None, "not_a_stock"),
        ("FX:EURUSD", None, "not_a_stock"),
        ("OANDA:XAUUSD", None, "not_a_stock"),
        ("CME_MINI:ES1!", None, "not_a_stock"),
        ("COINBASE:ETHUSD", None, "not_a_stock"),
        ("MOON:ABC", None, "unknown_exchange"),
        ("NASDAQ:", None, "no_symbol"),
    ],
)
def test_tradingview_exchanges(item: str, symbol: str | None, reason: str):
    read = tradingview_symbol(item)
    assert (read.symbol, read.reason) == (symbol, reason)


def test_tradingview_export_maps_and_skips_exchanges(tmp_path: Path):
    path = _write(
        tmp_path,
        "tv.txt",
        "###Tech\nNASDAQ:AAPL,###Other,TSX:RY,TVC:DXY,BINANCE:BTCUSDT,NYSE:BF.B\n",
    )
    doc = _symbols_cmd(path)
    assert doc["symbols"] == ["AAPL", "RY.TO", "BF-B"]
    assert [(s["text"], s["reason"]) for s in doc["skipped"]] == [
        ("Tech", "section"),
        ("Other", "section"),
        ("TVC:DXY", "not_a_stock"),
        ("BINANCE:BTCUSDT", "not_a_stock"),
    ]


# ------------------------------------------------------------ 7. warnings name the file


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/h/Positions-2026-11-30-48291.csv", "Positions-2026-11-30-XXXX.csv"),
        ("U7654321-Positions.csv", "UXXXX-Positions.csv"),
        ("Portfolio_Positions_Nov-27-2026.csv", "Portfolio_Positions_Nov-27-2026.csv"),
        ("positions_20261130.csv", "positions_20261130.csv"),
        ("Roth...913.csv", "Roth...XXXX.csv"),
        ("holdings.csv", "holdings.csv"),
    ],
)  # fmt: skip
def test_file_label_masks_account_digits_not_dates(path: str, shown: str):
    from optscan.scan.holdings import file_label

    assert file_label(path) == shown


def test_bad_row_scan_warning_names_the_file_without_its_account_digits(tmp_path: Path):
    path = _write(
        tmp_path,
        "U7654321-Positions-2026-11-30.csv",
        "symbol,shares,cost_basis\nAAPL,200,180\nMSFT,nan,1\n",
    )
    proc = invoke(
        "scan", "--provider", "sim", "--strategy", "cc", "--as-of", OPEN_INSTANT.isoformat(),
        "--format", "json", "--symbols", "AAPL", "--positions", str(path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.report
    result = json.loads(proc.stdout)
    assert (
        "positions file UXXXX-Positions-2026-11-30.csv (holdings.file): line 3 skipped "
        "(bad_number)" in result["warnings"]
    )
    assert "U7654321" not in json.dumps(result)


# ------------------------------------------------------------ 8. bad values shown


@pytest.mark.parametrize(
    ("row", "shown"),
    [
        ("AAPL,2000000000,100", "AAPL,2000000000,100"),
        ("AAPL,1000000001,100", "AAPL,1000000001,100"),
        ("AAPL,100,12345678901", "AAPL,100,12345678901"),
        ("AAPL,12%,100", "AAPL,12%,100"),
        ("AAPL,100,5%", "AAPL,100,5%"),
        ('AAPL,"1,200%",100', 'AAPL,"1,200%",100'),
    ],
)
def test_a_refused_number_is_shown_and_a_percent_is_no_quantity(tmp_path: Path, row, shown):
    path = _write(tmp_path, "p.csv", f"symbol,shares,average cost\nMSFT,100,350\n{row}\n")
    doc = read_positions(path).model_dump(mode="json")
    assert [s["symbol"] for s in doc["stocks"]] == ["MSFT"]
    assert doc["skipped"] == [{"line": 3, "text": shown, "reason": "bad_number"}]


def test_account_columns_stay_withheld_beside_shown_numbers(tmp_path: Path):
    path = _write(
        tmp_path,
        "p.csv",
        "Account Number,Account Name,Symbol,Quantity,Average Cost Basis,Current Value\n"
        "Z24681357,Jane Roth,AAPL,2000000000,$1.00,$1.00\n",
    )
    (skipped,) = read_positions(path).skipped
    assert skipped.text == "***,***,AAPL,2000000000,$1.00,$1.00"


# ------------------------------------------------------------ 9. formats and encodings


OLD_FIDELITY = (
    "\ufeffAccount Name/Number,Symbol,Description,Quantity,Last Price,Current Value,"
    "Cost Basis,Cost Basis Per Share,Type\r\n"
    "INDIVIDUAL - TOD Z12345678,SPAXX**,HELD IN MONEY MARKET,n/a,$1.00,$5000.00,n/a,n/a,Cash\r\n"
    "INDIVIDUAL - TOD Z12345678,AMD,ADVANCED MICRO DEVICES,200,$138.20,$27640.00,"
    "$24000.00,$120.00,Margin\r\n"
    "INDIVIDUAL - TOD Z12345678, -AMD261218C150,AMD DEC 18 2026 $150 CALL,-1,$2.45,-$245.00,"
    "$330.00,$3.30,Margin\r\n"
    "INDIVIDUAL - TOD Z12345678,XYZ,BROKEN,nan,$1,$1,$1,$1,Margin\r\n"
)


def test_old_fidelity_layout_is_fidelity_and_withholds_its_account_column(tmp_path: Path):
    doc = read_positions(_write(tmp_path, "f.csv", OLD_FIDELITY)).model_dump(mode="json")
    assert doc["format"] == "fidelity"
    held = [
        (s["symbol"], s["shares"], s["cost_basis"], s["contracts_coverable"]) for s in doc["stocks"]
    ]
    assert held == [("AMD", 200, 120.0, 1)]
    assert doc["cash"] == 5000.0
    assert [o["contract_symbol"] for o in doc["options"]] == ["AMD261218C00150000"]
    assert doc["skipped"] == [
        {"line": 5, "text": "***,XYZ,BROKEN,nan,$1,$1,$1,$1,Margin", "reason": "bad_number"}
    ]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_exports_are_read(tmp_path: Path, codec: str):
    body = "Symbol,Quantity,Average Cost\r\nAAPL,100,180.50\r\n"
    data = body.encode(codec)
    path = _write(tmp_path, "p.csv", data)
    doc = read_positions(path).model_dump(mode="json")
    assert [(s["symbol"], s["shares"], s["cost_basis"]) for s in doc["stocks"]] == [
        ("AAPL", 100, 180.5)
    ]
    assert read_watchlist(_write(tmp_path, "w.txt", "AAPL\nMSFT\n".encode(codec))).symbols == [
        "AAPL",
        "MSFT",
    ]


def test_binary_data_is_still_refused(tmp_path: Path):
    with pytest.raises(InputFileError, match="line 1: binary data"):
        read_positions(_write(tmp_path, "b.csv", b"\x00\x01\x02\x03\xff\x00\x10"))


# ------------------------------------------------------------ 10. put scans


def test_a_put_scan_does_not_fail_on_an_unreadable_holdings_file(tmp_path: Path):
    args = (
        "scan", "--provider", "sim", "--as-of", OPEN_INSTANT.isoformat(), "--format", "json",
        "--symbols", "AAPL", "--set", f'holdings.file="{tmp_path / "U7654321.csv"}"',
    )  # fmt: skip
    proc = invoke(*args)
    assert proc.returncode == 0, proc.report
    result = json.loads(proc.stdout)
    assert any(
        w.startswith("positions file UXXXX.csv (holdings.file) not read")
        for w in result["warnings"]
    )
    assert "U7654321" not in proc.text
    with_cash = invoke(*args, "--cash", "10000")
    assert with_cash.returncode == 0, with_cash.report
    assert not any("positions file" in w for w in json.loads(with_cash.stdout)["warnings"])
    cc = invoke(*args, "--strategy", "cc")
    assert cc.returncode == 2 and cc.stdout == ""


# ------------------------------------------------------------ 11. the table


def test_positions_table_keeps_rows_as_csv_and_folds_between_cells(tmp_path: Path):
    from optscan.cli.positions import fold_csv

    path = _write(
        tmp_path,
        "p.csv",
        "Symbol,Quantity,Average Cost,Market Value,Description\n"
        'AAPL,nan,"$2,210.00","$1,234,567.00",APPLE INC COMMON STOCK LONG DESCRIPTION HERE\n',
    )
    proc = invoke("positions", str(path), env={"COLUMNS": "80"})
    assert proc.returncode == 0, proc.report
    assert all(len(line) <= 80 for line in proc.stdout.splitlines())
    assert '"$2,210.00"' in proc.stdout and '"$1,234,567.00"' in proc.stdout
    text = 'AAPL,nan,"$2,210.00","$1,234,567.00",APPLE'
    assert fold_csv(text, 20) == 'AAPL,nan,\n"$2,210.00",\n"$1,234,567.00",\nAPPLE'
    assert fold_csv("x" * 25, 10) == "xxxxxxxxxx\nxxxxxxxxxx\nxxxxx"


def test_an_unreadable_holdings_file_error_masks_its_account_digits(tmp_path: Path):
    path = tmp_path / "U7654321-Positions.csv"
    proc = invoke(
        "scan", "--provider", "sim", "--strategy", "cc", "--symbols", "AAPL",
        "--set", f'holdings.file="{path}"',
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert "/UXXXX-Positions.csv: cannot read it" in proc.stderr and "holdings.file" in proc.stderr
    assert "7654321" not in proc.stderr


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("Account: Jane Doe", "Account: ***"),
        ("Account Holder: Jane Doe", "Account Holder: ***"),
        ("Account Name:Jane Doe", "Account Name:***"),
        ("Owner: Jane Doe", "Owner: ***"),
        ("Positions for account Jane Doe as of 10:42", "Positions for account *** as of 10:42"),
        ("Positions for All-Accounts as of 10:42 AM", "Positions for All-Accounts as of 10:42 AM"),
    ],
)  # fmt: skip
def test_titles_naming_an_account_holder_withhold_the_name(tmp_path: Path, line: str, shown: str):
    path = _write(tmp_path, "p.csv", f"{line}\nsymbol,shares\nAAPL,100\n")
    assert read_positions(path).skipped[0].text == shown
    assert read_watchlist(path).skipped[0].text == shown


def test_futures_and_indices_in_a_watchlist_are_not_stocks(tmp_path: Path):
    csv_list = read_watchlist(
        _write(tmp_path, "l.csv", "Symbol,Last\nSPY,1\n/ES,2\n$SPX,3\n^VIX,4\n")
    )
    assert csv_list.symbols == ["SPY"]
    assert [(s.line, s.reason) for s in csv_list.skipped] == [
        (3, "not_a_stock"),
        (4, "not_a_stock"),
        (5, "not_a_stock"),
    ]
    plain = read_watchlist(_write(tmp_path, "l.txt", "SPY /ES $SPX ^VIX\n"))
    assert plain.symbols == ["SPY"]


def test_an_unreadable_watchlist_error_masks_its_account_digits(tmp_path: Path):
    path = tmp_path / "U7654321-Positions.csv"
    proc = invoke(
        "symbols", "--set", 'sources.enabled=["file"]', "--set", f'sources.file.path="{path}"'
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        "sources.file.path " in proc.stderr
        and "/UXXXX-Positions.csv: cannot read it" in proc.stderr
    )
    assert "7654321" not in proc.stderr


@given(
    symbols=st.lists(
        st.from_regex(r"[A-Z]{1,5}(\.[A-Z])?", fullmatch=True), min_size=1, max_size=12
    ),
    seps=st.lists(st.sampled_from([",", " ", "\t", "\n", ", ", "  "]), min_size=12, max_size=12),
)
def test_property_any_list_of_tickers_reads_back_exactly(tmp_path_factory, symbols, seps):
    headers = {"SYM", "SYMBOL", "SYMBOLS", "TICKER", "TICKERS", "SECURITY", "INSTRUMENT"}
    symbols = [s for s in symbols if s not in headers]
    if not symbols:
        return
    body = "".join(s + sep for s, sep in zip(symbols, seps, strict=False))
    path = tmp_path_factory.mktemp("list") / "list.txt"
    path.write_text(body)
    assert read_watchlist(path).symbols == symbols


def test_a_tab_separated_utf16_export_with_quoted_thousands(tmp_path: Path):
    body = 'Symbol\tQuantity\tAverage Cost\r\nAAPL\t"1,200"\t$180.50\r\n'
    doc = read_positions(_write(tmp_path, "p.txt", body.encode("utf-16")))
    assert [(s.symbol, s.shares, s.cost_basis) for s in doc.stocks] == [("AAPL", 1200, 180.5)]
    watch = 'Symbol\tName\tPrice\r\nAAPL\tApple\t"1,200.00"\r\nMSFT\tMicrosoft\t1\r\n'
    assert read_watchlist(_write(tmp_path, "w.txt", watch.encode("utf-16"))).symbols == [
        "AAPL",
        "MSFT",
    ]
