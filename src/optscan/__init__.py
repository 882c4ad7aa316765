"""optscan: an event-driven, plugin-based options scanner for the wheel strategy.

The package is deliberately light to import: heavy libraries (numpy, yfinance,
exchange_calendars, redis, rq) are imported inside the functions that need them so
that ``optscan --help`` starts quickly.
"""

__version__ = "0.1.0"
