"""Where the configuration comes from, read raw: the file, ``OPTSCAN_*`` variables,
``--set`` pairs. Light on purpose (no pydantic): :mod:`optscan.config.loading`
validates what these functions merge, and the command line reads ``[plugins]`` from
them to list plugins' commands without paying for the models
(:mod:`optscan.cli.plugin_commands`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from optscan.errors import ConfigError

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


def read_toml(file: Path) -> dict[str, Any]:
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


def raw_config(
    path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The file, the ``OPTSCAN_*`` variables and ``overrides`` merged, not validated
    (:func:`optscan.config.loading.load_settings` validates the same merge)."""
    file = find_config_file(path)
    data = read_toml(file) if file is not None else {}
    merged = env_overrides()
    merged.update(overrides or {})
    return apply_overrides(data, merged)
