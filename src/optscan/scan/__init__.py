"""The scan: ``perform_scan()`` and the steps it orchestrates.

* :mod:`~optscan.scan.perform` - ``perform_scan``, top to bottom;
* :mod:`~optscan.scan.context` - what a scan resolves once (``prepare_scan``);
* :mod:`~optscan.scan.resolve` - symbols from the request or the stock sources;
* :mod:`~optscan.scan.holdings` - shares held, for covered calls;
* :mod:`~optscan.scan.per_symbol` - one symbol's fetch and screen, many at once;
* :mod:`~optscan.scan.fetch`, :mod:`~optscan.scan.limits` - the provider client:
  gate, slots, rate limit, retries;
* :mod:`~optscan.scan.replay` - ``--record`` and ``--replay``;
* :mod:`~optscan.scan.result` - events, assembly and publication of the result;
* :mod:`~optscan.scan.window` - the open/close buffers.
"""

from __future__ import annotations

from optscan.scan.context import new_scan_id
from optscan.scan.perform import perform_scan

__all__ = ["new_scan_id", "perform_scan"]
