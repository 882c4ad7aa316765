"""Tests for :mod:`optscan.analytics.greeks`: the normal CDF, textbook values, shapes, invalid
input, Hypothesis properties, and agreement with the greeks vendors published on real
recorded chains (``../shared/data/market``, skipped when absent)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optscan.analytics.greeks import (
    bs_delta,
    bs_gamma,
    bs_price,
    bs_theta,
    bs_vega,
    prob_otm,
)
from optscan.analytics.normal import _SCALAR_CUTOFF
from optscan.analytics.normal import norm_cdf as _norm_cdf
from optscan.analytics.occ import occ_root, standard_root_mask
from tests.market_data import (
    MARKET_DIR,
    RecordedChain,
    load_oracle,
    load_recorded,
    load_tda_chain,
    market_dir,
)

# Every public function as (name, f(spot, strike, years, iv, is_call, rate, q)), so the
# shape and invalid-input tests cover them all the same way.
ALL: list[tuple[str, Callable[..., np.ndarray]]] = [
    ("delta", bs_delta),
    ("gamma", lambda s, k, t, v, c, r=0.0, q=0.0: bs_gamma(s, k, t, v, rate=r, dividend_yield=q)),
    ("vega", lambda s, k, t, v, c, r=0.0, q=0.0: bs_vega(s, k, t, v, rate=r, dividend_yield=q)),
    ("theta", bs_theta),
    ("price", bs_price),
    ("prob_otm", prob_otm),
]
ALL_IDS = [name for name, _ in ALL]
ALL_FUNCS = [f for _, f in ALL]


# --------------------------------------------------------------------------- normal CDF


def _reference_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def test_norm_cdf_matches_math_erfc_on_many_points() -> None:
    x = np.concatenate(
        [
            np.linspace(-38.0, 38.0, 76_001),  # crosses Cody's range edges at |x| = 0.66, 5.66
            np.geomspace(1e-300, 38.0, 2_000),
            -np.geomspace(1e-300, 38.0, 2_000),
            [0.0, -0.0, 0.46875 * math.sqrt(2), 4 * math.sqrt(2)],
        ]
    )
    got = _norm_cdf(x)
    want = np.array([_reference_cdf(v) for v in x])
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-16)
    # Relative accuracy in the tails too (Φ down to 1e-300, above the subnormals), far
    # beyond the 1e-7 the scan needs.
    normal = want > 1e-300
    np.testing.assert_allclose(got[normal], want[normal], rtol=1e-12, atol=0)


def test_small_and_large_arrays_agree() -> None:
    """Small arrays go through ``math.erfc``, large ones through the vectorized port;
    a contract's delta must not depend on how big its chain was."""
    x = np.linspace(-38.0, 38.0, 4 * _SCALAR_CUTOFF + 3)
    whole = _norm_cdf(x)  # vectorized
    pieces = np.concatenate([_norm_cdf(part) for part in np.array_split(x, 16)])  # scalar
    assert len(x) // 16 <= _SCALAR_CUTOFF < len(x)
    np.testing.assert_allclose(whole, pieces, rtol=1e-12, atol=2e-16)


def test_norm_cdf_edges_symmetry_and_monotonicity() -> None:
    out = _norm_cdf(np.array([-np.inf, np.inf, np.nan, 0.0, -50.0, 50.0]))
    assert out[0] == 0.0 and out[1] == 1.0 and np.isnan(out[2])
    assert out[3] == 0.5 and out[4] == 0.0 and out[5] == 1.0
    x = np.linspace(-12.0, 12.0, 2_000_001)
    cdf = _norm_cdf(x)
    assert np.all(np.diff(cdf) >= 0.0)
    np.testing.assert_allclose(cdf + _norm_cdf(-x), 1.0, rtol=0, atol=2.3e-16)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-37.0, max_value=37.0))
def test_norm_cdf_property(x: float) -> None:
    want = _reference_cdf(x)
    assert math.isclose(float(_norm_cdf(x)), want, rel_tol=1e-12, abs_tol=2e-16)


# ------------------------------------------------------------------------ known values


