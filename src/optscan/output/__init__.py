"""How a scan's result is shown: a table for people, the JSON document, CSV.

Shared by the command line (stdout) and the ``console``, ``json`` and ``csv`` sinks, so
a result looks the same wherever it goes. :mod:`~optscan.output.columns` defines the
opportunity columns (JSON keys, headers, rounding) both the table and CSV use.
"""
