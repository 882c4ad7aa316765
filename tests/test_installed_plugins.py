"""The two plugin packages in plugins/, installed, seen through the real command line.

Runs ``python -m optscan`` in a subprocess so entry points are discovered exactly as a
user's ``optscan`` would. A broken third-party plugin is simulated with a bare
``.dist-info`` directory on ``PYTHONPATH`` whose entry points name a missing module and
a module that raises on import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

PLUGINS = {
    "marketdata": "optscan-marketdata",
    "notify": "optscan-notify",
    "valuation": "optscan-valuation",
}
SCAN = ["scan", "--provider", "sim", "--symbols", "AAPL", "--as-of", "2026-11-18T11:00"]


@pytest.fixture(autouse=True)
def _installed() -> None:
    for dist in PLUGINS.values():
        try:
            distribution(dist)
        except PackageNotFoundError:
            pytest.skip(
                f"{dist} is not installed in this environment (pip install -e ./plugins/{dist})"
            )


def _optscan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optscan", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        timeout=120,
    )


def _with_broken_plugins(tmp_path: Path) -> dict[str, str]:
    """An environment whose PYTHONPATH holds a distribution with two broken plugins."""
    site = tmp_path / "site"
    info = site / "optscan_broken_xyz-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: optscan-broken-xyz\nVersion: 0.0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[optscan]\nbroken = optscan_broken_xyz_missing\nraising = optscan_raising_xyz\n",
        encoding="utf-8",
    )
    (site / "optscan_raising_xyz.py").write_text(
        'raise RuntimeError("optscan_raising_xyz refuses to import")\n', encoding="utf-8"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


def _listed(document: dict) -> dict[str, dict]:
    return {p["name"]: p for p in document["plugins"]}


def test_both_plugins_are_listed_with_their_versions():
    done = _optscan("plugins", "--format", "json")
    assert done.returncode == 0, done.stderr
    plugins = _listed(json.loads(done.stdout))
    for name in PLUGINS:
        assert name in plugins, f"{name} missing from `optscan plugins`: {sorted(plugins)}"
        assert plugins[name]["version"] == "0.1.0"
        assert plugins[name]["builtin"] is False
    assert plugins["marketdata"]["providers"] == ["marketdata"]
    assert plugins["marketdata"]["hooks"] == ["register_option_providers"]
    assert plugins["notify"]["sinks"] == ["notify"]
    assert plugins["notify"]["hooks"] == ["register_result_sinks"]
    assert plugins["valuation"]["hooks"] == ["register_commands", "register_enrichers"]
    assert plugins["valuation"]["enrichers"] == ["valuation"]
    assert plugins["valuation"]["commands"] == ["value"]


def test_the_valuation_plugin_brings_its_command_and_its_badges():
    listed = _optscan("--help")
    assert listed.returncode == 0 and "value " in listed.stdout, listed.stdout
    scan = _optscan(*SCAN, "--set", 'enrichers.enabled=["valuation"]', "--format", "json")
    assert scan.returncode == 0, scan.stderr
    result = json.loads(scan.stdout)
    assert result["errors"] == [] and result["opportunities"]
    for opportunity in result["opportunities"]:
        facts = opportunity["extras"]["valuation"]
        assert set(facts) == {"intrinsic_value", "value_method", "value_badge"}
        assert facts["value_badge"] in ("good", "high", "n/a")
    assert "any_good" in result["symbols"][0]["extras"]["valuation"]
    value = _optscan("value", "--provider", "sim", "--symbols", "AAPL", "--format", "json")
    assert value.returncode == 0, value.stderr
    assert json.loads(value.stdout)["values"][0]["symbol"] == "AAPL"


def test_a_disabled_plugin_brings_no_command(tmp_path: Path):
    env = dict(os.environ, OPTSCAN_PLUGINS__DISABLED='["valuation"]')
    listed = _optscan("--help", env=env)
    assert listed.returncode == 0 and "value " not in listed.stdout
    gone = _optscan("value", "--symbols", "AAPL", env=env)
    assert gone.returncode == 2 and "No such command 'value'" in gone.stderr


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_run(tmp_path: Path):
    env = _with_broken_plugins(tmp_path)
    done = _optscan("plugins", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    failures = {f["plugin"]: f for f in document["failures"]}
    assert set(failures) == {"broken", "raising"}
    assert failures["broken"]["stage"] == "import"
    assert "ModuleNotFoundError" in failures["broken"]["error"]
    assert "optscan_broken_xyz_missing" in failures["broken"]["error"]
    assert "RuntimeError: optscan_raising_xyz refuses to import" in failures["raising"]["error"]
    plugins = _listed(document)
    assert {"marketdata", "notify"} <= set(plugins)
    assert "broken" not in plugins and "raising" not in plugins

    scan = _optscan(*SCAN, "--format", "json", env=env)
    assert scan.returncode == 0, scan.stderr
    result = json.loads(scan.stdout)
    assert result["success"] and result["symbols"][0]["status"] == "ok"
    assert "broken" in scan.stderr  # the failure is logged on stderr, not stdout


def test_strict_plugins_make_the_failure_fatal(tmp_path: Path):
    env = _with_broken_plugins(tmp_path)
    env["OPTSCAN_STRICT_PLUGINS"] = "1"
    scan = _optscan(*SCAN, "--format", "json", env=env)
    assert scan.returncode == 2
    assert scan.stdout == ""
    assert "plugin 'broken'" in scan.stderr or "plugin 'raising'" in scan.stderr


def _venv_without(tmp_path: Path, dist: str) -> Path:
    """A real virtualenv holding everything this one has except ``dist``: its
    site-packages links every entry of ours but the distribution's own files (its
    ``.dist-info``, its module or editable ``.pth``), as if it had been uninstalled."""
    import sysconfig

    ours = Path(sysconfig.get_paths()["purelib"])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    theirs = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    module = dist.replace("-", "_")
    for entry in ours.iterdir():
        if module in entry.name.lower().replace("-", "_"):
            continue
        target = theirs / entry.name
        if not target.exists():
            target.symlink_to(entry)
    return python


def _runner(python: Path) -> Callable[..., subprocess.CompletedProcess]:
    """``run(*args)``: ``python -m optscan *args`` in that virtualenv."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(python), "-m", "optscan", *args], capture_output=True, text=True, env=env
        )

    return run


