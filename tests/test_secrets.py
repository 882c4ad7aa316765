"""One definition of a secret, and no piece of one in any output, log, error or Redis value.

Canary passwords hold each reserved character a URL parser splits on (``/``, ``#``,
``@``, ``:``): libraries quote the part they choke on (redis-py once printed ``Port could
not be cast to integer value as 'S3cret'``), so every *piece* of a canary is looked
for, not only the whole.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from optscan.cli import cli
from optscan.secrets import (
    MASK,
    check_url_credentials,
    forget_all,
    is_secret,
    mask,
    mask_url,
    remember,
    scrub,
)

CANARIES = {
    "/": "canaryPW/7f3a9x",
    "#": "canaryPW#8b2c1y",
    "@": "canaryPW@9d4e2z",
    ":": "canaryPW:6a1f3w",
}


def pieces(secret: str) -> list[str]:
    """The secret and every piece of it a parser could quote (4 characters or more)."""
    return [secret, *(p for p in re.split(r"[/#@:?]", secret) if len(p) >= 4)]


def assert_clean(text: str, secret: str, where: str) -> None:
    for piece in pieces(secret):
        assert piece not in text, f"{where} shows {piece!r} of the secret:\n{text[-1500:]}"


@pytest.fixture(autouse=True)
def _fresh_registry():
    forget_all()
    yield
    forget_all()


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


# --------------------------------------------------------------------------- the definition


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("token", True),
        ("providers.marketdata.api_key", True),
        ("sinks.notify.webhook_url", True),
        ("redis.url", True),
        ("Authorization", True),
        ("db_password", True),
        ("symbols", False),
        ("sinks.json.path", False),
        ("scan.concurrency", False),
    ],
)
def test_is_secret(key, secret):
    assert is_secret(key) is secret


def test_mask_walks_configs_and_keeps_what_debugging_needs():
    from pydantic import SecretStr

    data = {
        "redis": {"url": "redis://:pw123456@host:6379/2", "prefix": "optscan:"},
        "sinks": {"notify": {"webhook_url": SecretStr("https://h.example/T0/B0/XyZ123456")}},
        "providers": {"marketdata": {"token": "tok-123456", "timeout_s": 15}},
        "empty": {"token": ""},
    }
    shown = mask(data)
    assert shown["redis"] == {"url": "redis://:***@host:6379/2", "prefix": "optscan:"}
    assert shown["sinks"]["notify"]["webhook_url"] == "https://h.example/***"
    assert shown["providers"]["marketdata"] == {"token": MASK, "timeout_s": 15}
    assert shown["empty"]["token"] == ""  # a user can see a token is not set


@pytest.mark.parametrize("reserved", sorted(CANARIES))
def test_scrub_removes_every_piece_of_a_remembered_secret(reserved):
    secret = CANARIES[reserved]
    remember({"redis": {"url": f"redis://:{secret}@127.0.0.1:6399/0"}})
    first, _, last = secret.partition(reserved)
    quoted = (
        f"Port could not be cast to integer value as '{first}'; "
        f"fragment '{last}@127.0.0.1'; whole {secret}"
    )
    assert_clean(scrub(quoted), secret, "scrub")
    assert "127.0.0.1" in scrub(quoted), "the host is not a secret"


def test_scrub_finds_credentials_it_was_never_told_about():
    text = (
        "GET https://u:hunter2hunter2@api.example/x?token=abcdef123456&q=1 "
        "Authorization: Bearer eyJhbGciOi.payload.sig"
    )
    clean = scrub(text)
    assert "hunter2" not in clean and "abcdef123456" not in clean and "eyJhbGciOi" not in clean
    assert "api.example" in clean and "q=1" in clean


def test_secret_named_environment_variables_are_scrubbed(monkeypatch):
    monkeypatch.setenv("MY_VENDOR_API_KEY", "canary-env-key-5e6f")
    monkeypatch.setenv("FEATURE_TOKEN", "true")  # a flag, not a secret
    assert scrub("refused canary-env-key-5e6f") == "refused ***"
    assert scrub("it is true") == "it is true"


@pytest.mark.parametrize("reserved", ["/", "#", "@", "[", "?"])
def test_unencoded_reserved_characters_in_credentials_are_refused(reserved):
    url = f"redis://:pq{reserved}xq7zk9@host:6379/0"
    with pytest.raises(ValueError, match=r"percent-encode|encode it") as caught:
        check_url_credentials(url)
    assert "xq7zk9" not in str(caught.value)
    check_url_credentials("redis://:pq%23xq7zk9@host:6379/0")  # encoded: fine
    check_url_credentials("redis://:pq:xq7zk9@host:6379/0")  # ':' is allowed in a password
    assert mask_url(url) == MASK


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("reserved", sorted(CANARIES))
def test_a_redis_password_never_shows(reserved, monkeypatch):
    """``optscan status`` and a scan with ``--sink redis`` against an unreachable Redis,
    the password holding an unencoded reserved character: exit 2 with a message to
    percent-encode it (or 1 when ':' is legal there), and no piece of it anywhere."""
    secret = CANARIES[reserved]
    env = {"OPTSCAN_REDIS_URL": f"redis://:{secret}@127.0.0.1:1/0"}
    status = run("status", "--log-level", "debug", "--log-format", "json", env=env)
    assert_clean(status.output, secret, "optscan status")
    if reserved == ":":
        assert status.exit_code == 1 and "cannot reach Redis at redis://:***@" in status.output
    else:
        assert status.exit_code == 2 and "percent-encoded" in status.output
    scan = run(
        "scan",
        "--provider",
        "sim",
        "--symbols",
        "AAPL",
        "--sink",
        "redis",
        "--format",
        "json",
        "--log-level",
        "debug",
        env=env,
    )
    assert_clean(scan.output, secret, "a scan publishing to Redis")
    if reserved == ":":  # the scan runs; the sink's failure is in errors, masked
        doc = json.loads(scan.stdout)
        assert any("sink 'redis'" in e for e in doc["errors"]), doc["errors"]


@pytest.mark.parametrize("padding", [0, 1, 40])
def test_config_errors_of_any_length_never_show_a_secret(tmp_path, padding):
    """The whole config used to be echoed when short: ``(got {'redis': {'url': ...}})``."""
    secret = CANARIES["/"].replace("/", "x")
    lines = [f'[redis]\nurl = "redis://:{secret}@r/0"', '[sinks]\nenabled = "json"']
    lines += [f'[strategies.s{i}]\ntype = "csp"' for i in range(padding)]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    out = run("scan", "--provider", "sim", "--config", str(config))
    assert out.exit_code == 2 and "sinks" in out.output and "list of names" in out.output
    assert_clean(out.output, secret, "a config error")
    token = run("config", "show", "--set", f'redis.url=["{secret}"]')
    assert token.exit_code == 2 and "(got '***')" in token.output
    assert_clean(token.output, secret, "a bad secret value")
