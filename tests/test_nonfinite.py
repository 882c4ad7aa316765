"""Non-finite and absurd numbers never get through, and every output is a valid document.

A recorded put with ``bid=1e307`` once made ``annualized_return`` infinite: the JSON on
stdout stopped mid-document (``ValueError: Out of range float``) and CSV printed
``inf``. Now every number a provider or a file hands in is checked: values no quote can
have fail their contract as ``malformed_payload``, a bid or ask above what the option
can be worth as ``implausible_quote``, chain-wide values that are not finite fail the
expiration as ``malformed_payload``, and the JSON, CSV and table writers never write
``NaN`` or ``Infinity``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from optscan.analytics.screen import screen_chain
from optscan.chain import MAX_PRICE, OptionChain
from optscan.config import load_settings
from optscan.errors import MalformedPayloadError
from optscan.models import Opportunity

from .helpers import OPEN_INSTANT
from .invoke import invoke

AS_OF = OPEN_INSTANT
SETTINGS = load_settings(use_env=False)
LOOSE = {"min_open_interest": 0, "max_spread_pct": 0, "min_annualized_return": 0}


def _chain(rows: list[dict], spot: float = 100.0, **scalars) -> OptionChain:
    """A chain of puts and calls expiring 2026-11-27 (nine days after AS_OF)."""
    columns: dict[str, list] = {k: [] for k in ("contract_symbol", "kind", "strike", "bid")}
    columns |= {"ask": [], "iv": [], "expiration": [], "open_interest": [], "delta": []}
    columns |= {"last_trade_time": []}
    for row in rows:
        kind, strike = row.get("kind", "put"), row.get("strike", 95.0)
        letter = "C" if kind == "call" else "P"
        label = int(strike * 1000) if math.isfinite(strike) and 0 < strike < 1e7 else 0
        columns["contract_symbol"].append(f"XYZ261127{letter}{label:08d}")
        columns["kind"].append(kind)
        columns["strike"].append(strike)
        columns["bid"].append(row.get("bid", 1.0))
        columns["ask"].append(row.get("ask", 1.05))
        columns["iv"].append(row.get("iv", 0.5))
        columns["expiration"].append("2026-11-27")
        columns["open_interest"].append(row.get("open_interest", 100.0))
        columns["delta"].append(row.get("delta", math.nan))
        columns["last_trade_time"].append(row.get("last_trade_time", math.nan))
    return OptionChain(
        symbol="XYZ",
        provider="test",
        underlying_price=spot,
        quote_time=AS_OF,
        **columns,
        **scalars,
    )


def _screen(chain: OptionChain, strategy: str = "csp", **rules):
    base = SETTINGS.strategies[strategy]
    return screen_chain(
        chain,
        strategy=base.model_copy(update={**LOOSE, **rules}),
        analytics=SETTINGS.analytics,
        as_of=AS_OF,
    )


# --------------------------------------------------------------------------- the gate


@pytest.mark.parametrize(
    "bad",
    [
        {"bid": 1e307},
        {"bid": math.inf},
        {"bid": -1.0},
        {"ask": math.inf},
        {"ask": -0.5},
        {"strike": math.nan},
        {"strike": math.inf},
        {"strike": 0.0},
        {"strike": 2 * MAX_PRICE},
        {"iv": math.inf},
        {"iv": -math.inf},
        {"delta": 2.0},
        {"delta": -math.inf},
        {"open_interest": math.inf},
        {"last_trade_time": math.inf},
    ],
)
def test_a_value_no_quote_can_have_fails_its_contract_as_malformed_payload(bad):
    chain = _chain([{"strike": 95.0}, {"strike": 96.0, **bad}, {"strike": 97.0}])
    assert chain.malformed is not None and chain.malformed.tolist() == [False, True, False]
    screened = _screen(chain, min_delta=-1.0)
    assert screened.rejected == {"malformed_payload": 1}
    assert len(screened.opportunities) == 2  # its neighbours pass
    assert all(o.strike != 96.0 for o in screened.opportunities)


@pytest.mark.parametrize(
    ("row", "strategy"),
    [
        ({"kind": "put", "strike": 95.0, "bid": 96.0, "ask": 97.0}, "csp"),  # bid > strike
        ({"kind": "put", "strike": 95.0, "bid": 1.0, "ask": 120.0}, "csp"),  # ask > strike
        ({"kind": "call", "strike": 105.0, "bid": 101.0, "ask": 102.0}, "cc"),  # bid > stock
        ({"kind": "call", "strike": 105.0, "bid": 1.0, "ask": 250.0}, "cc"),  # ask > stock
        ({"kind": "put", "strike": 95.0, "bid": 1e8, "ask": math.nan}, "csp"),  # no ask
    ],
)
def test_a_bid_or_ask_above_what_the_option_is_worth_is_implausible(row, strategy):
    chain = _chain([row], spot=100.0)
    assert chain.malformed is None  # finite and within bounds: only implausible
    screened = _screen(chain, strategy, max_delta=1.0, max_delta_by_dte=[])
    assert screened.rejected == {"implausible_quote": 1}
    assert screened.opportunities == []


def test_a_quote_at_the_edge_is_plausible():
    """A deep in-the-money put bid at its strike is odd but possible; it is not refused
    as implausible (the screen's other rules still apply)."""
    screened = _screen(_chain([{"strike": 95.0, "bid": 95.0, "ask": 95.0}]), min_delta=-1.0)
    assert "implausible_quote" not in screened.rejected


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        ("underlying_price", math.inf),
        ("underlying_price", math.nan),
        ("underlying_price", 1e300),
        ("underlying_price", 1e-300),
        ("data_delay_s", math.inf),
        ("dividend_yield", math.nan),
        ("dividend_yield", 5.0),
    ],
)
def test_a_chain_wide_value_that_is_no_number_fails_the_expiration(scalar, value):
    """Through the core's client: the chain fails as ``malformed_payload`` (the data's
    fault), not ``plugin_error``."""
    from optscan.default_plugins.providers.sim import SimConfig, SimProvider
    from optscan.scan.fetch import ProviderClient

    class Broken(SimProvider):
        def transform_chain(self, raw, symbol, expiration):
            chain = super().transform_chain(raw, symbol, expiration)
            fields = {k: getattr(chain, k) for k in type(chain).model_fields}
            return OptionChain(**{**fields, scalar: value})

    provider = Broken(SimConfig())
    provider.as_of = AS_OF
    client = ProviderClient(provider, provider.config, plugin="test")
    listing, dates = client.expirations("AAPL")
    with pytest.raises(MalformedPayloadError, match=scalar):
        client.chain("AAPL", dates[0], listing)