@pytest.mark.slow  # builds a virtualenv
def test_with_one_plugin_uninstalled_optscan_still_works(tmp_path: Path):
    run = _runner(_venv_without(tmp_path, "optscan-marketdata"))

    listed = run("plugins", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    names = set(_listed(document))
    assert "notify" in names and "marketdata" not in names
    assert document["failures"] == []
    scan = run(*SCAN, "--format", "json")
    assert scan.returncode == 0, scan.stderr
    assert json.loads(scan.stdout)["symbols"][0]["status"] == "ok"
    gone = run(*SCAN, "--provider", "marketdata")
    assert gone.returncode == 2
    assert "marketdata" in gone.stderr


@pytest.mark.slow  # builds a virtualenv
def test_with_the_valuation_plugin_uninstalled_optscan_works_as_before(tmp_path: Path):
    run = _runner(_venv_without(tmp_path, "optscan-valuation"))

    listed = run("plugins", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert "valuation" not in _listed(document) and document["failures"] == []
    assert "value " not in run("--help").stdout
    # a config that still enables it and sets its keys: a warning, not an error
    scan = run(
        *SCAN,
        "--set",
        'enrichers.enabled=["valuation"]',
        "--set",
        "enrichers.valuation.growth_rate=0.2",
        "--format",
        "json",
    )
    assert scan.returncode == 0, scan.stderr
    result = json.loads(scan.stdout)
    assert result["symbols"][0]["status"] == "ok" and result["errors"] == []
    assert all(o["extras"] == {} for o in result["opportunities"])
    assert "no installed enricher 'valuation'" in scan.stderr
    gone = run("value", "--symbols", "AAPL")
    assert gone.returncode == 2 and "No such command 'value'" in gone.stderr


def test_help_lists_plugin_commands_without_importing_pydantic_or_numpy():
    """``optscan --help`` loads every plugin's entry point to list their commands; what
    keeps it fast (bench/bench_cli.py times it) is that none of that imports the models."""
    code = (
        "import sys\n"
        "from optscan.cli import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='optscan')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('pydantic', 'numpy', 'yfinance', 'rich') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert " value " in done.stdout  # the valuation plugin's command is listed
    assert "HEAVY []" in done.stdout, done.stdout