def test_textbook_values() -> None:
    """Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, σ=20%, T=0.5
    gives c=4.76, p=0.81; S=K=100, r=5%, σ=20%, T=1 is the usual ATM check."""
    assert float(bs_price(42, 40, 0.5, 0.2, True, 0.1)) == pytest.approx(4.7594, abs=1e-4)
    assert float(bs_price(42, 40, 0.5, 0.2, False, 0.1)) == pytest.approx(0.8086, abs=1e-4)
    assert float(bs_delta(100, 100, 1, 0.2, True, 0.05)) == pytest.approx(0.636831, abs=1e-6)
    assert float(bs_delta(100, 100, 1, 0.2, False, 0.05)) == pytest.approx(-0.363169, abs=1e-6)
    assert float(bs_gamma(100, 100, 1, 0.2, rate=0.05)) == pytest.approx(0.018762, abs=1e-6)
    assert float(bs_vega(100, 100, 1, 0.2, rate=0.05)) == pytest.approx(37.5240, abs=1e-4)
    # theta per calendar day: -6.4140 and -1.6579 a year.
    assert float(bs_theta(100, 100, 1, 0.2, True, 0.05)) == pytest.approx(-6.4140 / 365, abs=1e-6)
    assert float(bs_theta(100, 100, 1, 0.2, False, 0.05)) == pytest.approx(-1.6579 / 365, abs=1e-6)
    # With a dividend yield: the closed form evaluated with math.erfc.
    call = float(bs_delta(100, 90, 0.5, 0.3, True, 0.03, 0.04))
    assert call == pytest.approx(
        math.exp(-0.04 * 0.5)
        * _reference_cdf(
            (math.log(100 / 90) + (0.03 - 0.04 + 0.045) * 0.5) / (0.3 * math.sqrt(0.5))
        ),
        abs=1e-15,
    )


@pytest.mark.parametrize(
    ("spot", "strike", "years", "iv", "rate", "q"),
    [
        (100, 100, 1.0, 0.2, 0.05, 0.0),
        (50, 55, 0.1, 0.45, 0.02, 0.03),
        (400, 380, 30 / 365, 0.18, 0.04, 0.013),
        (12, 10, 2.0, 0.9, 0.0, 0.0),
    ],
)
@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_are_derivatives_of_the_price(
    spot: float, strike: float, years: float, iv: float, rate: float, q: float, is_call: bool
) -> None:
    """Finite differences of bs_price pin the units: vega per 1.00 of vol, theta per day."""

    def price(s: float = spot, t: float = years, v: float = iv) -> float:
        return float(bs_price(s, strike, t, v, is_call, rate, q))

    hs, ht, hv = spot * 1e-5, 1e-5, 1e-5
    delta = (price(s=spot + hs) - price(s=spot - hs)) / (2 * hs)
    gamma = (price(s=spot + hs) - 2 * price() + price(s=spot - hs)) / hs**2
    vega = (price(v=iv + hv) - price(v=iv - hv)) / (2 * hv)
    theta_day = -(price(t=years + ht) - price(t=years - ht)) / (2 * ht) / 365
    assert float(bs_delta(spot, strike, years, iv, is_call, rate, q)) == pytest.approx(
        delta, rel=1e-6, abs=1e-9
    )
    kw = {"rate": rate, "dividend_yield": q}
    assert float(bs_gamma(spot, strike, years, iv, **kw)) == pytest.approx(gamma, rel=1e-4)
    assert float(bs_vega(spot, strike, years, iv, **kw)) == pytest.approx(vega, rel=1e-6)
    assert float(bs_theta(spot, strike, years, iv, is_call, rate, q)) == pytest.approx(
        theta_day, rel=1e-5, abs=1e-9
    )


# ------------------------------------------------------------------- shapes and dtypes


@pytest.mark.parametrize("f", ALL_FUNCS, ids=ALL_IDS)
def test_scalar_input_gives_0d_float64_array(f: Callable[..., np.ndarray]) -> None:
    out = f(100.0, 95.0, 0.1, 0.3, True, 0.01, 0.0)
    assert isinstance(out, np.ndarray)
    assert out.shape == () and out.dtype == np.float64
    assert math.isfinite(float(out))


