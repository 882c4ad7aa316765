"""The Redis connection and optscan's key layout: the queue's leaf module.

Everything that talks to Redis gets its client from :func:`connect` (the URL's
password is never shown: :func:`optscan.secrets.mask_url`) and its key names from
:class:`Keys`: every optscan key starts with ``redis.prefix``; RQ keeps its own ``rq:``
namespace. It imports nothing else of optscan's queue, so any module may import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from optscan.errors import OptscanError
from optscan.secrets import mask_url, scrub_exception

if TYPE_CHECKING:
    from redis import Redis

    from optscan.config import QueueSection, Settings
    from optscan.models import ScanRequest


class QueueError(OptscanError):
    """Redis cannot be reached or a queue operation cannot be done."""


class ScanBusyError(OptscanError):
    """Another scan of the same profile holds the profile's lock."""

    def __init__(self, profile: str, holder: str) -> None:
        super().__init__(
            f"profile {profile!r} already has a scan in progress (scan_id {holder}); "
            f"wait for it (`optscan status --scan-id {holder}`) or, if it is dead, "
            f"`optscan lock clear --profile {profile}`"
        )
        self.profile = profile
        self.holder = holder


def client_options(url: str) -> dict[str, Any]:
    """The connection options optscan adds to a Redis URL's own, for every form redis-py
    accepts: ``redis://`` and ``rediss://`` (TCP, TLS) get TCP keep-alive, which a
    ``unix://`` socket connection does not take (redis-py refuses the keyword)."""
    from urllib.parse import urlsplit

    options: dict[str, Any] = {"socket_connect_timeout": 5, "health_check_interval": 30}
    if urlsplit(url).scheme.lower() != "unix":
        options["socket_keepalive"] = True
    return options


def connect(settings: Settings, *, url: str | None = None) -> Redis:
    """A Redis client for ``[redis] url`` (``OPTSCAN_REDIS_URL``: ``redis://``,
    ``rediss://`` or ``unix://``, options in the query as redis-py reads them); checks
    it answers."""
    from redis import Redis
    from redis.exceptions import RedisError

    url = url or settings.redis.url.get_secret_value()
    try:
        client = Redis.from_url(url, **client_options(url))
        client.ping()
    except (RedisError, ValueError, TypeError, OSError) as exc:
        raise QueueError(
            f"cannot reach Redis at {mask_url(url)}: {scrub_exception(exc, with_type=False)}"
        ) from None
    return client


T = TypeVar("T")


def passing_refusal(exc: BaseException) -> bool:
    """Whether a Redis error is one that passes on its own: Redis full (``OOM``),
    unreachable or restarting (connection, timeout, ``LOADING``), failing over
    (``READONLY``, ``MASTERDOWN``, ``TRYAGAIN``)."""
    from redis import exceptions as e

    passing = (
        e.ConnectionError,
        e.TimeoutError,
        e.BusyLoadingError,
        e.OutOfMemoryError,
        e.ReadOnlyError,
        e.TryAgainError,
        e.MasterDownError,
    )
    # a Lua script's or a pipeline's refusal may come as a plain ResponseError
    return isinstance(exc, passing) or (
        isinstance(exc, e.ResponseError) and "used memory > 'maxmemory'" in str(exc)
    )


def patiently(call: Callable[[], T], *, what: str, budget_s: float) -> T:
    """``call()``, tried again while Redis refuses it for a reason that passes
    (:func:`passing_refusal`), with a growing pause (0.25 s to 5 s), for at most
    ``budget_s`` (``queue.redis_wait_s``); then its error is raised. For a job's final
    writes, so a scan's work survives a Redis that is full or restarting for a while."""
    import time

    import structlog

    deadline = time.monotonic() + budget_s
    pause = 0.25
    while True:
        try:
            return call()
        except Exception as exc:
            if not passing_refusal(exc) or time.monotonic() + pause > deadline:
                raise
            structlog.get_logger("optscan").warning(
                "redis_refused_retrying",
                what=what,
                error=scrub_exception(exc),
                retry_in_s=pause,
            )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