# --------------------------------------------------------------------------- the repro


def _recorded(tmp_path: Path) -> tuple[Path, dict, int]:
    """A sim recording of AAPL; returns the folder, one chain's payload and the index
    of a put in it that passes the default screen."""
    folder = tmp_path / "rec"
    proc = invoke(
        "scan", "--provider", "sim", "--symbols", "AAPL", "--as-of", AS_OF.isoformat(),
        "--record", str(folder), "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.report
    best = json.loads(proc.stdout)["opportunities"][0]
    path = folder / "sim" / "AAPL" / f"{best['expiration']}.json"
    payload = json.loads(path.read_text())
    return path, payload, payload["contract_symbol"].index(best["contract_symbol"])


@pytest.mark.parametrize(
    ("bid", "reason"), [(1e307, "malformed_payload"), (None, "implausible_quote")]
)
def test_a_recorded_absurd_bid_gives_valid_output_in_every_format(tmp_path: Path, bid, reason):
    """The reported repro: a recorded put with ``bid=1e307`` (and one bid a little
    above its strike), replayed in every format."""
    path, payload, i = _recorded(tmp_path)
    strike = payload["strike"][i]
    payload["bid"][i] = bid if bid is not None else strike * 1.5
    payload["ask"][i] = payload["bid"][i] * 1.01
    path.write_text(json.dumps(payload))
    args = ["scan", "--provider", "sim", "--replay", str(path.parents[2])]
    doc = invoke(*args, "--format", "json")
    assert doc.returncode == 0, doc.report
    result = json.loads(doc.stdout, parse_constant=pytest.fail)  # no NaN, no Infinity
    outcome = result["symbols"][0]
    assert outcome["rejected"][reason] == 1
    assert outcome["contracts_seen"] == outcome["opportunities"] + sum(outcome["rejected"].values())
    assert all(
        o["strike"] != strike or o["expiration"] != path.stem for o in result["opportunities"]
    )
    for fmt in ("csv", "table"):
        shown = invoke(*args, "--format", fmt, env={"COLUMNS": "250"})
        assert shown.returncode == 0, shown.report
        assert not {"inf", "nan", "Infinity", "NaN"} & set(shown.stdout.replace(",", " ").split())
        assert "Traceback" not in shown.text and "RuntimeWarning" not in shown.text


# --------------------------------------------------------------------------- any chain

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 1e307, -1.0, 0.01, 1.0, 95.0, 100.0, 1e9, 1e10]),
)


