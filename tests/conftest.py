"""Shared fixtures: every test runs in an empty directory with no OPTSCAN_* variables,
and builds its own plugin host (there is no global plugin manager to clean up)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from optscan.hookspecs import hookimpl

REPO = Path(__file__).resolve().parents[1]
SHARED_MARKET = REPO.parent / "shared" / "data" / "market"
NEW_YORK = dt.timezone(dt.timedelta(hours=-5))  # fixed offset: tests pin instants


def shared_market_dir() -> Path:
    """The recorded vendor data beside the repo; skip (with the reason) when absent."""
    if not SHARED_MARKET.is_dir():
        pytest.skip(
            "recorded market data in ../shared/data/market is not available "
            "(a user's clone); CI always has it"
        )
    return SHARED_MARKET


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPTSCAN_") and name != "OPTSCAN_TEST_REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings():
    from optscan.config import load_settings

    return load_settings(use_env=False)


def make_settings(**overrides):
    from optscan.config import load_settings

    return load_settings(overrides=overrides, use_env=False)


@pytest.fixture
def host():
    from optscan.plugins import PluginHost

    return PluginHost(load_entrypoints=False)


# A Wednesday, mid-session, so every calendar is open and sim's weeklies are near.
OPEN_INSTANT = dt.datetime(2026, 11, 18, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


class Recorder:
    """A plugin that records every lifecycle event, in order."""

    def __init__(self) -> None:
        self.events: list = []

    @hookimpl
    def optscan_event(self, event):
        self.events.append(event)
