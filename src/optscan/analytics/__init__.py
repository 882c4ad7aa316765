"""The scan's analytics, columnar (numpy): what a chain is worth and what passes.

* :mod:`~optscan.analytics.screen` - ``screen_chain``, the one call a scan makes per
  chain;
* :mod:`~optscan.analytics.metrics` - DTE, years, annualized return, spread, cushion;
* :mod:`~optscan.analytics.gate` - the data-quality gate (and Yahoo's IV placeholders);
* :mod:`~optscan.analytics.rules` - a strategy's rules and delta limits;
* :mod:`~optscan.analytics.ranking` - the one ranking (missing values last);
* :mod:`~optscan.analytics.opportunities` - models for the contracts that pass;
* :mod:`~optscan.analytics.greeks` - Black-Scholes-Merton, vectorized;
* :mod:`~optscan.analytics.occ` - OCC symbols.
"""
