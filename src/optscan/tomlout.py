"""A small TOML writer for ``optscan config show --format toml`` (tomllib only reads)."""

from __future__ import annotations

import json
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if value is None:
        return '""'
    return json.dumps(str(value))


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def dumps(data: dict[str, Any], prefix: str = "") -> str:
    """Scalars first, then non-empty sub-tables, recursively; ``None`` is omitted."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            tables.append((key, value))
        elif value is not None:
            lines.append(f"{_key(key)} = {_value(value)}")
    out = ""
    if lines:
        out += (f"[{prefix}]\n" if prefix else "") + "\n".join(lines) + "\n\n"
    for key, value in tables:
        out += dumps(value, f"{prefix}.{_key(key)}" if prefix else _key(key))
    return out
