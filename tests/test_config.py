"""Configuration: defaults, the shipped file, precedence, errors that name the key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from optscan.config import (
    Settings,
    env_overrides,
    load_settings,
    parse_set,
)
from optscan.errors import ConfigError
from optscan.plugins import PluginHost
from optscan.secrets import mask as masked

from .helpers import REPO


def _effective(settings: Settings, host: PluginHost) -> dict:
    data = masked(settings)
    for family in ("providers", "sinks", "sources"):
        for name in host.names(family):
            data[family][name] = masked(host.plugin_config(family, name, settings))
    return data


def test_builtin_defaults_equal_the_shipped_config_toml():
    host = PluginHost(load_entrypoints=False)
    shipped = load_settings(REPO / "config.toml", use_env=False)
    defaults = load_settings(use_env=False)
    assert _effective(shipped, host) == _effective(defaults, host)
    # and the shipped file spells out every plugin section, so users see every key
    raw = (REPO / "config.toml").read_text()
    for family in ("providers", "sinks", "sources"):
        for name in host.names(family):
            assert f"[{family}.{name}]" in raw, f"config.toml lacks [{family}.{name}]"


def test_unknown_key_is_named(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[scan]\nconcurency = 4\n")
    with pytest.raises(ConfigError, match=r"scan\.concurency: unknown key"):
        load_settings(cfg, use_env=False)


def test_a_bad_override_is_not_blamed_on_a_good_file(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[scan]\nconcurrency = 4\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg, {"scan.concurency": 3}, use_env=False)
    message = str(caught.value)
    assert "from --set or OPTSCAN_* variables" in message and str(cfg) not in message
    assert "scan.concurency: unknown key" in message
    cfg.write_text("[scan]\nconcurrency = 'many'\n")
    with pytest.raises(ConfigError, match=rf"\(in {re.escape(str(cfg))}\)"):
        load_settings(cfg, {"scan.max_dte": 30}, use_env=False)


def test_bad_value_names_key_and_expectation(tmp_path: Path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[scan]\nconcurrency = 'many'\n")
    with pytest.raises(ConfigError, match=r"scan\.concurrency: .*integer.*'many'"):
        load_settings(cfg, use_env=False)


def test_plugin_section_errors_name_the_key(settings):
    host = PluginHost(load_entrypoints=False)
    bad = load_settings(overrides={"providers.sim.latency_ms": "slow"}, use_env=False)
    with pytest.raises(ConfigError, match=r"providers\.sim\.latency_ms"):
        host.validate_settings(bad)
    typo = load_settings(overrides={"providers.sim.latncy_ms": 5}, use_env=False)
    with pytest.raises(ConfigError, match=r"providers\.sim\.latncy_ms: unknown key"):
        host.validate_settings(typo)


def test_set_overrides_parse_toml_values():
    assert parse_set(
        [
            "scan.concurrency=1",
            "providers.sim.latency_ms=50",
            "sources.watchlist.symbols=['A', 'B']",
            "scan.provider=sim",
        ]
    ) == {
        "scan.concurrency": 1,
        "providers.sim.latency_ms": 50,
        "sources.watchlist.symbols": ["A", "B"],
        "scan.provider": "sim",
    }
    with pytest.raises(ConfigError, match=r"expected dotted\.key=value"):
        parse_set(["scan.concurrency"])


def test_precedence_file_env_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[scan]\nconcurrency = 3\nmax_dte = 10\nmin_dte = 1\n")
    monkeypatch.setenv("OPTSCAN_SCAN__MAX_DTE", "12")
    monkeypatch.setenv("OPTSCAN_SCAN__MIN_DTE", "2")
    settings = load_settings(cfg, {"scan.min_dte": 5})
    assert settings.scan.concurrency == 3  # file
    assert settings.scan.max_dte == 12  # env beats file
    assert settings.scan.min_dte == 5  # --set beats env


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "config.toml").write_text("[scan]\nconcurrency = 5\n")
    assert load_settings(use_env=False).scan.concurrency == 5  # ./config.toml
    other = tmp_path / "other.toml"
    other.write_text("[scan]\nconcurrency = 6\n")
    monkeypatch.setenv("OPTSCAN_CONFIG", str(other))
    assert load_settings(use_env=False).scan.concurrency == 6  # $OPTSCAN_CONFIG first
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("[scan]\nconcurrency = 7\n")
    assert load_settings(explicit, use_env=False).scan.concurrency == 7  # --config wins
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml")


def test_user_config_dir_is_last(tmp_path: Path):
    user = tmp_path / "xdg-config" / "optscan"
    user.mkdir(parents=True)
    (user / "config.toml").write_text("[scan]\nconcurrency = 9\n")
    assert load_settings(use_env=False).scan.concurrency == 9


def test_env_alias_and_non_keys():
    found = env_overrides(
        {
            "OPTSCAN_REDIS_URL": "redis://h:1/2",
            "OPTSCAN_CONFIG": "x",
            "OPTSCAN_SCAN__CONCURRENCY": "4",
            "HOME": "/root",
        }
    )
    assert found == {"redis.url": "redis://h:1/2", "scan.concurrency": 4}


def test_secrets_are_masked():
    settings = load_settings(
        overrides={"redis.url": "redis://user:hunter2@redis.example:6380/1"}, use_env=False
    )
    shown = json.dumps(masked(settings))
    assert "hunter2" not in shown
    assert "redis://user:***@redis.example:6380/1" in shown


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("rediss://:pw@cache.example:6380/3", "rediss://:***@cache.example:6380/3"),
        ("https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/***"),
        ("https://ntfy.sh/mytopic?auth=abc", "https://ntfy.sh/***?***"),
        ("https://tok@api.example/v1", "https://***@api.example/***"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),  # the form kept
        ("http://[::1", "***"),
    ],
)
def test_urls_are_shown_without_anything_that_can_carry_a_token(url, shown):
    """Webhook and topic URLs carry their token in the path: only scheme and host stay."""
    assert masked({"webhook_url": url}) == {"webhook_url": shown}


def test_strategy_tables_imply_type_and_keep_defaults():
    settings = load_settings(overrides={"strategies.csp.min_annualized_return": 40}, use_env=False)
    csp = settings.strategies["csp"]
    assert csp.type == "csp" and csp.min_annualized_return == 40 and csp.min_delta == -0.20
    with pytest.raises(ConfigError, match=r"strategies\.wild\.type"):
        load_settings(overrides={"strategies.wild.min_annualized_return": 40}, use_env=False)
    custom = load_settings(
        overrides={"strategies.wild.type": "csp", "strategies.wild.min_delta": -0.3},
        use_env=False,
    )
    assert custom.strategies["wild"].min_delta == -0.3


def test_top_level_disabled_plugins_adds_to_plugins_disabled(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('disabled_plugins = ["notify"]\n[plugins]\ndisabled = ["marketdata"]\n')
    settings = load_settings(path, use_env=False)
    assert settings.plugins.disabled == ["marketdata", "notify"]
    only = load_settings(overrides={"disabled_plugins": ["x"]}, use_env=False)
    assert only.plugins.disabled == ["x"]
    with pytest.raises(ConfigError, match="disabled_plugins"):
        load_settings(overrides={"disabled_plugins": "notify"}, use_env=False)


def test_naming_one_strategy_keeps_the_others(tmp_path: Path):
    """A `--set strategies.cc.<key>` (or a config with only [strategies.csp]) changes
    that strategy and keeps the built-in others: they replaced the whole table before."""
    settings = load_settings(overrides={"strategies.cc.min_annualized_return": 25.0}, use_env=False)
    assert list(settings.strategies) == ["csp", "cc", "roll"]
    assert settings.strategies["cc"].min_annualized_return == 25.0
    assert settings.strategies["csp"].min_annualized_return == 30.0
    config = tmp_path / "config.toml"
    config.write_text('[strategies.csp]\nmin_delta = -0.3\n\n[strategies.wide]\ntype = "csp"\n')
    settings = load_settings(path=config, use_env=False)
    assert list(settings.strategies) == ["csp", "cc", "roll", "wide"]
    assert settings.strategies["csp"].min_delta == -0.3
    assert settings.strategies["roll"].type == "roll"


def test_a_plugin_table_without_enabled_keeps_the_default_list(tmp_path: Path):
    """`[sources.watchlist] symbols = [...]` alone scanned nothing: the table replaced
    the default `enabled = ["watchlist"]`."""
    config = tmp_path / "config.toml"
    config.write_text('[sources.watchlist]\nsymbols = ["AAPL", "BRK.B"]\n')
    settings = load_settings(path=config, use_env=False)
    assert settings.enabled("sources") == ["watchlist"]
    assert settings.plugin_section("sources", "watchlist")["symbols"] == ["AAPL", "BRK.B"]
    settings = load_settings(overrides={"sources.watchlist.symbols": ["MSFT"]}, use_env=False)
    assert settings.enabled("sources") == ["watchlist"]
    settings = load_settings(overrides={"sources.enabled": ["file"]}, use_env=False)
    assert settings.enabled("sources") == ["file"]  # said: kept as said
    config.write_text('[sinks.json]\npath = "out.json"\n')
    assert load_settings(path=config, use_env=False).enabled("sinks") == []
