"""Test helpers for provider authors, modeled on OpenBB's ``Fetcher.test``.

A provider's *transform* half is pure: recorded payload in, typed models out. So the
most useful test a plugin can have needs no network at all: feed the payloads its
*extract* half once returned (saved with ``optscan scan --record DIR``, or copied from
the vendor's documentation) to :func:`check_provider` and let it assert every invariant
the core relies on. Failures are plain ``AssertionError`` messages that say which
invariant broke and where, so they read well in any test runner.

Use::

    from optscan.testing import check_provider

    def test_transform_on_recorded_payloads():
        provider = MyProvider(MyProvider.Config())
        chains = check_provider(
            provider, "AAPL",
            listing_payload=json.loads(Path("rec/mine/AAPL/expirations.json").read_text()),
            chain_payloads={date(2023, 6, 16): json.loads(...)},
        )
        assert chains[0].delta is not None

This module imports nothing heavy at import time and is not used by the core itself.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from optscan.protocols import JSON, OptionProvider, ProviderConfig

if TYPE_CHECKING:
    from optscan.chain import OptionChain
    from optscan.errors import ProviderError
    from optscan.fundamentals import Fundamentals

__all__ = ["check_error_answers", "check_provider", "check_provider_class"]

_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


def check_provider_class(cls: type) -> None:
    """Assert that ``cls`` is a provider class the plugin host will accept and can run.

    Checks what :class:`~optscan.plugins.PluginHost` checks at registration (an
    :class:`OptionProvider` subclass with a ``name`` and a ``Config``), plus what would
    only fail later: a ``name`` usable in ``[providers.<name>]`` and on the command line,
    a ``Config`` that derives from :class:`ProviderConfig` (the core reads its rate
    limit and retry keys), forbids unknown keys, and validates with no section at all
    (a provider must not break ``optscan`` for users who never configure it: check
    credentials inside *extract*), and no abstract method left unimplemented.
    """
    label = getattr(cls, "__qualname__", repr(cls))
    assert isinstance(cls, type), f"{cls!r} is not a class"
    assert issubclass(cls, OptionProvider), f"{label} does not derive from OptionProvider"
    name = getattr(cls, "name", None)
    assert isinstance(name, str) and name, f"{label}.name must be a non-empty string"
    assert _NAME.fullmatch(name), (
        f"{label}.name {name!r} must be lower-case letters, digits, '-' or '_' "
        "(it is a config section and a --provider value)"
    )
    config = getattr(cls, "Config", None)
    assert isinstance(config, type) and issubclass(config, ProviderConfig), (
        f"{label}.Config must derive from optscan.protocols.ProviderConfig"
    )
    assert config.model_config.get("extra") == "forbid", (
        f"{label}.Config must forbid unknown keys (inherit ProviderConfig's model_config)"
    )
    try:
        config()
    except Exception as exc:
        raise AssertionError(
            f"{label}.Config() must validate with no [providers.{name}] section; "
            f"give every key a default and check credentials in extract: {exc}"
        ) from exc
    abstract = sorted(getattr(cls, "__abstractmethods__", ()) or ())
    assert not abstract, f"{label} leaves abstract methods unimplemented: {', '.join(abstract)}"


def check_provider(
    provider: OptionProvider,
    symbol: str,
    *,
    listing_payload: JSON,
    chain_payloads: Mapping[dt.date, JSON],
    expected_expirations: Iterable[dt.date] | None = None,
) -> list[OptionChain]:
    """Run ``provider``'s transforms on recorded payloads and assert the core's invariants.

    * both payload kinds are JSON (``json.dumps`` round-trips them unchanged), which is
      what ``--record``/``--replay`` store;
    * ``transform_expirations`` returns a non-empty list of ``datetime.date`` (equal, as
      a set, to ``expected_expirations`` when given) and does not modify the payload;
    * every key of ``chain_payloads`` is one of those dates, and ``transform_chain`` on
      its payload returns an :class:`~optscan.models.OptionChain` of ``symbol`` from this
      provider, with at least one contract, every contract of that expiration, and
      leaves the payload unmodified (a replay parses the same payload again).

    Returns the chains in the order of ``chain_payloads``, for further assertions.
    Raises ``AssertionError`` naming the broken invariant; an exception raised by a
    transform is re-raised as one, chained to the original.
    """
    import numpy as np

    from optscan.chain import OptionChain
    from optscan.symbols import normalize_symbol

    check_provider_class(type(provider))
    assert normalize_symbol(symbol) == symbol, (
        f"symbol {symbol!r} is not in normal form (upper case, validated): "
        f"use {normalize_symbol(symbol)!r}"
    )
    name = provider.name
    listing_text = _json_text(listing_payload, f"{name} {symbol} listing payload")
    assert chain_payloads, "chain_payloads is empty: give at least one recorded chain"

    try:
        dates = provider.transform_expirations(listing_payload, symbol)
    except Exception as exc:
        raise AssertionError(
            f"{name}.transform_expirations({symbol}) raised {type(exc).__name__}: {exc}"
        ) from exc
    _unchanged(listing_payload, listing_text, f"{name}.transform_expirations({symbol})")
    assert isinstance(dates, list), (
        f"{name}.transform_expirations({symbol}) returned {type(dates).__name__}, not a list"
    )
    assert dates, f"{name}.transform_expirations({symbol}) returned no expirations"
    wrong = [d for d in dates if type(d) is not dt.date]
    assert not wrong, (
        f"{name}.transform_expirations({symbol}) returned non-dates: {wrong[:3]!r} "
        "(datetime.date expected, not datetime or str)"
    )
    if expected_expirations is not None:
        expected = sorted(set(expected_expirations))
        assert sorted(set(dates)) == expected, (
            f"{name}.transform_expirations({symbol}): expected {_iso(expected)}, "
            f"got {_iso(sorted(set(dates)))}"
        )

    chains: list[OptionChain] = []
    for expiration, payload in chain_payloads.items():
        where = f"{name}.transform_chain({symbol}, {expiration})"
        assert type(expiration) is dt.date, f"chain_payloads key {expiration!r} is not a date"
        assert expiration in dates, (
            f"{where}: {expiration} is not among the listed expirations {_iso(sorted(dates))}"
        )
        text = _json_text(payload, f"{name} {symbol} {expiration} chain payload")
        try:
            chain = provider.transform_chain(payload, symbol, expiration)
        except Exception as exc:
            raise AssertionError(f"{where} raised {type(exc).__name__}: {exc}") from exc
        _unchanged(payload, text, where)
        assert isinstance(chain, OptionChain), (
            f"{where} returned {type(chain).__name__}, not an OptionChain"
        )
        assert chain.symbol == symbol, f"{where} returned a chain of {chain.symbol}"
        assert chain.provider == name, (
            f"{where} returned provider={chain.provider!r}; expected {name!r}"
        )
        assert len(chain) > 0, f"{where} returned an empty chain"
        other = chain.expiration != np.datetime64(expiration, "D")
        assert not other.any(), (
            f"{where}: {int(other.sum())} of {len(chain)} contracts expire on another day, "
            f"e.g. {chain.contract_symbol[other][0]} on {chain.expiration[other][0]}"
        )
        chains.append(chain)
    return chains


def check_error_answers(
    provider: OptionProvider[Any],
    symbol: str,
    answers: Iterable[tuple[JSON, type[ProviderError]]],
    *,
    expiration: dt.date | None = None,
) -> list[ProviderError]:
    """Assert that ``provider`` maps each recorded error answer to the expected error.

    ``answers`` holds ``(payload, expected class)`` pairs: payloads its *extract*
    returned for error answers (:func:`optscan.http_answers.error_answer`, saved by
    ``--record``), or the vendor's own error bodies. Each must survive a JSON round
    trip, and ``transform_expirations`` (and ``transform_chain`` for ``expiration``,
    when given) must raise an instance of the expected class without modifying it: a
    replayed error then fails a scan exactly as the live one did.

    Returns the errors ``transform_expirations`` raised, in order, for further checks
    (``retry_after`` of a rate limit, the message).
    """
    from optscan.errors import ProviderError

    name = provider.name
    raised: list[ProviderError] = []
    for index, (payload, expected) in enumerate(answers):
        label = f"{name} error answer #{index} (expecting {expected.__name__})"
        text = _json_text(payload, label)
        calls: list[tuple[str, Any]] = [
            ("transform_expirations", lambda p=payload: provider.transform_expirations(p, symbol))
        ]
        if expiration is not None:
            calls.append(
                (
                    "transform_chain",
                    lambda p=payload: provider.transform_chain(p, symbol, expiration),
                )
            )
        for method, call in calls:
            where = f"{name}.{method}({symbol}) on {label}"
            try:
                call()
            except ProviderError as exc:
                assert isinstance(exc, expected), (
                    f"{where} raised {type(exc).__name__} (reason {exc.reason!r}): {exc}"
                )
                if method == "transform_expirations":
                    raised.append(exc)
            except Exception as exc:
                raise AssertionError(
                    f"{where} raised {type(exc).__name__}, not a ProviderError: {exc}"
                ) from exc
            else:
                raise AssertionError(f"{where} raised nothing")
            _unchanged(payload, text, where)
    return raised


def check_fundamentals(provider: OptionProvider, symbol: str, payload: JSON) -> Fundamentals:
    """Run ``provider``'s ``transform_fundamentals`` on a recorded payload and assert the
    core's invariants: the provider overrides the optional fundamentals part, the payload
    is JSON (what ``--record`` stores) and is left unmodified, and the answer is
    :class:`~optscan.fundamentals.Fundamentals` of ``symbol`` from this provider.
    Returns it for further assertions; raises ``AssertionError`` naming what broke."""
    from optscan.fundamentals import Fundamentals
    from optscan.protocols import provides_fundamentals

    name = provider.name
    assert provides_fundamentals(provider), f"{name} does not override extract_fundamentals"
    text = _json_text(payload, f"{name} {symbol} fundamentals payload")
    try:
        found = provider.transform_fundamentals(payload, symbol)
    except Exception as exc:
        raise AssertionError(
            f"{name}.transform_fundamentals({symbol}) raised {type(exc).__name__}: {exc}"
        ) from exc
    _unchanged(payload, text, f"{name}.transform_fundamentals({symbol})")
    assert isinstance(found, Fundamentals), (
        f"{name}.transform_fundamentals returned {type(found).__name__}, not Fundamentals"
    )
    assert found.symbol == symbol, f"asked for {symbol}, got fundamentals of {found.symbol}"
    assert found.provider == name, f"fundamentals say provider {found.provider!r}, not {name!r}"
    return found


def _json_text(payload: Any, what: str) -> str:
    """The payload as canonical JSON text; assert it survives a save/load round trip."""
    try:
        text = json.dumps(payload, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise AssertionError(
            f"{what} is not JSON-serializable ({exc}); extract must return the raw JSON "
            "body (dicts, lists, str, numbers, bool, None) so --record can save it"
        ) from exc
    assert _same(json.loads(text), payload), (
        f"{what} changes when saved and loaded as JSON (a tuple, a non-string key?); "
        "a replayed scan would parse something else than a live one"
    )
    return text


def _same(loaded: Any, original: Any) -> bool:
    """Structural equality of a JSON round trip: exact container types, NaN equals NaN."""
    if isinstance(original, dict):
        return (
            type(loaded) is dict
            and all(type(k) is str for k in original)
            and loaded.keys() == original.keys()
            and all(_same(loaded[k], v) for k, v in original.items())
        )
    if isinstance(original, list):
        return (
            type(loaded) is list
            and len(loaded) == len(original)
            and all(_same(a, b) for a, b in zip(loaded, original, strict=True))
        )
    if isinstance(original, float) and original != original:
        return isinstance(loaded, float) and loaded != loaded
    if isinstance(original, bool) or isinstance(loaded, bool):
        return loaded is original
    if isinstance(original, int | float) and isinstance(loaded, int | float):
        return loaded == original  # numpy scalars come back as plain numbers: fine
    return type(loaded) is type(original) and loaded == original


def _unchanged(payload: Any, before: str, where: str) -> None:
    after = json.dumps(payload, sort_keys=True)
    assert after == before, f"{where} modified its payload; transforms must not mutate it"


def _iso(dates: list[dt.date]) -> str:
    shown = ", ".join(d.isoformat() for d in dates[:8])
    return f"[{shown}{', ...' if len(dates) > 8 else ''}]"
