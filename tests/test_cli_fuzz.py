"""Fuzz every CLI command: whatever the arguments, config file and input files, no
traceback ever reaches the user, and the exit code is one the README documents.

hypothesis builds a command line for every command (``scan``, ``plugins``, ``config
show``, ``market``, ``enqueue``, ``status``, ``results``, ``worker``, ``scheduler``,
``dashboard``, ``lock clear``, ``schedule add|list|remove``, ``rolls``, and the valuation
plugin's ``value`` when it is installed) from real and broken
options, ``--set`` pairs over real, misspelt and dangerous keys with absurd values
(``nan``, ``inf``, ``1e300``, deep arrays, text), a generated config file (TOML, broken
TOML, deeply nested, not UTF-8), a holdings CSV and a ``--replay`` recording with
damaged numbers. Each runs in this process (``tests/invoke.py``) in a folder of its
own; Redis is a closed port, so queue commands fail at once with exit 1. Asserted:
exit 0, 1, 2 or 3; no ``Traceback`` in stdout or stderr; and no error that only the
top-level guard caught (``--log-level debug shows the traceback``): those are bugs
the fuzz found, fixed where they were.

The quick run (``test-fast``) takes a few seconds; ``OPTSCAN_FUZZ_EXAMPLES`` or the
``slow`` run makes it bigger.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from .helpers import OPEN_INSTANT
from .invoke import invoke

CLOSED_REDIS = "redis://127.0.0.1:1/0"
BASE_ENV = {
    "OPTSCAN_REDIS_URL": CLOSED_REDIS,
    "OPTSCAN_SCAN__PROVIDER": "sim",  # never the network (yfinance, marketdata)
    "OPTSCAN_SCAN__MAX_DTE": "7",
    "OPTSCAN_SOURCES__WATCHLIST__SYMBOLS": '["AAPL", "MSFT"]',
    "COLUMNS": "120",
}
CRASHED = "--log-level debug shows the traceback"
"""What the top-level guard adds to an error no command handled."""

# --------------------------------------------------------------------------- values

ABSURD = st.sampled_from(
    ["nan", "inf", "-inf", "1e300", "-1e300", "1e-300", "100000000000000000000", "-1", "0"]
)
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12
).filter(lambda s: "\x00" not in s)  # argv cannot carry NUL
VALUES = st.one_of(
    ABSURD,
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", '"x"', "[]", "[1, 2]", "{}", "{a=1}", '"sim"']),
    st.sampled_from(["[" * 3000, "{a=" * 2000, '"' + "A" * 300 + '"']),
    TEXT,
)
SAFE_KEYS = [
    "scan.concurrency",
    "scan.max_dte",
    "scan.min_dte",
    "scan.profile",
    "scan.strategy",
    "scan.calendar",
    "scan.open_buffer_min",
    "strategies.csp.min_annualized_return",
    "strategies.csp.min_delta",
    "strategies.csp.max_spread_pct",
    "strategies.csp.top_per_symbol",
    "strategies.cc.max_delta_by_dte",
    "strategies.wild.type",
    "analytics.iv_cap",
    "analytics.risk_free_rate",
    "analytics.dividend_yields",
    "analytics.max_quote_age_s",
    "holdings.lots",
    "queue.state_ttl_s",
    "queue.lock_ttl_s",
    "queue.batch_size",
    "queue.retry_intervals_s",
    "redis.result_ttl_s",
    "redis.prefix",
    "dashboard.writes",
    "dashboard.allowed_hosts",
    "sinks.enabled",
    "sources.enabled",
    "enrichers.enabled",
    "enrichers.valuation.growth_rate",
    "enrichers.valuation.years",
    "enrichers.valuation.symbols",
    "plugins.disabled",
    "logging.format",
    "providers.sim.weeks",
    "providers.sim.seed",
    "providers.sim.max_concurrency",
    "scan.nope",
    "nope.key",
    "scan",
    "a..b",
]
SLOW_KEYS = [  # keys that could make a run wait: only values that must be refused
    "providers.sim.rate_limit_per_s",
    "providers.sim.latency_ms",
    "providers.sim.retry_initial_s",
    "providers.sim.retry_after_s",
]
PAIRS = st.tuples(st.sampled_from(SAFE_KEYS), VALUES).map(lambda kv: f"{kv[0]}={kv[1]}")
SET_PAIRS = st.one_of(
    PAIRS,
    PAIRS,
    PAIRS,
    st.tuples(
        st.sampled_from(SLOW_KEYS), st.sampled_from(["nan", "inf", "-1", "1e300", '"x"'])
    ).map(lambda kv: f"{kv[0]}={kv[1]}"),
    st.just('enrichers.enabled=["valuation"]'),  # the valuation plugin, when installed
    TEXT,
)
INSTANTS = st.one_of(
    st.just(OPEN_INSTANT.isoformat()),
    st.sampled_from(["2026-11-18T11:00", "2300-01-01", "0001-01-01T00:00+01:00", "soon", ""]),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
)
FORMATS = st.sampled_from(["table", "json", "csv", "toml", "xml"])
SYMBOLS = st.one_of(
    st.lists(st.sampled_from(["AAPL", "msft", "BTC-USD", "../x", "", "A" * 40]), max_size=3).map(
        ",".join
    ),
    TEXT,
)
NAMES = st.one_of(st.sampled_from(["default", "p1", "../../x", "a*", "x:*", "a b", ""]), TEXT)

# --------------------------------------------------------------------------- files

CONFIG_BODIES = st.one_of(
    st.sampled_from(
        [
            "[scan]\nconcurrency = 4\n",
            "[scan]\nmax_dte = 3000000\n",
            "[providers.sim]\nrate_limit_per_s = 1e-300\n",
            "[queue]\nstate_ttl_s = 1e20\n",
            "[strategies.csp]\nmin_annualized_return = nan\n",
            "[holdings]\nfile = 'holdings.csv'\n",
            "[holdings]\nfile = 'missing.csv'\n",
            "[sinks]\nenabled = ['json', 'csv']\n[sinks.json]\npath = 'out/{scan_id}.json'\n",
            "[sinks]\nenabled = ['json']\n[sinks.json]\npath = '/proc/x/y.json'\n",
            "[sources]\nenabled = ['file']\n[sources.file]\npath = 'holdings.csv'\n",
            "[dashboard]\nwrites = true\nallowed_hosts = ['a b']\n",
            "a = " + "[" * 100_000 + "]" * 100_000 + "\n",
            "[scan\n",
        ]
    ),
    st.text(max_size=200),
)
CONFIG_FILES = st.one_of(
    st.just(None),  # no config file: the defaults (and the environment above)
    st.just(None),
    st.just(None),
    CONFIG_BODIES.map(lambda body: body.encode("utf-8")),
    st.just('[scan]\nprofile = "d\xe9faut"\n'.encode("latin-1")),
    st.binary(max_size=64),
).flatmap(
    # read as ./config.toml, or only with --config other.toml
    lambda body: st.tuples(st.sampled_from(["config.toml", "other.toml"]), st.just(body))
)
CELLS = st.one_of(ABSURD, st.sampled_from(["AAPL", "100", "150.5", "", "x", "../etc"]), TEXT)
HOLDINGS = st.one_of(
    st.lists(st.tuples(CELLS, CELLS, CELLS), max_size=3).map(
        lambda rows: "symbol,shares,cost_basis\n" + "".join(",".join(r) + "\n" for r in rows)
    ),
    st.text(max_size=60),
)
CHAIN_FIELDS = ["bid", "ask", "strike", "iv", "open_interest", "spot", "quote_time", "kind"]
DAMAGE = st.one_of(
    st.just(None),
    st.tuples(
        st.sampled_from(CHAIN_FIELDS),
        st.sampled_from([1e307, -1.0, 0.0, "NaN", "Infinity", "12", None, [], {}, 10**30]),
    ),
)

# --------------------------------------------------------------------------- commands

COMMON = st.lists(
    st.one_of(
        SET_PAIRS.map(lambda pair: ["--set", pair]),
        st.sampled_from([["--config", "other.toml"], ["--config", "nope.toml"]]),
        st.sampled_from([["--log-format", "json"], ["--log-level", "info"], ["--log-level", "x"]]),
    ),
    max_size=3,
)


def _options(**choices: st.SearchStrategy) -> st.SearchStrategy[list[str]]:
    """Some of the options, each with a drawn value (a flag: the value ``None``)."""
    items = [
        (option, values) if values is not None else (option, st.none())
        for option, values in choices.items()
    ]
    return st.lists(st.sampled_from(items), max_size=4, unique_by=lambda item: item[0]).flatmap(
        lambda picked: st.tuples(*(values for _option, values in picked)).map(
            lambda drawn: [
                word
                for (option, _values), value in zip(picked, drawn, strict=True)
                for word in ([option] if value is None else [option, value])
            ]
        )
    )


SCAN_OPTIONS = {
    "--provider": st.sampled_from(["sim", "nope", "", "SIM"]),
    "--symbols": SYMBOLS,
    "--strategy": st.sampled_from(["csp", "cc", "nope", ""]),
    "--sink": st.sampled_from(["json", "csv", "console", "redis", "nope"]),
    "--profile": NAMES,
    "--force": None,
    "--as-of": INSTANTS,
    "--record": st.sampled_from(["rec-out", "/proc/x", "holdings.csv/x"]),
    "--replay": st.sampled_from(["rec", "nope-dir", "holdings.csv"]),
    "--cash": st.sampled_from(["25000", "0", "-1", "nan", "1e12", "lots"]),
}
ROLLS = _options(
    **{
        "--provider": st.sampled_from(["sim", "nope", ""]),
        "--position": st.one_of(
            st.sampled_from(
                [
                    "AAPL261120P00185000:2@1.1",
                    "AAPL261120C00250000",
                    "AAPL:x",
                    "",
                    "AAPL261131P00001000",
                    "F261120P00012500:0",
                    "AAPL261120P00185000@nan",
                ]
            ),
            TEXT,
        ),
        "--positions": st.sampled_from(["holdings.csv", "nope.csv", "rec"]),
        "--strategy": st.sampled_from(["roll", "csp", "nope"]),
        "--as-of": INSTANTS,
        "--format": FORMATS,
        "--record": st.sampled_from(["rec-out", "/proc/x"]),
        "--replay": st.sampled_from(["rec", "nope-dir"]),
    }
).map(lambda o: ["rolls", *o])
SCANS = _options(
    **SCAN_OPTIONS,
    **{"--format": FORMATS, "--columns": st.one_of(st.just("symbol,bid"), TEXT)},
    **{"--queue": None},
    **{"--positions": st.sampled_from(["holdings.csv", "missing.csv", "rec", "config.toml"])},
).map(lambda o: ["scan", *o])
GOOD_SCANS = st.tuples(  # scans that get to the end: the numbers and the output
    st.sampled_from(
        [["--replay", "rec"], ["--symbols", "AAPL,MSFT", "--as-of", "2026-11-18T11:00"]]
    ),
    st.sampled_from([["--format", "json"], ["--format", "csv"], ["--format", "table"]]),
    st.sampled_from([[], ["--strategy", "cc"], ["--sink", "json"], ["--columns", "bid,iv"]]),
).map(lambda parts: ["scan", *parts[0], *parts[1], *parts[2]])
COMMANDS = st.one_of(
    SCANS,
    GOOD_SCANS,
    GOOD_SCANS,
    _options(**{"--format": FORMATS}).map(lambda o: ["plugins", *o]),
    _options(**{"--format": FORMATS}).map(lambda o: ["config", "show", *o]),
    _options(**{"--at": INSTANTS, "--format": FORMATS}).map(lambda o: ["market", *o]),
    _options(**SCAN_OPTIONS, **{"--wait": None}).map(lambda o: ["enqueue", *o]),
    _options(**{"--scan-id": NAMES, "--format": FORMATS}).map(lambda o: ["status", *o]),
    _options(**{"--profile": NAMES, "--scan-id": NAMES, "--format": FORMATS}).map(
        lambda o: ["results", *o]
    ),
    _options(**{"--queues": TEXT, "--max-jobs": st.sampled_from(["1", "-1", "x"])}).map(
        lambda o: ["worker", "--burst", *o]
    ),
    st.just(["scheduler", "--burst"]),
    _options(**{"--port": st.sampled_from(["0", "99999", "x"]), "--host": TEXT}).map(
        lambda o: ["dashboard", *o]
    ),
    _options(**{"--profile": NAMES}).map(lambda o: ["lock", "clear", *o]),
    _options(**SCAN_OPTIONS, **{"--cron": st.one_of(st.just("0 10 * * 1-5"), TEXT)}).map(
        lambda o: ["schedule", "add", *o]
    ),
    st.just(["schedule", "list"]),
    _options(  # the valuation plugin's command (exit 2 "no such command" without it)
        **{
            "--symbols": SYMBOLS,
            "--provider": st.sampled_from(["sim", "nope", ""]),
            "--replay": st.sampled_from(["rec", "nope-dir", "holdings.csv"]),
            "--format": FORMATS,
        }
    ).map(lambda o: ["value", *o]),
    NAMES.map(lambda name: ["schedule", "remove", name]),
    _options(
        **{
            "--broker": st.sampled_from(["schwab", "fidelity", "ibkr-activity", "generic", "x"]),
            "--format": FORMATS,
        }
    ).flatmap(
        lambda o: st.sampled_from([["holdings.csv"], ["missing.csv"], ["rec"], []]).map(
            lambda path: ["positions", *path, *o]
        )
    ),
    _options(**{"--format": FORMATS}).map(lambda o: ["symbols", *o]),
    ROLLS,
    st.lists(TEXT, max_size=3),  # anything at all
)

# --------------------------------------------------------------------------- the run


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A real sim recording of AAPL, as files to copy into each example's folder."""
    folder = tmp_path_factory.mktemp("recording")
    proc = invoke(
        "scan", "--provider", "sim", "--symbols", "AAPL", "--as-of", OPEN_INSTANT.isoformat(),
        "--record", str(folder / "rec"), "--format", "json", env={"OPTSCAN_SCAN__MAX_DTE": "7"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.report
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in (folder / "rec").rglob("*")
        if path.is_file()
    }


_counter = itertools.count()


def _lay_out(
    root: Path, recording: dict[str, bytes], config: tuple[str, bytes | None], holdings: str, damage
) -> Path:
    """A fresh folder with the example's config, holdings and recording."""
    here = root / f"ex{next(_counter)}"
    here.mkdir()
    name, body = config
    if body is not None:
        (here / name).write_bytes(body)
    (here / "holdings.csv").write_text(holdings, encoding="utf-8", errors="replace")
    for name, body in recording.items():
        path = here / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    if damage is not None:
        field, value = damage
        chain = next(p for p in sorted((here / "rec").rglob("20*.json")))
        payload = json.loads(chain.read_text())
        if isinstance(payload.get(field), list) and payload[field]:
            payload[field][len(payload[field]) // 2] = value
        else:
            payload[field] = value
        chain.write_text(json.dumps(payload))
    return here


def _check(command: list[str], common: list[list[str]], here: Path) -> None:
    args = [*command, *(word for pair in common for word in pair)]
    proc = invoke(*args, env=BASE_ENV, cwd=here)
    event(f"{' '.join(command[:1])}: exit {proc.returncode}")  # --hypothesis-show-statistics
    assert proc.returncode in (0, 1, 2, 3), proc.report
    assert "Traceback" not in proc.text, proc.report
    assert CRASHED not in proc.stderr, proc.report  # an error only the guard caught


def _fuzz(examples: int):
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=examples <= 50,  # the quick run is the same every time
    )
    @given(
        command=COMMANDS,
        common=COMMON,
        config=CONFIG_FILES,
        holdings=HOLDINGS,
        damage=DAMAGE,
    )
    def run(tmp_path_factory, recording, command, common, config, holdings, damage):
        here = _lay_out(tmp_path_factory.getbasetemp(), recording, config, holdings, damage)
        _check(command, common, here)

    return run


def test_no_command_ever_shows_a_traceback(tmp_path_factory, recording):
    _fuzz(50)(tmp_path_factory, recording)


@pytest.mark.slow
def test_no_command_ever_shows_a_traceback_long_run(tmp_path_factory, recording):
    _fuzz(int(os.environ.get("OPTSCAN_FUZZ_EXAMPLES", "1000")))(tmp_path_factory, recording)


@pytest.mark.parametrize(
    "command",
    [
        ["scan", "--as-of", "2300-01-01"],
        ["market", "--at", "0001-01-01T00:00+01:00"],
        ["enqueue", "--as-of", "9999-12-31T23:59:59"],
    ],
)
def test_instants_beyond_the_calendars_exit_2(command):
    """Found by the fuzz: the NYSE calendar covers 1678-2261, and an instant outside it
    crashed ``scan`` and ``market``."""
    proc = invoke(*command, env=BASE_ENV)
    assert proc.returncode == 2 and "out of range: years 1970 to 2200" in proc.stderr, proc.report
