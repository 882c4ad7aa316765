"""What a secret is, and how optscan keeps every piece of one out of what it shows.

This is the one definition used by ``optscan config show``, the ``--set`` pairs a job
may carry, the logs, error messages, config errors, Redis values and every page
optscan serves:

* :func:`is_secret` - whether a key (config key, header, log field) names a
  credential, or a URL, which can carry one in its user info, path or query;
* :func:`mask` - a JSON-ready copy of a config value with secrets replaced by ``***``
  (URLs keep scheme, host, port and a Redis database number, for debugging);
* :func:`remember` and :func:`scrub` - text with every known secret *and every piece
  of one* replaced. Libraries quote parts of a bad URL in their exceptions (redis-py:
  ``Port could not be cast to integer value as 'S3cret'`` for a password holding an
  unencoded ``#``), so masking the URL is not enough: the values themselves are known
  (config, plugin configs and secret-named environment variables register them) and
  are scrubbed wherever they appear, whole, percent-encoded or cut at a reserved
  character;
* :func:`check_url_credentials` - refuses a URL whose user info holds an unencoded
  reserved character (``/ ? # @ [ ]``), which every URL parser splits differently.

Scrubbing is a last line of defence: code should never put a secret in a message.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

MASK = "***"
SECRET_WORDS = (
    "password",
    "passwd",
    "token",
    "secret",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "private_key",
    "cookie",
)
"""A key naming one of these (anywhere in its last dotted part) holds a secret."""
URL_SUFFIXES = ("url", "uri", "dsn")
"""A key ending in one of these holds a URL, which may carry credentials."""
MIN_PIECE = 4
"""Pieces of a secret shorter than this are not scrubbed on their own (too common)."""
MIN_SECRET = 3
"""Whole secrets shorter than this are not scrubbed (they would mangle every word)."""

_RESERVED_IN_USERINFO = set("/?#@[]")
_PIECE_SPLIT = re.compile(r"[/?#@:\[\]&=\s]+")
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.\-]*://)(?P<userinfo>\S*)@", re.I)
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;](?:[a-z_]*token|api_?key|key|password|secret|sig|signature)=)[^&\s#]+",
    re.I,
)
_HEADER_SECRET = re.compile(
    r"(?P<key>\b(?:authorization|x-api-key|api-key|cookie)\s*[:=]\s*)(?:bearer\s+|basic\s+)?"
    r"[^\s,;]+",
    re.I,
)
_BEARER = re.compile(r"(?P<key>\bbearer\s+)[A-Za-z0-9._~+/=\-]{6,}", re.I)
_ENV_SECRET = re.compile(r"(PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|CREDENTIAL|_URL$)", re.I)

_known: set[str] = set()
_known_lock = threading.Lock()
_ordered: list[str] = []  # _known, longest first (a piece must not mask part of a whole)


def _leaf(key: str) -> str:
    return str(key).rsplit(".", 1)[-1].strip().lower().replace("-", "_")


def is_secret(key: str) -> bool:
    """Whether ``key`` names a credential (``token``, ``api_key``, ``password`` ...) or
    a URL (``url``, ``webhook_url``, ``redis_uri``, ``dsn``); only its last dotted part
    counts, case-insensitively."""
    leaf = _leaf(key)
    return any(word in leaf for word in SECRET_WORDS) or leaf.endswith(URL_SUFFIXES)


def is_url_key(key: str) -> bool:
    """Whether ``key`` names a URL (masked with :func:`mask_url`, not wholly)."""
    return _leaf(key).endswith(URL_SUFFIXES)


# --------------------------------------------------------------------------- masking


def mask(value: Any, key: str = "") -> Any:
    """A JSON-ready copy of ``value`` with every secret replaced by ``***``.

    Walks dicts, lists and pydantic models; ``SecretStr`` values and values of secret
    keys are masked (URLs with :func:`mask_url`); empty secrets stay empty, so a user
    can see that a token is *not* set.
    """
    from pydantic import BaseModel, SecretStr

    if isinstance(value, SecretStr):
        value = value.get_secret_value()
        return mask_url(value) if is_url_key(key) else (MASK if value else "")
    if isinstance(value, BaseModel):
        return {k: mask(getattr(value, k), k) for k in type(value).model_fields}
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, key) for v in value]
    if isinstance(value, str) and key and is_secret(key):
        if is_url_key(key):
            return mask_url(value)
        return MASK if value else ""
    return value


def mask_url(url: str) -> str:
    """A URL safe to print: credentials masked, and any path or query that could carry
    a token (webhook paths, ``?token=``); a Redis database number (``/0``) and a unix
    socket path are kept. A URL that does not parse is masked whole."""
    if not url:
        return url
    try:
        check_url_credentials(url)
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return MASK
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    if parts.password is not None:
        netloc = f"{parts.username or ''}:{MASK}@{host}"
    elif parts.username:
        netloc = f"{MASK}@{host}"
    else:
        netloc = host
    unix = parts.scheme.lower() == "unix"
    keep_path = unix or re.fullmatch(r"/?\d*", parts.path)
    path = parts.path if keep_path else "/" + MASK
    if parts.scheme.lower() in _REDIS_SCHEMES:
        query = "&".join(_masked_option(pair) for pair in parts.query.split("&") if pair)
    else:
        query = MASK if parts.query else ""
    shown = urlunsplit((parts.scheme, netloc, path, query, ""))
    if unix and not netloc:  # urlunsplit drops the empty authority: unix:/path
        shown = f"{parts.scheme}://{shown.partition(':')[2]}"
    return shown


_REDIS_SCHEMES = ("redis", "rediss", "unix")
_SAFE_REDIS_OPTIONS = re.compile(r"(db|ssl_cert_reqs|ssl_check_hostname|protocol)=[\w.\-]*")


def _masked_option(pair: str) -> str:
    """A Redis URL's query option as shown: the database and TLS mode as they are, any
    other value (a password, a certificate path) masked; the option's name is kept."""
    if _SAFE_REDIS_OPTIONS.fullmatch(pair):
        return pair
    name = pair.partition("=")[0]
    return f"{name}={MASK}" if re.fullmatch(r"\w{1,40}", name) else MASK


