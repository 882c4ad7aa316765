"""Exit codes, and how a command fails: one message on stderr, one code, no traceback."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CLOSED = 0, 1, 2, 3
"""0 ok; 1 the scan failed or no symbol could be scanned; 2 bad usage or config;
3 the market is closed and the scan was not forced."""


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``optscan: <message>`` (scrubbed of credentials) on stderr and exit."""
    from optscan.secrets import scrub

    click.echo(f"optscan: {scrub(message)}", err=True)
    sys.exit(code)
