"""The trader's positions file: every broker format read to the exact positions it
holds, numbers as brokers write them, option notations, class shares, bad input, and
the covered-call scan using what was read (issue 14)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optscan.errors import ConfigError, InputFileError
from optscan.positions import FORMATS, PositionsReading, read_positions
from optscan.positions.notation import parse_option
from optscan.positions.numbers import parse_number

from .helpers import OPEN_INSTANT
from .invoke import invoke

FIXTURES = Path(__file__).parent / "fixtures" / "positions"
ACCOUNT_SECRETS = (
    "...482",  # fragments as the exports write them (a bare "482" may be a timestamp)
    "Individual",
    "Z24681357",
    "X98765432",
    "ROTH IRA",
    "U7654321",
    "Jane Q Trader",
    "wheel acct",
    "5WT12345",
    "-7713",
    "Individual Brokerage",
)
"""The made-up account numbers and names in the fixtures: never echoed anywhere."""


def leaks(secret: str, text: str) -> bool:
    """Whether ``text`` shows ``secret``; an account number counts only as a number of
    its own (``482``), not as digits inside another (an annualized return of 37.0482)."""
    import re

    if secret.isdigit():
        return re.search(rf"(?<![\d.]){secret}(?![\d])", text) is not None
    return secret in text


def read(name: str, broker: str | None = None) -> dict:
    return read_positions(FIXTURES / name, broker).model_dump(mode="json")


def stocks(doc: dict) -> dict[str, tuple]:
    return {
        s["symbol"]: (s["shares"], s["cost_basis"], s["contracts_coverable"]) for s in doc["stocks"]
    }


def options(doc: dict) -> dict[str, tuple]:
    return {
        o["contract_symbol"]: (
            o["symbol"],
            o["kind"],
            o["strike"],
            o["expiration"],
            o["quantity"],
            o["average_price"],
        )
        for o in doc["options"]
    }


def reasons(doc: dict) -> list[tuple[int, str]]:
    return [(s["line"], s["reason"]) for s in doc["skipped"]]


# --------------------------------------------------------------------------- formats


def test_schwab_export_with_title_line_blank_line_and_summary_rows():
    doc = read("schwab.csv")
    assert doc["format"] == "schwab"
    assert stocks(doc) == {
        "AAPL": (300, 180.5, 2),  # one short call covers 100 of the 300 shares
        "BRK-B": (100, 410.0, 1),  # written BRK/B by Schwab
        "SCHD": (55.382, pytest.approx(1500.0 / 55.382, abs=1e-6), 0),
    }
    assert options(doc) == {
        "AAPL261218C00240000": ("AAPL", "call", 240.0, "2026-12-18", -1, 2.35),
    }
    assert doc["cash"] == 12345.67
    assert reasons(doc) == [(1, "preamble"), (9, "total")]


def test_fidelity_export_two_accounts_money_market_pending_and_footer():
    doc = read("fidelity.csv")
    assert doc["format"] == "fidelity"
    assert stocks(doc) == {
        "AMD": (300, pytest.approx((200 * 120 + 100 * 130) / 300, abs=1e-6), 1),
        "MSFT": (100, 350.0, 1),  # a short put does not cover shares
    }
    assert options(doc) == {
        "AMD261218C00150000": ("AMD", "call", 150.0, "2026-12-18", -2, 3.3),
        "MSFT261120P00400000": ("MSFT", "put", 400.0, "2026-11-20", -1, 4.0),
    }
    assert doc["cash"] == 9750.40  # SPAXX** + FDRXX**; pending activity is not cash yet
    assert reasons(doc) == [(7, "pending_activity"), (13, "footer"), (14, "footer"), (15, "footer")]


def test_ibkr_activity_statement_open_positions_and_cash_report():
    doc = read("ibkr_activity.csv")
    assert doc["format"] == "ibkr-activity"
    assert stocks(doc) == {"NVDA": (300, 118.25, 1), "BRK-B": (100, 415.2, 1)}
    assert options(doc) == {
        "NVDA261218C00160000": ("NVDA", "call", 160.0, "2026-12-18", -2, 1.95),
        "SOFI261218P00012000": ("SOFI", "put", 12.0, "2026-12-18", -5, 0.42),
    }
    assert doc["cash"] == 20250.75
    assert ("lot_detail" in {r for _, r in reasons(doc)}) and (20, "total") in reasons(doc)
    sections = [s["text"] for s in doc["skipped"] if s["reason"] == "other_section"]
    assert sections == [
        "Statement (5 lines)",
        "Account Information (5 lines)",
        "Net Asset Value (4 lines)",
        "Codes (3 lines)",
    ]


def test_ibkr_flex_open_positions_padded_occ_and_other_currencies():
    doc = read("ibkr_flex.csv")
    assert doc["format"] == "ibkr-flex"
    assert stocks(doc) == {"AAPL": (1200, 180.5, 11), "PYPL": (150, 70.0, 1)}
    assert options(doc) == {
        "AAPL261218C00240000": ("AAPL", "call", 240.0, "2026-12-18", -1, 2.35),
        "PYPL261120P00070000": ("PYPL", "put", 70.0, "2026-11-20", -2, 1.2),
    }
    assert doc["cash"] is None
    assert reasons(doc) == [(6, "not_usd")]


def test_ibkr_flex_with_header_and_data_line_codes(tmp_path: Path):
    lines = (FIXTURES / "ibkr_flex.csv").read_text().splitlines()
    coded = ['"BOF","U7654321","Wheel","1","20261127"', f'"HEADER",{lines[0]}']
    coded += [f'"DATA",{line}' for line in lines[1:]] + ['"EOF","1"']
    path = tmp_path / "flex.csv"
    path.write_text("\n".join(coded) + "\n")
    doc = read_positions(path).model_dump(mode="json")
    assert doc["format"] == "ibkr-flex"
    assert stocks(doc) == stocks(read("ibkr_flex.csv"))
    assert options(doc) == options(read("ibkr_flex.csv"))


def test_tastytrade_positions_export():
    doc = read("tastytrade.csv")
    assert doc["format"] == "tastytrade"
    assert stocks(doc) == {"SOFI": (500, 12.5, 2), "F": (200, 11.5, 2)}
    assert options(doc) == {
        "SOFI261218C00016000": ("SOFI", "call", 16.0, "2026-12-18", -3, 0.55),
        "INTC261218P00020000": ("INTC", "put", 20.0, "2026-12-18", -1, 0.64),
    }
    assert doc["cash"] is None and doc["skipped"] == []


def test_etrade_portfolio_download():
    doc = read("etrade.csv")
    assert doc["format"] == "etrade"
    assert stocks(doc) == {"QQQ": (100, 470.0, 1), "INTC": (300, 22.1, 0)}
    assert options(doc) == {
        "INTC261218C00023000": ("INTC", "call", 23.0, "2026-12-18", -3, 0.41),
        "QQQ261218P00480000": ("QQQ", "put", 480.0, "2026-12-18", -1, 3.1),
    }
    assert doc["cash"] == 5120.75
    assert reasons(doc) == [
        (1, "preamble"), (2, "preamble"), (3, "preamble"), (5, "preamble"), (6, "preamble"),
        (13, "total"), (15, "footer"),
    ]  # fmt: skip


def test_generic_csv_the_issue_files():
    """``AAPL,"1,200","$180.50"``, a trailing ``Account Total,,``, ``BRK.B`` and an OCC
    option row in optscan's own ``symbol,shares,cost_basis`` file."""
    doc = read("generic.csv")
    assert doc["format"] == "generic"
    assert stocks(doc) == {"AAPL": (1200, 180.5, 11), "BRK-B": (100, 410.0, 1)}
    assert options(doc) == {"AAPL261218C00240000": ("AAPL", "call", 240.0, "2026-12-18", -1, 2.35)}
    assert reasons(doc) == [(5, "total")]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('symbol,shares,cost_basis\nAAPL,"1,200","$180.50"\n', {"AAPL": (1200, 180.5, 12)}),
        (
            "symbol,shares,cost_basis\nAAPL,1200,180.50\nAccount Total,,\n",
            {"AAPL": (1200, 180.5, 12)},
        ),
        ('Symbol,Quantity,Cost Basis\nAAPL,200,"$36,100.00"\n', {"AAPL": (200, 180.5, 2)}),
        ("Ticker,Qty,Avg Price\nMSFT,100,350\n", {"MSFT": (100, 350.0, 1)}),
        ("Ticker,Shares,Average Cost\nBRK/B,100,410\n", {"BRK-B": (100, 410.0, 1)}),
        ('Symbol,Quantity,Cost Basis\n"BRK B",100,41000\n', {"BRK-B": (100, 410.0, 1)}),
        ("Symbol,Quantity\nAAPL,100\n", {"AAPL": (100, None, 1)}),
        ("symbol;shares\nAAPL;100\n".replace(";", "\t"), {"AAPL": (100, None, 1)}),
    ],
)
def test_generic_headers_found_by_their_usual_names(tmp_path: Path, body: str, expected):
    path = tmp_path / "positions.csv"
    path.write_text(body)
    doc = read_positions(path).model_dump(mode="json")
    assert doc["format"] == "generic"
    assert stocks(doc) == expected


