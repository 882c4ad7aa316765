"""A scan's JSON document (``optscan scan --format json``, the ``json`` sink).

``write_result_json`` streams it one symbol and one opportunity at a time: a
3,000-symbol scan has some ten thousand opportunities, and dumping them all into one
dict tree first, then one string, cost more memory than the scan itself.

Every document is valid JSON: :func:`dumps` writes a number that is not finite (which
JSON cannot hold; Python would write ``NaN`` or ``Infinity``) as ``null``, and each
piece is rendered whole before it is written, so no error can cut a document off
half-way.
"""

from __future__ import annotations

import io
import json
import math
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optscan.models import ScanResult

_STREAMED = ("symbols", "opportunities")


def dumps(value: Any, indent: int | None = None, **kwargs: Any) -> str:
    """``json.dumps`` that always gives valid JSON: non-finite numbers become ``null``
    (the fast path checks nothing; only a document holding one is walked)."""
    try:
        return json.dumps(value, indent=indent, allow_nan=False, **kwargs)
    except ValueError:  # "Out of range float values are not JSON compliant"
        return json.dumps(_finite(value), indent=indent, allow_nan=False, **kwargs)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def result_json(result: ScanResult, indent: int | None = 2) -> str:
    """The scan's JSON document (``ScanResult.to_json_dict``) as one string."""
    if indent is None:
        return dumps(result.to_json_dict())
    buffer = io.StringIO()
    write_result_json(result, buffer, indent=indent)
    return buffer.getvalue()


def write_result_json(result: ScanResult, out: IO[str], indent: int = 2) -> None:
    """Write the same text as ``json.dumps(result.to_json_dict(), indent=indent)``,
    one symbol and one opportunity at a time.

    A 3,000-symbol scan has some ten thousand opportunities: dumping them all into one
    dict tree first, then one string, cost more memory than the scan itself.
    """
    pad = " " * indent
    head = result.model_dump(mode="json", exclude=set(_STREAMED))
    head["scanned_count"] = result.scanned_count
    fields = [*type(result).model_fields, "scanned_count"]
    out.write("{")
    for i, name in enumerate(fields):
        out.write(("\n" if i == 0 else ",\n") + pad + json.dumps(name) + ": ")
        if name in _STREAMED:
            _write_list(out, getattr(result, name), indent, pad)
        else:
            text = dumps(head[name], indent=indent)
            out.write(text.replace("\n", "\n" + pad))
    out.write("\n}")


def _write_list(out: IO[str], items: list[Any], indent: int, pad: str) -> None:
    if not items:
        out.write("[]")
        return
    inner = pad * 2
    out.write("[")
    for j, item in enumerate(items):
        text = dumps(item.model_dump(mode="json"), indent=indent)
        out.write(("\n" if j == 0 else ",\n") + inner + text.replace("\n", "\n" + inner))
    out.write("\n" + pad + "]")