def check_url_credentials(url: str) -> None:
    """Raise ``ValueError`` when the user info of ``url`` holds an unencoded reserved
    character (``/ ? # @ [ ]``). The message never quotes the URL.

    ``redis://:S3cret#Pw@host:6379/0`` means one thing to its author and another to
    every parser (the password ends at ``#``, and the "port" is ``S3cret``); the fix
    is to percent-encode the character (``#`` as ``%23``).
    """
    _scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return
    userinfo = rest[: rest.rfind("@")]
    if any(ch in _RESERVED_IN_USERINFO for ch in userinfo):
        raise ValueError(
            "the user name or password holds a reserved character (one of / ? # @ [ ]) "
            "that is not percent-encoded; encode it (e.g. '#' as %23, '/' as %2F, "
            "'@' as %40) or choose another password"
        )


# --------------------------------------------------------------------------- scrubbing


def _pieces(secret: str) -> set[str]:
    """The secret, its percent-encoded and -decoded forms, and every piece of those cut
    at a reserved character or white space (what a parser may quote on its own)."""
    forms = {secret, unquote(secret), quote(secret, safe="")}
    out = {f for f in forms if len(f) >= MIN_SECRET}
    for form in forms:
        out.update(p for p in _PIECE_SPLIT.split(form) if len(p) >= MIN_PIECE)
    return out


