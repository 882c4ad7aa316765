"""Config error messages: one line per problem, naming the dotted key, never a secret."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from optscan.config.sections import PLUGIN_FAMILIES, STRATEGY_TAGS
from optscan.secrets import MASK, is_secret, mask, mask_url, scrub

MAX_SHOWN = 80
"""A bad value longer than this (as text) is shown as ``...``."""


def problems(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted key, what is wrong)`` for each problem, secrets never shown."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p not in ("function-after", *STRATEGY_TAGS))
        key = f"{prefix}.{loc}" if prefix and loc else (prefix or loc)
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif key and "input" in err and err["type"] not in ("missing",):
            message = f"{message} (got {_shown(key, err['input'])})"
        out.append((key, scrub(message)))
    return out


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem, each naming the dotted key and what it expects."""
    return "; ".join(
        f"{key}: {message}" if key else message for key, message in problems(exc, prefix)
    )


def _shown(key: str, value: Any) -> str:
    """The bad value as the message shows it: secrets masked at any depth, URLs masked
    wherever they are, text given where a table of a plugin's settings was expected
    not shown at all (it may be a token put in the wrong place), long values cut, and
    the text scrubbed of every remembered secret."""
    leaf = key.rsplit(".", 1)[-1]
    parts = key.split(".")
    if is_secret(leaf):  # a bad secret is not shown in any form
        return repr(MASK)
    if parts[0] in PLUGIN_FAMILIES and len(parts) <= 2 and not isinstance(value, dict):
        return repr(MASK)  # `--set providers.marketdata=<token>`: a table was expected
    text = repr(_urls_masked(mask(value, leaf)))
    if len(text) > MAX_SHOWN:
        text = "..."
    return scrub(text)


def _urls_masked(value: Any) -> Any:
    """Every URL inside ``value`` masked (a webhook given where a table was expected)."""
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    if isinstance(value, dict):
        return {k: _urls_masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_urls_masked(v) for v in value]
    return value
