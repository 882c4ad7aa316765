"""``optscan rolls``: the right candidates, to the cent, on recorded and ``sim`` chains."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from optscan.chain import OptionChain
from optscan.config import load_settings
from optscan.errors import UsageError
from optscan.rolls.engine import position_rolls
from optscan.rolls.models import ShortPosition, occ_symbol
from optscan.rolls.positions import not_rolled_note, parse_position, short_positions
from tests.invoke import invoke
from tests.market_data import market_dir

NY = ZoneInfo("America/New_York")
AS_OF = dt.datetime(2026, 11, 18, 11, 0, tzinfo=NY)
LOOSE = {
    "min_dte": 0,
    "max_dte": 400,
    "min_put_delta": None,
    "max_call_delta": None,
    "min_open_interest": 0,
    "max_spread_pct": 0,
    "top_per_position": 0,
}
SIM_ROLLS_JSON = ("rolls", "--provider", "sim", "--as-of", "2026-11-18T11:00", "--format", "json")
"""``optscan rolls`` on the ``sim`` market at a pinned clock, answering JSON."""
POSITION_KEYS = {
    "contract_symbol",
    "symbol",
    "kind",
    "strike",
    "expiration",
    "quantity",
    "average_price",
    "close_ask",
    "status",
    "error",
    "itm",
    "early_assignment_risk",
    "rolls",
}
ROLL_KEYS = {
    "contract_symbol",
    "expiration",
    "strike",
    "bid",
    "net_credit",
    "net_credit_total",
    "days_added",
    "annualized_return",
    "delta",
    "breakeven",
    "prob_otm",
}


def roll_settings(**overrides):
    loose = {k: v for k, v in LOOSE.items() if v is not None}
    loose.update(overrides)
    settings = load_settings(
        overrides={f"strategies.roll.{k}": v for k, v in loose.items()}, use_env=False
    )
    strategy = settings.strategies["roll"]
    nulls = {k: None for k, v in LOOSE.items() if v is None and k not in overrides}
    return strategy.model_copy(update=nulls), settings.analytics


def chain(
    day: str,
    rows: list[tuple[str, float, float, float]],
    *,
    spot: float = 100.0,
    symbol: str = "XYZ",
    **extra,
) -> OptionChain:
    """Rows of (kind, strike, bid, ask) for one expiration; liquid, IV 0.4."""
    expiration = dt.date.fromisoformat(day)
    return OptionChain(
        symbol=symbol,
        provider="test",
        underlying_price=spot,
        quote_time=AS_OF,
        contract_symbol=[occ_symbol(symbol, expiration, k, s) for k, s, _b, _a in rows],
        kind=[k for k, *_ in rows],
        expiration=[day] * len(rows),
        strike=[s for _k, s, _b, _a in rows],
        bid=[b for _k, _s, b, _a in rows],
        ask=[a for *_, a in rows],
        iv=[0.4] * len(rows),
        open_interest=[500.0] * len(rows),
        volume=[50.0] * len(rows),
        **extra,
    )


def rolls_of(position, old, new, **overrides):
    strategy, analytics = roll_settings(**overrides)
    return position_rolls(position, old, new, strategy=strategy, analytics=analytics, as_of=AS_OF)


# ------------------------------------------------------------------ engine, exact numbers


def test_put_rolls_are_later_same_or_lower_strike_for_a_credit_to_the_cent() -> None:
    old = chain("2026-11-20", [("put", 95.0, 0.90, 1.05), ("put", 90.0, 0.3, 0.35)])
    new = [
        chain(
            "2026-11-27",
            [
                ("put", 95.0, 1.62, 1.70),  # credit 0.57
                ("put", 92.5, 1.10, 1.20),  # credit 0.05: the minimum, kept
                ("put", 90.0, 1.09, 1.15),  # credit 0.04: below min_net_credit
                ("put", 97.5, 2.90, 3.00),  # higher strike: not a put roll
                ("call", 95.0, 6.10, 6.30),  # wrong kind
            ],
        ),
        chain("2026-12-04", [("put", 95.0, 1.05, 1.10), ("put", 85.0, 0.40, 0.45)]),  # 0.00, debit
    ]
    position = ShortPosition(contract_symbol="XYZ261120P00095000", quantity=3, average_price=1.25)
    result = rolls_of(position, old, new)
    assert result.status == "ok" and result.close_ask == 1.05 and result.itm is False
    got = {r.contract_symbol: r for r in result.rolls}
    assert set(got) == {"XYZ261127P00095000", "XYZ261127P00092500"}
    best = got["XYZ261127P00095000"]
    assert best.net_credit == 0.57 and best.net_credit_total == 171.0
    assert best.days_added == 7
    assert best.annualized_return == pytest.approx(0.57 / 95.0 * 365 / 7 * 100, abs=1e-4)
    assert best.breakeven == pytest.approx(95.0 - (1.25 + 0.57))
    assert got["XYZ261127P00092500"].net_credit == 0.05
    assert result.rolls[0].contract_symbol == best.contract_symbol  # ranked by credit
    assert all(r.net_credit > 0 for r in result.rolls)


def test_a_roll_for_a_debit_never_passes_even_at_min_net_credit_zero() -> None:
    old = chain("2026-11-20", [("put", 95.0, 2.00, 2.50)])
    new = [chain("2026-11-27", [("put", 95.0, 2.40, 2.45), ("put", 90.0, 2.50, 2.55)])]
    position = ShortPosition(contract_symbol="XYZ261120P00095000", quantity=1)
    assert rolls_of(position, old, new, min_net_credit=0.0).rolls == []


def test_call_rolls_respect_the_cost_basis_and_go_up_or_stay() -> None:
    old = chain("2026-11-20", [("call", 105.0, 0.50, 0.60)], spot=100.0)
    new = [
        chain(
            "2026-11-27",
            [
                ("call", 100.0, 2.60, 2.70),  # lower strike: not a call roll
                ("call", 105.0, 1.00, 1.10),
                ("call", 110.0, 0.70, 0.80),
                ("call", 115.0, 0.65, 0.75),
            ],
        )
    ]
    held = ShortPosition(contract_symbol="XYZ261120C00105000", quantity=2, cost_basis=112.0)
    result = rolls_of(held, old, new)
    assert [r.strike for r in result.rolls] == [115.0]  # 105 and 110 are below the basis
    roll = result.rolls[0]
    assert roll.net_credit == 0.05 and roll.net_credit_total == 10.0
    assert roll.annualized_return == pytest.approx(0.05 / 100.0 * 365 / 7 * 100, abs=1e-4)
    assert roll.breakeven == pytest.approx(115.0 + 0.05)  # average price unknown: 0
    unknown_basis = held.model_copy(update={"cost_basis": None})
    assert [r.strike for r in rolls_of(unknown_basis, old, new).rolls] == [105.0, 110.0, 115.0]


def test_a_two_decimal_strike_is_written_right() -> None:
    assert occ_symbol("F", dt.date(2026, 11, 27), "put", 12.5) == "F261127P00012500"
    assert occ_symbol("F", dt.date(2026, 11, 27), "put", 12.55) == "F261127P00012550"
    assert occ_symbol("F", dt.date(2026, 11, 27), "call", 0.01) == "F261127C00000010"
    position = parse_position("F261120P00012500:2@0.31")
    assert (position.strike, position.quantity, position.average_price) == (12.5, 2, 0.31)
    old = chain("2026-11-20", [("put", 12.5, 0.20, 0.25)], spot=12.8, symbol="F")
    new = [
        chain(
            "2026-11-27",
            [("put", 12.5, 0.41, 0.44), ("put", 12.0, 0.31, 0.33)],
            spot=12.8,
            symbol="F",
        )
    ]
    result = rolls_of(position, old, new)
    assert [r.contract_symbol for r in result.rolls] == ["F261127P00012500", "F261127P00012000"]
    assert [r.net_credit for r in result.rolls] == [0.16, 0.06]


def test_missing_quote_and_missing_ask_fail_their_position_only() -> None:
    old = chain("2026-11-20", [("put", 95.0, 0.90, math.nan)])
    missing = ShortPosition(contract_symbol="XYZ261120P00090000", quantity=1)
    no_ask = ShortPosition(contract_symbol="XYZ261120P00095000", quantity=1)
    first = rolls_of(missing, old, [])
    assert first.status == "failed" and "no quote" in first.error and first.rolls == []
    second = rolls_of(no_ask, old, [])
    assert second.status == "failed" and "no ask" in second.error


def test_missing_bid_iv_or_delta_never_makes_a_roll_pass() -> None:
    old = chain("2026-11-20", [("put", 95.0, 0.90, 1.00)])
    new = chain("2026-11-27", [("put", 95.0, math.nan, 2.0), ("put", 94.0, 1.5, 1.6)])
    fields = {k: getattr(new, k) for k in type(new).model_fields}
    no_iv = OptionChain(**{**fields, "iv": np.array([0.4, math.nan])})
    position = ShortPosition(contract_symbol="XYZ261120P00095000", quantity=1)
    assert rolls_of(position, old, [no_iv]).rolls == []


def test_itm_and_early_assignment_risk_flags() -> None:
    day = dt.date(2026, 11, 27)
    rows = [("call", 90.0, 10.02, 10.20)]  # 10 intrinsic, 0.02 extrinsic
    with_dividend = chain(
        "2026-11-27", rows, ex_dividend_date=day - dt.timedelta(days=3), dividend_yield=0.02
    )
    call = ShortPosition(contract_symbol="XYZ261127C00090000", quantity=1)
    flagged = rolls_of(call, with_dividend, [])
    assert flagged.itm is True and flagged.early_assignment_risk is True  # 0.02 < 0.50
    assert rolls_of(call, chain("2026-11-27", rows), []).early_assignment_risk is None
    after_expiry = chain(
        "2026-11-27", rows, ex_dividend_date=day + dt.timedelta(days=1), dividend_yield=0.02
    )
    assert rolls_of(call, after_expiry, []).early_assignment_risk is False
    put = ShortPosition(contract_symbol="XYZ261127P00105000", quantity=1)
    itm_put = rolls_of(put, chain("2026-11-27", [("put", 105.0, 5.1, 5.3)]), [])
    assert itm_put.itm is True and itm_put.early_assignment_risk is False


# ------------------------------------------------------------------ positions input


def test_position_text_is_checked() -> None:
    assert parse_position("aapl261127p00230000").quantity == 1
    for bad in (
        "AAPL261127P00230000:0",
        "AAPL261127P00230000:x",
        "NOPE",
        "A261131P00001000",
        "AAPL261127P00230000@-1",
        "AAPL261127P00230000@nan",
    ):
        with pytest.raises(UsageError, match="--position"):
            parse_position(bad)
    call = parse_position("XYZ261127C00110000", {"XYZ": 104.5})
    assert call.cost_basis == 104.5
    assert parse_position("XYZ261127P00110000", {"XYZ": 104.5}).cost_basis is None


def _reading():
    """A stand-in for optscan.positions' PositionsReading (issue 14's contract)."""
    option = SimpleNamespace
    return SimpleNamespace(
        options=[
            option(
                contract_symbol="XYZ261127P00095000",
                symbol="XYZ",
                kind="put",
                strike=95.0,
                expiration=dt.date(2026, 11, 27),
                quantity=-2,
                average_price=1.1,
            ),
            option(
                contract_symbol="XYZ261127C00110000",
                symbol="XYZ",
                kind="call",
                strike=110.0,
                expiration=dt.date(2026, 11, 27),
                quantity=-1,
                average_price=None,
            ),
            option(
                contract_symbol="XYZ261127P00080000",
                symbol="XYZ",
                kind="put",
                strike=80.0,
                expiration=dt.date(2026, 11, 27),
                quantity=1,
                average_price=0.5,
            ),  # long
        ],
        stocks=[SimpleNamespace(symbol="XYZ", shares=100, cost_basis=104.0, contracts_coverable=0)],
        cash=25_000.0,
    )


def test_positions_reading_adapter() -> None:
    positions = short_positions(_reading())
    assert [(p.contract_symbol, p.quantity) for p in positions] == [
        ("XYZ261127P00095000", 2),
        ("XYZ261127C00110000", 1),
    ]
    assert positions[0].average_price == 1.1 and positions[0].cost_basis is None
    assert positions[1].cost_basis == 104.0


# ------------------------------------------------------------------ the command, sim


def test_rolls_on_sim_json_contract_and_a_missing_quote_fails_alone() -> None:
    ran = invoke(
        *SIM_ROLLS_JSON,
        "--position",
        "AAPL261127P00185000:2@1.10",
        "--position",
        "AAPL261127P00999000",
        "--set",
        "strategies.roll.top_per_position=0",
    )
    assert ran.returncode == 0, ran.report
    doc = json.loads(ran.stdout)
    assert set(doc) == {"as_of", "provider", "positions", "long_options_not_rolled"}
    assert doc["provider"] == "sim" and doc["long_options_not_rolled"] == []  # no file
    good, bad = doc["positions"]
    assert set(good) == POSITION_KEYS and set(bad) == POSITION_KEYS
    assert bad["status"] == "failed" and "no quote" in bad["error"]
    assert good["status"] == "ok" and good["rolls"]
    for roll in good["rolls"]:
        assert set(roll) == ROLL_KEYS
        assert roll["expiration"] > good["expiration"] and roll["strike"] <= good["strike"]
        assert roll["net_credit"] == pytest.approx(round(roll["bid"] - good["close_ask"], 2))
        assert roll["net_credit"] >= 0.05
        assert roll["net_credit_total"] == pytest.approx(roll["net_credit"] * 200)
        assert roll["delta"] >= -0.30


def test_rolls_csv_and_table_and_all_failed_exits_1() -> None:
    args = ["rolls", "--provider", "sim", "--as-of", "2026-11-18T11:00"]
    csv_out = invoke(*args, "--format", "csv", "--position", "AAPL261127P00185000")
    assert csv_out.returncode == 0, csv_out.report
    header = csv_out.stdout.splitlines()[0].split(",")
    assert header[0] == "position" and "net_credit" in header
    table = invoke(*args, "--position", "AAPL261127P00185000")
    assert "average price unknown" in table.stdout and "Roll to" in table.stdout
    failed = invoke(*args, "--position", "AAPL261127P00999000", "--format", "json")
    assert failed.returncode == 1 and "no position could be judged" in failed.stderr


def test_rolls_record_then_replay_gives_the_same_answer(tmp_path: Path) -> None:
    args = [
        *SIM_ROLLS_JSON,
        "--position",
        "AAPL261127P00185000",
    ]
    recorded = invoke(*args, "--record", str(tmp_path))
    replayed = invoke(*args, "--replay", str(tmp_path))
    assert recorded.returncode == 0 and replayed.returncode == 0, replayed.report
    assert json.loads(recorded.stdout) == json.loads(replayed.stdout)


def test_bad_usage_exits_2_without_a_traceback() -> None:
    for args in (
        ["rolls", "--provider", "sim"],
        ["rolls", "--provider", "sim", "--position", "AAPL:x"],
        [
            "rolls",
            "--provider",
            "sim",
            "--positions",
            "/nonexistent.csv",
            "--position",
            "AAPL261127P00185000",
        ],
        ["rolls", "--provider", "sim", "--position", "AAPL261127P00185000", "--strategy", "csp"],
        ["scan", "--provider", "sim", "--strategy", "roll", "--symbols", "AAPL"],
    ):
        ran = invoke(*args)
        assert ran.returncode == 2, ran.report
        assert "Traceback" not in ran.text


# ------------------------------------------------------------------ recorded chains


def _tda_chains() -> tuple[dict[dt.date, OptionChain], dt.datetime, dict]:
    path = market_dir() / "tda_chain_json" / "SPY_tda_chain_analytical_2022-05-20.json"
    data = json.loads(path.read_text())
    as_of = dt.datetime.fromtimestamp(data["underlying"]["quoteTime"] / 1000, NY)
    chains: dict[dt.date, OptionChain] = {}
    raw: dict = {}
    for side, kind in (("putExpDateMap", "put"), ("callExpDateMap", "call")):
        for key, strikes in data[side].items():
            day = dt.date.fromisoformat(key.split(":")[0])
            for contracts in strikes.values():
                for c in contracts:
                    raw.setdefault(day, []).append((kind, c))
    for day, rows in raw.items():
        chains[day] = OptionChain(
            symbol="SPY",
            provider="tda-recorded",
            underlying_price=data["underlyingPrice"],
            quote_time=as_of,
            contract_symbol=[occ_symbol("SPY", day, k, c["strikePrice"]) for k, c in rows],
            kind=[k for k, _ in rows],
            expiration=[day] * len(rows),
            strike=[c["strikePrice"] for _, c in rows],
            bid=[c["bid"] for _, c in rows],
            ask=[c["ask"] for _, c in rows],
            iv=[c["volatility"] / 100 if c["volatility"] > 0 else math.nan for _, c in rows],
            delta=[
                c["delta"] if isinstance(c["delta"], float | int) else math.nan for _, c in rows
            ],
            open_interest=[c["openInterest"] for _, c in rows],
            volume=[c["totalVolume"] for _, c in rows],
        )
    return chains, as_of, raw


def test_rolls_on_a_recorded_tda_chain_are_exactly_the_qualifying_contracts() -> None:
    chains, as_of, raw = _tda_chains()
    old_day = dt.date(2022, 5, 27)
    old = chains[old_day]
    position = ShortPosition(contract_symbol="SPY220527P00385000", quantity=1, average_price=2.0)
    old_ask = next(c["ask"] for k, c in raw[old_day] if k == "put" and c["strikePrice"] == 385)
    later = [chains[d] for d in sorted(chains) if d > old_day]
    strategy, analytics = roll_settings(max_dte=45, min_put_delta=-0.30, min_open_interest=10)
    result = position_rolls(
        position,
        old,
        later,
        strategy=strategy,
        analytics=analytics,
        as_of=as_of,
        market_open=False,
    )
    assert result.status == "ok" and result.close_ask == old_ask
    today = as_of.date()
    expected = {
        occ_symbol("SPY", day, "put", c["strikePrice"]): round(c["bid"] - old_ask, 2)
        for day, rows in raw.items()
        for kind, c in rows
        if kind == "put"
        and old_day < day <= today + dt.timedelta(days=45)
        and c["strikePrice"] <= 385
        and 0 < c["bid"] <= c["ask"]
        and c["volatility"] > 0
        and c["openInterest"] >= 10
        and c["delta"] >= -0.30
        and round(c["bid"] - old_ask, 2) >= 0.05
    }
    got = {r.contract_symbol: r.net_credit for r in result.rolls}
    assert expected and got == expected
    for roll in result.rolls:
        assert roll.breakeven == pytest.approx(roll.strike - (2.0 + roll.net_credit))


# ------------------------------------------------------------------ positions files


SCHWAB = "\n".join(
    [
        '"Positions for account Individual ...999 as of 10:42 AM ET, 2026/11/17","",""',
        '"","",""',
        '"Symbol","Description","Qty (Quantity)","Price","Mkt Val (Market Value)",'
        '"Cost Basis","Security Type"',
        '"AAPL","APPLE INC","300","$199.00","$59,700.00","$54,150.00","Equity"',
        '"AAPL 11/27/2026 185.00 P","PUT APPLE INC $185 EXP 11/27/26","-2","$3.40",'
        '"-$680.00","-$220.00","Option"',
        '"AAPL 11/27/2026 210.00 C","CALL APPLE INC $210 EXP 11/27/26","-1","$1.10",'
        '"-$110.00","-$150.00","Option"',
        '"Cash & Cash Investments","--","--","--","$50,000.00","--","Cash and Money Market"',
        '"Account Total","--","--","--","$109,000.00","--","--"',
        "",
    ]
)


@pytest.fixture
def schwab_file(tmp_path: Path) -> Path:
    """A made-up Schwab positions export: 300 AAPL, 2 short puts, 1 short call, cash."""
    path = tmp_path / "Individual-Positions-2026-11-17.csv"
    path.write_text(SCHWAB, encoding="utf-8")
    return path


def test_rolls_read_a_brokers_positions_file(schwab_file: Path) -> None:
    ran = invoke(
        *SIM_ROLLS_JSON,
        "--positions",
        str(schwab_file),
    )
    assert ran.returncode == 0, ran.report
    doc = json.loads(ran.stdout)
    by_kind = {p["kind"]: p for p in doc["positions"]}
    put, call = by_kind["put"], by_kind["call"]
    assert len(doc["positions"]) == 2
    assert (put["contract_symbol"], put["quantity"], put["average_price"]) == (
        "AAPL261127P00185000",
        2,
        1.1,
    )
    assert call["contract_symbol"] == "AAPL261127C00210000" and call["kind"] == "call"
    for roll in call["rolls"]:  # the shares' cost basis is 180.50: every strike is above
        assert roll["strike"] >= 210.0
    assert "999" not in ran.text  # no account digits


def test_scan_takes_its_cash_from_the_positions_file(schwab_file: Path) -> None:
    args = [
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL,F,INTC",
        "--as-of",
        "2026-11-18T11:00",
        "--format",
        "json",
    ]
    doc = json.loads(invoke(*args, "--positions", str(schwab_file)).stdout)
    assert doc["selection"]["cash"] == 50_000.0 - 2 * 18_500.0  # less the short puts
    assert doc["selection"]["collateral_used"] <= 13_000.0
    explicit = json.loads(invoke(*args, "--positions", str(schwab_file), "--cash", "5000").stdout)
    assert explicit["selection"]["cash"] == 5000.0  # --cash wins
    none = json.loads(invoke(*args).stdout)
    assert none["selection"] is None


def test_rolls_honour_the_providers_error_signals() -> None:
    args = [
        *SIM_ROLLS_JSON,
        "--position",
        "AAPL261127P00185000",
        "--position",
        "AMD261127P00032000",
    ]
    limited = invoke(
        *args,
        "--set",
        'providers.sim.rate_limited=["AMD"]',
        "--set",
        "providers.sim.retry_initial_s=0",
    )
    doc = json.loads(limited.stdout)  # a 429 is waited out and retried, as in scans
    assert [p["status"] for p in doc["positions"]] == ["ok", "ok"], limited.report
    refused = invoke(*args, "--set", 'providers.sim.auth_refused=["AMD"]')
    doc = json.loads(refused.stdout)  # a refused credential stops the provider's requests
    amd = next(p for p in doc["positions"] if p["symbol"] == "AMD")
    assert amd["status"] == "failed" and "token refused" in amd["error"]


def test_a_position_in_a_brokers_notation_keeps_its_given_terms() -> None:
    position = ShortPosition(
        contract_symbol="-XYZ261127P95",
        symbol="XYZ",
        kind="put",
        strike=95.0,
        expiration=dt.date(2026, 11, 27),
        quantity=1,
    )
    assert position.strike == 95.0 and position.contract_symbol == "-XYZ261127P95"
    with pytest.raises(ValueError, match="OCC"):
        ShortPosition(contract_symbol="-XYZ261127P95", quantity=1)
    old = chain("2026-11-27", [("put", 95.0, 0.90, 1.05)])
    new = [chain("2026-12-04", [("put", 95.0, 1.62, 1.70)])]
    result = rolls_of(position, old, new)
    assert result.close_ask == 1.05 and [r.net_credit for r in result.rolls] == [0.57]


def test_a_later_expiration_that_fails_is_said_and_the_others_still_roll() -> None:
    # sim seed 1 (AAPL at 304.53): with half the requests failing and no retry, the
    # listing and 2026-11-27 answer, 2026-12-24 and 2027-01-08 fail (seeded draws)
    ran = invoke(
        *SIM_ROLLS_JSON,
        "--position", "AAPL261127P00290000", "--set", "providers.sim.seed=1",
        "--set", "providers.sim.error_rate=0.5", "--set", "providers.sim.retry_attempts=1",
        "--set", "strategies.roll.top_per_position=0", "--set", "strategies.roll.min_dte=0",
    )  # fmt: skip
    assert ran.returncode == 0, ran.report
    [position] = json.loads(ran.stdout)["positions"]
    assert position["status"] == "ok" and position["rolls"]
    assert position["error"].startswith("2026-12-24: ") and "; 2027-01-08: " in position["error"]
    assert {r["expiration"] for r in position["rolls"]}.isdisjoint({"2026-12-24", "2027-01-08"})


def _rolls_json(*args: str) -> dict:
    ran = invoke("rolls", "--provider", "sim", "--format", "json", *args)
    assert ran.returncode in (0, 1), ran.stderr
    return json.loads(ran.stdout)


def test_a_class_shares_contract_rolls_on_the_class_share():
    """BRKB... was rolled against a made-up ticker BRKB (spot 316.71, the put 'in the
    money') while the scan of BRK-B prices it out of the money."""
    as_of = ("--as-of", "2026-11-18T11:00")
    for text in ("BRK-B261127P00410000", "BRK.B261127P00410000", "brk/b261127p00410000"):
        (position,) = _rolls_json(*as_of, "--position", text)["positions"]
        assert position["contract_symbol"] == "BRKB261127P00410000"
        assert position["symbol"] == "BRK-B" and position["itm"] is False
    held = "holdings.lots=[{symbol='BRK.B', shares=100, cost_basis=400}]"
    (position,) = _rolls_json(*as_of, "--set", held, "--position", "BRKB261127P00410000")[
        "positions"
    ]
    assert position["symbol"] == "BRK-B"  # the root of a stock held
    (position,) = _rolls_json(*as_of, "--position", "ABCB261127P00040000")["positions"]
    assert position["symbol"] == "ABCB"  # a ticker of its own, not a class share
    assert parse_position("BRK-B261127P00410000").symbol == "BRK-B"


@pytest.mark.parametrize(
    ("as_of", "contract", "trading"),
    [
        ("2026-12-24T13:05:00", "INTC261224P00192500", "INTC270108P00150000"),  # 13:00 close
        ("2026-11-20T16:30:00", "AAPL261120P00190000", "AAPL261204P00150000"),
        ("2026-11-28T10:00:00", "AAPL261127P00185000", "AAPL261211P00150000"),  # a day later
    ],
)
def test_an_expired_position_fails_alone_from_its_close(as_of, contract, trading):
    doc = _rolls_json("--as-of", as_of, "--position", contract, "--position", trading)
    expired, live = doc["positions"]
    assert expired["status"] == "failed" and expired["rolls"] == []
    assert expired["error"].startswith(f"expired: {contract} stopped trading at the close of")
    assert live["status"] == "ok"
    before = _rolls_json("--as-of", "2026-12-24T12:30:00", "--position", "INTC261224P00192500")
    assert before["positions"][0]["status"] == "ok"


def test_the_table_names_expirations_that_did_not_load_and_fits_80_columns(tmp_path):
    """A later expiration whose answer failed was in the JSON's error only; the table
    said nothing (or "no roll passes"), and its lines were 118 columns wide."""
    args = ["rolls", "--provider", "sim", "--as-of", "2026-11-18T11:00"]
    args += ["--position", "AAPL261127P00185000@1.10"]
    assert invoke(*args, "--record", str(tmp_path), "--format", "json").returncode == 0
    (lost,) = (tmp_path / "sim" / "AAPL").glob("2026-12-24*.json")
    lost.unlink()
    table = invoke(*args, "--replay", str(tmp_path), env={"COLUMNS": "80"})
    assert table.returncode == 0, table.report
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, table.stdout
    partial = [line for line in lines if line.startswith("  partial: ")]
    assert len(partial) == 1 and "2026-12-24" in partial[0]
    assert "left out for width: expiration (in the contract), breakeven" in table.stdout
    wide = invoke(*args, "--replay", str(tmp_path), env={"COLUMNS": "120"})
    assert "B/even" in wide.stdout and "left out for width" not in wide.stdout


def test_the_selection_says_why_it_has_no_cash_or_no_puts(tmp_path: Path) -> None:
    """Short puts securing more than the file's cash gave 'Selection for 0.00 cash' with
    no word; a covered-call scan with --cash said 'no put opportunity fits the cash'."""
    poor = tmp_path / "Positions.csv"
    poor.write_text(SCHWAB.replace("$50,000.00", "$10,000.00"), encoding="utf-8")
    args = ["scan", "--provider", "sim", "--symbols", "AAPL,F", "--as-of", "2026-11-18T11:00"]
    doc = json.loads(invoke(*args, "--format", "json", "--positions", str(poor)).stdout)
    assert doc["selection"]["cash"] == 0.0 and doc["selection"]["contracts"] == []
    (warning,) = [w for w in doc["warnings"] if w.startswith("selection:")]
    assert "cash (10,000.00) is less than the collateral of its short puts (37,000.00)" in warning
    cc = [
        "--strategy",
        "cc",
        "--set",
        "holdings.lots=[{symbol='AAPL', shares=300, cost_basis=150}]",
    ]
    doc = json.loads(invoke(*args, *cc, "--cash", "50000", "--format", "json").stdout)
    assert any("this cc scan has none" in w for w in doc["warnings"])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("AAPL261127P00185000:\u0663", "not a whole number"),  # an Arabic-Indic 3
        ("AAPL261127P00185000@\uff11.5", "not a number"),  # a full-width 1
        ("AAPL261127P00185000@1e6", "more than the strike"),  # per share, not per contract
    ],
)
def test_a_position_text_that_is_no_position_is_refused(text, words) -> None:
    with pytest.raises(UsageError, match=words):
        parse_position(text)


