"""Polite fetching for every provider: rate limit, concurrency cap, retries with backoff.

The core, not each provider, is polite: :class:`Fetcher` wraps a provider's *extract*
calls with

* a client-side rate limit (``[providers.<name>] rate_limit_per_s``) on pyrate-limiter,
  in memory for one process or in Redis (:func:`redis_limiter`) so a fleet of RQ
  workers shares one budget;
* retries of ``retryable`` errors (transient failures, HTTP 429) with exponential
  backoff and jitter on tenacity (``retry_attempts``, default 4);

and the provider's *transform* with validation that names the plugin when it hands back
something that is not a valid chain.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from optscan.errors import PluginError, ProviderError

if TYPE_CHECKING:
    from pyrate_limiter import Limiter

    from optscan.models import OptionChain
    from optscan.protocols import JSON, OptionProvider, ProviderConfig


def _rates(per_second: float) -> list[Any]:
    """pyrate-limiter rates for a per-second figure (fractions become longer windows)."""
    from pyrate_limiter import Duration, Rate

    if per_second >= 1 and float(per_second).is_integer():
        return [Rate(int(per_second), Duration.SECOND)]
    return [Rate(1, max(1, round(1000 / per_second)))]


def memory_limiter(per_second: float) -> Limiter:
    """A blocking limiter for one process."""
    from pyrate_limiter import InMemoryBucket, Limiter

    return Limiter(InMemoryBucket(_rates(per_second)), buffer_ms=10)


def redis_limiter(per_second: float, redis: Any, key: str) -> Limiter:
    """A blocking limiter whose window lives in Redis, shared by every worker."""
    from pyrate_limiter import Limiter, RedisBucket

    bucket = RedisBucket.init(_rates(per_second), redis, key)
    return Limiter(bucket, buffer_ms=10)


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


class Fetcher:
    """A provider wrapped in the core's rate limit, concurrency cap and retry policy."""

    def __init__(
        self,
        provider: OptionProvider,
        config: ProviderConfig,
        *,
        plugin: str,
        limiter: Limiter | None = None,
    ) -> None:
        self.provider = provider
        self.config = config
        self.plugin = plugin
        if limiter is None and config.rate_limit_per_s > 0:
            limiter = memory_limiter(config.rate_limit_per_s)
        self.limiter = limiter
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self.attempts = 0
        self.retries = 0
        self._count_lock = threading.Lock()

    def _request(self, what: str, call: Any, *args: Any) -> Any:
        """One extract with rate limit, concurrency cap and retries."""
        retrying = Retrying(
            stop=stop_after_attempt(self.config.retry_attempts),
            # initial, 2x, 4x ... capped at retry_max_s, plus up to `initial` of jitter
            wait=wait_exponential_jitter(
                multiplier=self.config.retry_initial_s,
                max=self.config.retry_max_s,
                jitter=self.config.retry_initial_s,
            ),
            retry=retry_if_exception(_is_retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                with self._count_lock:
                    self.attempts += 1
                    if attempt.retry_state.attempt_number > 1:
                        self.retries += 1
                with self._slots:
                    if self.limiter is not None:
                        self.limiter.try_acquire(self.plugin)
                    return call(*args)
        raise AssertionError("unreachable")  # pragma: no cover

    def _log_retry(self, state: Any) -> None:
        from optscan.logs import get_logger

        get_logger().info(
            "retrying",
            provider=self.provider.name,
            plugin=self.plugin,
            attempt=state.attempt_number,
            wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
            error=str(state.outcome.exception()) if state.outcome else None,
        )

    def expirations(self, symbol: str) -> tuple[JSON, list[dt.date]]:
        raw = self._request("expirations", self.provider.extract_expirations, symbol)
        dates = self._transform(self.provider.transform_expirations, raw, symbol)
        try:
            return raw, sorted(
                {d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in dates}
            )
        except (TypeError, ValueError) as exc:
            raise PluginError(self.plugin, f"transform_expirations returned {exc}") from None

    def chain(self, symbol: str, expiration: dt.date, listing: JSON) -> OptionChain:
        from optscan.models import OptionChain

        raw = self._request(
            expiration.isoformat(), self.provider.extract_chain, symbol, expiration, listing
        )
        chain = self._transform(self.provider.transform_chain, raw, symbol, expiration)
        if not isinstance(chain, OptionChain):
            raise PluginError(
                self.plugin, f"transform_chain returned {type(chain).__name__}, not an OptionChain"
            )
        if chain.symbol != symbol:
            raise PluginError(self.plugin, f"asked for {symbol}, got a chain of {chain.symbol}")
        return chain

    def _transform(self, fn: Any, *args: Any) -> Any:
        """Run a transform; anything but a ProviderError is the plugin's fault."""
        from pydantic import ValidationError

        try:
            return fn(*args)
        except ProviderError:
            raise
        except ValidationError as exc:
            from optscan.config import format_validation_error

            raise PluginError(
                self.plugin, f"returned invalid data: {format_validation_error(exc)}"
            ) from None
        except Exception as exc:
            raise PluginError(self.plugin, f"{fn.__name__} raised {exc!r}") from exc