@pytest.mark.parametrize(("name", "f"), ALL, ids=ALL_IDS)
def test_broadcasting(name: str, f: Callable[..., np.ndarray]) -> None:
    strikes = np.array([[90.0], [100.0], [110.0]])
    years = np.array([0.05, 0.1, 0.5, 1.0])
    out = f(100.0, strikes, years, 0.25, True, 0.02, 0.01)
    assert out.shape == (3, 4) and out.dtype == np.float64
    assert out[1, 2] == f(100.0, 100.0, 0.5, 0.25, True, 0.02, 0.01)
    # is_call alone may carry the shape (gamma and vega take no is_call), and lists
    # are accepted.
    sides = f(100.0, 100.0, 0.5, 0.25, [True, False], 0.02, 0.01)
    assert sides.shape == (() if name in ("gamma", "vega") else (2,))
    assert f([100, 100], [90, 110], 0.5, 0.25, np.array([True, False])).shape == (2,)


@pytest.mark.parametrize("f", ALL_FUNCS, ids=ALL_IDS)
def test_inputs_are_not_modified(f: Callable[..., np.ndarray]) -> None:
    arrays = [
        np.array([100.0, 50.0]),
        np.array([90.0, 55.0]),
        np.array([0.2, 0.5]),
        np.array([0.3, 0.6]),
        np.array([True, False]),
        np.array([0.01, 0.02]),
        np.array([0.0, 0.01]),
    ]
    before = [a.copy() for a in arrays]
    f(*arrays)
    for a, b in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_empty_arrays() -> None:
    assert bs_delta(np.array([]), 100.0, 0.1, 0.2, True).shape == (0,)


# ----------------------------------------------------------------------- invalid input

INVALID = [
    ("iv zero", {"iv": 0.0}),
    ("iv negative", {"iv": -0.2}),
    ("iv NaN", {"iv": np.nan}),
    ("iv inf", {"iv": np.inf}),
    ("years zero", {"years": 0.0}),
    ("years negative", {"years": -0.01}),
    ("years NaN", {"years": np.nan}),
    ("years inf", {"years": np.inf}),
    ("spot zero", {"spot": 0.0}),
    ("spot negative", {"spot": -5.0}),
    ("spot NaN", {"spot": np.nan}),
    ("spot inf", {"spot": np.inf}),
    ("strike zero", {"strike": 0.0}),
    ("strike negative", {"strike": -100.0}),
    ("strike NaN", {"strike": np.nan}),
    ("strike inf", {"strike": np.inf}),
    ("both negative", {"spot": -100.0, "strike": -90.0}),
    ("rate NaN", {"rate": np.nan}),
    ("rate inf", {"rate": np.inf}),
    ("dividend NaN", {"q": np.nan}),
    ("dividend -inf", {"q": -np.inf}),
]
VALID = {"spot": 100.0, "strike": 95.0, "years": 0.1, "iv": 0.3, "rate": 0.02, "q": 0.01}


def _call(f: Callable[..., np.ndarray], args: dict[str, Any], is_call: bool) -> np.ndarray:
    """``f`` on keyword-named inputs, in the shared positional order."""
    names = ("spot", "strike", "years", "iv")
    return f(*(args[n] for n in names), is_call, args["rate"], args["q"])


@pytest.mark.filterwarnings("error")  # invalid input must not even warn
@pytest.mark.parametrize("f", ALL_FUNCS, ids=ALL_IDS)
@pytest.mark.parametrize(("case", "bad"), INVALID, ids=[c for c, _ in INVALID])
def test_invalid_input_gives_nan_only_there(
    f: Callable[..., np.ndarray], case: str, bad: dict[str, float]
) -> None:
    args = {name: np.array([value, value]) for name, value in VALID.items()}
    for name, value in bad.items():
        args[name][1] = value
    for is_call in (True, False):
        out = _call(f, args, is_call)
        assert math.isfinite(out[0]), case
        assert math.isnan(out[1]), case
        scalar = {name: float(a[1]) for name, a in args.items()}
        assert math.isnan(float(_call(f, scalar, is_call))), case


# ------------------------------------------------------------------ Hypothesis properties

spots = st.floats(1.0, 5000.0)
strikes = st.floats(1.0, 5000.0)
years_st = st.floats(1 / 365, 3.0)
ivs = st.floats(0.01, 3.0)
rates = st.floats(0.0, 0.1)
dividends = st.floats(0.0, 0.05)


