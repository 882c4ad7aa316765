"""How a queued scan's symbols are cut into batch jobs.

A batch job keeps ``scan.concurrency`` requests in flight only while it has symbols
left: a batch of 8 symbols (0.1.0's fixed size) asks for 8 listings, waits, asks for
their chains, waits, and spends most of its time with its fetch threads idle, plus a
fork and a setup per job. So by default (``queue.batch_size = 0``) a scan is cut into
one batch per worker listening on its queue, each worker scanning its share at full
concurrency from start to end; batches hold at most ``queue.max_batch_size`` symbols
(a batch re-run after its worker died, or over its ``queue.batch_timeout_s``, redoes
at most that many), so a scan larger than ``workers x max_batch_size`` gets more,
evenly sized batches than workers, which the workers take in turn. Under a provider's
rate limit a batch is also capped to what the limit lets through in half of
``queue.batch_timeout_s`` (:func:`rate_cap`).
"""

from __future__ import annotations

import math

REQUESTS_PER_SYMBOL = 10
"""A generous guess of one symbol's requests (its listing and the chains in its DTE
window), to keep a rate-limited batch inside its timeout."""


def rate_cap(rate_per_s: float, timeout_s: int) -> int:
    """The most symbols a batch may hold when the provider allows ``rate_per_s``
    requests a second (0: no limit, no cap): what fits in half of ``timeout_s``
    (``queue.batch_timeout_s``) at :data:`REQUESTS_PER_SYMBOL` requests a symbol, at
    least 1. The shared limit is the fleet's, so this is a ceiling, not an estimate."""
    if rate_per_s <= 0:
        return 0
    return max(1, math.floor(timeout_s * rate_per_s / (2 * REQUESTS_PER_SYMBOL)))


def batch_count(symbols: int, *, batch_size: int, workers: int, max_batch_size: int) -> int:
    """How many batch jobs ``symbols`` symbols make.

    ``batch_size`` > 0: one job per ``batch_size`` symbols (a fixed size). 0: one per
    worker (``workers``, at least 1), more when a batch would exceed
    ``max_batch_size``; never more jobs than symbols.
    """
    if symbols <= 0:
        return 0
    if batch_size > 0:
        return math.ceil(symbols / batch_size)
    jobs = max(1, workers, math.ceil(symbols / max(1, max_batch_size)))
    return min(jobs, symbols)


def plan_batches(
    symbols: list[str], *, batch_size: int, workers: int, max_batch_size: int
) -> list[list[str]]:
    """``symbols`` cut into batches in order (see :func:`batch_count`): a fixed
    ``batch_size``, or batches whose sizes differ by at most one symbol."""
    if batch_size > 0:
        return [symbols[i : i + batch_size] for i in range(0, len(symbols), batch_size)]
    count = batch_count(len(symbols), batch_size=0, workers=workers, max_batch_size=max_batch_size)
    if count == 0:
        return []
    base, extra = divmod(len(symbols), count)
    batches: list[list[str]] = []
    start = 0
    for i in range(count):
        size = base + (1 if i < extra else 0)
        batches.append(symbols[start : start + size])
        start += size
    return batches