def test_stock_row_plus_option_rows_in_every_notation(tmp_path: Path):
    path = tmp_path / "positions.csv"
    path.write_text(
        "symbol,shares,cost_basis\n"
        "AAPL,500,180\n"
        "AAPL  261218C00240000,-1,2.35\n"  # OCC padded
        "AAPL261218C00250000,-1,1.10\n"  # OCC unpadded
        "AAPL 12/18/2026 260.00 C,-1,0.80\n"  # Schwab
        " -AAPL261218C270,-1,0.50\n"  # Fidelity
        ".AAPL261218P200,-2,1.75\n"  # thinkorswim
        "AAPL 18DEC26 280 C,1,0.20\n"  # IBKR activity (long: covers nothing)
        '"AAPL Dec 18 \'26 $290 Call",-1,0.10\n'  # E*Trade
    )
    doc = read_positions(path).model_dump(mode="json")
    assert doc["skipped"] == []
    assert sorted(options(doc)) == [
        "AAPL261218C00240000", "AAPL261218C00250000", "AAPL261218C00260000",
        "AAPL261218C00270000", "AAPL261218C00280000", "AAPL261218C00290000",
        "AAPL261218P00200000",
    ]  # fmt: skip
    assert stocks(doc) == {"AAPL": (500, 180.0, 0)}  # 5 short calls cover all 500