@given(spots, strikes, years_st, ivs, rates, dividends)
def test_delta_put_call_parity(s: float, k: float, t: float, v: float, r: float, q: float) -> None:
    call = float(bs_delta(s, k, t, v, True, r, q))
    put = float(bs_delta(s, k, t, v, False, r, q))
    assert abs((call - put) - math.exp(-q * t)) <= 1e-9


@given(
    st.lists(spots, min_size=2, max_size=2), strikes, years_st, ivs, rates, dividends, st.booleans()
)
def test_delta_increases_with_spot(
    pair: list[float], k: float, t: float, v: float, r: float, q: float, is_call: bool
) -> None:
    low, high = sorted(pair)
    assert (
        float(bs_delta(low, k, t, v, is_call, r, q))
        <= float(bs_delta(high, k, t, v, is_call, r, q)) + 1e-12
    )


@given(
    spots, st.lists(strikes, min_size=2, max_size=2), years_st, ivs, rates, dividends, st.booleans()
)
def test_delta_decreases_with_strike(
    s: float, pair: list[float], t: float, v: float, r: float, q: float, is_call: bool
) -> None:
    low, high = sorted(pair)
    assert (
        float(bs_delta(s, low, t, v, is_call, r, q))
        >= float(bs_delta(s, high, t, v, is_call, r, q)) - 1e-12
    )


@given(spots, strikes, years_st, ivs, rates, dividends, st.booleans())
def test_finite_and_in_range_for_valid_input(
    s: float, k: float, t: float, v: float, r: float, q: float, is_call: bool
) -> None:
    carry = math.exp(-q * t)
    delta = float(bs_delta(s, k, t, v, is_call, r, q))
    if is_call:
        assert 0.0 <= delta <= carry * (1 + 1e-15)
    else:
        assert -carry * (1 + 1e-15) <= delta <= 0.0
    assert 0.0 <= float(bs_gamma(s, k, t, v, rate=r, dividend_yield=q)) < math.inf
    assert 0.0 <= float(bs_vega(s, k, t, v, rate=r, dividend_yield=q)) < math.inf
    assert math.isfinite(float(bs_theta(s, k, t, v, is_call, r, q)))
    assert 0.0 <= float(bs_price(s, k, t, v, is_call, r, q)) <= max(s, k)
    assert 0.0 <= float(prob_otm(s, k, t, v, is_call, r, q)) <= 1.0


@given(
    spots,
    strikes,
    years_st,
    ivs,
    rates,
    dividends,
    st.booleans(),
    st.sampled_from(["iv", "years", "spot", "strike", "rate", "q"]),
    st.sampled_from([0.0, -1.0, math.nan]),
)
def test_invalid_input_property(
    s: float,
    k: float,
    t: float,
    v: float,
    r: float,
    q: float,
    is_call: bool,
    field: str,
    bad: float,
) -> None:
    args = {"spot": s, "strike": k, "years": t, "iv": v, "rate": r, "q": q}
    if field in ("rate", "q") and not math.isnan(bad):
        return  # zero and negative rates or yields are legitimate
    args[field] = bad
    for f in ALL_FUNCS:
        assert math.isnan(float(_call(f, args, is_call)))


contracts = st.tuples(spots, strikes, years_st, ivs, st.booleans(), rates, dividends)


@settings(max_examples=50)
@given(st.lists(contracts, min_size=1, max_size=40))
def test_vectorized_equals_elementwise(rows: list[tuple[Any, ...]]) -> None:
    """One call on arrays gives what one call per contract gives (to the last bits:
    numpy's SIMD and scalar loops may round exp/log differently)."""
    columns = [np.array(c) for c in zip(*rows, strict=True)]
    for f in ALL_FUNCS:
        vector = f(*columns)
        scalars = np.array([float(f(*row)) for row in rows])
        np.testing.assert_allclose(vector, scalars, rtol=1e-13, atol=1e-300)


# -------------------------------------------------------------------------- prob_otm


@given(spots, strikes, years_st, ivs, rates, dividends)
def test_prob_otm_of_put_and_call_add_to_one(
    s: float, k: float, t: float, v: float, r: float, q: float
) -> None:
    both = prob_otm(s, k, t, v, np.array([True, False]), r, q)
    assert abs(both.sum() - 1.0) <= 1e-12


