"""The ``notify`` sink: tell a person about opportunities the previous scan did not have.

A scanner that runs every few minutes finds mostly the same contracts each time; an
alert per scan would be noise. So the sink compares each scan of a profile with the
previous one (by contract symbol) and posts only what is new, to a webhook (plain JSON,
Slack's ``{"text"}`` or Discord's ``{"content"}``) and/or an ntfy topic (plain text with
a ``Title`` header). Nothing new, nothing posted.

What the previous scan had is remembered per profile in a JSON state file, or in a Redis
set when ``redis_url`` is configured (for scans run on several workers). The state is
replaced only after every destination took the alert, so an alert that could not be
delivered is tried again by the next scan. Contracts of symbols (or expirations) that
*failed* in this scan are carried over, so a symbol that fails once does not re-alert
everything when it comes back. Skipped scans (market closed) and scans that scanned
nothing change nothing.

Each POST has ``timeout_s`` and is retried ``retries`` times with exponential backoff
(tenacity) on timeouts, connection failures, 5xx, 408 and 429; other 4xx mean a wrong
URL and are not retried. Then the sink raises: optscan records the failure in the
result's ``errors`` and the scan still succeeds. Webhook and ntfy URLs carry their
credentials in the path, so they are secrets: masked in reprs, and errors name only the
host.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator

from optscan import PluginConfig, ResultSink
from optscan_notify.state import FileStore, RedisStore, SeenStore, StateError

if TYPE_CHECKING:
    from optscan import Opportunity, ScanResult

NEW_YORK = ZoneInfo("America/New_York")
DISCORD_LIMIT = 2000  # characters in one Discord message
_RETRY_STATUS = {408, 425, 429}


class NotifyError(Exception):
    """An alert could not be delivered; the message names the destination's host only."""


class _Retryable(Exception):
    """A failure worth another attempt (timeout, refused connection, 5xx, 429)."""


class NotifyConfig(PluginConfig):
    """``[sinks.notify]``; publishing needs ``webhook_url`` or ``ntfy_url`` (or both)."""

    webhook_url: SecretStr | None = Field(
        default=None, description="POST the alert here (Slack/Discord incoming webhook, ...)"
    )
    ntfy_url: SecretStr | None = Field(
        default=None, description="an ntfy topic URL, e.g. https://ntfy.sh/mytopic"
    )
    format: Literal["json", "slack", "discord"] = "json"
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    retries: int = Field(default=3, ge=0, le=10, description="attempts after the first")
    backoff_s: float = Field(default=1.0, ge=0, le=60, description="first wait; doubles")
    state_file: str = Field(
        default="",
        description="'' = <user state dir>/optscan/notify-<profile>.json; may hold {profile}",
    )
    redis_url: SecretStr | None = Field(default=None, description="keep the state in Redis")
    redis_prefix: str = Field(default="optscan:", pattern=r"^[A-Za-z0-9_\-:.]{1,64}$")
    max_items: int = Field(default=20, ge=1, le=500, description="opportunities per message")

    @field_validator("webhook_url", "ntfy_url", "redis_url")
    @classmethod
    def _url(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        if value is None:
            return None
        text = value.get_secret_value().strip()
        schemes = (
            ("redis", "rediss", "unix") if info.field_name == "redis_url" else ("http", "https")
        )
        parts = urlsplit(text)
        if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "unix"):
            raise ValueError(f"must be a URL starting with {' or '.join(schemes)}://")
        return SecretStr(text)

    @field_validator("state_file")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            value.format(profile="default")
        except (KeyError, IndexError, ValueError):
            raise ValueError("the only placeholder allowed is {profile}") from None
        return value


