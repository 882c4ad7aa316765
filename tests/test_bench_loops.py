"""The analytics benchmark's per-contract loop really does ``screen_chain``'s work.

``bench/bench_analytics.py`` reports how much faster ``screen_chain`` is than a
per-contract loop doing the same job; that ratio means something only while the two
agree. Here they run on a chain salted with every kind of bad quote the gate rejects
(values no quote can have, adjusted roots, Yahoo placeholder IVs, expired contracts,
ask below bid, a bid or ask above what the option can be worth, IV above the cap) and
must find the same contracts and reject the rest for the same reasons.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from optscan.analytics.gate import YAHOO_IV_PLACEHOLDERS
from optscan.analytics.screen import screen_chain
from optscan.config import load_settings
from optscan.models import OptionChain

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_analytics.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_analytics", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_analytics", module)
    spec.loader.exec_module(module)
    return module


def _salted(chain: OptionChain) -> OptionChain:
    """``chain`` with a few percent of every rejection the gate knows about."""
    rng = np.random.default_rng(11)
    n = len(chain)
    fields = {name: getattr(chain, name) for name in type(chain).model_fields}
    columns = {k: np.array(v) for k, v in fields.items() if isinstance(v, np.ndarray)}
    pick = rng.permutation(n)
    adjusted, placeholder, expired, crossed, wild, absurd, broken = np.array_split(
        pick[: n // 10], 7
    )
    columns["contract_symbol"] = columns["contract_symbol"].astype("<U24")
    columns["contract_symbol"][adjusted] = np.strings.replace(
        columns["contract_symbol"][adjusted], "XYZ", "XYZ1"
    )
    columns["iv"][placeholder] = rng.choice(YAHOO_IV_PLACEHOLDERS, len(placeholder))
    columns["expiration"][expired] = np.datetime64("2026-11-10")
    columns["ask"][crossed] = columns["bid"][crossed] / 2
    columns["iv"][wild] = 7.5
    columns["ask"][absurd] = columns["strike"][absurd] + chain.underlying_price  # > both
    columns["bid"][broken[::2]] = np.inf
    columns["strike"][broken[1::2]] = np.nan
    return OptionChain(**{**fields, **columns})


def test_the_loop_finds_and_rejects_what_screen_chain_does(bench) -> None:
    chain = _salted(bench.make_chain(20_000, seed=3))
    settings = load_settings(use_env=False)
    expected = screen_chain(
        chain,
        strategy=settings.strategies["csp"],
        analytics=settings.analytics,
        as_of=bench.AS_OF,
    )
    data = bench.as_columnar_answer(chain)
    found, rejected = bench.original_loop_same_work(
        data, chain.symbol, chain.underlying_price, bench.AS_OF
    )
    reasons = ("malformed_payload", "non_standard", "iv_placeholder", "expired", "ask_below_bid")
    for reason in (*reasons, "implausible_quote", "iv_above_cap"):
        assert expected.rejected[reason] > 0, reason  # the salt reached the gate
    assert rejected == expected.rejected
    assert sorted(o["symbol"] for o in found) == sorted(
        o.contract_symbol for o in expected.opportunities
    )
    assert expected.opportunities
