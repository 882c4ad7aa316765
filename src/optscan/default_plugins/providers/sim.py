"""The ``sim`` provider: a deterministic synthetic option market for offline runs.

Everything is seeded by (symbol, date), so the same scan gives the same numbers on any
machine: a spot price, weekly Friday expirations plus monthlies, an implied-volatility
smile with term structure, Black-Scholes prices around which bids and asks are spread,
and some junk (zero bids, wide spreads, thin open interest) so screens have work to do.

Knobs (``[providers.sim]``) make it a test bench for the fetch layer; their defaults
change nothing:

* ``latency_ms``: how long the simulated server takes to answer each request (from its
  arrival, the server's own bookkeeping and building its answer included);
* ``error_rate``: a probability of a transient, retryable failure (HTTP 503), seeded
  by (symbol, expiration, attempt) so fault runs are reproducible;
* ``rate_limit_per_s``: beyond it the simulated server answers "too many requests"
  (HTTP 429) as Yahoo does (the core also limits its own request rate to the same
  figure, so a well-behaved client never sees that answer);
* ``rate_limited``: symbols whose *first* request the server refuses with "too many
  requests", at once;
* ``retry_after_s``: the ``Retry-After`` (seconds) the server's 429 answers carry
  (0: none, so the core's own backoff applies);
* ``auth_refused``: symbols whose every request the server refuses at once with HTTP
  401, as a real server refuses an expired token (``AuthenticationError``: the core
  starts no further request to the provider in that scan);
* ``request_log``: a file to which the server appends one line per request, as it
  starts: ``<unix time> <pid> <symbol> <what>``, plus `` <status>`` when it refuses
  the request (``what`` is ``expirations`` or the expiration date). The file is opened
  in append mode for each line, so the workers of a fleet can share one.

When queued, a batch makes the server one for the whole fleet, in Redis
(:meth:`SimProvider.share_server`, :mod:`~optscan.default_plugins.providers.sim_server`).

The server's failures are *error answers* (:func:`optscan.http_answers.error_answer`)
that the extract returns and the transform raises as the mapped error
(:func:`~optscan.http_answers.raise_for_error_answer`), like a real HTTP provider's:
``--record`` saves them and ``--replay`` gives the same error again.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from optscan.default_plugins.providers.sim_market import (
    CHAIN_COLUMNS,
    cached_chain,
    chain_payload,
    nyse_calendar,
    seeded,
)
from optscan.default_plugins.providers.sim_server import ServerWindow
from optscan.errors import (
    ExpirationNotListedError,
    MalformedPayloadError,
    SymbolNotFoundError,
)
from optscan.http_answers import ERROR_ANSWER_KEY, error_answer, raise_for_error_answer
from optscan.protocols import JSON, OptionProvider, ProviderConfig

if TYPE_CHECKING:
    from optscan.chain import OptionChain
    from optscan.fundamentals import Fundamentals

NEW_YORK = ZoneInfo("America/New_York")
__all__ = ["CHAIN_COLUMNS", "SimConfig", "SimProvider"]


class SimConfig(ProviderConfig):
    latency_ms: float = Field(default=0.0, ge=0, le=60_000)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    ignore_market_hours: bool = True
    weeks: int = Field(default=8, ge=1, le=52, description="weekly expirations listed")
    no_options: list[str] = Field(default_factory=lambda: ["BTC-USD"])
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="changes the whole market")
    rate_limited: list[str] = Field(
        default_factory=list, description="symbols whose first request gets a 429"
    )
    retry_after_s: float = Field(
        default=0.0, ge=0, le=86_400, description="Retry-After of the 429s (0: none)"
    )
    auth_refused: list[str] = Field(
        default_factory=list, description="symbols whose requests get a 401"
    )
    request_log: str = Field(default="", description="append a line per request here")

    @field_validator("rate_limited", "auth_refused")
    @classmethod
    def _upper(cls, symbols: list[str]) -> list[str]:
        return [s.strip().upper() for s in symbols]


def _log_request(path: str, text: str) -> None:
    """Append one line to ``path`` (one ``write`` on an ``O_APPEND`` descriptor, so lines
    from several threads and processes never interleave)."""
    line = f"{time.time():.6f} {os.getpid()} {text}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class SimProvider(OptionProvider[SimConfig]):
    """Synthetic chains; results are labelled ``synthetic``."""

    name = "sim"
    synthetic = True

    def __init__(self, config: SimConfig) -> None:
        super().__init__(config)
        self.as_of: dt.datetime | None = None
        self._lock = threading.Lock()
        self._attempts: dict[tuple[str, str], int] = {}
        self.requests = 0
        self.request_times: list[float] = []
        self.rejected_for_rate = 0
        self._seen: set[str] = set()
        self._window = ServerWindow()

    def share_server(self, redis: Any, key: str) -> None:
        """One simulated server for the fleet, in Redis under ``key`` (:mod:`.sim_server`)."""
        self._window.share(redis, key)

    # ----------------------------------------------------------- the simulated server

    def _now(self) -> dt.datetime:
        return self.as_of or dt.datetime.now(dt.UTC)

    def _serve(self, symbol: str, what: str, answer: Callable[[], JSON]) -> JSON:
        """Everything a real server does: count, throttle, build the answer (``answer()``),
        wait out the rest of ``latency_ms`` from the request's arrival, fail.

        The answer is built inside the latency, as a server's own work is part of its
        response time: a request takes ``latency_ms`` whether its chain was cached or
        not (building one costs about 0.4 ms of this process's CPU all the same). Returns
        the answer, or the error answer given instead.
        """
        now = time.monotonic()
        config = self.config
        refusal: JSON | None = None
        limit = config.rate_limit_per_s
        with self._lock:
            self.requests += 1
            self.request_times.append(now)
            attempt = self._attempts.get((symbol, what), 0) + 1
            self._attempts[(symbol, what)] = attempt
            first = symbol not in self._seen
            self._seen.add(symbol)
            if symbol in config.auth_refused:
                refusal = error_answer(401, body=f"{symbol}: token refused (sim auth_refused)")
            elif first and symbol in config.rate_limited:
                refusal = self._too_many(f"{symbol}: too many requests (sim rate_limited)")
        if self._window.over(0 if refusal is not None else limit, now):
            with self._lock:
                self.rejected_for_rate += 1
            refusal = self._too_many(f"{symbol}: too many requests (sim limit {limit}/s)")
        if config.request_log:
            status = f" {refusal[ERROR_ANSWER_KEY]['status']}" if refusal else ""
            _log_request(config.request_log, f"{symbol} {what}{status}")
        if refusal is not None:
            return refusal
        try:
            body = answer()
        finally:  # from the request's arrival: its bookkeeping and its answer are part of it
            if config.latency_ms:
                time.sleep(max(0.0, config.latency_ms / 1000.0 - (time.monotonic() - now)))
        if config.error_rate > 0:
            draw = seeded(config.seed, symbol, what, attempt) / 2**64
            if draw < config.error_rate:
                return error_answer(
                    503, body=f"{symbol} {what}: simulated transient failure (attempt {attempt})"
                )
        return body

    def _too_many(self, message: str) -> JSON:
        wait = self.config.retry_after_s
        return error_answer(429, {"Retry-After": f"{wait:g}"} if wait else None, message)

    # ----------------------------------------------------------- market model

    def _spot(self, symbol: str, day: dt.date) -> float:
        base = 10 + (seeded(self.config.seed, symbol) % 49000) / 100.0
        drift = ((seeded(self.config.seed, symbol, day) % 2001) - 1000) / 100000.0
        return round(base * (1 + drift), 2)

    def _listed(self, today: dt.date) -> list[dt.date]:
        """Weekly Fridays and quarterly third Fridays, moved before exchange holidays
        the way listed options are (Good Friday's weekly expires on Thursday)."""
        from optscan.default_plugins.calendars.expirations import standard_weekly_expiration

        calendar = nyse_calendar()
        friday = today + dt.timedelta(days=(4 - today.weekday()) % 7)
        fridays = [friday + dt.timedelta(weeks=i) for i in range(self.config.weeks)]
        for months in range(3, 13, 3):
            y, m = divmod(today.month - 1 + months, 12)
            first = dt.date(today.year + y, m + 1, 1)
            fridays.append(first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14))
        listed = {standard_weekly_expiration(f, calendar) for f in fridays}
        return sorted(d for d in listed if d >= today)

    # ----------------------------------------------------------- provider API

    def extract_expirations(self, symbol: str) -> JSON:
        return self._serve(symbol, "expirations", lambda: self._listing(symbol))

    def _listing(self, symbol: str) -> JSON:
        now = self._now()
        today = now.astimezone(NEW_YORK).date()
        if symbol in self.config.no_options:
            return {"symbol": symbol, "expirations": [], "as_of": now.isoformat()}
        return {
            "symbol": symbol,
            "spot": self._spot(symbol, today),
            "as_of": now.isoformat(),
            "expirations": [d.isoformat() for d in self._listed(today)],
        }

    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        raise_for_error_answer(raw, f"{symbol} expirations")
        try:
            dates = [dt.date.fromisoformat(d) for d in raw["expirations"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedPayloadError(f"{symbol}: bad sim listing: {exc!r}") from None
        if not dates:
            raise SymbolNotFoundError(f"{symbol}: no listed options")
        return dates

    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        return self._serve(
            symbol, expiration.isoformat(), lambda: self._chain(symbol, expiration, listing)
        )

    def _chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        """A chain's answer: cached, or built (deterministic, so the cache is exact)."""
        if expiration.isoformat() not in listing.get("expirations", []):
            raise ExpirationNotListedError(f"{symbol}: {expiration} is not a listed expiration")
        now = dt.datetime.fromisoformat(listing["as_of"])
        seed, spot = self.config.seed, float(listing["spot"])
        key = (seed, symbol, expiration, listing["as_of"], spot)
        return cached_chain(key, lambda: chain_payload(seed, symbol, expiration, now, spot))

    def extract_fundamentals(self, symbol: str) -> JSON:
        from optscan.default_plugins.providers import sim_fundamentals

        def answer() -> JSON:
            if symbol in self.config.no_options:
                return error_answer(404, body=f"{symbol}: no fundamentals (sim no_options)")
            today = self._now().astimezone(NEW_YORK).date()
            spot = self._spot(symbol, today)
            return sim_fundamentals.payload(self.config.seed, symbol, spot, today)

        return self._serve(symbol, "fundamentals", answer)

    def transform_fundamentals(self, raw: JSON, symbol: str) -> Fundamentals:
        from optscan.default_plugins.providers import sim_fundamentals

        return sim_fundamentals.parse(raw, symbol, self.name)

    def transform_chain(self, raw: JSON, symbol: str, expiration: dt.date) -> OptionChain:
        from optscan.chain import OptionChain

        raise_for_error_answer(raw, f"{symbol} {expiration.isoformat()}")
        try:
            if raw["expiration"] != expiration.isoformat():
                raise ExpirationNotListedError(f"{symbol}: payload is for {raw['expiration']}")
            n = len(raw["contract_symbol"])
            return OptionChain(
                symbol=symbol,
                provider=self.name,
                synthetic=True,
                underlying_price=raw["spot"],
                quote_time=dt.datetime.fromisoformat(raw["quote_time"]),
                data_delay_s=0.0,
                contract_symbol=raw["contract_symbol"],
                kind=raw["kind"],
                expiration=[raw["expiration"]] * n,
                strike=raw["strike"],
                bid=raw["bid"],
                ask=raw["ask"],
                last=raw["last"],
                volume=raw["volume"],
                open_interest=raw["open_interest"],
                iv=raw["iv"],
            )
        except (KeyError, TypeError) as exc:
            raise MalformedPayloadError(f"{symbol}: bad sim chain: {exc!r}") from None
