# optscan tasks. `just --list` shows them.

# Offline scan on the synthetic market.
scan *ARGS:
    optscan scan --provider sim {{ARGS}}

# Install optscan, its first-party plugins and the test tools into the active venv.
install:
    pip install -e '.[dev]' -e './plugins/optscan-marketdata[test]' -e './plugins/optscan-notify[test]' -e './plugins/optscan-valuation[test]'

# (Starts its own redis-server where a test needs one; extra arguments go to pytest.)
# The whole test suite: core and first-party plugins.
test *ARGS:
    python -m pytest -q -m "not chaos" {{ARGS}}

# (`just test` runs the slow ones too, and is what CI runs. Tests run in pytest-xdist
# workers, one per core up to 4, each with its own redis-server; `-n 0`: one process.)
# All but the tests marked slow (scale, soak, worker kill, Redis restart...): under a minute.
test-fast *ARGS:
    python -m pytest -q -m "not slow and not chaos" -n auto --maxprocesses 4 {{ARGS}}

# (`just test` runs them too, with the default soak of 100 scans.)
# Fault, fuzz, scale and security suites, figures on stdout (docs/reliability.md).
reliability *ARGS:
    OPTSCAN_SOAK_SCANS=500 python -m pytest -q -s tests/test_reliability.py tests/test_faults.py tests/test_scale.py tests/test_security.py tests/test_queue_integration.py tests/test_queue_faults.py tests/test_queue_hardening.py tests/test_bad_input.py tests/test_nonfinite.py tests/test_cli_fuzz.py tests/test_dashboard.py {{ARGS}}

# (Not in `just test` nor CI: pytest does not collect tests/chaos.py unless named. Workers
# SIGKILLed, Redis restarted with appendonly + appendfsync always, and filled to maxmemory
# once; figures on stdout, see docs/reliability.md. OPTSCAN_CHAOS_APPENDONLY=no: no AOF.)
# Chaos soak, a few minutes: 100 queued scans on 2 workers through kills and restarts.
chaos *ARGS:
    python -m pytest -q -s -p no:cacheprovider -m chaos tests/chaos.py {{ARGS}}

# Lint and format check.
lint:
    ruff check src tests bench plugins
    ruff format --check src tests bench plugins

# Benchmarks: prints one table of figures (see README "Performance").
bench *ARGS:
    python bench/run.py {{ARGS}}
