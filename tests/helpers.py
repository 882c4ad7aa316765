"""Plain helpers and constants shared by the test modules (fixtures are in conftest.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from optscan.hookspecs import hookimpl

REPO = Path(__file__).resolve().parents[1]
SHARED_MARKET = REPO.parent / "shared" / "data" / "market"
NEW_YORK = dt.timezone(dt.timedelta(hours=-5))  # fixed offset: tests pin instants
OPEN_INSTANT = dt.datetime(2026, 11, 18, 11, 0, tzinfo=NEW_YORK)
"""A Wednesday, mid-session, so every calendar is open and sim's weeklies are near."""


def shared_market_dir() -> Path:
    """The recorded vendor data beside the repo; skip (with the reason) when absent."""
    if not SHARED_MARKET.is_dir():
        pytest.skip(
            "recorded market data in ../shared/data/market is not available "
            "(a user's clone); CI always has it"
        )
    return SHARED_MARKET


def make_settings(**overrides: Any) -> Any:
    """Settings from the defaults and ``overrides`` (dotted keys), ignoring OPTSCAN_*."""
    from optscan.config import load_settings

    return load_settings(overrides=overrides, use_env=False)


class Recorder:
    """A plugin that records every lifecycle event, in order."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    @hookimpl
    def optscan_event(self, event: Any) -> None:
        self.events.append(event)


def run_jobs(redis: Any, queue_name: str = "optscan", max_jobs: int | None = None) -> None:
    """Run queued optscan jobs in this process (rq's SimpleWorker, JSON jobs): every job
    and the dependents they release, or at most ``max_jobs``."""
    from rq.serializers import JSONSerializer
    from rq.worker import SimpleWorker

    from optscan.queue.rq import JsonJob, JsonQueue

    SimpleWorker(
        [JsonQueue(queue_name, connection=redis)],
        connection=redis,
        serializer=JSONSerializer,
        job_class=JsonJob,
    ).work(burst=True, max_jobs=max_jobs)


def redis_text(redis: Any) -> str:
    """Everything stored in ``redis`` as one text (keys, strings, hashes, lists, sets;
    RQ's zlib-compressed job data decompressed), to assert what never reaches it."""
    import contextlib
    import zlib

    def text(value: bytes) -> str:
        with contextlib.suppress(zlib.error):
            value = zlib.decompress(value)
        return value.decode("utf-8", "replace")

    parts: list[str] = []
    for key in redis.keys("*"):
        parts.append(text(key))
        kind = redis.type(key).decode()
        if kind == "string":
            values = [redis.get(key)]
        elif kind == "hash":
            values = [v for pair in redis.hgetall(key).items() for v in pair]
        elif kind == "list":
            values = redis.lrange(key, 0, -1)
        elif kind in ("set", "zset"):
            values = list(redis.smembers(key) if kind == "set" else redis.zrange(key, 0, -1))
        else:
            values = []
        parts.extend(text(v) for v in values if v is not None)
    return "\n".join(parts)
