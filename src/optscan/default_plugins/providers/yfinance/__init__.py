"""The ``yfinance`` provider: Yahoo Finance option chains, the default live source.

*Extract* (:mod:`.provider`) goes through yfinance's own HTTP layer,
``yfinance.data.YfData.get`` (a process-wide singleton holding the session, cookie,
crumb and curl_cffi browser impersonation Yahoo insists on), and returns the raw body of
Yahoo's v7 options endpoint untouched. The undated answer carries the expiration list
*and* the nearest chain, so a scan costs one request per expiration, no more. What
yfinance and curl raise is classified in :mod:`.network`.

*Transform* (:mod:`.parse`) is optscan's own parser of that body into a columnar
:class:`~optscan.chain.OptionChain`, one list per column turned into numpy arrays once;
yfinance's DataFrame code is not used (a test checks the two agree on recorded bodies).
Yahoo publishes no greeks, so delta is NaN here and computed downstream from the implied
volatility. Outside market hours Yahoo answers with zero bids and placeholder
volatilities (1e-05, 0.25..., 0.125...); those pass through untouched, because the
analytics gate rejects them with reasons a user can read.

Choices worth knowing:

* ``underlying_price`` is ``quote.regularMarketPrice`` with no fallback to pre- or
  post-market prices: Yahoo's option quotes are formed in the regular session, so the
  regular price is the one consistent with the bids, asks and IVs (before the open it
  is the previous close, which is what the stale option quotes were priced against).
  A quote without it is :class:`~optscan.errors.MalformedPayloadError`.
* ``quote_time`` is the latest of the quote's regular/pre/post market times: it says
  how fresh Yahoo's answer is, not which session the price came from.
* Earnings and ex-dividend dates that already lie behind ``quote_time`` are dropped:
  the strategy screen blacks out every expiration on or after the given date, so a
  past date (Yahoo keeps the last earnings in ``earningsTimestamp`` and sometimes in
  the start/end pair) would reject the whole chain.
* Yahoo's ``dividendDate`` is the *pay* date; only ``exDividendDate`` is used. Both are
  date-valued epochs at midnight UTC, so they are read as UTC dates, while earnings
  timestamps are real instants and are read as New York dates.

yfinance (about 0.6 s) and numpy are imported on the first request, so the CLI starts
fast: importing this package imports neither.
"""

from __future__ import annotations

from optscan.default_plugins.providers.yfinance.provider import YFinanceConfig, YFinanceProvider

__all__ = ["YFinanceConfig", "YFinanceProvider"]