def test_occ_root_of_a_class_share_belongs_to_the_stock(tmp_path: Path):
    path = tmp_path / "positions.csv"
    path.write_text("symbol,shares,cost_basis\nBRK.B,300,410\nBRKB  261218C00500000,-1,3.00\n")
    doc = read_positions(path).model_dump(mode="json")
    assert options(doc) == {"BRKB261218C00500000": ("BRK-B", "call", 500.0, "2026-12-18", -1, 3.0)}
    assert stocks(doc) == {"BRK-B": (300, 410.0, 2)}


def test_rows_of_one_symbol_or_contract_merge():
    doc = read("fidelity.csv")
    assert stocks(doc)["AMD"][0] == 300


def test_bom_and_crlf_and_cp1252(tmp_path: Path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"\xef\xbb\xbfSymbol,Quantity,Average Cost\r\nAAPL,100,180\r\n")
    assert stocks(read_positions(path).model_dump(mode="json")) == {"AAPL": (100, 180.0, 1)}
    path.write_bytes(b"Symbol,Description,Quantity,Average Cost\r\nAAPL,Apple\xae Inc,100,180\r\n")
    assert stocks(read_positions(path).model_dump(mode="json")) == {"AAPL": (100, 180.0, 1)}


def test_broker_is_forced_and_a_wrong_broker_names_what_it_expects():
    assert read("schwab.csv", "schwab")["format"] == "schwab"
    assert read("generic.csv", "generic")["format"] == "generic"
    with pytest.raises(
        InputFileError, match=r"generic\.csv: line 1: not a Schwab export: expected"
    ):
        read("generic.csv", "schwab")
    with pytest.raises(InputFileError, match="not an Interactive Brokers activity statement"):
        read("schwab.csv", "ibkr-activity")


def test_every_format_has_a_fixture_detected_as_it():
    detected = {read(f.name)["format"] for f in FIXTURES.glob("*.csv")}
    assert detected == set(FORMATS)


def test_reading_is_the_issue_json_shape():
    doc = read("schwab.csv")
    assert list(doc) == ["file", "format", "stocks", "options", "cash", "skipped"]
    assert list(doc["stocks"][0]) == ["symbol", "shares", "cost_basis", "contracts_coverable"]
    assert list(doc["options"][0]) == [
        "contract_symbol", "symbol", "kind", "strike", "expiration", "quantity", "average_price",
    ]  # fmt: skip
    assert list(doc["skipped"][0]) == ["line", "text", "reason"]
    reading = read_positions(FIXTURES / "schwab.csv")
    assert isinstance(reading, PositionsReading)
    assert reading.options[0].expiration == dt.date(2026, 12, 18)
    with pytest.raises(ValueError):
        reading.cash = 1.0  # type: ignore[misc]  # frozen


# --------------------------------------------------------------------------- accounts


def test_account_numbers_and_names_never_in_skipped_text():
    for fixture in FIXTURES.glob("*.csv"):
        text = json.dumps(read(fixture.name)["skipped"])
        for secret in ACCOUNT_SECRETS:
            assert secret not in text, (fixture.name, secret, text)


def test_account_numbers_never_in_command_output_or_scan_result():
    for fixture in FIXTURES.glob("*.csv"):
        for fmt in ("json", "table", "csv"):
            proc = invoke("positions", str(fixture), "--format", fmt)
            assert proc.returncode == 0, proc.report
            output = proc.text.replace(str(fixture), "")
            for secret in ACCOUNT_SECRETS:
                assert secret not in output, (fixture.name, fmt, secret)


