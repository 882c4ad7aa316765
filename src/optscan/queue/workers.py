"""How many workers listen on a queue: ``optscan status`` shows it, and a queued scan's
coordinator cuts one batch per worker (:mod:`optscan.queue.plan`).

Apart from :mod:`optscan.queue.worker` so a job can count workers without importing the
worker (which imports the jobs to warm itself up).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis import Redis


def listening_workers(redis: Redis, queue_name: str, heartbeat_within_s: float = 15.0) -> int:
    """How many live workers listen on ``queue_name`` (0: a queued scan waits for one).

    A worker's key outlives it by ``worker_ttl + 60`` s (rq's own margin), so a killed
    worker would count for over a minute: only workers whose last heartbeat is at most
    ``heartbeat_within_s`` old count (a live one beats every few seconds, busy or not).
    """
    from rq import Worker
    from rq.serializers import JSONSerializer

    from optscan.queue.rq import JsonJob, JsonQueue

    now = dt.datetime.now(dt.UTC)
    queue = JsonQueue(queue_name, connection=redis)
    alive = 0
    workers = Worker.all(
        connection=redis,
        job_class=JsonJob,
        queue_class=JsonQueue,
        queue=queue,
        serializer=JSONSerializer,
    )
    for worker in workers:
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=dt.UTC)
        if beat is not None and (now - beat).total_seconds() <= heartbeat_within_s:
            alive += 1
    return alive
