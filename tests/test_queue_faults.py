"""Issue 18's queue faults, reproduced on real ``optscan worker`` (and plain ``rq
worker``) processes against the suite's real ``redis-server``: a job written into Redis
by hand. Each takes seconds, so all are ``slow``; their logic is also covered
in-process, on fakeredis, by ``test_queue_hardening.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import redis as redis_py

from .fleet import (
    HAVE_SERVER,
    NEEDS_REDIS,
    OPTSCAN,
    child_env,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HAVE_SERVER and not os.environ.get("OPTSCAN_TEST_REDIS_URL"), reason=NEEDS_REDIS
    ),
]

CANARY = """
import pathlib
pathlib.Path(__file__).with_name("imported.txt").write_text("imported")

def run(*args, **kwargs):
    pathlib.Path(__file__).with_name("ran.txt").write_text("ran")
"""


def push_hand_made_job(client, job_id: str, call: list) -> None:
    """A job written straight into Redis, as anyone who can reach it could: a JSON call
    ``[function, instance, args, kwargs]``, no RQ code involved."""
    data = zlib.compress(json.dumps(call).encode())
    client.hset(
        f"rq:job:{job_id}",
        mapping={"data": data, "status": "queued", "origin": "optscan", "description": job_id},
    )
    client.sadd("rq:queues", "rq:queue:optscan")
    client.rpush("rq:queue:optscan", job_id)


def test_workers_run_only_optscans_jobs(redis_url: str, tmp_path: Path):
    """``optscan worker`` and plain ``rq worker --worker-class optscan.queueing.OptscanWorker``
    (without ``--serializer``: rq's default is pickle) refuse a hand-made job and any job
    naming a foreign callback: nothing runs, nothing it names is imported, each attempt
    is logged with credentials scrubbed, and optscan's own jobs still run."""
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "optscan_canary.py").write_text(CANARY)
    env = child_env(redis_url, PYTHONPATH=str(canary))
    client = redis_py.Redis.from_url(redis_url)
    rq = str(Path(sys.executable).with_name("rq"))
    workers = {
        "optscan worker": [*OPTSCAN, "worker", "--burst"],
        "rq worker": [
            *[rq, "worker", "--url", redis_url, "--burst"],
            *["--worker-class", "optscan.queueing.OptscanWorker", "optscan"],
        ],
    }
    for which, command in workers.items():
        tag = which.split()[0]
        push_hand_made_job(client, f"{tag}-system", ["os.system", None, ["id > pwned.txt"], {}])
        push_hand_made_job(client, f"{tag}-canary", ["optscan_canary.run", None, [], {}])
        push_hand_made_job(
            client, f"{tag}-secret", ["https://ops:hunter2-canary-pw@h/x.run", None, [], {}]
        )
        push_hand_made_job(client, f"{tag}-method", ["format", "{}", ["x"], {}])
        client.hset(f"rq:job:{tag}-method", "failure_callback_name", "optscan_canary.run")
        push_hand_made_job(client, f"{tag}-ping", ["optscan.jobs.ping", None, [], {}])
        ran = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stderr
        log = ran.stdout + ran.stderr
        for name in ("system", "canary", "secret", "method"):
            assert client.hget(f"rq:job:{tag}-{name}", "status") == b"failed", (which, log)
        assert client.hget(f"rq:job:{tag}-ping", "status") == b"finished", (which, log)
        assert log.count("refused job") == 4, (which, log)
        assert "'os.system' is not one of optscan's jobs" in log
        assert "hunter2-canary-pw" not in log
        assert not (tmp_path / "pwned.txt").exists(), which
        assert sorted(p.name for p in canary.iterdir()) == ["optscan_canary.py"], which
