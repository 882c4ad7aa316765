"""Queued scans on Redis and RQ: the only package that knows Redis, RQ and rq-scheduler.

* :mod:`~optscan.queue.connection` - connect, key layout, job ids (the leaf);
* :mod:`~optscan.queue.rq` - JSON-only job and queue classes;
* :mod:`~optscan.queue.worker`, :mod:`~optscan.queue.warmup` - the worker;
* :mod:`~optscan.queue.lock` - the per-profile scan lock;
* :mod:`~optscan.queue.store` - a scan's progress, outcomes and result;
* :mod:`~optscan.queue.limits` - rate limit, pause and auth latch shared in Redis;
* :mod:`~optscan.queue.enqueue` - queue a scan, wait for it;
* :mod:`~optscan.queue.jobs` - the coordinator, batch and aggregator jobs;
* :mod:`~optscan.queue.schedule` - timed scans (rq-scheduler, New York time);
* :mod:`~optscan.queue.dashboard` - rq-dashboard reading JSON jobs.
"""
