"""rq's in-worker scheduler (it re-queues retries that wait an interval), with a short lock."""

from __future__ import annotations

from rq.scheduler import RQScheduler


class OptscanScheduler(RQScheduler):
    """rq's in-worker scheduler with a short lock.

    rq holds the per-queue scheduler lock for ``interval + 60`` s, so when the worker
    running the scheduler is killed, retries scheduled with an interval wait a minute
    for another worker to take over. The scheduler heartbeats every ``interval`` (1 s),
    so a lock of a few seconds is safe; we shorten it after every acquire and refresh.
    """

    lock_ttl_s = 10
    _SHORTEN = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then
        return redis.call('EXPIRE', KEYS[1], ARGV[2])
    end
    return 0
    """

    def _shorten_locks(self) -> None:
        script = self.connection.register_script(self._SHORTEN)
        for name in list(self._acquired_locks):
            script(keys=[self.get_locking_key(name)], args=[self.name, self.lock_ttl_s])

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        locks = super().acquire_locks(auto_start=False)
        self._shorten_locks()
        if self._acquired_locks and auto_start and not (self._process and self._process.is_alive()):
            self.start()
        return locks

    def heartbeat(self) -> None:
        super().heartbeat()
        self._shorten_locks()
