"""optscan.testing: the provider-author helpers, exercised on the offline ``sim`` provider."""

from __future__ import annotations

import copy
import datetime as dt
from typing import ClassVar

import pytest

from optscan.default_plugins.providers.sim import SimProvider
from optscan.models import OptionChain
from optscan.protocols import ProviderConfig
from optscan.testing import check_provider, check_provider_class

from .helpers import OPEN_INSTANT


@pytest.fixture
def sim() -> SimProvider:
    provider = SimProvider(SimProvider.Config())
    provider.as_of = OPEN_INSTANT
    return provider


def _recorded(provider: SimProvider, count: int = 2) -> tuple[dict, dict[dt.date, dict]]:
    """Extract like a scan would; deep copies, since sim caches and shares its payloads."""
    listing = copy.deepcopy(provider.extract_expirations("AAPL"))
    dates = [dt.date.fromisoformat(d) for d in listing["expirations"][:count]]
    chains = {d: copy.deepcopy(provider.extract_chain("AAPL", d, listing)) for d in dates}
    return listing, chains


def test_sim_passes_every_invariant(sim: SimProvider):
    listing, payloads = _recorded(sim)
    expected = [dt.date.fromisoformat(d) for d in listing["expirations"]]
    chains = check_provider(
        sim,
        "AAPL",
        listing_payload=listing,
        chain_payloads=payloads,
        expected_expirations=expected,
    )
    assert [c.expiration[0].item() for c in chains] == list(payloads)
    assert all(isinstance(c, OptionChain) and len(c) > 0 for c in chains)


def test_sim_class_passes():
    check_provider_class(SimProvider)


def test_wrong_expected_expirations_are_named(sim: SimProvider):
    listing, payloads = _recorded(sim, 1)
    with pytest.raises(AssertionError, match=r"expected \[2030-01-18\], got \[2026-11-20"):
        check_provider(
            sim,
            "AAPL",
            listing_payload=listing,
            chain_payloads=payloads,
            expected_expirations=[dt.date(2030, 1, 18)],
        )


def test_a_chain_filed_under_the_wrong_date_is_caught(sim: SimProvider):
    listing, payloads = _recorded(sim, 2)
    first, second = payloads
    swapped = {first: payloads[second]}  # the second expiration's body under the first date
    with pytest.raises(AssertionError, match=r"transform_chain\(AAPL, 2026-11-20\) raised"):
        check_provider(sim, "AAPL", listing_payload=listing, chain_payloads=swapped)


def test_an_unlisted_expiration_is_caught(sim: SimProvider):
    listing, payloads = _recorded(sim, 1)
    ((day, body),) = payloads.items()
    listing["expirations"].remove(day.isoformat())
    with pytest.raises(AssertionError, match="not among the listed expirations"):
        check_provider(sim, "AAPL", listing_payload=listing, chain_payloads={day: body})


def test_payloads_must_survive_json(sim: SimProvider):
    listing, payloads = _recorded(sim, 1)
    bad_listing = dict(listing, as_of=OPEN_INSTANT)  # a datetime object, not JSON
    with pytest.raises(AssertionError, match="listing payload is not JSON-serializable"):
        check_provider(sim, "AAPL", listing_payload=bad_listing, chain_payloads=payloads)
    ((day, body),) = payloads.items()
    tupled = dict(body, strike=tuple(body["strike"]))  # JSON would give back a list
    with pytest.raises(AssertionError, match="changes when saved and loaded as JSON"):
        check_provider(sim, "AAPL", listing_payload=listing, chain_payloads={day: tupled})


def test_empty_chains_and_mutating_transforms_are_caught(sim: SimProvider):
    listing, payloads = _recorded(sim, 1)
    ((day, body),) = payloads.items()

    class Emptying(SimProvider):
        name = "emptying"

        def transform_chain(self, raw, symbol, expiration):
            chain = super().transform_chain(raw, symbol, expiration)
            return chain.select(chain.strike < 0)

    with pytest.raises(AssertionError, match=r"transform_chain\(AAPL, .*\) returned an empty"):
        check_provider(
            Emptying(Emptying.Config()), "AAPL", listing_payload=listing, chain_payloads=payloads
        )

    class Mutating(SimProvider):
        name = "mutating"

        def transform_chain(self, raw, symbol, expiration):
            raw["kind"].reverse()
            return super().transform_chain(raw, symbol, expiration)

    with pytest.raises(AssertionError, match="modified its payload"):
        check_provider(
            Mutating(Mutating.Config()),
            "AAPL",
            listing_payload=listing,
            chain_payloads={day: copy.deepcopy(body)},
        )


def test_symbol_must_be_normalized(sim: SimProvider):
    listing, payloads = _recorded(sim, 1)
    with pytest.raises(AssertionError, match="use 'AAPL'"):
        check_provider(sim, "aapl", listing_payload=listing, chain_payloads=payloads)


def test_bad_classes_are_explained():
    with pytest.raises(AssertionError, match="does not derive from OptionProvider"):
        check_provider_class(dict)

    class Unnamed(SimProvider):
        name = ""

    with pytest.raises(AssertionError, match="name must be a non-empty string"):
        check_provider_class(Unnamed)

    class Shouting(SimProvider):
        name = "Bad Name"

    with pytest.raises(AssertionError, match="lower-case"):
        check_provider_class(Shouting)

    class NeedsToken(ProviderConfig):
        token: str  # no default: a bare `optscan scan` would fail validating the section

    class Strict(SimProvider):
        name = "strict"
        Config: ClassVar[type[ProviderConfig]] = NeedsToken

    with pytest.raises(AssertionError, match=r"Config\(\) must validate with no"):
        check_provider_class(Strict)
