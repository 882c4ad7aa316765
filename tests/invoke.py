"""Run the ``optscan`` command in this process, as a fresh ``python -m optscan`` would.

``python -m optscan`` in a subprocess costs about a second of start-up (pandas,
exchange_calendars, pydantic) per call; click's ``CliRunner`` runs the same command
code in milliseconds. Use :func:`invoke` wherever the process itself is not the point;
keep real subprocesses for what only a process shows (stdout purity of the real
streams, exit codes of the real interpreter, start-up imports, entry points seen by a
fresh interpreter, workers, servers).

What a fresh process would not share with earlier commands is reset around each call:
the secrets :mod:`optscan.secrets` remembered, structlog's configuration, ``OPTSCAN_*``
variables not given in ``env``, the working directory, the warning filters. What a
process would print but ``CliRunner`` does not capture is added to ``stderr``: stdlib
log records of WARNING and above (what ``logging.lastResort`` prints when nobody
configured logging), warnings, and the traceback of an uncaught exception (exit code 1,
as Python's own). Not seen: bytes written straight to file descriptors 1 and 2
(``os.write``, ``sys.__stderr__``), which only a real process shows.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Ran:
    """What one command did (the fields of ``subprocess.CompletedProcess`` tests use)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        """Everything the command printed."""
        return f"{self.stdout}\n{self.stderr}"

    @property
    def report(self) -> str:
        """For assertion messages: the command line and what it printed."""
        return f"$ optscan {' '.join(self.args)} (exit {self.returncode})\n{self.text}"


def _fresh_warning_filters() -> None:
    """The warning filters of a fresh interpreter (not pytest's, nor ``-W``'s)."""
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
        warnings.simplefilter("ignore", category)
    warnings.simplefilter("ignore", ResourceWarning)
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")


def invoke(
    *args: str,
    env: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> Ran:
    """``optscan *args`` in this process. ``env`` sets (or, with None, removes)
    variables for the call; every other ``OPTSCAN_*`` variable is removed. ``environ``
    is instead the whole environment, as ``subprocess.run(env=...)`` takes it."""
    import structlog
    from click.testing import CliRunner

    from optscan.cli import cli
    from optscan.secrets import forget_all

    variables: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OPTSCAN_")}
    if environ is not None:
        variables = {k: None for k in os.environ if k not in environ}
        variables.update((k, v) for k, v in environ.items() if os.environ.get(k) != v)
    variables.update(env or {})
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    forget_all()
    structlog.reset_defaults()
    root.addHandler(handler)
    try:
        with (
            contextlib.chdir(cwd or os.getcwd()),
            warnings.catch_warnings(record=True) as caught,
        ):
            _fresh_warning_filters()
            result = CliRunner().invoke(cli, list(args), env=variables, prog_name="optscan")
    finally:
        root.removeHandler(handler)
        structlog.reset_defaults()
        forget_all()
    stderr = result.stderr + logged.getvalue()
    stderr += "".join(
        warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught
    )
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        assert result.exc_info is not None
        stderr += "".join(traceback.format_exception(*result.exc_info))
        code = 1
    return Ran(list(args), code, result.stdout, stderr)
