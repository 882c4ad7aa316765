"""``optscan rolls``: roll candidates for short options already held.

:mod:`~optscan.rolls.models` (positions in, rolls out), :mod:`~optscan.rolls.positions`
(``--position`` text and the positions-file adapter), :mod:`~optscan.rolls.engine`
(the candidates of one position, vectorized over its chains) and
:mod:`~optscan.rolls.run` (fetching through the scan's provider client: concurrency,
rate limits, retries, error signals, record/replay).
"""