# --------------------------------------------------------------------------- bad rows


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("AAPL,200,nan", "bad_number"),
        ("AAPL,200,inf", "bad_number"),
        ("AAPL,200,1e300", "bad_number"),
        ("AAPL,1e300,100", "bad_number"),
        ("AAPL,2000000000,100", "bad_number"),
        ("AAPL,200,-180.50", "bad_number"),
        ("AAPL,200,(180.50)", "bad_number"),
        ("AAPL,NaN,100", "bad_number"),
        ("AAPL,lots,100", "bad_number"),
        ("AAPL,200,1e999", "bad_number"),
        ("AAPL  261218C00240000,-1.5,2.35", "bad_number"),
        ("../etc,100,100", "invalid_symbol"),
        ("AAPL,,100", "no_quantity"),
        ("AAPL,0,100", "zero_quantity"),
        ("AAPL,-100,100", "short_stock"),
        ("AAPL 02/31/2026 240.00 C,-1,2.35", "unreadable_option"),
        ("Pending Activity,,", "pending_activity"),
        ("Grand Total,,", "total"),
    ],
)
def test_a_bad_row_is_skipped_and_reported_the_rest_read(tmp_path: Path, row: str, reason: str):
    path = tmp_path / "holdings.csv"
    path.write_text(f"symbol,shares,cost_basis\nMSFT,100,350\n{row}\n")
    doc = read_positions(path).model_dump(mode="json")
    assert stocks(doc) == {"MSFT": (100, 350.0, 1)}
    assert reasons(doc) == [(3, reason)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "cannot read it"),
        (b"", "line 1: the file is empty"),
        (b"\n\n  \n", "line 1: the file is empty"),
        (b"\x00\x01binary", "line 1: binary data"),
        (b"PK\x03\x04 workbook", "line 1: an Excel workbook"),
        (b"name,amount\nAAPL,100\n", "line 1: not a positions export"),
        (b"\n\nhello world\n", "line 3: not a positions export"),
        (
            b"Statement,Header,Field Name,Field Value\nStatement,Data,Title,Activity\n",
            "line 1: not an Interactive Brokers",
        ),
    ],
)
def test_a_file_that_is_no_positions_export_raises_naming_file_and_line(
    tmp_path: Path, body, message
):
    path = tmp_path / "positions.csv"
    if body is not None:
        path.write_bytes(body)
    with pytest.raises(InputFileError, match=message) as caught:
        read_positions(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ConfigError)  # exit 2


def test_a_folder_is_no_positions_export(tmp_path: Path):
    with pytest.raises(InputFileError, match="is a folder"):
        read_positions(tmp_path)


def test_unknown_broker_is_refused(tmp_path: Path):
    with pytest.raises(InputFileError, match="unknown broker format 'robinhood'"):
        read_positions(FIXTURES / "schwab.csv", "robinhood")


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("$1,234.50", 1234.5),
        ("(12.00)", -12.0),
        ("($1,234.00)", -1234.0),
        ("-$1,234.50", -1234.5),
        ("$-1,234.50", -1234.5),
        ("+$0.99", 0.99),
        ("5.00%", 5.0),
        ("-0.5%", -0.5),
        ("1,200", 1200.0),
        ("9,999.99", 9999.99),
        (" 42 ", 42.0),
        ("1.5e3", 1500.0),
        (".5", 0.5),
        ("100 USD", 100.0),
        ("--", None),
        ("-", None),
        ("N/A", None),
        ("n/a", None),
        ("", None),
        (None, None),
    ],
)
def test_numbers_as_brokers_write_them(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e999",
        "1,2",
        "12,34.5",
        "abc",
        "$",
        "(",
        "1.2.3",
        "--5",
    ],
)
def test_not_numbers_are_refused(text):
    with pytest.raises(ValueError):
        parse_number(text)


def _money(value: float, dollar: bool, commas: bool, parens: bool) -> str:
    body = f"{abs(value):,.2f}" if commas else f"{abs(value):.2f}"
    body = f"${body}" if dollar else body
    if value < 0:
        return f"({body})" if parens else f"-{body}"
    return body


@given(
    value=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).map(lambda v: round(v, 2)),
    dollar=st.booleans(),
    commas=st.booleans(),
    parens=st.booleans(),
)
def test_property_money_round_trips(value: float, dollar: bool, commas: bool, parens: bool):
    text = _money(value, dollar, commas, parens)
    assert parse_number(text) == pytest.approx(value, abs=0.005)


@given(st.text(max_size=20))
def test_property_any_text_is_a_finite_number_none_or_value_error(text: str):
    try:
        value = parse_number(text)
    except ValueError:
        return
    assert value is None or math.isfinite(value)


@given(st.sampled_from(["--", "N/A", "n/a", "-", "", "  ", "\u2014"]))
def test_property_empty_markers_are_none(text: str):
    assert parse_number(text) is None


