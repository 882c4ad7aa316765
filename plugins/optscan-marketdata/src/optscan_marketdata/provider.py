"""The ``marketdata`` provider: option chains with greeks from the marketdata.app REST API.

*Extract* makes one request per symbol for the listing
(``/v1/options/expirations/{symbol}/``) and one per expiration for the chain
(``/v1/options/chain/{symbol}/?expiration=YYYY-MM-DD``) and returns the JSON bodies
untouched, so ``optscan scan --record``/``--replay`` work and a replayed scan needs no
token. The token is therefore read only inside extract: from ``[providers.marketdata]
token``, else ``$MD_API_KEY``. It travels in the ``Authorization`` header only, never in
a URL, a log line or an error message.

*Transform* turns marketdata's columnar answer (one array per field) into an
:class:`~optscan.models.OptionChain` without a per-contract loop. Delta is marketdata's
own, so the scan reports ``delta_source: "provider"`` wherever it is published.

HTTP is mapped onto optscan's error types so the core's retry policy does the right
thing: 5xx, timeouts and dropped connections are transient (retried); 429 is
rate-limited (retried, unless the quota resets too far ahead to wait for); 401 means the
token is wrong and is neither retried nor repeated for the following symbols;
``{"s":"no_data"}`` is an unknown symbol or an unlisted expiration; ``{"s":"error"}``
carries marketdata's ``errmsg``. When a response says the request quota is used up
(``X-Api-Ratelimit-Remaining: 0``), the next request waits for the reset if it is within
``max_wait_s`` and otherwise fails at once, saying when the quota resets.

httpx and numpy are imported when first needed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator

from optscan import (
    JSON,
    ExpirationNotListedError,
    MalformedPayloadError,
    NetworkUnreachableError,
    OptionProvider,
    ProviderConfig,
    ProviderError,
    RateLimitedError,
    SymbolNotFoundError,
    TransientProviderError,
)

if TYPE_CHECKING:
    import numpy as np

    from optscan import OptionChain

BASE_URL = "https://api.marketdata.app"
TOKEN_ENV = "MD_API_KEY"
NEW_YORK = ZoneInfo("America/New_York")


# --------------------------------------------------------------------------- errors


class TokenMissingError(ProviderError):
    """No token configured: every request would be refused, so none is made."""

    reason = "token_missing"


class TokenRejectedError(ProviderError):
    """marketdata answered 401: the token is wrong or expired. Retrying cannot help."""

    reason = "token_rejected"


class QuotaExhaustedError(RateLimitedError):
    """The request quota is used up until a reset too far ahead to wait for.

    Still a :class:`RateLimitedError` (reason ``rate_limited``), but not retryable: the
    core's retries come within seconds and the quota resets in hours.
    """

    retryable = False


class MarketDataError(ProviderError):
    """marketdata answered ``{"s": "error", "errmsg": ...}``; the message is its errmsg."""

    reason = "provider_error"


# --------------------------------------------------------------------------- config


class MarketDataConfig(ProviderConfig):
    """``[providers.marketdata]``."""

    token: SecretStr | None = Field(
        default=None, description=f"API token; default: the {TOKEN_ENV} environment variable"
    )
    base_url: str = Field(default=BASE_URL, description="API root (a proxy or a test server)")
    timeout_s: float = Field(default=15.0, gt=0, le=300, description="per request")
    max_concurrency: int = Field(default=8, ge=1, le=50)
    max_wait_s: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="wait at most this long for a rate-limit reset; further off, fail",
    )
    data_delay_s: float = Field(
        default=0.0, ge=0, description="how late your plan's quotes are (0 = real time)"
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or len(value) < 10:
            raise ValueError("must be an http(s) URL, e.g. https://api.marketdata.app")
        return value


# --------------------------------------------------------------------------- provider


class MarketDataProvider(OptionProvider):
    """marketdata.app option chains (bid/ask, open interest, IV and greeks)."""

    name = "marketdata"
    Config = MarketDataConfig

    def __init__(self, config: MarketDataConfig) -> None:
        super().__init__(config)
        self.config: MarketDataConfig = config
        self._lock = threading.Lock()
        self._client: Any = None
        self._blocked_until: float | None = None  # POSIX time the quota resets
        self._token_rejected = False

    # ------------------------------------------------------------------ extract

    def extract_expirations(self, symbol: str) -> JSON:
        return self._get(
            f"/v1/options/expirations/{quote(symbol, safe='')}/",
            None,
            symbol,
            "expirations",
            SymbolNotFoundError,
        )

    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        try:
            listed = self.transform_expirations(listing, symbol)
        except ProviderError:
            listed = None  # an odd listing: let the server decide
        if listed is not None and expiration not in listed:
            raise ExpirationNotListedError(
                f"marketdata: {symbol}: {expiration} is not a listed expiration"
            )
        return self._get(
            f"/v1/options/chain/{quote(symbol, safe='')}/",
            {"expiration": expiration.isoformat()},
            symbol,
            f"chain {expiration}",
            ExpirationNotListedError,
        )

    def _token(self) -> str:
        secret = self.config.token.get_secret_value() if self.config.token else ""
        token = (secret or os.environ.get(TOKEN_ENV, "")).strip()
        if not token:
            raise TokenMissingError(
                f"marketdata: no API token; set {TOKEN_ENV} or [providers.marketdata] token"
            )
        return token

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(
                    base_url=self.config.base_url,
                    timeout=self.config.timeout_s,
                    headers={
                        "Accept": "application/json",
                        "User-Agent": f"optscan-marketdata/{_version()}",
                    },
                )
            return self._client

    def _get(
        self,
        path: str,
        params: dict[str, str] | None,
        symbol: str,
        what: str,
        not_found: type[ProviderError],
    ) -> JSON:
        """One GET; returns the JSON body untouched or raises the matching ProviderError."""
        if self._token_rejected:
            raise TokenRejectedError(_REJECTED)
        token = self._token()
        self._wait_for_quota()
        import httpx

        try:
            response = self._http().get(
                path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TimeoutException:
            raise TransientProviderError(
                f"marketdata: {symbol} {what}: no answer within {self.config.timeout_s:g} s"
            ) from None
        except httpx.ConnectError as exc:
            raise NetworkUnreachableError(
                f"marketdata: {symbol} {what}: cannot connect to {self._host()} "
                f"({type(exc).__name__}: {exc})"
            ) from None
        except httpx.TransportError as exc:
            raise TransientProviderError(
                f"marketdata: {symbol} {what}: {type(exc).__name__}: {exc}"
            ) from None

        status = response.status_code
        reset = _reset_time(response.headers.get("X-Api-Ratelimit-Reset"))
        remaining = _number(response.headers.get("X-Api-Ratelimit-Remaining"))
        if status == 401:
            self._token_rejected = True
            raise TokenRejectedError(_REJECTED)
        if status == 429:
            self._block_until(reset)
            raise self._rate_limited(f"{symbol} {what}: rate limited (HTTP 429)", reset)
        if remaining is not None and remaining <= 0:
            self._block_until(reset)  # this answer is good; the next request would not be
        if status >= 500:
            raise TransientProviderError(f"marketdata: {symbol} {what}: HTTP {status}")
        try:
            body = response.json()
        except ValueError:
            if status == 404:
                raise not_found(f"marketdata: {symbol}: no {what} (HTTP 404)") from None
            raise MalformedPayloadError(
                f"marketdata: {symbol} {what}: HTTP {status} answer is not JSON"
            ) from None
        if status == 203:
            from optscan import get_logger

            get_logger().debug("marketdata_cached_answer", symbol=symbol, what=what)
        _check_body(body, symbol, what, not_found, redact=token)
        if status not in (200, 203):
            raise ProviderError(f"marketdata: {symbol} {what}: unexpected HTTP {status}")
        return body

    def _host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.config.base_url).hostname or "?"

    # ------------------------------------------------------------------ rate limits

    def _block_until(self, reset: float | None) -> None:
        if reset is None:
            return
        with self._lock:
            self._blocked_until = max(reset, self._blocked_until or 0.0)

    def _wait_for_quota(self) -> None:
        """Before a request: wait out a near quota reset, or fail saying when it comes."""
        with self._lock:
            until = self._blocked_until
        if until is None:
            return
        wait = until - time.time()
        if wait > self.config.max_wait_s:
            raise self._rate_limited("request quota used up", until)
        if wait > 0:
            time.sleep(wait)
        with self._lock:
            if self._blocked_until == until:
                self._blocked_until = None

    def _rate_limited(self, what: str, reset: float | None) -> RateLimitedError:
        if reset is None:
            return RateLimitedError(f"marketdata: {what}")
        wait = reset - time.time()
        when = dt.datetime.fromtimestamp(reset, NEW_YORK).isoformat(timespec="seconds")
        message = f"marketdata: {what}; it resets at {when} (in {_duration(wait)})"
        if wait > self.config.max_wait_s:
            return QuotaExhaustedError(message)
        return RateLimitedError(message)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------------ transform

    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        _check_body(raw, symbol, "expirations", SymbolNotFoundError)
        values = raw.get("expirations")
        if not isinstance(values, list):
            raise MalformedPayloadError(f"marketdata: {symbol}: 'expirations' is not a list")
        dates = set()
        for value in values:
            try:
                if isinstance(value, str):
                    dates.add(dt.date.fromisoformat(value[:10]))
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    dates.add(dt.datetime.fromtimestamp(value, NEW_YORK).date())
                else:
                    raise ValueError(value)
            except (ValueError, OverflowError, OSError):
                raise MalformedPayloadError(
                    f"marketdata: {symbol}: bad expiration {value!r:.40}"
                ) from None
        if not dates:
            raise SymbolNotFoundError(f"marketdata: {symbol}: no listed options")
        return sorted(dates)

    def transform_chain(self, raw: JSON, symbol: str, expiration: dt.date) -> OptionChain:
        import numpy as np

        from optscan import OptionChain

        _check_body(raw, symbol, f"chain {expiration}", ExpirationNotListedError)
        contracts = raw.get("optionSymbol")
        if not isinstance(contracts, list):
            raise MalformedPayloadError(f"marketdata: {symbol}: 'optionSymbol' is not a list")
        n = len(contracts)
        expirations = _column(raw, "expiration", n, symbol, required=True)
        days = _ny_days(expirations)
        keep = days == np.datetime64(expiration, "D")
        if not keep.any():
            raise ExpirationNotListedError(
                f"marketdata: {symbol}: the answer holds no contract expiring {expiration}"
            )
        sides = raw.get("side")
        if not isinstance(sides, list) or len(sides) != n:
            raise MalformedPayloadError(f"marketdata: {symbol}: 'side' does not match optionSymbol")
        kind = np.char.lower(np.asarray([str(s) for s in sides], dtype=np.str_))
        if not np.isin(kind, ("call", "put")).all():
            bad = kind[~np.isin(kind, ("call", "put"))][0]
            raise MalformedPayloadError(f"marketdata: {symbol}: side {bad!r} is not call or put")

        def col(key: str, *, required: bool = False, nonnegative: bool = False) -> np.ndarray:
            values = _column(raw, key, n, symbol, required=required)[keep]
            values[~np.isfinite(values)] = np.nan
            if nonnegative:
                values[values < 0] = np.nan
            return values

        delta = col("delta")
        delta[np.abs(delta) > 1] = np.nan  # impossible: let the core compute it instead
        spot = col("underlyingPrice", required=True)
        spot = spot[spot > 0]
        if not spot.size:
            raise MalformedPayloadError(f"marketdata: {symbol}: no positive underlyingPrice")
        updated = col("updated", required=True)
        if np.isnan(updated).all():
            raise MalformedPayloadError(f"marketdata: {symbol}: no 'updated' time")
        quote_time = dt.datetime.fromtimestamp(float(np.nanmax(updated)), dt.UTC)
        return OptionChain(
            symbol=symbol,
            provider=self.name,
            underlying_price=float(spot[0]),
            quote_time=quote_time,
            data_delay_s=self.config.data_delay_s,
            contract_symbol=np.asarray([str(c) for c in contracts], dtype=np.str_)[keep],
            kind=kind[keep],
            expiration=days[keep],
            strike=col("strike", required=True),
            bid=col("bid", nonnegative=True),
            ask=col("ask", nonnegative=True),
            last=col("last", nonnegative=True),
            volume=col("volume", nonnegative=True),
            open_interest=col("openInterest", nonnegative=True),
            iv=col("iv"),
            delta=delta,
            last_trade_time=updated,
        )


_REJECTED = f"marketdata: token rejected (401); set {TOKEN_ENV} or [providers.marketdata] token"


def _check_body(
    body: JSON,
    symbol: str,
    what: str,
    not_found: type[ProviderError],
    *,
    redact: str = "",
) -> None:
    """Raise for any answer but ``{"s": "ok", ...}`` (used live and on replayed payloads)."""
    if not isinstance(body, dict):
        raise MalformedPayloadError(f"marketdata: {symbol} {what}: the answer is not an object")
    status = body.get("s")
    if status == "ok":
        return
    if status == "no_data":
        raise not_found(f"marketdata: {symbol}: no data for {what} (no_data)")
    if status == "error":
        message = str(body.get("errmsg") or "no error message")[:300]
        if redact:
            message = message.replace(redact, "***")
        raise MarketDataError(f"marketdata: {symbol} {what}: {message}")
    raise MalformedPayloadError(f"marketdata: {symbol} {what}: unexpected status s={status!r:.40}")


def _column(raw: dict[str, Any], key: str, n: int, symbol: str, *, required: bool) -> np.ndarray:
    """One numeric column as float64 (``null`` -> NaN); absent optional columns are NaN."""
    import numpy as np

    values = raw.get(key)
    if values is None:
        if required:
            raise MalformedPayloadError(f"marketdata: {symbol}: the answer has no {key!r}")
        return np.full(n, np.nan)
    if not isinstance(values, list) or len(values) != n:
        count = len(values) if isinstance(values, list) else type(values).__name__
        raise MalformedPayloadError(
            f"marketdata: {symbol}: {key!r} has {count} values, optionSymbol has {n}"
        )
    try:
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        raise MalformedPayloadError(f"marketdata: {symbol}: {key!r} holds a non-number") from None


def _ny_days(epochs: np.ndarray) -> np.ndarray:
    """Expiration instants (POSIX seconds) as New York calendar days, ``datetime64[D]``."""
    import numpy as np

    days = np.full(epochs.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    for value in np.unique(epochs[np.isfinite(epochs)]):  # a handful of distinct values
        days[epochs == value] = np.datetime64(
            dt.datetime.fromtimestamp(float(value), NEW_YORK).date(), "D"
        )
    return days


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("optscan-marketdata")
    except PackageNotFoundError:  # running from a source tree
        return "dev"


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _reset_time(text: str | None) -> float | None:
    """The quota reset as POSIX time; marketdata sends epoch seconds (small = seconds from now)."""
    value = _number(text)
    if value is None or value < 0:
        return None
    return value if value > 1e9 else time.time() + value


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
