"""The core's client of a provider: every call into a provider goes through it.

The core, not each provider, is polite and careful. :class:`ProviderClient` wraps a
provider's *extract* calls with

* the shared **gate** (:mod:`optscan.scan.limits`): no request starts while the
  provider is paused by a ``RateLimitedError.retry_after`` or locked out by an
  ``AuthenticationError``; the wait happens *outside* the concurrency slots;
* a concurrency cap (``max_concurrency`` slots) and the client-side **rate limit**;
* **retries** of ``retryable`` errors with exponential backoff and jitter (tenacity;
  ``retry_attempts``, ``retry_initial_s``, ``retry_max_s``); a ``retry_after`` replaces
  the backoff, and one longer than ``max_retry_after_s`` fails the request at once;

and runs the provider's *transform* on each answer - inside the retry loop, because an
error answer (:mod:`optscan.http_answers`) becomes an error only there - validating
what it returns, so a plugin that hands back something that is not a valid chain is
named in the error.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from optscan.errors import (
    AuthenticationError,
    ImplausibleFundamentalsError,
    MalformedPayloadError,
    PluginError,
    ProviderError,
    RateLimitedError,
)
from optscan.http_answers import read_error_answer
from optscan.logs import get_logger
from optscan.scan.limits import MemoryGate, ProviderGate, memory_limiter

if TYPE_CHECKING:
    from pyrate_limiter import Limiter
    from tenacity import RetryCallState

    from optscan.chain import OptionChain
    from optscan.fundamentals import Fundamentals
    from optscan.protocols import JSON, OptionProvider, ProviderConfig

T = TypeVar("T")
_VALUE_ERRORS = frozenset(
    ("finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal")
)
"""pydantic's error types for a number out of its bounds: a transform whose only
problems are those met numbers no quote can have (the source's fault, not the plugin's):
``malformed_payload``."""
GATE_POLL_S = 1.0
"""How often a request waiting at the gate looks again (a longer pause, a lock-out)."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


def _final(exc: RateLimitedError, message: str) -> RateLimitedError:
    """A ``rate_limited`` error that is not retried (the wait asked for is too long)."""
    final = RateLimitedError(message)
    final.retryable = False
    return final