# --------------------------------------------------------------------------- notations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AAPL  261218C00240000", ("AAPL", "2026-12-18", "call", 240.0)),
        ("AAPL261218C00240000", ("AAPL", "2026-12-18", "call", 240.0)),
        ("SPY   270115P00512500", ("SPY", "2027-01-15", "put", 512.5)),
        ("-AAPL261218C240", ("AAPL", "2026-12-18", "call", 240.0)),
        (" -AMD261218P142.5", ("AMD", "2026-12-18", "put", 142.5)),
        (".AAPL261218C240", ("AAPL", "2026-12-18", "call", 240.0)),
        (".SPY261218P450.5", ("SPY", "2026-12-18", "put", 450.5)),
        ("AAPL 12/18/2026 240.00 C", ("AAPL", "2026-12-18", "call", 240.0)),
        ("BRK/B 12/18/2026 450.00 P", ("BRK-B", "2026-12-18", "put", 450.0)),
        ("AAPL 18DEC26 240 C", ("AAPL", "2026-12-18", "call", 240.0)),
        ("BRK B 18DEC26 450 C", ("BRK-B", "2026-12-18", "call", 450.0)),
        ("AAPL Dec 18 '26 $240 Call", ("AAPL", "2026-12-18", "call", 240.0)),
        ("INTC Jan 15 '27 $20 Put", ("INTC", "2027-01-15", "put", 20.0)),
        ("AAPL 2026-12-18 240 P", ("AAPL", "2026-12-18", "put", 240.0)),
    ],
)
def test_option_notations(text: str, expected):
    contract = parse_option(text)
    assert contract is not None
    assert (
        contract.underlying,
        contract.expiration.isoformat(),
        contract.kind,
        contract.strike,
    ) == expected


@pytest.mark.parametrize(
    "text", ["AAPL", "BRK.B", "BRK-B", "SPAXX**", "Cash & Cash Investments", "Account Total", ""]
)
def test_stocks_and_summary_cells_are_not_options(text: str):
    assert parse_option(text) is None


@pytest.mark.parametrize(
    "text",
    ["AAPL 02/30/2026 240 C", "AAPL261340C00240000", "AAPL 18XYZ26 240 C", "AAPL 12/18/2026 0 C"],
)
def test_impossible_contracts_are_value_errors(text: str):
    with pytest.raises(ValueError):
        parse_option(text)


# --------------------------------------------------------------------------- commands and scans


def test_positions_command_json_is_the_reading():
    proc = invoke("positions", str(FIXTURES / "schwab.csv"), "--format", "json")
    assert proc.returncode == 0, proc.report
    assert json.loads(proc.stdout) == read("schwab.csv")
    aapl = next(s for s in json.loads(proc.stdout)["stocks"] if s["symbol"] == "AAPL")
    assert aapl["contracts_coverable"] == 2


def test_positions_command_defaults_to_holdings_file_and_takes_broker():
    path = str(FIXTURES / "tastytrade.csv")
    proc = invoke("positions", "--set", f'holdings.file="{path}"', "--format", "json")
    assert proc.returncode == 0, proc.report
    assert json.loads(proc.stdout)["format"] == "tastytrade"
    proc = invoke("positions", path, "--broker", "tastytrade", "--format", "csv")
    assert proc.returncode == 0, proc.report
    assert proc.stdout.splitlines()[0].startswith(
        "type,symbol,shares,cost_basis,contracts_coverable"
    )
    proc = invoke("positions", str(FIXTURES / "schwab.csv"))
    assert (
        proc.returncode == 0 and "AAPL261218C00240000" in proc.stdout and "12,345.67" in proc.stdout
    )


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ((), "give the file"),
        (("/no/such/file.csv",), "/no/such/file.csv: cannot read it"),
        ((str(Path(__file__)),), "line 1: not a positions export"),
        ((str(FIXTURES / "generic.csv"), "--broker", "fidelity"), "line 1: not a Fidelity export"),
    ],
)
def test_positions_command_bad_input_exits_2_with_one_line(args, names):
    proc = invoke("positions", *args)
    assert proc.returncode == 2, proc.report
    assert proc.stdout == "" and "Traceback" not in proc.text
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and names in lines[0], proc.report


def test_an_unknown_broker_is_a_usage_error():
    proc = invoke("positions", str(FIXTURES / "generic.csv"), "--broker", "robinhood")
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.text
    assert "'robinhood' is not one of 'schwab'" in proc.stderr


def test_cli_broker_names_are_the_formats():
    from optscan.cli.positions import BROKERS

    assert BROKERS == FORMATS


