# optscan tasks. `just --list` shows them.

# Offline scan on the synthetic market.
scan *ARGS:
    optscan scan --provider sim {{ARGS}}

# Install optscan, its first-party plugins and the test tools into the active venv.
install:
    pip install -e '.[dev]' -e './plugins/optscan-marketdata[test]' -e './plugins/optscan-notify[test]'

# The whole test suite: core and first-party plugins (starts its own redis-server
# where a test needs one). Extra arguments go to pytest.
test *ARGS:
    python -m pytest -q {{ARGS}}

# Lint and format check.
lint:
    ruff check src tests bench plugins
    ruff format --check src tests bench plugins

# Benchmarks: prints one table of figures (see README "Performance").
bench *ARGS:
    python bench/run.py {{ARGS}}