class ProviderClient:
    """A provider wrapped in the core's gate, slots, rate limit and retry policy."""

    def __init__(
        self,
        provider: OptionProvider[Any],
        config: ProviderConfig,
        *,
        plugin: str,
        limiter: Limiter | None = None,
        gate: ProviderGate | None = None,
        replaying: bool = False,
    ) -> None:
        self.provider = provider
        self.config = config
        self.plugin = plugin
        self.replaying = replaying
        if limiter is None and config.rate_limit_per_s > 0 and not replaying:
            limiter = memory_limiter(config.rate_limit_per_s)
        self.limiter = limiter
        self.gate: ProviderGate = gate or MemoryGate()
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        # initial, 2x, 4x ... capped at retry_max_s, plus up to `initial` of jitter
        self._exponential = wait_exponential_jitter(
            multiplier=config.retry_initial_s, max=config.retry_max_s, jitter=config.retry_initial_s
        )
        self.retries = 0
        self._count_lock = threading.Lock()

    def share(self, *, limiter: Limiter | None = None, gate: ProviderGate | None = None) -> None:
        """Use a limiter and a gate shared with other processes (a queued scan's)."""
        if limiter is not None and not self.replaying:
            self.limiter = limiter
        if gate is not None:
            self.gate = gate

    # ------------------------------------------------------------------ requests

    def expirations(self, symbol: str) -> tuple[JSON, list[dt.date]]:
        """The raw listing and its expirations, sorted and de-duplicated."""
        return self._request(
            f"{symbol} expirations",
            lambda: self.provider.extract_expirations(symbol),
            lambda raw: self._dates(raw, symbol),
        )

    def chain(self, symbol: str, expiration: dt.date, listing: JSON) -> OptionChain:
        """One expiration's chain, validated."""
        _raw, chain = self._request(
            f"{symbol} {expiration.isoformat()}",
            lambda: self.provider.extract_chain(symbol, expiration, listing),
            lambda raw: self._chain(raw, symbol, expiration),
        )
        return chain

    def fundamentals(self, symbol: str) -> Fundamentals:
        """The symbol's fundamentals (the provider's optional part), with the same gate,
        slots, rate limit, retries and signals as a chain request."""
        _raw, fundamentals = self._request(
            f"{symbol} fundamentals",
            lambda: self.provider.extract_fundamentals(symbol),
            lambda raw: self._fundamentals(raw, symbol),
        )
        return fundamentals

    def _request(
        self, what: str, extract: Callable[[], JSON], interpret: Callable[[JSON], T]
    ) -> tuple[JSON, T]:
        """One extract and its interpretation, with the whole policy around them."""
        retrying = Retrying(
            stop=stop_after_attempt(1 if self.replaying else self.config.retry_attempts),
            wait=self._backoff,
            retry=retry_if_exception(_retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    with self._count_lock:
                        self.retries += 1
                raw = self._extract(what, extract, interpret)
                return raw, self._signalled(what, interpret, raw)
        raise AssertionError("unreachable")  # pragma: no cover

    def _signalled(self, what: str, interpret: Callable[[JSON], T], raw: JSON) -> T:
        """``interpret(raw)``; a refused credential closes the gate and a rate limit
        pauses it (for every request to the provider) before the error goes on."""
        try:
            return interpret(raw)
        except AuthenticationError as exc:
            self._lock_out(exc)
            raise
        except RateLimitedError as exc:
            self._pause(exc, what)
            raise

    def _extract(
        self, what: str, extract: Callable[[], JSON], interpret: Callable[[JSON], Any]
    ) -> JSON:
        """Wait at the gate (outside the slots), then extract inside a slot.

        An error answer is interpreted before the slot is given back (it is small): a
        refused credential or a ``retry_after`` then closes or pauses the gate before
        any other request can take the slot, so none starts after the answer arrived.
        Ordinary payloads (whole chains) are transformed outside the slot.
        """
        while True:
            self._wait_at_gate()
            with self._slots:
                refused, paused = self.gate.state()
                if refused is not None:
                    raise AuthenticationError(refused)
                if paused > 0:
                    continue  # paused while this request waited for a slot: wait again
                if self.limiter is not None:
                    self.limiter.try_acquire(self.plugin)
                raw = self._signalled(what, lambda _: self._extracted(what, extract), None)
                if read_error_answer(raw) is not None:
                    self._signalled(what, interpret, raw)  # raises the error it means
                return raw

    def _extracted(self, what: str, extract: Callable[[], JSON]) -> JSON:
        """``extract()``; anything but a ProviderError is the plugin's fault (a crash in
        optscan's own code is not, and is reported as such by the scan)."""
        try:
            return extract()
        except ProviderError:
            raise  # the signals among them are acted on by _signalled
        except Exception as exc:
            from optscan.secrets import scrub_exception

            raise PluginError(
                self.plugin, f"{what}: extract raised {scrub_exception(exc)}"
            ) from exc

    def _wait_at_gate(self) -> None:
        while True:
            refused, paused = self.gate.state()
            if refused is not None:
                raise AuthenticationError(refused)
            if paused <= 0:
                return
            if paused > self.config.max_retry_after_s:
                raise _final(
                    RateLimitedError(),
                    f"{self.provider.name}: paused for another {paused:.0f} s by a rate "
                    f"limit, more than max_retry_after_s ({self.config.max_retry_after_s:g} s)",
                )
            time.sleep(min(paused, GATE_POLL_S))

    def _lock_out(self, exc: AuthenticationError) -> None:
        refused, _ = self.gate.state()
        if refused is None:
            get_logger().warning(
                "provider_refused_credentials",
                provider=self.provider.name,
                plugin=self.plugin,
                error=str(exc),
            )
        self.gate.lock_out(str(exc))

    def _pause(self, exc: RateLimitedError, what: str) -> None:
        """Honour ``retry_after`` for every request, or refuse a wait that is too long."""
        wait = exc.retry_after
        if wait is None or not exc.retryable or self.replaying:
            return
        get_logger().info("provider_paused", provider=self.provider.name, seconds=wait)
        self.gate.pause(wait)  # a pause too long to wait fails later requests at the gate
        if wait > self.config.max_retry_after_s:
            raise _final(
                exc,
                f"{exc}; {what}: the source asks to wait {wait:g} s, more than "
                f"max_retry_after_s ({self.config.max_retry_after_s:g} s)",
            ) from None

    def _backoff(self, state: RetryCallState) -> float:
        """The backoff before the next attempt; none after a ``retry_after`` (the gate
        makes every request, this one included, wait that long)."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            return 0.0
        return float(self._exponential(state))

    def _log_retry(self, state: RetryCallState) -> None:
        get_logger().info(
            "retrying",
            provider=self.provider.name,
            plugin=self.plugin,
            attempt=state.attempt_number,
            wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
            error=str(state.outcome.exception()) if state.outcome else None,
        )

    # ------------------------------------------------------------------ transforms

    def _dates(self, raw: JSON, symbol: str) -> list[dt.date]:
        dates = self._transform(self.provider.transform_expirations, raw, symbol)
        try:
            return sorted(
                {d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in dates}
            )
        except (TypeError, ValueError) as exc:
            raise PluginError(self.plugin, f"transform_expirations returned {exc}") from None

    def _chain(self, raw: JSON, symbol: str, expiration: dt.date) -> OptionChain:
        from optscan.chain import OptionChain

        chain = self._transform(self.provider.transform_chain, raw, symbol, expiration)
        if not isinstance(chain, OptionChain):
            raise PluginError(
                self.plugin, f"transform_chain returned {type(chain).__name__}, not an OptionChain"
            )
        if chain.symbol != symbol:
            raise PluginError(self.plugin, f"asked for {symbol}, got a chain of {chain.symbol}")
        if chain.malformed is not None:  # the gate rejects them; say it once here
            bad = int(chain.malformed.sum())
            if bad == len(chain):
                raise MalformedPayloadError(
                    f"{symbol} {expiration}: every contract holds values no quote can have "
                    f"(e.g. {chain.malformed_example})"
                )
            get_logger().info(
                "malformed_contracts", count=bad, total=len(chain), example=chain.malformed_example
            )
        return chain

    def _fundamentals(self, raw: JSON, symbol: str) -> Fundamentals:
        from optscan.fundamentals import Fundamentals

        found = self._transform(self.provider.transform_fundamentals, raw, symbol)
        if not isinstance(found, Fundamentals):
            raise PluginError(
                self.plugin,
                f"transform_fundamentals returned {type(found).__name__}, not Fundamentals",
            )
        if found.symbol != symbol:
            raise PluginError(
                self.plugin, f"asked for {symbol}, got fundamentals of {found.symbol}"
            )
        return found

    def _transform(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a transform; anything but a ProviderError is the plugin's fault."""
        from pydantic import ValidationError

        try:
            return fn(*args)
        except ProviderError:
            raise
        except ValidationError as exc:
            from optscan.config import format_validation_error

            text = format_validation_error(exc)
            if any(error["type"] == "bad_number" for error in exc.errors()):
                raise ImplausibleFundamentalsError(
                    f"{' '.join(map(str, args[1:]))}: {text}"
                ) from None  # optscan.fundamentals: figures no stock can have
            if all(error["type"] in _VALUE_ERRORS for error in exc.errors()):
                raise MalformedPayloadError(
                    f"{' '.join(map(str, args[1:]))}: numbers no quote can have: {text}"
                ) from None
            raise PluginError(self.plugin, f"returned invalid data: {text}") from None
        except Exception as exc:
            raise PluginError(self.plugin, f"{fn.__name__} raised {exc!r}") from exc
