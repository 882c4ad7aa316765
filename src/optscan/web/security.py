"""The web page's guard: one ``before_request`` for every route, optscan's and the
mounted rq-dashboard's alike.

In order, a request is refused when:

1. its ``Host`` is not one the page serves (the address it binds, ``localhost``,
   ``127.0.0.1``, ``::1`` or ``[web] allowed_hosts``): ``403``, so a DNS-rebinding page
   cannot talk to it;
2. ``[web] access_token`` is set and the request carries neither
   ``Authorization: Bearer <token>`` nor the session cookie the login form sets
   (``SameSite=Strict``, ``HttpOnly``; its value is an HMAC of the token, never the
   token): ``401`` for the API and ``/rq``'s JSON, a redirect to ``/login`` for pages;
3. it would change state (any method but ``GET``, ``HEAD``, ``OPTIONS``) and its
   ``Origin`` (or, without one, its ``Referer``) is not this same origin: ``403``;
4. it would change state and does not carry the page's CSRF token (the ``X-CSRF-Token``
   header or a ``csrf_token`` form field; rq-dashboard's scripts send the
   ``_csrf_token`` cookie's value as ``X-CSRFToken``, also accepted): ``403``;
5. it is one of rq-dashboard's write routes (delete, requeue, empty, compact) and
   ``[dashboard] writes`` is off, or it is not a ``POST`` (a plain ``GET
   /rq/requeue/...`` requeued every failed job): ``403`` / ``405``.

The CSRF token is made at start-up (``secrets.token_urlsafe(32)``); a page from another
site cannot read it (no CORS), and a DNS-rebinding page is stopped at step 1.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
SESSION_COOKIE = "optscan_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
RQ_CSRF_COOKIE = "_csrf_token"
"""The cookie rq-dashboard's own scripts read and send back as ``X-CSRFToken``."""
RQ_CSRF_HEADER = "X-CSRFToken"
OPEN_PATHS = ("/login", "/static/")
"""What answers without the access token: the login form and the page's own assets."""


def hostname(netloc: str) -> str:
    """``host:port`` -> ``host`` (``[::1]:8050`` -> ``::1``), lower case; ``""`` if bad."""
    try:
        return (urlsplit(f"//{netloc}").hostname or "").lower()
    except ValueError:
        return ""


WILDCARDS = ("0.0.0.0", "::", "")
"""Bind addresses meaning every interface."""


def machine_names() -> set[str]:
    """This machine's host name and its fully qualified name: what a browser on another
    machine puts in ``Host`` to reach a server bound to every interface (a DNS-rebinding
    page's ``Host`` is its own domain, never these). Its addresses are asked of the
    kernel per request (:func:`is_own_address`), not resolved here."""
    import socket

    return {n for n in (socket.gethostname().lower(), socket.getfqdn().lower()) if n}


@functools.lru_cache(maxsize=256)
def is_own_address(host: str) -> bool:
    """Whether ``host`` is an IP address of one of this machine's interfaces: one a
    socket can be bound to (asked of the kernel, not of ``/etc/hosts``, which maps the
    host name to a loopback address on Debian). A name is never one: a DNS-rebinding
    page's ``Host`` is its own domain name."""
    import socket

    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only (``127.0.0.1``, ``::1``,
    ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    """What the guard knows: the hosts served, the access token (``""``: no login)
    and the CSRF token."""

    hosts: set[str]
    access_token: str = ""
    every_interface: bool = False
    """Bound to every interface: any IP address of this machine is served as well."""
    csrf_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    rq_writes: bool = False
    rq_write_endpoints: set[str] = field(default_factory=set)

    @classmethod
    def for_binding(
        cls, bind: str, allowed_hosts: Iterable[str], access_token: str, *, rq_writes: bool
    ) -> Guard:
        hosts = {*LOCAL_HOSTS, hostname(bind) or bind.lower().strip("[]")}
        hosts |= {hostname(h) or h.lower().strip("[]") for h in allowed_hosts}
        every = bind.strip("[]") in WILDCARDS
        if every:  # every interface: the machine's own names (and addresses) too
            hosts |= machine_names()
        return cls(
            hosts=hosts, access_token=access_token, rq_writes=rq_writes, every_interface=every
        )

    def serves(self, host: str) -> bool:
        """Whether a request whose ``Host`` names ``host`` (no port) is answered."""
        return host in self.hosts or (self.every_interface and is_own_address(host))

    # -- the session cookie: an HMAC of the token, so the cookie never holds it
    def session_value(self) -> str:
        return hmac.new(
            self.access_token.encode(), b"optscan-web-session", hashlib.sha256
        ).hexdigest()

    def token_matches(self, sent: str) -> bool:
        return bool(self.access_token) and hmac.compare_digest(
            sent.encode(), self.access_token.encode()
        )

    def signed_in(self, request: Any) -> bool:
        if not self.access_token:
            return True
        auth = request.headers.get("Authorization", "")
        scheme, _, sent = auth.partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(sent.strip()):
            return True
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.session_value().encode())

    def same_origin(self, request: Any) -> bool:
        origin = request.headers.get("Origin") or request.headers.get("Referer") or ""
        if not origin or origin == "null":
            return False
        return urlsplit(origin).netloc.lower() == request.host.lower()

    def csrf_ok(self, request: Any) -> bool:
        sent = (
            request.headers.get(CSRF_HEADER)
            or request.headers.get(RQ_CSRF_HEADER)
            or (request.form.get(CSRF_FIELD) if request.mimetype != "application/json" else "")
            or ""
        )
        return hmac.compare_digest(sent.encode(), self.csrf_token.encode())

    def refusal(self, request: Any) -> tuple[int, str] | None:
        """Why ``request`` is refused, as ``(status, reason)`` (401 means "sign in"),
        or ``None`` to let it through."""
        if not self.serves(hostname(request.host)):
            return 403, (
                f"Host {request.host!r} is not one this page serves: add it to [web] allowed_hosts"
            )
        if not request.path.startswith(OPEN_PATHS) and not self.signed_in(request):
            return 401, "sign in: send the access token ([web] access_token)"
        if request.endpoint in self.rq_write_endpoints:
            if not self.rq_writes:
                return 403, "rq-dashboard writes are off: set [dashboard] writes = true"
            if request.method != "POST":
                return 405, f"{request.method} cannot change state: use POST"
        if request.method in SAFE_METHODS:
            return None
        if not self.same_origin(request):
            return 403, "cross-origin request refused: a write must come from this page"
        if not self.csrf_ok(request):
            return 403, "missing or wrong CSRF token (reload the page)"
        return None
