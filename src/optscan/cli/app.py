"""The ``optscan`` group.

stdout carries only the command's output (a table, JSON or CSV); logs, progress bars
and warnings go to stderr. Only click is imported here; every command imports what it
needs inside its body, so ``optscan --help`` starts quickly.
"""

from __future__ import annotations

import click

from optscan.cli.env import common_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="optscan")
def cli() -> None:
    """optscan: scan option chains for wheel-strategy trades (cash-secured puts, covered calls).

    \b
    Exit codes: 0 ok, 1 scan failed, 2 bad usage or config,
                3 market closed (and not --force).
    Quick start, offline:  optscan scan --provider sim
    """