@dataclass(frozen=True)
class Keys:
    """optscan's key layout. Per-scan keys share a ``{scan_id}`` hash tag, so a Redis
    Cluster keeps them in one slot and the Lua scripts may touch them together."""

    prefix: str = "optscan:"

    def scan(self, scan_id: str) -> str:
        return f"{self.prefix}scan:{{{scan_id}}}"

    def outcomes(self, scan_id: str) -> str:
        return f"{self.scan(scan_id)}:outcomes"

    def done(self, scan_id: str) -> str:
        return f"{self.scan(scan_id)}:done"

    def failed(self, scan_id: str) -> str:
        return f"{self.scan(scan_id)}:failed"

    def result(self, scan_id: str) -> str:
        return f"{self.scan(scan_id)}:result"

    def inflight(self) -> str:
        """The scans in flight: a set of scan ids, each added when its progress hash is
        created and removed when it ends (:class:`~optscan.queue.store.ScanStore`), so
        the workers' sweep (:mod:`optscan.queue.sweep`) reads it instead of scanning
        the keyspace. It lives ``queue.state_ttl_s`` after the last scan was added or a
        sweep read it. Not under the ``{scan_id}`` hash tag: the
        scripts that end a scan touch it beside the scan's keys (as they do the lock)."""
        return f"{self.prefix}scans:inflight"

    def results(self, profile: str) -> str:
        """The ``redis`` sink's latest result of a profile (a hash)."""
        return f"{self.prefix}results:{profile}"

    def lock(self, profile: str) -> str:
        """The profile's lock: a lease (the holder's scan id) with a short TTL."""
        return f"{self.prefix}lock:{profile}"

    def lock_owner(self, profile: str) -> str:
        """The scan that last took the profile's lock, kept while it may run (``state_ttl_s``):
        when the lease has lapsed, a scan whose jobs are still queued or running keeps
        the profile (:mod:`optscan.queue.lock`)."""
        return f"{self.prefix}lock:{profile}:owner"

    def latest(self, profile: str | None = None) -> str:
        return f"{self.prefix}latest" if profile is None else f"{self.prefix}latest:{profile}"

    def rate_limit(self, provider: str) -> str:
        return f"{self.prefix}ratelimit:{provider}"

    def provider_pause(self, provider: str) -> str:
        """No request to ``provider`` starts while this key lives (``retry_after``)."""
        return f"{self.prefix}ratelimit:{provider}:pause"

    def provider_server(self, provider: str) -> str:
        """Where a provider that simulates a server (``sim``) keeps that server's state
        when queued, shared by every worker (``sim_server.server_counts`` reads it)."""
        return f"{self.prefix}server:{provider}"

    def auth_refused(self, scan_id: str, provider: str) -> str:
        """``provider`` refused the credentials in this scan (the first message)."""
        return f"{self.scan(scan_id)}:auth:{provider}"


# The dotted paths RQ stores for optscan's jobs (0.1.0 stored ``optscan.jobs.*``, which
# still resolve to the same functions).
COORDINATE_SCAN = "optscan.queue.jobs.coordinate_scan"
SCAN_BATCH = "optscan.queue.jobs.scan_batch"
AGGREGATE_SCAN = "optscan.queue.jobs.aggregate_scan"
PING = "optscan.queue.jobs.ping"
ON_JOB_FAILURE = "optscan.queue.jobs.on_job_failure"
"""RQ's failure callback on the jobs of a scan: a job failed for good ends its scan."""

JOB_FUNCTIONS = frozenset(
    {
        COORDINATE_SCAN,
        SCAN_BATCH,
        AGGREGATE_SCAN,
        PING,
        # 0.1.0's paths, still stored in jobs and schedules it left in Redis
        "optscan.jobs.coordinate_scan",
        "optscan.jobs.scan_batch",
        "optscan.jobs.aggregate_scan",
        "optscan.jobs.ping",
    }
)
"""The only functions an optscan worker runs: a job naming anything else fails without
its module being imported (:func:`optscan.queue.rq.refusal`)."""

JOB_CALLBACKS = frozenset({ON_JOB_FAILURE})
"""The only ``success``/``failure``/``stopped`` callbacks a job may name."""

COORDINATOR_FUNCTIONS = frozenset({COORDINATE_SCAN, "optscan.jobs.coordinate_scan"})
AGGREGATOR_FUNCTIONS = frozenset({AGGREGATE_SCAN, "optscan.jobs.aggregate_scan"})


def coordinator_kwargs(request: ScanRequest, prefix: str, queue: QueueSection) -> dict[str, Any]:
    """The coordinator job's keyword arguments (JSON), for ``enqueue`` and schedules
    alike: the request, the key prefix and the ``[queue]`` section."""
    return {
        "request": request.model_dump(mode="json"),
        "prefix": prefix,
        "queue": queue.model_dump(),
    }


def rq_job_key(job_id: str) -> str:
    """The Redis hash RQ keeps a job in (``rq.job.Job.key_for``), for the Lua scripts
    that look at a scan's jobs."""
    return f"rq:job:{job_id}"


def coordinator_job_id(scan_id: str) -> str:
    return f"optscan-{scan_id}-coord"


def batch_job_id(scan_id: str, index: int) -> str:
    return f"optscan-{scan_id}-b{index:04d}"


def aggregator_job_id(scan_id: str) -> str:
    return f"optscan-{scan_id}-agg"
