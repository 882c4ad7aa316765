"""The ``marketdata`` provider: option chains with greeks from the marketdata.app REST API.

*Extract* makes one request per symbol for the listing
(``/v1/options/expirations/{symbol}/``) and one per expiration for the chain
(``/v1/options/chain/{symbol}/?expiration=YYYY-MM-DD``) and returns the JSON bodies
untouched, so ``optscan scan --record``/``--replay`` work and a replayed scan needs no
token. The token is therefore read only inside extract: from ``[providers.marketdata]
token``, else ``$MD_API_KEY``. It travels in the ``Authorization`` header only, never in
a URL, a log line, an error message or a recording.

*Transform* turns marketdata's columnar answer (one array per field) into an
:class:`~optscan.OptionChain` without a per-contract loop. Delta is marketdata's own,
so the scan reports ``delta_source: "provider"`` wherever it is published.

Errors are optscan's signals, and the core applies the policy (retries, pauses, the
credential latch), not this plugin:

* no token: :class:`~optscan.AuthenticationError` in extract, before any request;
* an answer that is not 2xx, or a ``{"s": "error"}`` body, is an *error answer*
  (:func:`optscan.error_answer`, the token redacted) that extract returns and
  ``--record`` saves; the transforms map it with :func:`optscan.error_for_status`
  (401/403 -> ``auth_failed``, fatal for the provider in this scan; 429 ->
  ``rate_limited``; 5xx -> ``transient``) and marketdata's own bodies
  (``{"s": "no_data"}`` -> an unknown symbol or an unlisted expiration; ``{"s":
  "error"}`` -> its ``errmsg``);
* a 429's ``retry_after`` is its ``Retry-After``, else the quota reset
  (``X-Api-Ratelimit-Reset``) as seconds from now: the core pauses every request that
  long, or fails at once when it is over ``max_retry_after_s`` (a daily quota used up);
* timeouts and dropped connections are transient, a host that cannot be reached is
  ``network_unreachable``: there is no answer to record.

httpx and numpy are imported when first needed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator, model_validator

from optscan import (
    JSON,
    AuthenticationError,
    ExpirationNotListedError,
    MalformedPayloadError,
    NetworkUnreachableError,
    OptionProvider,
    ProviderConfig,
    ProviderError,
    RateLimitedError,
    SymbolNotFoundError,
    TransientProviderError,
    error_answer,
    error_for_status,
    provider_spelling,
    read_error_answer,
    scrub,
)

if TYPE_CHECKING:
    import numpy as np

    from optscan import OptionChain

BASE_URL = "https://api.marketdata.app"
TOKEN_ENV = "MD_API_KEY"
NEW_YORK = ZoneInfo("America/New_York")


# --------------------------------------------------------------------------- errors


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
    data_delay_s: float = Field(
        default=0.0, ge=0, description="how late your plan's quotes are (0 = real time)"
    )

    @model_validator(mode="before")
    @classmethod
    def _max_wait_s_is_max_retry_after_s(cls, data: Any) -> Any:
        """``max_wait_s`` (0.1.0) is the deprecated name of the core's
        ``max_retry_after_s``; when both are given, ``max_retry_after_s`` wins."""
        if isinstance(data, dict) and "max_wait_s" in data:
            data = dict(data)
            data.setdefault("max_retry_after_s", data.pop("max_wait_s"))
        return data

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")) or len(value) < 10:
            raise ValueError("must be an http(s) URL, e.g. https://api.marketdata.app")
        return value


# --------------------------------------------------------------------------- provider


class MarketDataProvider(OptionProvider[MarketDataConfig]):
    """marketdata.app option chains (bid/ask, open interest, IV and greeks)."""

    name = "marketdata"

    def __init__(self, config: MarketDataConfig) -> None:
        super().__init__(config)
        self._lock = threading.Lock()
        self._client: Any = None

    # ------------------------------------------------------------------ extract

    def extract_expirations(self, symbol: str) -> JSON:
        path = f"/v1/options/expirations/{quote(_spelled(symbol), safe='')}/"
        return self._get(path, None, symbol)

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
            f"/v1/options/chain/{quote(_spelled(symbol), safe='')}/",
            {"expiration": expiration.isoformat()},
            symbol,
        )

    def _token(self) -> str:
        secret = self.config.token.get_secret_value() if self.config.token else ""
        token = (secret or os.environ.get(TOKEN_ENV, "")).strip()
        if not token:
            raise AuthenticationError(f"marketdata: no API token; {_TOKEN_HINT}")
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

    def _get(self, path: str, params: dict[str, str] | None, symbol: str) -> JSON:
        """One GET: the JSON body untouched, or an error answer for the transforms.

        Only a request that got no answer raises (and a 2xx that is not JSON).
        """
        token = self._token()
        import httpx

        what = f"chain {params['expiration']}" if params else "expirations"
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
        try:
            body: Any = response.json()
        except ValueError:
            if 200 <= status < 300:
                raise MalformedPayloadError(
                    f"marketdata: {symbol} {what}: HTTP {status} answer is not JSON"
                ) from None
            body = response.text
        is_error = isinstance(body, dict) and body.get("s") == "error"
        if not 200 <= status < 300 or is_error:
            # recorded as it came, less the token (a server may echo it back)
            headers = [(k, v.replace(token, "***")) for k, v in response.headers.items()]
            return error_answer(status, headers, body, redact=[token])
        if status == 203:
            from optscan import get_logger

            get_logger().debug("marketdata_cached_answer", symbol=symbol, what=what)
        return body

    def _host(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.config.base_url).hostname or "?"

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------------ transform

    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        _raise_for_answer(raw, symbol, "expirations", SymbolNotFoundError)
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

        _raise_for_answer(raw, symbol, f"chain {expiration}", ExpirationNotListedError)
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


_TOKEN_HINT = f"set {TOKEN_ENV} or [providers.marketdata] token"


def _spelled(symbol: str) -> str:
    """optscan's canonical symbol as marketdata.app writes it: a class share with a dot
    (``BRK-B`` -> ``BRK.B``), every other symbol unchanged."""
    return provider_spelling(symbol, ".")


def _raise_for_answer(raw: JSON, symbol: str, what: str, not_found: type[ProviderError]) -> None:
    """Raise the error an answer means; return for ``{"s": "ok", ...}``.

    Used live and on replayed payloads alike: an error answer is mapped by its status
    first (:func:`optscan.error_for_status`), then by marketdata's own body.
    """
    answer = read_error_answer(raw)
    if answer is None:
        _check_body(raw, symbol, what, not_found)
        return
    body = answer.body
    own = isinstance(body, dict) and body.get("s") in ("error", "no_data")
    error = error_for_status(
        answer.status,
        answer.headers,
        what=f"marketdata: {symbol} {what}",
        detail=_errmsg(body) if own else _text(body),
        not_found=not_found,
    )
    if isinstance(error, AuthenticationError):
        raise AuthenticationError(f"{error}; {_TOKEN_HINT}")
    if isinstance(error, RateLimitedError):
        raise _rate_limited(error, answer.headers)
    if isinstance(error, TransientProviderError):
        raise error
    if own and (answer.status != 404 or body.get("s") == "no_data"):
        _check_body(body, symbol, what, not_found)  # marketdata's body says more
    raise error or ProviderError(f"marketdata: {symbol} {what}: unexpected HTTP {answer.status}")


def _rate_limited(error: RateLimitedError, headers: dict[str, str]) -> RateLimitedError:
    """``error`` with the quota reset in its message, and as ``retry_after`` when the
    answer gave no ``Retry-After``."""
    reset = _reset_time(headers.get("x-api-ratelimit-reset"))
    if reset is None:
        return error
    wait = max(0.0, reset - time.time())
    when = dt.datetime.fromtimestamp(reset, NEW_YORK).isoformat(timespec="seconds")
    return RateLimitedError(
        f"{error}; the request quota resets at {when} (in {_duration(wait)})",
        retry_after=wait if error.retry_after is None else error.retry_after,
    )


def _check_body(body: JSON, symbol: str, what: str, not_found: type[ProviderError]) -> None:
    """Raise for any body but ``{"s": "ok", ...}``."""
    if not isinstance(body, dict):
        raise MalformedPayloadError(f"marketdata: {symbol} {what}: the answer is not an object")
    status = body.get("s")
    if status == "ok":
        return
    if status == "no_data":
        raise not_found(f"marketdata: {symbol}: no data for {what} (no_data)")
    if status == "error":
        message = _errmsg(body) or "no error message"
        raise MarketDataError(scrub(f"marketdata: {symbol} {what}: {message}"))
    raise MalformedPayloadError(f"marketdata: {symbol} {what}: unexpected status s={status!r:.40}")


def _errmsg(body: Any) -> str:
    return str(body.get("errmsg") or "")[:300] if isinstance(body, dict) else ""


def _text(body: Any, limit: int = 200) -> str:
    """A short one-line rendering of an answer's body for a message."""
    if body is None:
        return ""
    text = " ".join(body.split()) if isinstance(body, str) else json.dumps(body)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
