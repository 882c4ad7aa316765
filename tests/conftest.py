"""Shared fixtures. Every test runs in an empty directory with no OPTSCAN_* variables and
builds its own plugin host (there is no global plugin manager to clean up).

Plain helpers live in ``helpers.py`` (constants, ``make_settings``, ``Recorder``) and
``fleet.py`` (redis-server and worker processes); test modules import those, never
each other or this file.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPTSCAN_") and name != "OPTSCAN_TEST_REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))  # optscan web's file
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings():
    from optscan.config import load_settings

    return load_settings(use_env=False)


@pytest.fixture
def host():
    from optscan.plugins import PluginHost

    return PluginHost(load_entrypoints=False)


# --------------------------------------------------------------------------- Redis


@pytest.fixture(scope="session")
def redis_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://host:port`` of a redis-server of the session's own (no database)."""
    from .fleet import HAVE_SERVER, NEEDS_REDIS, RedisServer

    external = os.environ.get("OPTSCAN_TEST_REDIS_URL")
    if external:
        yield external.rsplit("/", 1)[0] if external.count("/") > 2 else external
        return
    if not HAVE_SERVER:
        pytest.skip(NEEDS_REDIS)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield f"redis://127.0.0.1:{server.port}"
    server.stop()


def _database_numbers() -> Iterator[int]:
    """Databases 1-15, round and round. Under pytest-xdist with a shared server
    (OPTSCAN_TEST_REDIS_URL) each worker takes its own share of them; with the
    session's own redis-server (one per worker) the share is all of them."""
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    shared = bool(os.environ.get("OPTSCAN_TEST_REDIS_URL"))
    mine = [db for db in range(1, 16) if not shared or (db - 1) % count == index % count]
    return itertools.cycle(mine or [1 + index % 15])


_databases = _database_numbers()


@pytest.fixture
def redis_url(redis_base: str) -> str:
    """A flushed database of its own on the session's redis-server."""
    import redis as redis_py

    db = next(_databases)
    url = f"{redis_base}/{db}"
    redis_py.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def fleet(redis_url: str, tmp_path: Path) -> Iterator[object]:
    """``optscan worker`` processes on ``redis_url``, stopped (with horses) afterwards."""
    from .fleet import Fleet

    workers = Fleet(redis_url, tmp_path)
    yield workers
    workers.stop()
