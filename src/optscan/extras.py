"""Plugins' facts on results: ``extras[<enricher name>]``, a JSON object per enricher.

An enricher (:class:`optscan.protocols.Enricher`) adds facts to opportunities and to
per-symbol outcomes under its own name. The core keeps them strict: the value of
:data:`Extras` is a mapping of enricher names to JSON objects (string keys; values that
are ``None``, booleans, strings, finite numbers, lists or objects of those), so a
result with extras survives a JSON round trip (the queue, Redis, sinks) unchanged and
no output ever holds ``NaN`` or ``Infinity``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, Field

MAX_DEPTH = 8
"""How deeply an extras value may nest (objects and lists)."""


def check_json(value: Any, where: str, depth: int = 0) -> None:
    """Raise ``ValueError`` naming ``where`` when ``value`` is not plain, finite JSON."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value} is not a finite number")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_json(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            check_json(item, f"{where}.{key}", depth + 1)
        return
    raise ValueError(f"{where}: {type(value).__name__} is not JSON")


def _check_extras(value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    for name, facts in value.items():
        check_json(facts, f"extras.{name}")
    return value


Extras = Annotated[dict[str, dict[str, Any]], AfterValidator(_check_extras)]
"""``{enricher name: {fact: JSON value}}``; checked on validation (see the module)."""


def extras_field() -> Any:
    """The ``extras`` field of :class:`~optscan.models.Opportunity` and
    :class:`~optscan.models.SymbolOutcome` (empty by default)."""
    return Field(
        default_factory=dict,
        description="Facts added by enrichers: {enricher name: JSON object}.",
    )