def test_cash_is_read_as_people_write_dollars() -> None:
    args = ["scan", "--provider", "sim", "--symbols", "AAPL", "--format", "json", "--cash"]
    for text, amount in (("1,000", 1000.0), ("$5,000.50", 5000.5), ("50000", 50000.0)):
        ran = invoke(*args, text)
        assert json.loads(ran.stdout)["selection"]["cash"] == amount, ran.report
    for text in ("5%", "nan", "-1", "(100)", "abc", "1e11"):
        ran = invoke(*args, text)
        assert ran.returncode == 2 and "must be an amount of dollars" in ran.stderr, text


def test_long_options_in_the_file_are_named_not_rolled(tmp_path: Path) -> None:
    path = tmp_path / "Positions.csv"
    long_call = (
        '"AAPL 12/18/2026 250.00 C","CALL APPLE INC $250 EXP 12/18/26","1","$1.00",'
        '"$100.00","$90.00","Option"'
    )
    text = SCHWAB.replace('"Cash & Cash Investments"', long_call + '\n"Cash & Cash Investments"')
    path.write_text(text, encoding="utf-8")
    args = list(SIM_ROLLS_JSON)
    ran = invoke(*args, "--positions", str(path))
    assert ran.returncode == 0, ran.report
    note = "1 long option(s) not rolled (rolls are for short ones): AAPL261218C00250000"
    assert f"optscan: {note}" in ran.stderr.splitlines()
    doc = json.loads(ran.stdout)
    assert len(doc["positions"]) == 2  # the short put and call
    assert doc["long_options_not_rolled"] == ["AAPL261218C00250000"]  # the page shows it too
    assert not_rolled_note(doc["long_options_not_rolled"]) == note
    shorts_only = tmp_path / "Shorts.csv"
    shorts_only.write_text(SCHWAB, encoding="utf-8")
    plain = invoke(*args, "--positions", str(shorts_only))
    assert json.loads(plain.stdout)["long_options_not_rolled"] == []
    assert "not rolled" not in plain.stderr
    assert not_rolled_note([]) == ""