class NotifySink(ResultSink[NotifyConfig]):
    """Posts the opportunities a scan found that its profile's previous scan did not."""

    name = "notify"

    # ------------------------------------------------------------------ publish

    def publish(self, result: ScanResult) -> None:
        if self.config.webhook_url is None and self.config.ntfy_url is None:
            # Checked here, not by the Config model: every installed plugin's section
            # must validate empty (``optscan config show`` lists them all).
            raise NotifyError("notify: nowhere to post; set sinks.notify.webhook_url or ntfy_url")
        if result.skipped or not result.success:
            return  # nothing was compared: keep the state for the next real scan
        store = self.store(result.profile)
        try:
            seen = store.load()
            current = {o.contract_symbol: o for o in result.opportunities}
            new = [o for symbol, o in current.items() if symbol not in seen]
            remembered = set(current) | _carried_over(seen, result)
            if new:
                self.deliver(result, new)  # raises: the state stays, the next scan retries
            if remembered != seen:
                store.save(remembered)
        finally:
            store.close()

    def store(self, profile: str) -> SeenStore:
        """This profile's state: the Redis set when ``redis_url`` is set, else the file."""
        if self.config.redis_url is not None:
            client = _redis_client(self.config.redis_url.get_secret_value(), self.config.timeout_s)
            return RedisStore(client, f"{self.config.redis_prefix}notify:{profile}:seen")
        return FileStore(self.state_path(profile))

    def state_path(self, profile: str) -> Path:
        if self.config.state_file:
            return Path(self.config.state_file.format(profile=profile)).expanduser()
        from platformdirs import user_state_dir

        return Path(user_state_dir("optscan")) / f"notify-{profile}.json"

    # ------------------------------------------------------------------ delivery

    def deliver(self, result: ScanResult, new: list[Opportunity]) -> None:
        """Post to every configured destination; raise naming each one that failed."""
        failures = []
        if self.config.webhook_url is not None:
            url = self.config.webhook_url.get_secret_value()
            body, content_type = self.webhook_body(result, new)
            try:
                self._post("webhook", url, body, {"Content-Type": content_type})
            except NotifyError as exc:
                failures.append(str(exc))
        if self.config.ntfy_url is not None:
            url = self.config.ntfy_url.get_secret_value()
            headers = {
                "Title": _title(result, len(new)),
                "Content-Type": "text/plain; charset=utf-8",
            }
            try:
                self._post(
                    "ntfy", url, message_text(result, new, self.config.max_items).encode(), headers
                )
            except NotifyError as exc:
                failures.append(str(exc))
        if failures:
            raise NotifyError("; ".join(failures))

    def webhook_body(self, result: ScanResult, new: list[Opportunity]) -> tuple[bytes, str]:
        """The webhook's JSON body in the configured ``format``."""
        fmt = self.config.format
        if fmt == "slack":
            payload: dict[str, Any] = {"text": message_text(result, new, self.config.max_items)}
        elif fmt == "discord":
            text = message_text(result, new, self.config.max_items, limit=DISCORD_LIMIT)
            payload = {"content": text}
        else:
            shown = new[: self.config.max_items]
            payload = {
                "source": "optscan",
                "profile": result.profile,
                "scan_id": result.scan_id,
                "as_of": result.as_of.isoformat(),
                "provider": result.provider,
                "strategy": result.strategy,
                "synthetic": result.synthetic,
                "new_count": len(new),
                "omitted": len(new) - len(shown),
                "opportunities": [o.model_dump(mode="json") for o in shown],
            }
        return json.dumps(payload, separators=(",", ":")).encode(), "application/json"

    def _post(self, what: str, url: str, body: bytes, headers: dict[str, str]) -> None:
        from tenacity import (
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        where = f"{what} at {_host(url)}"
        attempts = self.config.retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=self.config.backoff_s, max=30),
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._post_once(url, body, headers)
        except _Retryable as exc:
            tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
            raise NotifyError(f"notify: {where} failed after {tries}: {exc}") from None
        except NotifyError as exc:
            raise NotifyError(f"notify: {where}: {exc} (not retried)") from None

    def _post_once(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        request.add_header("User-Agent", "optscan-notify")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                response.read(65536)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code >= 500 or exc.code in _RETRY_STATUS:
                raise _Retryable(f"HTTP {exc.code}") from None
            raise NotifyError(f"HTTP {exc.code}; check the URL") from None
        except urllib.error.URLError as exc:  # refused, DNS, connect timeout
            raise _Retryable(_reason(exc.reason)) from None
        except (TimeoutError, OSError) as exc:  # read timeout, reset connection
            raise _Retryable(_reason(exc)) from None
        except Exception as exc:  # http.client.HTTPException: a broken answer
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------------- messages


def message_text(
    result: ScanResult, new: list[Opportunity], max_items: int, *, limit: int = 0
) -> str:
    """A short human message: a headline, one line per opportunity, what was left out."""
    header = _headline(result, len(new))
    lines = [_line(o) for o in new[:max_items]]
    omitted = len(new) - len(lines)
    while True:
        tail = [f"... and {omitted} more"] if omitted else []
        text = "\n".join([header, *lines, *tail])
        if not limit or len(text) <= limit or not lines:
            return text[:limit] if limit else text
        lines.pop()
        omitted += 1


def _headline(result: ScanResult, count: int) -> str:
    noun = "opportunity" if count == 1 else "opportunities"
    when = result.as_of.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M ET")
    synthetic = ", SYNTHETIC data" if result.synthetic else ""
    return (
        f"optscan {result.profile}: {count} new {result.strategy} {noun} "
        f"({result.provider}{synthetic}, as of {when})"
    )


def _title(result: ScanResult, count: int) -> str:
    """ntfy's Title header: ASCII only (HTTP headers are Latin-1)."""
    noun = "opportunity" if count == 1 else "opportunities"
    return f"optscan {result.profile}: {count} new {noun}"


def _line(o: Opportunity) -> str:
    return (
        f"{o.symbol} {o.expiration.isoformat()} {o.kind} {o.strike:g} bid {o.bid:.2f}: "
        f"{o.annualized_return:.1f}%/yr, delta {o.delta:+.2f} ({o.delta_source}), "
        f"{o.dte} DTE, cushion {o.cushion_pct:.1f}% [{o.contract_symbol}]"
    )


# ---------------------------------------------------------------------- helpers


def _carried_over(seen: set[str], result: ScanResult) -> set[str]:
    """Seen contracts of symbols or expirations that failed this time: not gone, unknown."""
    from optscan import expected_root, parse_occ_symbol

    failed_roots = {expected_root(s.symbol) for s in result.symbols if s.status != "ok"}
    failed_days = {
        (expected_root(s.symbol), day)
        for s in result.symbols
        if s.status == "ok"
        for day in s.failed_expirations
    }
    if not failed_roots and not failed_days:
        return set()
    kept = set()
    for contract in seen:
        try:
            occ = parse_occ_symbol(contract)
        except ValueError:
            continue
        if occ.root in failed_roots or (occ.root, occ.expiration.isoformat()) in failed_days:
            kept.add(contract)
    return kept


def _redis_client(url: str, timeout_s: float) -> Any:
    """A Redis client for the state (redis is imported only when it is configured)."""
    from redis import Redis

    return Redis.from_url(
        url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, decode_responses=True
    )


def _host(url: str) -> str:
    """Host (and port) of a URL: enough to tell destinations apart, no path or token."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return "timed out"
    if isinstance(reason, BaseException):
        return f"{type(reason).__name__}: {reason}"
    return str(reason)


__all__ = ["NotifyConfig", "NotifyError", "NotifySink", "StateError", "message_text"]
