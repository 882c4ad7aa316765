# optscan tasks. `just --list` shows them.

# Offline scan on the synthetic market.
scan *ARGS:
    optscan scan --provider sim {{ARGS}}

# The whole test suite (starts its own redis-server where a test needs one).
test *ARGS:
    python -m pytest -q {{ARGS}}

# Lint and format check.
lint:
    ruff check src tests bench
    ruff format --check src tests bench

# Benchmarks: prints one table of figures (see README "Performance").
bench *ARGS:
    python bench/run.py {{ARGS}}
