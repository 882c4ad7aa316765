"""Tests for :mod:`optscan.analytics.occ`: OCC symbol parsing and the vectorized root check."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optscan.analytics.occ import (
    OccSymbol,
    expected_root,
    occ_root,
    parse_occ_symbol,
    standard_root_mask,
)


def test_parse_compact_symbol() -> None:
    parsed = parse_occ_symbol("SPY250117P00400500")
    assert parsed == OccSymbol("SPY", dt.date(2025, 1, 17), "put", 400.5)
    root, expiration, kind, strike = parsed  # a plain tuple too
    assert (root, expiration, kind, strike) == ("SPY", dt.date(2025, 1, 17), "put", 400.5)


def test_parse_reads_years_as_this_century() -> None:
    # strptime's %y would put 69-99 in the 1900s; listed options expire in the 2000s.
    assert parse_occ_symbol("SPY690117P00400000").expiration == dt.date(2069, 1, 17)
    assert parse_occ_symbol("SPY991231P00400000").expiration == dt.date(2099, 12, 31)


def test_parse_padded_official_form_and_digit_roots() -> None:
    assert parse_occ_symbol("SPY   250117C00400000") == OccSymbol(
        "SPY", dt.date(2025, 1, 17), "call", 400.0
    )
    assert parse_occ_symbol("AMD1240119C00075000").root == "AMD1"
    assert occ_root("AMD1240119C00075000") == "AMD1"
    assert parse_occ_symbol("F240119C00000500").strike == 0.5
    assert parse_occ_symbol("BRKB250117C01234567").strike == 1234.567


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "SPY",
        "SPY250117X00400000",
        "SPY25011P00400000",
        "SPY250117P0040000",
        "SPY250117P004000000",
        "TOOLONG250117P00400000",
        "spy250117p00400000",
        "SPY251317P00400000",
        "SPY250230P00400000",
        "SPY_052322C382",
    ],
)
def test_parse_rejects_non_occ(bad: str) -> None:
    with pytest.raises(ValueError, match="not an OCC option symbol"):
        parse_occ_symbol(bad)


def test_expected_root_drops_class_punctuation() -> None:
    assert expected_root("BRK.B") == "BRKB"
    assert expected_root("brk-b") == "BRKB"
    assert expected_root(" SPY ") == "SPY"


def test_standard_root_mask() -> None:
    symbols = np.array(
        [
            "AMD230825C00025000",  # standard
            "AMD1240119C00075000",  # adjusted root
            "AMD   230825P00025000",  # padded official form, standard
            "AMDX230825C00025000",  # another root
            "AMD2308250C0002500",  # right length, misplaced C
            "",  # missing
            "AMD23082XC00025000",  # bad date digits
            "AMD230825X00025000",  # neither C nor P
            "AMD230825C0002500/",  # "/" sits just below "0"
            "AMD230825C0002500:",  # ":" just above "9"
        ]
    )
    expected = [True, False, True, False, False, False, False, False, False, False]
    np.testing.assert_array_equal(standard_root_mask(symbols, "AMD"), expected)
    np.testing.assert_array_equal(standard_root_mask(symbols, "amd"), expected)
    np.testing.assert_array_equal(
        standard_root_mask(symbols.reshape(2, 5), "AMD"), np.reshape(expected, (2, 5))
    )


def test_standard_root_mask_shapes_and_edges() -> None:
    assert standard_root_mask(np.array([], dtype=np.str_), "AMD").shape == (0,)
    assert standard_root_mask([], "AMD").shape == (0,)
    scalar = standard_root_mask("SPY250117P00400000", "SPY")
    assert scalar.shape == () and bool(scalar)
    assert standard_root_mask(["BRKB250117C00400000"], "BRK-B").tolist() == [True]
    assert standard_root_mask(["SPXW250117P05000000"], "SPX").tolist() == [False]
    # Short strings (narrower dtype than any OCC symbol) and over-long roots.
    assert standard_root_mask(["SPY"], "SPY").tolist() == [False]
    assert standard_root_mask(["ABCDEFG250117P00400000"], "ABCDEFG").tolist() == [False]
    # Object arrays (as from JSON) work too.
    mixed = np.array(["SPY250117P00400000", "SPY1250117P00400000"], dtype=object)
    assert standard_root_mask(mixed, "SPY").tolist() == [True, False]


roots = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6)
dates = st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))
strikes = st.integers(0, 99_999_999)


@given(roots, dates, st.booleans(), strikes, roots)
def test_mask_agrees_with_parser(
    root: str, expiration: dt.date, is_call: bool, milli: int, other: str
) -> None:
    symbol = f"{root}{expiration:%y%m%d}{'C' if is_call else 'P'}{milli:08d}"
    parsed = parse_occ_symbol(symbol)
    assert parsed == OccSymbol(root, expiration, "call" if is_call else "put", milli / 1000)
    assert bool(standard_root_mask(np.array([symbol]), root)[0])
    assert bool(standard_root_mask(np.array([symbol]), other)[0]) == (other == root)
    assert not standard_root_mask(np.array([root + "1" + symbol[len(root) :]]), root)[0]


# Characters that look like, or narrow to, the ones an OCC symbol holds: "İ" is U+0130
# (its low byte is "0"), "٣" an Arabic-Indic three, "Ｃ" a full-width C, "\x00" NUL.
_TRICKY = "AMDXYZCP0123456789 /:\x00İ٣Ｃ\u0143\u0150"


def _reference(symbol: str, root: str) -> bool:
    """The plain definition: root, optional padding, 6 ASCII digits, C or P, 8 digits."""
    return re.fullmatch(re.escape(root) + r" *[0-9]{6}[CP][0-9]{8}", symbol) is not None


@st.composite
def _near_occ(draw: st.DrawFn) -> tuple[str, str]:
    """A root and a symbol that is often valid and otherwise one or two edits away."""
    root = draw(st.sampled_from(["A", "AMD", "XYZ", "BRKB", "GOOGL", "ABCDEF"]))
    pad = " " * (6 - len(root)) if draw(st.booleans()) else ""
    date = draw(st.integers(0, 999_999))
    strike = draw(st.integers(0, 99_999_999))
    symbol = f"{root}{pad}{date:06d}{draw(st.sampled_from('CP'))}{strike:08d}"
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(symbol)))
        edit = draw(st.sampled_from(["replace", "insert", "delete"]))
        char = draw(st.sampled_from(_TRICKY))
        if edit == "replace" and at < len(symbol):
            symbol = symbol[:at] + char + symbol[at + 1 :]
        elif edit == "insert":
            symbol = symbol[:at] + char + symbol[at:]
        else:
            symbol = symbol[:at] + symbol[at + 1 :]
    return root, symbol


@settings(max_examples=500, deadline=None)
@given(st.lists(_near_occ(), min_size=1, max_size=8), st.text(_TRICKY, max_size=24))
def test_mask_matches_the_plain_definition(cases: list[tuple[str, str]], noise: str) -> None:
    """Byte tricks or not, the mask says what the regular expression says, per row."""
    root = cases[0][0]
    symbols = [symbol for _, symbol in cases] + [noise]
    stored = np.array(symbols)  # numpy drops trailing NULs, so compare what it stores
    expected = [_reference(s, root) for s in stored.tolist()]
    assert standard_root_mask(stored, root).tolist() == expected


def test_mask_rejects_characters_that_narrow_to_ascii() -> None:
    good = "XYZ261120C00100000"
    bad = [
        good[:5] + "İ" + good[6:],  # U+0130: low byte is "0"
        good[:5] + "٣" + good[6:],  # a digit, but not an ASCII one
        good.replace("C", "\u0143"),  # U+0143: low byte is "C"
        good + "\x00X",  # NUL inside, then more
    ]
    assert standard_root_mask(np.array([good, *bad]), "XYZ").tolist() == [True] + [False] * 4
    with pytest.raises(ValueError):
        parse_occ_symbol(good[:5] + "٣" + good[6:])