@st.composite
def rows(draw: st.DrawFn) -> dict:
    return {
        "kind": draw(st.sampled_from(["put", "call"])),
        "strike": draw(st.one_of(st.floats(80, 120), NUMBERS)),
        "bid": draw(st.one_of(st.floats(0, 5), NUMBERS)),
        "ask": draw(st.one_of(st.floats(0, 6), NUMBERS)),
        "iv": draw(st.one_of(st.floats(0.05, 2), NUMBERS)),
        "delta": draw(st.one_of(st.just(math.nan), NUMBERS)),
        "open_interest": draw(st.one_of(st.just(100.0), NUMBERS)),
        "last_trade_time": draw(st.one_of(st.just(math.nan), NUMBERS)),
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chain_rows=st.lists(rows(), min_size=1, max_size=12),
    spot=st.one_of(st.floats(1, 500), NUMBERS),
    strategy=st.sampled_from(["csp", "cc"]),
)
def test_any_numbers_in_a_chain_give_finite_opportunities(chain_rows, spot, strategy):
    """Whatever numbers a chain holds: it is refused whole (a chain-wide value that is
    no price), or screened without a warning into opportunities whose every number is
    finite, every contract counted once."""
    try:
        chain = _chain(chain_rows, spot=spot)
    except ValidationError:
        assert not (1e-6 <= spot <= MAX_PRICE)  # only the spot can fail the chain
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's overflow and invalid-value warnings too
        screened = _screen(chain, strategy, min_delta=-1.0, max_delta=1.0, max_delta_by_dte=[])
    assert screened.contracts_seen == len(screened.opportunities) + sum(screened.rejected.values())
    for opportunity in screened.opportunities:
        numbers = [v for v in opportunity.model_dump().values() if isinstance(v, float)]
        assert all(math.isfinite(v) for v in numbers), opportunity
        assert opportunity.bid <= (
            opportunity.underlying_price if strategy == "cc" else opportunity.strike
        )
        json.dumps(opportunity.model_dump(mode="json"), allow_nan=False)


# --------------------------------------------------------------------------- the writers


def _result_with(opportunity: Opportunity):
    """A real scan's result holding ``opportunity`` (unvalidated) as its only one."""
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost
    from optscan.scan import perform_scan

    result = perform_scan(
        ScanRequest(symbols=["AAPL"], provider="sim", as_of=AS_OF),
        PluginHost(load_entrypoints=False),
        settings=load_settings(overrides={"scan.max_dte": 7}, use_env=False),
    )
    return result.model_copy(update={"opportunities": [opportunity]})


def _opportunity(**numbers) -> Opportunity:
    screened = _screen(_chain([{"strike": 95.0}]), min_delta=-1.0)
    (good,) = screened.opportunities
    return Opportunity.model_construct(**{**good.model_dump(), **numbers})


def test_the_writers_never_write_nan_or_infinity():
    """Even an opportunity no validation saw (``model_construct``) with non-finite
    numbers: JSON gets ``null``, CSV an empty cell, the table ``-``."""
    from optscan.output.csvdoc import result_csv
    from optscan.output.jsondoc import result_json
    from optscan.output.table import print_table

    result = _result_with(
        _opportunity(annualized_return=math.inf, premium=math.inf, iv=math.nan, delta=-math.inf)
    )
    for indent in (2, None):
        doc = json.loads(result_json(result, indent=indent), parse_constant=pytest.fail)
        (row,) = doc["opportunities"]
        assert row["annualized_return"] is None and row["iv"] is None and row["delta"] is None
    text = result_csv(result)
    assert not {"inf", "-inf", "nan"} & set(text.replace(",", " ").split())
    import io

    table = io.StringIO()
    print_table(result, file=table)
    assert "inf" not in table.getvalue() and "nan" not in table.getvalue()


def test_documents_printed_by_other_commands_are_valid_json():
    from optscan.cli.output import print_doc, records_csv

    doc = {"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}}
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_doc(doc, "json", [])
    assert json.loads(out.getvalue(), parse_constant=pytest.fail) == {
        "a": None,
        "b": [None, 1.5],
        "c": {"d": None},
    }
    assert "nan" not in records_csv([{"a": math.nan, "b": math.inf}])


def test_an_opportunity_holds_only_finite_numbers():
    good = _opportunity().model_dump()
    assert Opportunity(**{**good, "prob_otm": math.nan}).prob_otm is None  # missing
    for key in ("annualized_return", "bid", "strike", "delta", "collateral"):
        with pytest.raises(ValidationError, match=key):
            Opportunity(**{**good, key: math.inf})


def test_a_chain_the_config_cannot_screen_is_refused_by_the_config():
    """The config's own numbers are finite: ``min_annualized_return = nan`` once
    silently gave no opportunities."""
    from optscan.errors import ConfigError

    with pytest.raises(ConfigError, match="min_annualized_return"):
        load_settings(overrides={"strategies.csp.min_annualized_return": math.nan}, use_env=False)
    assert dt.date.today()  # (the CLI path is tests/test_bad_input.py)
    assert np.isfinite(SETTINGS.strategies["csp"].min_annualized_return)
