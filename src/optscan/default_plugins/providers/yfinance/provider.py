"""The provider class, its config, and the extract half (requests through yfinance).

See the package docstring for what the provider does and the choices it makes.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote

from pydantic import Field, field_validator

from optscan.default_plugins.providers.yfinance import fundamentals as quote_summary
from optscan.default_plugins.providers.yfinance import network, parse
from optscan.errors import FundamentalsUnavailableError, SymbolNotFoundError
from optscan.http_answers import raise_for_error_answer
from optscan.protocols import JSON, OptionProvider, ProviderConfig

if TYPE_CHECKING:
    from optscan.chain import OptionChain
    from optscan.fundamentals import Fundamentals

BASE_URL = "https://query2.finance.yahoo.com/v7/finance/options/"

# yfinance's caches (cookie, ticker time zone, ISIN) live in module-level state, so the
# location is process-wide: remember what was set and set it again only on a change.
_cache_lock = threading.Lock()
_cache_location: str | None = None


def _use_cache_dir(path: str) -> None:
    """Point yfinance's cookie and time-zone caches at ``path`` (once per location).

    In yfinance 1.7 ``set_tz_cache_location`` moves all of its caches (time zone, cookie,
    ISIN) together; the directory is created by yfinance on first use, and if it cannot
    be, yfinance falls back to no cache rather than failing.
    """
    global _cache_location
    with _cache_lock:
        if _cache_location != path:
            import yfinance

            from optscan.logs import quiet_library

            quiet_library("yfinance")
            yfinance.set_tz_cache_location(path)
            _cache_location = path


class YFinanceConfig(ProviderConfig):
    """``[providers.yfinance]``: gentle defaults, since Yahoo rate-limits eagerly."""

    max_concurrency: int = Field(default=4, ge=1, le=1024)
    rate_limit_per_s: float = Field(
        default=2.0, ge=0, le=100_000, description="Client-side request rate cap; 0 = unlimited."
    )
    timeout_s: float = Field(default=10.0, gt=0, le=300, description="Per-request timeout.")
    cache_dir: str | None = Field(
        default=None,
        description="yfinance's cookie/time-zone cache; unset = <user cache>/optscan/yfinance",
    )
    data_delay_s: float = Field(
        default=900.0, ge=0, le=86_400, description="How late Yahoo's option quotes are."
    )

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _blank_is_default(cls, value: Any) -> Any:
        """TOML has no null, so the shipped file spells "use the default" as ``""``."""
        return None if isinstance(value, str) and not value.strip() else value


class YFinanceProvider(OptionProvider[YFinanceConfig]):
    """Yahoo Finance via yfinance's HTTP layer; quotes delayed about 15 minutes."""

    name = "yfinance"

    # ------------------------------------------------------------------ extract

    def _cache_dir(self) -> str:
        if self.config.cache_dir:
            return str(Path(self.config.cache_dir).expanduser())
        from platformdirs import user_cache_dir

        return str(Path(user_cache_dir("optscan")) / "yfinance")

    def _get(
        self, symbol: str, expiration: dt.date | None = None, *, fundamentals: bool = False
    ) -> JSON:
        """One GET of the v7 options endpoint through yfinance: the JSON body untouched,
        or an error answer (an HTTP error status, yfinance's rate-limit error) for the
        transforms to map. Only a request that got no answer at all raises."""
        _use_cache_dir(self._cache_dir())
        from yfinance.data import YfData

        url = BASE_URL + url_quote(symbol, safe="")
        if expiration is not None:
            url += f"?date={parse.epoch(expiration)}"
        if fundamentals:
            url = quote_summary.url(symbol)
        try:
            response = YfData().get(url=url, timeout=self.config.timeout_s)
        except Exception as exc:
            answer = network.answer_in_error(exc)
            if answer is not None:
                return answer
            raise network.classify(exc, symbol, self.config.timeout_s) from exc
        if fundamentals:
            return network.answer_of(response, symbol, check=quote_summary.check_body)
        return network.answer_of(response, symbol)

    def extract_expirations(self, symbol: str) -> JSON:
        return self._get(symbol)

    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        try:
            options = listing["optionChain"]["result"][0]["options"]
            if options and options[0]["expirationDate"] == parse.epoch(expiration):
                return listing  # the undated answer already holds this chain
        except (KeyError, IndexError, TypeError):
            pass  # a listing we cannot read: ask for the chain itself
        return self._get(symbol, expiration)

    def extract_fundamentals(self, symbol: str) -> JSON:
        """One GET of Yahoo's ``quoteSummary`` (:mod:`.fundamentals`)."""
        return self._get(symbol, fundamentals=True)

    # ------------------------------------------------------------------ transform

    # An error answer is mapped first, by the core's helper: 401/403 -> AuthenticationError
    # (fatal for the provider in this scan), 429 -> RateLimitedError with Retry-After,
    # 408/5xx -> transient, 404 -> SymbolNotFoundError, any other 4xx -> provider_error.

    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        raise_for_error_answer(raw, f"{symbol}: Yahoo", not_found=SymbolNotFoundError)
        return parse.expirations(raw, symbol)

    def transform_chain(self, raw: JSON, symbol: str, expiration: dt.date) -> OptionChain:
        raise_for_error_answer(
            raw, f"{symbol}: Yahoo {expiration} chain", not_found=SymbolNotFoundError
        )
        return parse.chain(
            raw,
            symbol,
            expiration,
            provider=self.name,
            data_delay_s=self.config.data_delay_s,
        )

    def transform_fundamentals(self, raw: JSON, symbol: str) -> Fundamentals:
        raise_for_error_answer(
            raw, f"{symbol}: Yahoo fundamentals", not_found=FundamentalsUnavailableError
        )
        return quote_summary.parse(raw, symbol, self.name)
