"""OCC option symbols: parsing one, and telling standard contracts apart in bulk.

An OCC symbol is the option root (1-6 letters or digits), the expiration ``YYMMDD``,
``C`` or ``P``, and the strike times 1000 as 8 digits: ``SPY250117P00400000``. The
official 21-character form pads the root with spaces to 6 characters
(``SPY   250117P00400000``); vendors usually drop the padding. Both are accepted.

Why the root matters: after a corporate action (a merger, a special dividend) the
exchanges list *adjusted* contracts under a new root (``AMD1`` after the Xilinx deal)
whose deliverable is no longer 100 shares of the underlying. Their quotes and greeks do
not fit the underlying's price, so the scanner keeps only contracts whose root is the
symbol itself.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

_OCC = re.compile(r"([A-Z0-9]{1,6}) *([0-9]{6})([CP])([0-9]{8})")  # ASCII digits only
_SUFFIX = 15  # YYMMDD + C/P + 8 strike digits


class OccSymbol(NamedTuple):
    """The parts of an OCC option symbol."""

    root: str
    expiration: dt.date
    kind: Literal["call", "put"]
    strike: float


def parse_occ_symbol(contract_symbol: str) -> OccSymbol:
    """Split an OCC symbol into root, expiration, kind and strike.

    Raises ``ValueError`` naming the symbol when it is not one (including an impossible
    date), so a malformed vendor row is reported rather than half-parsed.
    """
    match = _OCC.fullmatch(contract_symbol.strip())
    if match is None:
        raise ValueError(
            f"not an OCC option symbol: {contract_symbol!r} "
            "(expected root, YYMMDD, C or P, strike x 1000 as 8 digits)"
        )
    root, date, letter, strike = match.groups()
    try:  # YY is 20YY: OCC symbology dates from 2010 (strptime's %y pivots at 69)
        expiration = dt.date(2000 + int(date[:2]), int(date[2:4]), int(date[4:]))
    except ValueError:
        raise ValueError(f"not an OCC option symbol: {contract_symbol!r} (bad date)") from None
    return OccSymbol(root, expiration, "call" if letter == "C" else "put", int(strike) / 1000)


def occ_root(contract_symbol: str) -> str:
    """The option root of an OCC symbol (``AMD1`` for ``AMD1240119C00075000``)."""
    return parse_occ_symbol(contract_symbol).root


def expected_root(symbol: str) -> str:
    """The OCC root of a ticker's standard options: the ticker without class punctuation.

    ``BRK.B`` (or Yahoo's ``BRK-B``) trades options under ``BRKB``.
    """
    return symbol.strip().upper().replace(".", "").replace("-", "")


def standard_root_mask(contract_symbols: ArrayLike, symbol: str) -> NDArray[np.bool_]:
    """True where a contract symbol is a well-formed OCC symbol on ``symbol``'s own root.

    Adjusted contracts (``AMD1...`` for ``AMD``), other roots and malformed or non-OCC
    symbols are False. Index weeklies trade under their own root (``SPXW`` for ``SPX``)
    and are False too: the scanner targets the wheel on stocks and ETFs. Only the
    upper-case form is recognised, as OCC and every vendor seen print it.

    Vectorized, and the gate's biggest cost, so it works on bytes: the UCS-4 strings
    are narrowed to one byte per character (a non-ASCII character already makes a
    symbol non-standard), and each check reads one 8-byte word per contract - the root
    with a mask, the 6 date and 8 strike digits as two words tested eight bytes at a
    time (SWAR) - instead of a pass over the whole character matrix per check.
    """
    given = np.asarray(contract_symbols, dtype=np.str_)
    symbols = np.ascontiguousarray(given.reshape(-1))
    root = expected_root(symbol)
    start, end = len(root), len(root) + _SUFFIX  # OCC roots have 1 to 6 characters
    if (
        not (1 <= start <= 6 and root.isascii() and root.isalnum())
        or _width(symbols) < end
        or not symbols.size
    ):
        return np.zeros(given.shape, dtype=bool)
    chars = _ascii_matrix(symbols)
    # The official form pads the root with spaces to 6 characters and vendors drop the
    # padding; any run of spaces between root and date is accepted (as the plain
    # definition, root ' *' digits, says), a 6-character root's included.
    padded = chars[:, start] == ord(" ")
    if padded.any():
        symbols = _drop_root_padding(symbols, np.flatnonzero(padded), start)
        chars = _ascii_matrix(symbols)
    root_bits = np.uint64((1 << 8 * start) - 1)
    mask = (_words(chars, 0) & root_bits) == np.uint64(int.from_bytes(root.encode(), "little"))
    mask &= _all_digits(_words(chars, start), _DATE_LANES)  # YYMMDD (and a strike digit)
    mask &= _all_digits(_words(chars, start + 7), _ALL_LANES)  # the 8 strike digits
    letter = chars[:, start + 6]
    mask &= (letter == ord("C")) | (letter == ord("P"))
    mask &= _nothing_from(chars, end)  # nothing after the strike
    return mask.reshape(given.shape)


_ALL_LANES = np.uint64(0x8080808080808080)
_DATE_LANES = np.uint64(0x8000808080808080)  # byte 6 is the C/P letter, checked apart
_AT_LEAST_0 = np.uint64(0x5050505050505050)  # 0x80 - ord("0") in every byte
_ABOVE_9 = np.uint64(0x4646464646464646)  # 0x80 - (ord("9") + 1) in every byte


def _all_digits(words: NDArray[np.uint64], lanes: np.uint64) -> NDArray[np.bool_]:
    """True where every byte selected by ``lanes`` is an ASCII digit.

    Bytes are below 0x80 (see :func:`_ascii_matrix`), so adding 0x50 or 0x46 to each
    never carries into the next byte: bit 7 of a byte of ``words + 0x50..`` is set iff
    the byte is >= "0", and of ``words + 0x46..`` iff it is > "9".
    """
    digit = (words + _AT_LEAST_0) & ~(words + _ABOVE_9)
    return (digit & lanes) == lanes


def _drop_root_padding(
    symbols: NDArray[np.str_], rows: NDArray[np.intp], start: int
) -> NDArray[np.str_]:
    """``symbols`` with the spaces between root and date removed in ``rows``."""
    fixed = symbols.copy()
    given = symbols[rows]
    rest = np.strings.lstrip(np.strings.slice(given, start, None), " ")
    fixed[rows] = np.strings.add(np.strings.slice(given, 0, start), rest)
    return fixed


def _nothing_from(chars: NDArray[np.uint8], end: int) -> NDArray[np.bool_]:
    """True where every byte from column ``end`` on is NUL (the dtype's padding).

    Checked 8 bytes at a time: the last column alone would let an embedded NUL
    followed by more characters through.
    """
    rows, width = chars.shape
    ok = np.ones(rows, dtype=bool)
    low = end
    while low < width:
        offset = min(low, width - 8)  # the word stays inside the row
        tail = np.uint64(((1 << 8 * (offset + 8 - low)) - 1) << 8 * (low - offset))
        ok &= (_words(chars, offset) & tail) == 0
        low = offset + 8
    return ok


def _width(symbols: NDArray[np.str_]) -> int:
    return symbols.dtype.itemsize // 4


def _words(chars: NDArray[np.uint8], offset: int) -> NDArray[np.uint64]:
    """The 8 bytes ``chars[:, offset:offset + 8]`` of every row as one little-endian word.

    A strided (unaligned) view, no copy; the caller keeps ``offset + 8`` within a row.
    """
    rows, width = chars.shape
    return np.ndarray((rows,), dtype="<u8", buffer=chars, offset=offset, strides=(width,))


def _ascii_matrix(symbols: NDArray[np.str_]) -> NDArray[np.uint8]:
    """A contiguous 1-d string array as a (contracts x characters) byte matrix.

    Code points above 127 do not fit a byte; they become 127 (DEL), which no check
    accepts (roots are letters and digits), so a symbol holding one is non-standard
    whatever the rest of it says.
    """
    codes = symbols.view(np.uint32).reshape(symbols.size, _width(symbols))
    if codes.max() < 128:  # the usual case: one pass to look, none to clamp
        return codes.astype(np.uint8)
    return np.minimum(codes, 127).astype(np.uint8)
