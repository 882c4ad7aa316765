"""The trader's own positions file: :func:`read_positions` -> :class:`PositionsReading`.

Formats (detected from the file's header and preamble, or forced with ``broker``):
``schwab``, ``fidelity``, ``ibkr-activity``, ``ibkr-flex``, ``tastytrade``, ``etrade``,
``generic``. See :mod:`optscan.positions.formats` for what each looks like,
:mod:`~optscan.positions.numbers` for how numbers are read,
:mod:`~optscan.positions.notation` for option notations. Errors:
:class:`~optscan.errors.InputFileError` (a :class:`~optscan.errors.ConfigError`, so the
command line exits 2 with its one-line message).
"""

from __future__ import annotations

from optscan.errors import InputFileError
from optscan.positions.models import (
    FORMATS,
    OptionPosition,
    PositionsReading,
    SkippedRow,
    StockPosition,
)
from optscan.positions.reader import read_positions

PositionsError = InputFileError
"""The error :func:`read_positions` raises (an alias of ``InputFileError``)."""

__all__ = [
    "FORMATS",
    "InputFileError",
    "OptionPosition",
    "PositionsError",
    "PositionsReading",
    "SkippedRow",
    "StockPosition",
    "read_positions",
]
