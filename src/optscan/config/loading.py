"""Loading the configuration: ``config.toml`` + ``OPTSCAN_*`` environment + ``--set``.

Precedence, lowest first: built-in defaults (identical to the shipped ``config.toml``),
the config file, ``OPTSCAN_<SECTION>__<KEY>`` environment variables, then ``--set
dotted.key=value`` pairs. The file is found at ``--config PATH``, else
``$OPTSCAN_CONFIG``, else ``./config.toml``, else the user config directory. Every
error names the dotted key and says what it expects; secrets in the loaded settings
are remembered (:func:`optscan.secrets.remember`) so no message ever shows them.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from optscan.config.messages import problems
from optscan.config.sections import Settings
from optscan.config_sources import (
    ENV_PREFIX,
    apply_overrides,
    env_overrides,
    find_config_file,
    parse_set,
    parse_value,
    read_toml,
)
from optscan.errors import ConfigError
from optscan.secrets import remember

__all__ = [
    "ENV_PREFIX",
    "apply_overrides",
    "current_settings",
    "env_overrides",
    "find_config_file",
    "load_settings",
    "parse_set",
    "parse_value",
    "settings_in_use",
]


def load_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    *,
    use_env: bool = True,
) -> Settings:
    """Read, merge and validate the configuration; raise :class:`ConfigError` naming keys."""
    file = find_config_file(path)
    data: dict[str, Any] = {}
    if file is not None:
        data = read_toml(file)
    merged = dict(env_overrides()) if use_env else {}
    merged.update(overrides or {})
    combined = apply_overrides(data, merged)
    remember(combined)  # before validation: an error message must not show them
    try:
        settings = Settings.model_validate(combined)
    except ValidationError as exc:
        raise ConfigError(_message(exc, file, set(merged))) from None
    remember(settings)
    return settings


_FROM_OVERRIDES = "from --set or OPTSCAN_* variables"


def _message(exc: ValidationError, file: Path | None, overridden: set[str]) -> str:
    """``config error (<where>): <key>: <problem>; ...``, each problem blamed on where its
    key came from: the overrides when they set it (or a key under or above it), else
    the file."""

    def where(key: str) -> str:
        if any(key == k or key.startswith(f"{k}.") or k.startswith(f"{key}.") for k in overridden):
            return _FROM_OVERRIDES
        return f"in {file}" if file is not None else ""

    found = [(key, message, where(key)) for key, message in problems(exc)]
    sources = {source for _key, _message, source in found}
    lines = [f"{key}: {message}" if key else message for key, message, _source in found]
    if len(sources) == 1:
        source = sources.pop()
        return f"config error{f' ({source})' if source else ''}: " + "; ".join(lines)
    return "config error: " + "; ".join(
        f"{line} ({source})" if source else line
        for line, (_key, _message, source) in zip(lines, found, strict=True)
    )


_in_use: contextvars.ContextVar[Settings | None] = contextvars.ContextVar(
    "optscan_settings_in_use", default=None
)


@contextlib.contextmanager
def settings_in_use(settings: Settings) -> Iterator[Settings]:
    """Within the block, :func:`current_settings` is ``settings`` (the scan's own)."""
    token = _in_use.set(settings)
    try:
        yield settings
    finally:
        _in_use.reset(token)


def current_settings() -> Settings:
    """The settings of the scan being published (``--config``, ``--set`` and all), for a
    built-in plugin that shares a core section (the ``redis`` sink reads ``[redis]``);
    outside a scan, the settings loaded the usual way."""
    settings = _in_use.get()
    return settings if settings is not None else load_settings()
