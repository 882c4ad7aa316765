"""Option contracts in the notations brokers write them.

* OCC, with or without the root's padding: ``AAPL  261218C00240000``,
  ``AAPL261218C00240000`` (strike x 1000 in 8 digits; Interactive Brokers' Flex and
  Tastytrade write the padded form);
* Fidelity ``-AAPL261218C240`` and thinkorswim ``.AAPL261218C240`` (the strike as
  written, ``242.5`` allowed);
* Schwab ``AAPL 12/18/2026 240.00 C``;
* Interactive Brokers' activity statement ``AAPL 18DEC26 240 C``;
* E*Trade ``AAPL Dec 18 '26 $240 Call``;
* and the readable ``AAPL 2026-12-18 240 P``.

:func:`parse_option` returns ``None`` for text that is none of these (a stock), and
raises ``ValueError`` for text that is one but cannot be a contract (a 31 February).
The underlying is canonical (:func:`optscan.symbols.canonical_symbol`: ``BRK/B`` ->
``BRK-B``); an OCC root is kept as written (``BRKB``) until the reader matches it to a
stock held (:func:`optscan.analytics.occ.expected_root`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal, NamedTuple

from optscan.symbols import canonical_symbol

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
_COMPACT = re.compile(
    r"(?P<prefix>[-.]?)(?P<root>[A-Z][A-Z0-9]{0,5}?) *(?P<date>\d{6})(?P<cp>[CP])"
    r"(?P<strike>\d+(?:\.\d+)?)"
)
_UNDERLYING = r"(?P<underlying>[A-Z][A-Z0-9]{0,6}(?:[./ -][A-Z])?)"
_STRIKE = r"\$?(?P<strike>\d+(?:\.\d+)?)"
_CP = r"(?P<cp>C|P|CALL|PUT)"
_SPACED = [
    re.compile(
        rf"{_UNDERLYING} +(?P<m>\d{{1,2}})/(?P<d>\d{{1,2}})/(?P<y>\d{{2}}|\d{{4}})"
        rf" +{_STRIKE} +{_CP}"
    ),
    re.compile(
        rf"{_UNDERLYING} +(?P<d>\d{{1,2}})(?P<mon>[A-Z]{{3}})(?P<y>\d{{2}}) +{_STRIKE} +{_CP}"
    ),
    re.compile(
        rf"{_UNDERLYING} +(?P<mon>[A-Z]{{3}}) +(?P<d>\d{{1,2}}) +'?(?P<y>\d{{2}}|\d{{4}})"
        rf" +{_STRIKE} +{_CP}"
    ),
    re.compile(rf"{_UNDERLYING} +(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}}) +{_STRIKE} +{_CP}"),
]


class OptionContract(NamedTuple):
    """One listed option: its underlying (or OCC root), expiration, kind and strike
    (per share)."""

    underlying: str
    expiration: dt.date
    kind: Literal["put", "call"]
    strike: float

    def occ_symbol(self) -> str:
        """The OCC symbol without padding, on the underlying's OCC root
        (``BRKB261218C00450000`` for ``BRK-B``)."""
        from optscan.analytics.occ import expected_root

        strike = round(self.strike * 1000)
        root = expected_root(self.underlying)
        return f"{root}{self.expiration:%y%m%d}{self.kind[0].upper()}{strike:08d}"


def parse_option(text: str) -> OptionContract | None:
    """The contract ``text`` names in any notation above, else ``None``.

    Raises ``ValueError`` for a contract notation with an impossible date or strike.
    """
    cell = " ".join(text.strip().upper().split())
    if not cell:
        return None
    compact = _COMPACT.fullmatch(text.strip().upper())
    if compact is not None:
        return _compact(compact)
    for pattern in _SPACED:
        match = pattern.fullmatch(cell)
        if match is not None:
            return _spaced(match)
    return None


def _compact(match: re.Match[str]) -> OptionContract:
    date, strike_text = match["date"], match["strike"]
    if not match["prefix"] and len(strike_text) == 8 and "." not in strike_text:
        strike = int(strike_text) / 1000  # OCC: strike x 1000 in 8 digits
    else:
        strike = float(strike_text)
    expiration = _date(2000 + int(date[:2]), int(date[2:4]), int(date[4:]), match.group(0))
    return _contract(match["root"], expiration, match["cp"], strike, match.group(0))


def _spaced(match: re.Match[str]) -> OptionContract:
    parts = match.groupdict()
    year = int(parts["y"])
    year = year + 2000 if year < 100 else year
    if parts.get("mon"):
        month = _MONTHS.get(parts["mon"])
        if month is None:
            raise ValueError(f"{match.group(0)!r}: {parts['mon']!r} is not a month")
    else:
        month = int(parts["m"])
    expiration = _date(year, month, int(parts["d"]), match.group(0))
    underlying = canonical_symbol(parts["underlying"])
    return _contract(underlying, expiration, parts["cp"], float(parts["strike"]), match.group(0))


def _date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r}: not a date ({year:04d}-{month:02d}-{day:02d})") from None


def _contract(
    underlying: str, expiration: dt.date, cp: str, strike: float, text: str
) -> OptionContract:
    if not 0 < strike < 1e6:
        raise ValueError(f"{text!r}: strike {strike:g} is not a price")
    kind: Literal["put", "call"] = "call" if cp.startswith("C") else "put"
    return OptionContract(underlying, expiration, kind, strike)
