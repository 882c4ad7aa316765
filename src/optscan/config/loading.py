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
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from optscan.config.messages import problems
from optscan.config.sections import Settings
from optscan.errors import ConfigError
from optscan.secrets import remember

ENV_PREFIX = "OPTSCAN_"
# Environment variables that are not config keys.
_ENV_NOT_KEYS = {"OPTSCAN_CONFIG", "OPTSCAN_STRICT_PLUGINS", "OPTSCAN_TEST_REDIS_URL"}
# Short aliases documented for operators.
_ENV_ALIASES = {"OPTSCAN_REDIS_URL": "redis.url"}


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to read, or ``None`` to run on the built-in defaults."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"--config: no such file: {path}")
        return path
    env = os.environ.get("OPTSCAN_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"OPTSCAN_CONFIG: no such file: {path}")
        return path
    local = Path("config.toml")
    if local.is_file():
        return local
    from platformdirs import user_config_dir

    user = Path(user_config_dir("optscan")) / "config.toml"
    return user if user.is_file() else None


def parse_value(text: str) -> Any:
    """Read an override value as TOML (``1``, ``true``, ``"x"``, ``[1, 2]``), else text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:  # arrays or tables nested thousands deep
        raise ConfigError("arrays or tables nested too deeply") from None


def parse_set(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Turn ``["scan.concurrency=1", ...]`` into ``{"scan.concurrency": 1, ...}``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected dotted.key=value")
        if not all(part.replace("_", "").replace("-", "").isalnum() for part in key.split(".")):
            raise ConfigError(f"--set {pair!r}: {key!r} is not a dotted key")
        try:
            out[key] = parse_value(value)
        except ConfigError as exc:
            raise ConfigError(f"--set {key}: {exc}") from None
    return out


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """``OPTSCAN_SCAN__CONCURRENCY=4`` -> ``{"scan.concurrency": 4}``."""
    environ = dict(os.environ) if environ is None else environ
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_KEYS:
            continue
        if name in _ENV_ALIASES:
            out[_ENV_ALIASES[name]] = value
        elif "__" in name:
            key = ".".join(part.lower() for part in name[len(ENV_PREFIX) :].split("__"))
            try:
                out[key] = parse_value(value)
            except ConfigError as exc:
                raise ConfigError(f"{name}: {exc}") from None
    return out


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (copying what it changes)."""
    import copy

    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(parts[: i + 1])}: is a value, not a section")
            node = child
        node[parts[-1]] = value
    return data


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
        data = _read_toml(file)
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


def _read_toml(file: Path) -> dict[str, Any]:
    """The file's TOML; :class:`ConfigError` naming the file for anything that is not
    readable UTF-8 TOML (a binary file, a folder, arrays nested 100,000 deep)."""
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{file}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); TOML files are UTF-8"
        ) from None
    except RecursionError:
        raise ConfigError(f"{file}: not valid TOML: arrays or tables nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None


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