def _cc_scan(*args: str) -> dict:
    proc = invoke(
        "scan", "--provider", "sim", "--strategy", "cc", "--as-of", OPEN_INSTANT.isoformat(),
        "--format", "json", *args,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.report
    assert "Traceback" not in proc.text
    return json.loads(proc.stdout)


def test_schwab_300_aapl_one_short_call_covers_two_more_in_the_scan():
    result = _cc_scan("--symbols", "AAPL", "--positions", str(FIXTURES / "schwab.csv"))
    (aapl,) = result["symbols"]
    assert aapl["status"] == "ok" and aapl["contracts_coverable"] == 2
    result = _cc_scan("--symbols", "AAPL", "--set", f'holdings.file="{FIXTURES / "schwab.csv"}"')
    assert result["symbols"][0]["contracts_coverable"] == 2


def test_brk_dot_b_held_covers_a_brk_dash_b_covered_call(tmp_path: Path):
    path = tmp_path / "holdings.csv"
    path.write_text('symbol,shares,cost_basis\n"BRK B",100,410.00\n')  # a cell: BRK-B
    for spelling in ("BRK-B", "BRK.B", "BRK/B", "brk.b"):
        result = _cc_scan("--symbols", spelling, "--positions", str(path))
        (outcome,) = result["symbols"]
        assert outcome["symbol"] == "BRK-B"
        assert outcome["status"] == "ok", outcome
        assert outcome["contracts_coverable"] == 1
    lots = _cc_scan(
        "--symbols",
        "BRK-B",
        "--set",
        'holdings.lots=[{symbol="BRK/B", shares=100, cost_basis=410.0}]',
    )
    assert lots["symbols"][0]["status"] == "ok"


def test_fully_covered_shares_are_skipped_saying_why(tmp_path: Path):
    path = tmp_path / "holdings.csv"
    path.write_text("symbol,shares,cost_basis\nAAPL,200,180\nAAPL  261218C00240000,-2,2.35\n")
    result = _cc_scan("--symbols", "AAPL", "--positions", str(path))
    (aapl,) = result["symbols"]
    assert aapl["status"] == "skipped" and aapl["reason"] == "no_holding"
    assert aapl["contracts_coverable"] == 0
    assert "200 of them covered by 2 short calls" in aapl["error"]


def test_a_holding_without_cost_basis_is_skipped_not_screened_blind(tmp_path: Path):
    path = tmp_path / "holdings.csv"
    path.write_text("Symbol,Quantity\nAAPL,200\n")
    (aapl,) = _cc_scan("--symbols", "AAPL", "--positions", str(path))["symbols"]
    assert aapl["status"] == "skipped" and aapl["reason"] == "no_cost_basis"
    (aapl,) = _cc_scan(
        "--symbols", "AAPL", "--positions", str(path),
        "--set", "strategies.cc.strikes_at_or_above_cost_basis=false",
    )["symbols"]  # fmt: skip
    assert aapl["status"] == "ok" and aapl["contracts_coverable"] == 2


def test_bad_rows_of_holdings_file_become_scan_warnings_without_their_text(tmp_path: Path):
    path = tmp_path / "U7654321-Positions.csv"  # brokers name exports by account
    path.write_text("symbol,shares,cost_basis\nAAPL,200,180\nU1234567,nan,1\nMSFT,100,-5\n")
    result = _cc_scan("--symbols", "AAPL,MSFT", "--positions", str(path))
    assert [s["status"] for s in result["symbols"]] == ["ok", "skipped"]
    # an account number in the symbol column is no ticker (5 digits in a row)
    assert any("line 3 skipped (invalid_symbol)" in w for w in result["warnings"])
    assert any("line 4 skipped (bad_number)" in w for w in result["warnings"])
    assert "U1234567" not in json.dumps(result) and "U7654321" not in json.dumps(result)


def test_scan_positions_that_are_no_positions_exit_2(tmp_path: Path):
    proc = invoke(
        "scan", "--provider", "sim", "--strategy", "cc", "--positions", str(tmp_path / "none.csv")
    )
    assert proc.returncode == 2 and proc.stdout == "" and "--positions:" in proc.stderr
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n")
    proc = invoke("scan", "--provider", "sim", "--positions", str(path))
    assert proc.returncode == 2 and f"{path}: line 1: not a positions export" in proc.stderr


def test_cash_line_is_available_to_the_scan():
    from optscan.config import load_settings
    from optscan.scan.holdings import load_portfolio

    settings = load_settings(
        overrides={"holdings.file": str(FIXTURES / "schwab.csv")}, use_env=False
    )
    portfolio = load_portfolio(settings)
    assert portfolio.cash == 12345.67
    assert portfolio.coverable == {"AAPL": 2, "BRK-B": 1, "SCHD": 0}
    assert portfolio.short_calls == {"AAPL": 1}


def test_every_fixture_through_every_command_format_has_no_traceback():
    for fixture in [*FIXTURES.glob("*.csv"), *(FIXTURES.parent / "watchlists").glob("*")]:
        for broker in (None, *FORMATS):
            args = ["positions", str(fixture), "--format", "json"]
            if broker:
                args += ["--broker", broker]
            proc = invoke(*args)
            assert proc.returncode in (0, 2), proc.report
            assert "Traceback" not in proc.text, proc.report
            if proc.returncode == 2:
                assert proc.stdout == "" and str(fixture) in proc.stderr, proc.report


def test_schwab_all_accounts_export_and_the_older_column_names(tmp_path: Path):
    path = tmp_path / "All-Accounts-Positions.csv"
    path.write_text(
        '"Positions for account Joint Tenant XXXX-1111 as of 04:01 PM ET, 2026/11/27","",""\n'
        '""\n'
        '"Symbol","Description","Quantity","Price","Market Value","Cost Basis","Security Type"\n'
        '"F","FORD MOTOR CO","400","$11.05","$4,420.00","$4,600.00","Equity"\n'
        '"F 12/18/2026 12.00 C","CALL FORD MOTOR CO $12 EXP 12/18/26","-2","$0.15",'
        '"-$30.00","-$64.00","Option"\n'
        '"Cash & Money Market","--","--","--","$2,000.00","--","Cash and Money Market"\n'
        '"Account Total","--","--","--","$6,390.00","--","--"\n'
        '"Positions for account Roth Contributory IRA XXXX-2222 as of 04:01 PM ET, '
        '2026/11/27","",""\n'
        '""\n'
        '"Symbol","Description","Quantity","Price","Market Value","Cost Basis","Security Type"\n'
        '"F","FORD MOTOR CO","100","$11.05","$1,105.00","$1,000.00","Equity"\n'
        '"Cash & Money Market","--","--","--","$500.00","--","Cash and Money Market"\n'
        '"Account Total","--","--","--","$1,605.00","--","--"\n'
    )
    doc = read_positions(path).model_dump(mode="json")
    assert doc["format"] == "schwab"
    assert stocks(doc) == {"F": (500, 11.2, 3)}  # 500 shares, 2 calls written: 3 left
    assert options(doc) == {"F261218C00012000": ("F", "call", 12.0, "2026-12-18", -2, 0.32)}
    assert doc["cash"] == 2500.0
    assert reasons(doc) == [
        (1, "preamble"), (7, "total"), (8, "preamble"), (10, "header"), (13, "total"),
    ]  # fmt: skip
    text = json.dumps(doc)
    assert "1111" not in text and "2222" not in text and "Joint" not in text and "Roth" not in text


def test_holdings_broker_forces_the_format_and_a_bad_one_names_the_key():
    from optscan.config import load_settings
    from optscan.scan.holdings import load_portfolio

    settings = load_settings(
        overrides={"holdings.file": str(FIXTURES / "etrade.csv"), "holdings.broker": "etrade"},
        use_env=False,
    )
    assert load_portfolio(settings).coverable == {"QQQ": 1, "INTC": 0}
    with pytest.raises(ConfigError, match=r"holdings\.broker"):
        load_settings(overrides={"holdings.broker": "robinhood"}, use_env=False)
    settings = load_settings(
        overrides={"holdings.file": str(FIXTURES / "etrade.csv"), "holdings.broker": "schwab"},
        use_env=False,
    )
    with pytest.raises(
        InputFileError, match=r"holdings\.file .*etrade\.csv: line 1: not a Schwab export"
    ):
        load_portfolio(settings)


def test_account_data_never_in_debug_logs_of_a_scan():
    for fixture in FIXTURES.glob("*.csv"):
        proc = invoke(
            "scan", "--provider", "sim", "--strategy", "cc", "--symbols", "AAPL,AMD,NVDA",
            "--as-of", OPEN_INSTANT.isoformat(), "--positions", str(fixture),
            "--log-level", "debug", "--format", "json",
        )  # fmt: skip
        assert proc.returncode in (0, 1), proc.report
        output = proc.text.replace(str(fixture), "")
        for secret in ACCOUNT_SECRETS:
            assert not leaks(secret, output), (fixture.name, secret)


def test_a_long_call_in_one_account_does_not_cancel_a_short_call_in_another(tmp_path: Path):
    path = tmp_path / "positions.csv"
    path.write_text(
        "Account,Symbol,Quantity,Average Cost\n"
        "A1,AAPL,200,180\n"
        "A1,AAPL  261218C00240000,-1,2.35\n"
        "A2,AAPL  261218C00240000,1,2.00\n"
        "A2,AAPL  261218C00240000,1,2.50\n"
    )
    doc = read_positions(path).model_dump(mode="json")
    assert [(o["contract_symbol"], o["quantity"], o["average_price"]) for o in doc["options"]] == [
        ("AAPL261218C00240000", -1, 2.35),
        ("AAPL261218C00240000", 2, 2.25),
    ]
    assert stocks(doc) == {"AAPL": (200, 180.0, 1)}


def test_option_rows_given_by_expiry_strike_and_right_columns(tmp_path: Path):
    path = tmp_path / "tasty.csv"
    path.write_text(
        "Account,Symbol,Type,Quantity,Exp Date,DTE,Strike Price,Call/Put,Trade Price\n"
        "5WT99999,SOFI,Equity,300,,,,,12.50\n"
        '5WT99999,SOFI,Equity Option,-1,"Dec 18, 2026",21,16,CALL,0.55\n'
        "5WT99999,F,Equity Option,-2,2026-12-18,21,11.5,P,0.30\n"
        "5WT99999,/ESZ6,Future,1,,,,,5000\n"
    )
    doc = read_positions(path).model_dump(mode="json")
    assert doc["format"] == "tastytrade"
    assert options(doc) == {
        "SOFI261218C00016000": ("SOFI", "call", 16.0, "2026-12-18", -1, 0.55),
        "F261218P00011500": ("F", "put", 11.5, "2026-12-18", -2, 0.3),
    }
    assert stocks(doc) == {"SOFI": (300, 12.5, 2)}
    assert reasons(doc) == [(5, "unsupported_asset")]
    assert "5WT99999" not in json.dumps(doc)


def test_a_type_column_saying_cash_is_an_account_type_but_ibkr_cash_is_forex(tmp_path: Path):
    path = tmp_path / "p.csv"
    path.write_text("Symbol,Quantity,Average Cost,Type\nAAPL,100,180,Cash\nMSFT,100,350,Margin\n")
    assert stocks(read_positions(path).model_dump(mode="json")) == {
        "AAPL": (100, 180.0, 1),
        "MSFT": (100, 350.0, 1),
    }
    flex = tmp_path / "flex.csv"
    flex.write_text(
        "ClientAccountID,CurrencyPrimary,AssetClass,Symbol,Quantity,CostBasisPrice\n"
        "U1,USD,CASH,EUR.USD,1000,1.08\nU1,USD,STK,AAPL,100,180\n"
    )
    doc = read_positions(flex).model_dump(mode="json")
    assert stocks(doc) == {"AAPL": (100, 180.0, 1)} and reasons(doc) == [(2, "unsupported_asset")]


@given(
    root=st.sampled_from(["AAPL", "F", "BRK-B", "GOOGL", "SOFI", "X"]),
    expiration=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2040, 12, 31)),
    kind=st.sampled_from(["call", "put"]),
    strike=st.integers(min_value=1, max_value=99_999).map(lambda n: n / 2),
)
def test_property_every_notation_names_the_same_contract(root, expiration, kind, strike):
    from optscan.analytics.occ import expected_root

    occ_root = expected_root(root)
    letter = kind[0].upper()
    yy = f"{expiration:%y%m%d}"
    plain = f"{strike:g}"
    schwab_root = root.replace("-", "/")
    month = expiration.strftime("%b")
    spellings = [
        f"{occ_root:<6}{yy}{letter}{round(strike * 1000):08d}",
        f"{occ_root}{yy}{letter}{round(strike * 1000):08d}",
        f"-{occ_root}{yy}{letter}{plain}",
        f".{occ_root}{yy}{letter}{plain}",
        f"{schwab_root} {expiration:%m/%d/%Y} {strike:.2f} {letter}",
        f"{root.replace('-', ' ')} {expiration:%d}{month.upper()}{expiration:%y} {plain} {letter}",
        f"{root} {month} {expiration.day} '{expiration:%y} ${plain} {kind.title()}",
        f"{root} {expiration.isoformat()} {plain} {letter}",
    ]
    for text in spellings:
        contract = parse_option(text)
        assert contract is not None, text
        assert (contract.expiration, contract.kind, contract.strike) == (expiration, kind, strike)
        assert contract.underlying in (root, occ_root), text
        assert contract.occ_symbol() == f"{occ_root}{yy}{letter}{round(strike * 1000):08d}"