def test_prob_otm_direction() -> None:
    # Deep out of the money put (strike far below spot): almost surely expires OTM.
    assert float(prob_otm(100, 60, 30 / 365, 0.3, False)) > 0.9999
    # ... the call on that strike is deep in the money.
    assert float(prob_otm(100, 60, 30 / 365, 0.3, True)) < 1e-4
    assert float(prob_otm(100, 150, 30 / 365, 0.3, True)) > 0.9999
    # At the money, r = q = 0: d2 = -σ√T/2 = -0.1, so the put is OTM with N(d2) < 1/2
    # (the median of S_T is below S) and the call with N(-d2) > 1/2.
    assert float(prob_otm(100, 100, 1.0, 0.2, False)) == pytest.approx(
        _reference_cdf(-0.1), abs=1e-15
    )
    assert float(prob_otm(100, 100, 1.0, 0.2, True)) == pytest.approx(
        _reference_cdf(0.1), abs=1e-15
    )


# ------------------------------------------------------------- real recorded vendor data


def _oracle_files() -> list[str]:
    """File names from oracle.json for parametrizing; a placeholder when absent (the
    test then skips through :func:`market_dir`)."""
    path = MARKET_DIR / "oracle.json"
    if not path.is_file():
        return ["oracle.json-unavailable"]
    return sorted(k for k in json.loads(path.read_text(encoding="utf-8")) if not k.startswith("_"))


def _days_and_years(spec: dict[str, Any], chain: RecordedChain) -> tuple[np.ndarray, np.ndarray]:
    """Days to expiry (for the DTE filter) and years (for the model) per the oracle."""
    convention = spec["years"]
    if convention == "calendar days from session_date to expiration / 365":
        session = np.datetime64(spec["session_date"], "D")
        days = (chain.expiration - session).astype(np.float64)
        return days, days / 365.0
    if convention == "(daysToExpiration + 1) / 365":
        assert chain.days_to_expiration is not None
        days = chain.days_to_expiration
        return days, (days + 1.0) / 365.0
    pytest.fail(f"oracle.json uses a time convention this test does not know: {convention!r}")


def _compared(spec: dict[str, Any], chain: RecordedChain) -> tuple[np.ndarray, np.ndarray]:
    """The oracle's filter (|delta| in (0.05, 0.95), iv > 0, standard root, DTE range)
    and the years for every contract."""
    days, years = _days_and_years(spec, chain)
    low, high = spec["dte_range"]
    with np.errstate(invalid="ignore"):
        mask = (
            (np.abs(chain.delta) > 0.05)
            & (np.abs(chain.delta) < 0.95)
            & (chain.iv > 0)
            & standard_root_mask(chain.contract_symbol, spec["symbol"])
            & (days >= low)
            & (days <= high)
        )
    return mask, years


def _computed_delta(spec: dict[str, Any], chain: RecordedChain, years: np.ndarray) -> np.ndarray:
    return bs_delta(spec["spot"], chain.strike, years, chain.iv, chain.is_call, spec["rate"])


@pytest.mark.shared_data
@pytest.mark.parametrize("name", _oracle_files())
def test_delta_reproduces_published_delta(name: str) -> None:
    oracle = load_oracle()
    spec = oracle[name]
    chain = load_recorded(name)
    mask, years = _compared(spec, chain)
    assert mask.sum() > 50, f"{name}: only {mask.sum()} contracts compared"
    error = np.abs(_computed_delta(spec, chain, years) - chain.delta)[mask]
    assert np.isfinite(error).all()
    median, p95 = float(np.median(error)), float(np.percentile(error, 95))
    tolerance = spec["tolerance"]
    assert median <= tolerance["median"], f"{name}: median |error| {median:.4f}"
    assert p95 <= tolerance["p95"], f"{name}: p95 |error| {p95:.4f}"


@pytest.mark.shared_data
def test_oracle_covers_cboe_and_tda_files() -> None:
    market_dir()  # skip, not fail, without the data
    names = _oracle_files()
    assert sum(n.startswith("cboe_quotedata_csv/") for n in names) == 3
    assert sum(n.startswith("tda_chain_json/") for n in names) == 1
    for name in names:
        assert (market_dir() / name).is_file(), name


