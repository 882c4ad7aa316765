"""The ``sim`` provider's synthetic market: what its simulated server answers.

Deterministic in (seed, symbol, day): spot prices, a volatility per symbol, and each
expiration's chain (:func:`chain_payload`), priced to the expiration day's NYSE close
as the scan prices it. Chains are cached (:func:`cached_chain`): building one is the
simulated server's work, which on a real provider happens on someone else's machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import threading
from collections.abc import Callable
from typing import Any

from optscan.protocols import JSON

RATE = 0.04
"""The risk-free rate the market prices options with (a fraction a year)."""

CHAIN_COLUMNS = (
    "contract_symbol",
    "kind",
    "strike",
    "bid",
    "ask",
    "last",
    "volume",
    "open_interest",
    "iv",
)
"""The per-contract lists of a sim chain payload."""

_calendar: Any = None
# The simulated *server's* work (building a chain) is cached: on a real provider that
# work happens on someone else's machine, so it should not compete with optscan's own
# threads for the GIL in benchmarks. Payloads are deterministic, so caching is exact.
# A chain payload is about 45 KB of Python lists: 640 of them (~30 MB) hold a 100-symbol
# benchmark scan, while a 3,000-symbol scan stays far under its memory budget.
_PAYLOAD_CACHE_SIZE = 640
_payloads: dict[tuple[Any, ...], JSON] = {}
_payload_lock = threading.Lock()


def nyse_calendar() -> Any:
    """One NYSE calendar per process (built on first use, about 0.3 s)."""
    global _calendar
    if _calendar is None:
        from optscan.default_plugins.calendars.nyse import NyseCalendar

        _calendar = NyseCalendar()
    return _calendar


_closes: Any = None


def _expiry_close(day: dt.date) -> dt.datetime:
    """The NYSE close of an expiration day: options stop trading then (13:00 on an
    early-close day), and the simulated market prices them to it, as the scan does."""
    global _closes
    if _closes is None:
        from optscan.analytics.expiry import ExpiryCloses

        _closes = ExpiryCloses(nyse_calendar())
    close: dt.datetime = _closes.close_of(day)
    return close


def seeded(*parts: object) -> int:
    """A 64-bit number drawn from ``parts`` (BLAKE2b): the same on every machine."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def base_vol(seed: int, symbol: str) -> float:
    """The symbol's at-the-money implied volatility (a fraction a year, 0.18-0.68)."""
    return 0.18 + (seeded(seed, symbol, "vol") % 5000) / 10000.0


def cached_chain(key: tuple[Any, ...], build: Callable[[], JSON]) -> JSON:
    """The chain cached under ``key``, or ``build()`` cached (oldest dropped first)."""
    with _payload_lock:
        payload = _payloads.get(key)
    if payload is None:
        payload = build()
        with _payload_lock:
            _payloads[key] = payload
            while len(_payloads) > _PAYLOAD_CACHE_SIZE:
                _payloads.pop(next(iter(_payloads)))
    return payload


def chain_payload(
    seed: int, symbol: str, expiration: dt.date, now: dt.datetime, spot: float
) -> JSON:
    """One expiration's chain as the simulated server answers it: columns of
    :data:`CHAIN_COLUMNS` (strikes 60-140 % of ``spot`` on the exchange's strike step,
    bids and asks spread around Black-Scholes prices at a smiled IV, open interest
    thinning away from the money), deterministic in (seed, symbol, expiration, day)."""
    import numpy as np

    from optscan.analytics.greeks import bs_price

    rng = np.random.default_rng(seeded(seed, symbol, expiration, now.date()))
    close = _expiry_close(expiration)  # 13:00 on an early-close day, as the scan's
    years = max((close - now).total_seconds(), 60.0) / (365.0 * 86400)
    step = 0.5 if spot < 25 else 1.0 if spot < 100 else 2.5 if spot < 250 else 5.0
    lo, hi = spot * 0.6, spot * 1.4
    strikes = np.arange(math.ceil(lo / step) * step, hi + step / 2, step)
    strikes = np.round(strikes, 2)
    n = len(strikes)
    k = np.log(strikes / spot)
    base = base_vol(seed, symbol)
    term = 1.0 + 0.15 / math.sqrt(max(years * 52, 1.0))
    iv = base * term * (1.0 - 0.6 * k + 1.8 * k * k) * rng.uniform(0.97, 1.03, n)
    iv = np.clip(iv, 0.05, 3.0)

    columns: dict[str, list] = {key: [] for key in CHAIN_COLUMNS}
    root = f"{symbol.replace('-', '').replace('.', '')}{expiration:%y%m%d}"
    strike_codes = [f"{m:08d}" for m in np.rint(strikes * 1000).astype(np.int64).tolist()]
    for is_call, letter, kind in ((False, "P", "put"), (True, "C", "call")):
        theo = bs_price(spot, strikes, years, iv, is_call, RATE, 0.0)
        half = np.maximum(0.01, theo * rng.uniform(0.02, 0.12, n) + 0.01)
        wide = rng.random(n) < 0.08
        half = np.where(wide, half * 6, half)
        bid = np.round(np.maximum(theo - half, 0.0), 2)
        bid = np.where(theo < 0.03, 0.0, bid)
        ask = np.round(np.maximum(theo + half, bid + 0.01), 2)
        moneyness = np.abs(k)
        oi = np.floor(rng.lognormal(6.0, 1.2, n) * np.exp(-8 * moneyness))
        volume = np.floor(oi * rng.uniform(0, 0.3, n))
        last = np.round(np.maximum(theo * rng.uniform(0.9, 1.1, n), 0.01), 2)
        columns["contract_symbol"] += [root + letter + code for code in strike_codes]
        columns["kind"] += [kind] * n
        columns["strike"] += strikes.tolist()
        columns["bid"] += bid.tolist()
        columns["ask"] += ask.tolist()
        columns["last"] += last.tolist()
        columns["volume"] += volume.tolist()
        columns["open_interest"] += oi.tolist()
        columns["iv"] += np.round(iv, 4).tolist()
    return {
        "symbol": symbol,
        "expiration": expiration.isoformat(),
        "spot": spot,
        "quote_time": now.isoformat(),
        **columns,
    }