@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_property_any_file_is_a_reading_or_one_input_file_error(tmp_path_factory, body):
    path = tmp_path_factory.mktemp("any") / "positions.csv"
    path.write_bytes(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    try:
        reading = read_positions(path)
    except InputFileError as exc:
        assert str(path) in str(exc)
        return
    json.dumps(reading.model_dump(mode="json"), allow_nan=False)


CSV_CELLS = st.one_of(
    st.sampled_from(["AAPL", "BRK.B", "100", "-1", "$1,234.50", "(12.00)", "--", "N/A", "nan",
                     "1e999", "AAPL  261218C00240000", "Account Total", "Cash", ""]),
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=12),
)  # fmt: skip


@given(rows=st.lists(st.lists(CSV_CELLS, min_size=1, max_size=4), max_size=6))
def test_property_any_rows_under_a_header_are_read_or_skipped(tmp_path_factory, rows):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Symbol", "Quantity", "Average Cost", "Type"])
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("rows") / "positions.csv"
    path.write_text(buffer.getvalue())
    reading = read_positions(path)
    for stock in reading.stocks:
        assert 0 < stock.shares <= 1e9 and stock.contracts_coverable >= 0
        assert stock.cost_basis is None or 0 <= stock.cost_basis <= 1e9
    for option in reading.options:
        assert option.quantity != 0
    json.dumps(reading.model_dump(mode="json"), allow_nan=False)