@pytest.mark.shared_data
@pytest.mark.parametrize("name", _oracle_files())
def test_gamma_agrees_with_published_gamma(name: str) -> None:
    """A units check (vendors print gamma to 3-4 decimals, so it is loose)."""
    spec = load_oracle()[name]
    chain = load_recorded(name)
    mask, years = _compared(spec, chain)
    gamma = bs_gamma(spec["spot"], chain.strike, years, chain.iv, rate=spec["rate"])
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (np.abs(gamma - chain.gamma) / chain.gamma)[mask & (chain.gamma > 0)]
    assert relative.size > 50
    assert float(np.median(relative)) < 0.1


@pytest.mark.shared_data
def test_theta_and_vega_units_match_td_ameritrade() -> None:
    """TDA publishes theta per day and vega per vol point: ours / 100 for vega, as is
    for theta, agree to a few percent (a units mistake would be off by 100x or 365x)."""
    name = "tda_chain_json/SPY_tda_chain_analytical_2022-05-20.json"
    spec = load_oracle()[name]
    chain = load_recorded(name)
    mask, years = _compared(spec, chain)
    args = (spec["spot"], chain.strike, years, chain.iv)
    theta = bs_theta(*args, chain.is_call, spec["rate"])
    vega = bs_vega(*args, rate=spec["rate"]) / 100.0
    for ours, theirs in ((theta, chain.theta), (vega, chain.vega)):
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = (np.abs(ours - theirs) / np.abs(theirs))[mask & (theirs != 0)]
        assert relative.size > 50
        assert float(np.median(relative)) < 0.1


@pytest.mark.shared_data
def test_adjusted_amd1_contracts_are_excluded_by_the_root_check() -> None:
    name = "cboe_quotedata_csv/AMD_cboe_quotedata_2023-08-20.csv"
    spec = load_oracle()[name]
    chain = load_recorded(name)
    roots = np.array([occ_root(s) for s in chain.contract_symbol])
    adjusted = roots == "AMD1"
    # 40 strike rows, each with an AMD1 call and put.
    assert adjusted.sum() == 80
    assert set(roots) == {"AMD", "AMD1"}
    standard = standard_root_mask(chain.contract_symbol, "AMD")
    np.testing.assert_array_equal(standard, ~adjusted)
    # Why it matters: their published deltas do not fit AMD's spot at all, while the
    # standard contracts of the same expiration do.
    _, years = _days_and_years(spec, chain)
    error = np.abs(_computed_delta(spec, chain, years) - chain.delta)
    same_expiry = chain.expiration == chain.expiration[adjusted][0]
    with np.errstate(invalid="ignore"):
        quoted = (np.abs(chain.delta) > 0.05) & (np.abs(chain.delta) < 0.95) & (chain.iv > 0)
    assert float(np.median(error[quoted & adjusted])) > 0.2
    assert float(np.median(error[quoted & standard & same_expiry])) < 0.05


@pytest.mark.shared_data
def test_tda_loader_reads_nan_string_greeks_as_missing() -> None:
    path = market_dir() / "tda_chain_json" / "SPY_tda_chain_0dte_NaN-greeks_2020-09-23.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    contract = raw["callExpDateMap"]["2020-09-23:0"]["324.0"][0]
    assert contract["delta"] == "NaN" and contract["volatility"] == "NaN"
    chain = load_tda_chain(path)
    assert len(chain) == 1
    assert chain.contract_symbol[0] == "SPY200923C00324000"
    assert chain.is_call[0] and chain.strike[0] == 324.0
    for column in (chain.delta, chain.gamma, chain.theta, chain.iv):
        assert column.dtype == np.float64 and np.isnan(column[0])
    assert chain.vega[0] == pytest.approx(0.022)  # a real number beside the "NaN"s
    assert chain.days_to_expiration is not None and chain.days_to_expiration[0] == 0
    # Missing IV and zero days left give NaN, not an exception or a made-up delta.
    assert np.isnan(
        bs_delta(
            chain.underlying_price,
            chain.strike,
            chain.days_to_expiration / 365,
            chain.iv,
            chain.is_call,
        )
    ).all()
