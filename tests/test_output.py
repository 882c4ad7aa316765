"""What a person sees: the table at 80 and 100 columns, failures, literal text, times,
and CSV numbers without float noise."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner

from optscan.cli import cli
from optscan.models import ScanRequest
from optscan.output.columns import BY_KEY, parse_columns
from optscan.output.table import print_table
from optscan.plugins import PluginHost
from optscan.scan import perform_scan

from .helpers import OPEN_INSTANT, make_settings

KEPT_WHOLE = ("symbol", "contract_symbol", "strike", "bid", "annualized_return")


def scan(**overrides):
    request = ScanRequest(provider="sim", as_of=OPEN_INSTANT, sinks=[])
    return perform_scan(
        request, PluginHost(load_entrypoints=False), settings=make_settings(**overrides)
    )


@pytest.fixture(scope="module")
def result():
    return scan()


def table_text(result, width, **kwargs) -> str:
    out = io.StringIO()
    print_table(result, file=out, width=width, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 100])
def test_the_table_fits_and_keeps_the_key_facts_whole(result, width):
    text = table_text(result, width)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    assert "…" not in text, "a value was cut"
    for opportunity in result.opportunities[:50]:
        row = next(line for line in lines if opportunity.contract_symbol in line)
        for key in KEPT_WHOLE:
            shown = re.sub(r"\s+", " ", row)
            value = getattr(opportunity, key)
            expected = f"{value:,.2f}" if key in ("strike", "bid") else str(value)
            if key == "annualized_return":
                expected = f"{value:,.1f}"
            assert expected in shown, (key, expected, row)
    assert "left out for width:" in text


def test_a_wide_terminal_shows_every_default_column_and_the_trader_facts(result):
    text = table_text(result, 200)
    for header in ("Price", "Prem $", "Collat $", "B/even", "Strike", "Ann.%", "P(OTM)%"):
        assert header in text
    assert "left out" not in text


def test_columns_are_chosen_by_json_key_and_unknown_ones_refused(result):
    columns = parse_columns("symbol,premium,collateral")
    text = table_text(result, 80, columns=columns)
    header = next(line for line in text.splitlines() if "Symbol" in line)
    assert header.split() == ["Symbol", "Prem", "$", "Collat", "$"]
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        parse_columns("symbol,nope")
    out = CliRunner().invoke(cli, ["scan", "--provider", "sim", "--columns", "symbol,nope"])
    assert out.exit_code == 2 and "unknown column 'nope'" in out.output


def test_premium_is_the_bid_per_contract(result):
    assert result.opportunities
    for o in result.opportunities:
        assert o.premium == pytest.approx(o.bid * 100, abs=0.005)
        assert o.collateral == pytest.approx(o.strike * 100)


def test_csv_numbers_are_rounded_by_kind(result):
    from optscan.output.csvdoc import result_csv

    rows = list(csv.DictReader(io.StringIO(result_csv(result))))
    assert rows
    for row in rows:
        for key, value in row.items():
            if not value:
                continue
            kind = BY_KEY[key].kind
            if kind in ("money", "percent"):
                assert re.fullmatch(r"-?\d+\.\d{2}", value), (key, value)
            elif kind in ("delta", "fraction"):
                assert re.fullmatch(r"-?\d\.\d{4}", value), (key, value)
            elif kind in ("count", "seconds"):
                assert re.fullmatch(r"\d+", value), (key, value)


def test_partial_symbols_show_in_json_summary_and_table():
    result = scan(**{"providers.sim.error_rate": 0.3})
    partial = [s for s in result.symbols if s.failed_expirations]
    assert partial, "error_rate 0.3 should cost some expirations"
    assert all(s.status == "ok" and s.partial for s in partial)
    assert all(not s.partial for s in result.symbols if not s.failed_expirations)
    assert f"{len(partial)} partial: {partial[0].symbol}" in result.message
    doc = result.to_json_dict()
    assert any(s["partial"] for s in doc["symbols"])
    text = table_text(result, 120)
    assert f"partial {partial[0].symbol}: " in text
    assert f"{partial[0].symbol}: {partial[0].symbol}" not in text, "the symbol is repeated"


def test_text_that_looks_like_markup_is_printed_literally():
    request = ScanRequest(
        provider="sim", symbols=["[/X]", "[red]Y", "AAPL"], as_of=OPEN_INSTANT, sinks=[]
    )
    result = perform_scan(request, PluginHost(load_entrypoints=False), settings=make_settings())
    text = table_text(result, 120)
    assert "skipped 2 symbols ([/X], [RED]Y): invalid symbol '[/X]'" in text
    assert "(as for [/X])" in text
    error = result.model_copy(update={"errors": ["set [providers.marketdata] token"]})
    assert "set [providers.marketdata] token" in table_text(error, 120)


def test_times_are_new_york_in_json_and_for_people():
    result = scan()
    doc = json.loads(json.dumps(result.to_json_dict()))
    for key in ("as_of", "started_at", "finished_at"):
        assert re.search(r"-0[45]:00$", doc[key]), (key, doc[key])
    assert doc["opportunities"][0]["quote_time"].endswith(("-05:00", "-04:00"))
    assert "as of 2026-11-18 11:00 EST" in table_text(result, 120)


def test_the_same_failure_of_many_symbols_is_one_line_and_control_characters_are_escaped():
    request = ScanRequest(
        provider="sim",
        strategy="cc",
        symbols=["AAPL", "MSFT", "AMD", "A\x1b[2JB"],
        as_of=OPEN_INSTANT,
        sinks=[],
    )
    result = perform_scan(request, PluginHost(load_entrypoints=False), settings=make_settings())
    text = table_text(result, 120)
    assert "\x1b[2J" not in text and "A\\x1b[2JB" in text
    lines = [line for line in text.splitlines() if line.startswith("skipped")]
    assert any(
        line.startswith("skipped 3 symbols (AAPL, MSFT, AMD): covered calls") for line in lines
    )


def test_nothing_screened_is_not_called_an_empty_screen():
    request = ScanRequest(provider="sim", symbols=["BTC-USD"], as_of=OPEN_INSTANT, sinks=[])
    result = perform_scan(request, PluginHost(load_entrypoints=False), settings=make_settings())
    text = table_text(result, 120)
    assert "No opportunities passed the screen" not in text
    assert "no symbol could be scanned" in text


@pytest.mark.parametrize("width", [None, 80])
def test_the_table_shows_limit_rows_and_says_how_many_more(result, width):
    text = table_text(result, width, limit=3)
    rows = [o for o in result.opportunities if o.contract_symbol in text]
    assert rows == result.opportunities[:3]
    assert f"... and {len(result.opportunities) - 3} more" in text


# --------------------------------------------------------------------------- selection in CSV

CASH_SCAN = ["scan", "--provider", "sim", "--symbols", "AAPL,AMD,F,INTC,SOFI"]
CASH_SCAN += ["--as-of", "2026-11-18T11:00"]


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_cash_scans_csv_marks_the_selected_contracts_with_their_quantities():
    """``scan --cash --format csv`` listed the opportunities only: the selection the
    JSON and the table show was lost. It is a last column, ``selected_quantity``."""
    from optscan.output.columns import CSV_ORDER
    from tests.invoke import invoke

    doc = json.loads(invoke(*CASH_SCAN, "--cash", "30000", "--format", "json").stdout)
    chosen = {c["contract_symbol"]: c["quantity"] for c in doc["selection"]["contracts"]}
    assert len(chosen) >= 2  # F and INTC puts fit 30,000
    ran = invoke(*CASH_SCAN, "--cash", "30000", "--format", "csv")
    assert ran.returncode == 0, ran.report
    header, *rows = _csv_rows(ran.stdout)
    plain = invoke(*CASH_SCAN, "--format", "csv")
    plain_header, *plain_rows = _csv_rows(plain.stdout)
    assert plain_header == list(CSV_ORDER) and "selected_quantity" not in plain.stdout
    assert header == [*plain_header, "selected_quantity"]  # today's columns, then it
    assert [row[:-1] for row in rows] == plain_rows  # the same opportunities, cell for cell
    at = header.index("contract_symbol")
    assert {row[at]: int(row[-1]) for row in rows if row[-1]} == chosen
    assert all(row[-1] == "" for row in rows if row[at] not in chosen)


def test_csv_columns_chosen_keep_the_selection_last_and_nothing_selected_is_empty():
    from optscan.models import Selection
    from optscan.output.csvdoc import result_csv

    result = scan(**{"selection.cash": 1.0})  # too little for any put
    assert result.selection is not None and result.selection.contracts == []

    header, *rows = _csv_rows(result_csv(result, parse_columns("symbol,contract_symbol")))
    assert header == ["symbol", "contract_symbol", "selected_quantity"]
    assert rows and all(row[-1] == "" for row in rows)
    first = result.opportunities[0].contract_symbol
    three = result.model_copy(
        update={
            "selection": Selection(
                cash=1e6,
                collateral_used=0,
                premium_total=0,
                annualized_income=0,
                contracts=[{"contract_symbol": first, "quantity": 3}],
            )
        }
    )
    rows = _csv_rows(result_csv(three, parse_columns("contract_symbol")))
    assert rows[1] == [first, "3"] and all(row == [row[0], ""] for row in rows[2:])


def test_the_json_and_csv_sinks_carry_the_selection_too(tmp_path):
    sinks = {
        "sinks.enabled": ["json", "csv"],
        "sinks.json.path": str(tmp_path / "{scan_id}.json"),
        "sinks.csv.path": str(tmp_path / "{scan_id}.csv"),
    }
    settings = make_settings(**sinks)
    host = PluginHost(load_entrypoints=False)
    symbols = ["AAPL", "AMD", "F", "INTC", "SOFI"]
    request = ScanRequest(provider="sim", symbols=symbols, as_of=OPEN_INSTANT, cash=30_000)
    result = perform_scan(request, host, settings=settings)
    doc = json.loads((tmp_path / f"{result.scan_id}.json").read_text(encoding="utf-8"))
    chosen = {c["contract_symbol"]: c["quantity"] for c in doc["selection"]["contracts"]}
    header, *rows = _csv_rows((tmp_path / f"{result.scan_id}.csv").read_text(encoding="utf-8"))
    assert chosen and header[-1] == "selected_quantity"
    at = header.index("contract_symbol")
    assert {row[at]: int(row[-1]) for row in rows if row[-1]} == chosen
    plain = perform_scan(request.model_copy(update={"cash": None}), host, settings=settings)
    text = (tmp_path / f"{plain.scan_id}.csv").read_text(encoding="utf-8")
    assert plain.selection is None and "selected_quantity" not in text
    assert _csv_rows(text)[0] == header[:-1]