def _url_secrets(url: str) -> set[str]:
    """The credential-bearing parts of a URL: the password (or a lone user token), and
    token-like pieces of a path or query that is not a plain database number (webhook
    URLs carry their token in the path); never the host."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return {url}
    out: set[str] = set()
    if "@" in rest:
        userinfo = rest[: rest.rfind("@")]
        _user, colon, password = userinfo.partition(":")
        out.add(password if colon else userinfo)
        rest = rest[rest.rfind("@") + 1 :]
    start = re.search(r"[/?#]", rest)
    tail = rest[start.start() :] if start else ""
    if scheme.lower() in _REDIS_SCHEMES:  # a password may come as ?password=
        query = tail.partition("?")[2].partition("#")[0]
        out.update(
            value
            for name, _eq, value in (pair.partition("=") for pair in query.split("&"))
            if name.lower() in ("password", "username")
        )
    if tail and scheme.lower() != "unix" and not re.fullmatch(r"/?\d*", tail):
        out.update(p for p in re.split(r"[/?#&=;]+", tail) if _token_like(p))
    return {s for s in out if s}


def _token_like(piece: str) -> bool:
    """A path or query piece that looks like a credential, not a word (``services``)."""
    return len(piece) >= 16 or (len(piece) >= 6 and any(c.isdigit() or c.isupper() for c in piece))


def remember(value: Any, key: str = "") -> None:
    """Register secret values so :func:`scrub` removes them (and their pieces) from text.

    ``value`` may be a string, a ``SecretStr``, or a dict/list/model walked for the
    secrets inside (keys judged by :func:`is_secret`); ``key`` names ``value`` when it
    is a bare string. URLs register only their credential parts, never the host.
    """
    found: set[str] = set()
    _collect(value, key, found, inside_secret=bool(key) and is_secret(key))
    _add(found)


def _add(secrets: set[str]) -> None:
    new: set[str] = set()
    for secret in secrets:
        new |= _pieces(secret)
    if not new or new <= _known:
        return
    with _known_lock:
        _known.update(new)
        _ordered[:] = sorted(_known, key=len, reverse=True)


def _as_secrets(value: str) -> set[str]:
    return _url_secrets(value) if "://" in value else {value}


def _collect(value: Any, key: str, out: set[str], *, inside_secret: bool) -> None:
    from pydantic import BaseModel, SecretStr

    if isinstance(value, SecretStr):
        value, inside_secret = value.get_secret_value(), True
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect(getattr(value, name), name, out, inside_secret=is_secret(name))
    elif isinstance(value, dict):
        for k, v in value.items():
            _collect(v, str(k), out, inside_secret=inside_secret or is_secret(str(k)))
    elif isinstance(value, list | tuple):
        for v in value:
            _collect(v, key, out, inside_secret=inside_secret)
    elif isinstance(value, str) and value and inside_secret:
        out.update(_as_secrets(value))


_env_seen: set[str] = set()
_TRIVIAL = {"true", "false", "yes", "no", "on", "off", "none", "null", "0", "1"}
"""Values of secret-named variables that are flags, not secrets (``USE_TOKEN=true``)."""


def _remember_environment() -> None:
    """Remember the values of secret-named environment variables (``MD_API_KEY``,
    ``OPTSCAN_REDIS_URL``...): a plugin may read a token from a variable of its own."""
    for name, value in os.environ.items():
        if value and value not in _env_seen and _ENV_SECRET.search(name):
            _env_seen.add(value)
            if value.strip().lower() not in _TRIVIAL:
                _add(_as_secrets(value))


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with credentials removed: every remembered secret and every piece of one,
    secret-named environment variables' values, ``extra`` values, and whatever looks
    like a credential (URL user info, ``Authorization:`` values, ``?token=`` query
    values, bearer tokens)."""
    if not text:
        return text
    _remember_environment()
    for value in extra:
        if value:
            _add(_as_secrets(value))
    text = _URL_USERINFO.sub(_mask_userinfo, text)
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _QUERY_SECRET.sub(lambda m: m.group("key") + MASK, text)
    text = _HEADER_SECRET.sub(lambda m: m.group("key") + MASK, text)
    return _BEARER.sub(lambda m: m.group("key") + MASK, text)


def _mask_userinfo(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    user, colon, _password = userinfo.partition(":")
    shown = f"{user}:{MASK}" if colon else MASK
    return f"{match.group('scheme')}{shown}@"


def scrub_exception(exc: BaseException, *, with_type: bool = True) -> str:
    """An exception as text for an error shown or stored: ``Type: message`` (or the
    message alone), scrubbed. An exception without a message gives its type's name."""
    text = str(exc)
    if not text:
        return type(exc).__name__
    return scrub(f"{type(exc).__name__}: {text}" if with_type else text)


def forget_all() -> None:
    """Forget every remembered secret (tests)."""
    with _known_lock:
        _known.clear()
        _ordered.clear()
        _env_seen.clear()
