"""A user's file as numbered lines of cells: encodings, BOM, CRLF, quoting, and the
one-line message for a file that is no text at all.

Shared by the positions reader and the watchlist reader. Account numbers and names
are withheld from every text this module gives back for a report
(:func:`redact_line`, :func:`row_text`).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from optscan.errors import InputFileError
from optscan.symbols import printable

if TYPE_CHECKING:
    from pathlib import Path

MAX_BYTES = 50 * 1024 * 1024
"""The largest file read (50 MiB: a positions export or a watchlist is far smaller)."""
MAX_TEXT = 120
"""A skipped line is echoed cut to this many characters."""


@dataclass(frozen=True)
class Line:
    """One line of the file: its 1-based number, its raw text and its cells."""

    number: int
    raw: str
    cells: list[str]

    @property
    def blank(self) -> bool:
        """No cell holds anything but spaces."""
        return not any(c.strip() for c in self.cells)

    @property
    def filled(self) -> list[str]:
        """The cells that hold something, stripped."""
        return [c.strip() for c in self.cells if c.strip()]


def read_text(path: Path, what: str) -> str:
    """The file's text (UTF-8 with or without BOM, else Windows-1252), or an
    :class:`InputFileError` naming the file and saying what was expected (``what``)."""
    shown = str(path)
    try:
        if path.is_dir():
            raise InputFileError(shown, None, f"is a folder, not {what}")
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputFileError(shown, None, f"cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise InputFileError(shown, None, f"larger than {MAX_BYTES >> 20} MiB: not {what}")
    if data.startswith(b"PK\x03\x04"):
        raise InputFileError(
            shown, 1, f"an Excel workbook or a zip archive, not {what}: save or export it as CSV"
        )
    utf16 = _utf16(data)
    if utf16 is not None:
        try:
            text = data.decode(utf16).lstrip("\ufeff")
        except UnicodeDecodeError:
            text = "\x00"
        if _looks_like_text(text):
            return text
        raise InputFileError(shown, 1, f"binary data, not {what}")
    if b"\x00" in data:
        raise InputFileError(shown, 1, f"binary data, not {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _utf16(data: bytes) -> str | None:
    """The codec of a UTF-16 file (Excel's "Unicode text" and some brokers' exports):
    by its BOM, or, without one, by a NUL in every other byte of its start (ASCII text
    in UTF-16); ``None`` for anything else."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = data[:200]
    if len(head) >= 4 and len(head) % 2 == 0:
        if all(b == 0 for b in head[1::2]) and all(head[0::2]):
            return "utf-16-le"
        if all(b == 0 for b in head[0::2]) and all(head[1::2]):
            return "utf-16-be"
    return None


def _looks_like_text(text: str) -> bool:
    """Whether decoded UTF-16 is a CSV or a list (mostly ASCII, no control characters
    but line ends and tabs), not bytes that merely start like a BOM."""
    body = [c for c in text if not c.isspace()]
    if any(not c.isprintable() for c in body):
        return False
    return sum(c.isascii() for c in body) * 2 >= len(body)


def split_lines(text: str, delimiter: str = ",") -> list[Line]:
    """Numbered lines (``\\n``, ``\\r\\n`` or ``\\r``), each split into cells as CSV
    (quotes, doubled quotes); a line that is not valid CSV keeps its raw text as its one
    cell."""
    lines: list[Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        raw = raw.lstrip("\ufeff")
        try:
            cells = next(csv.reader([raw], delimiter=delimiter, skipinitialspace=False), [])
        except csv.Error:
            cells = [raw]
        lines.append(Line(number, raw, cells))
    return lines


def guess_delimiter(lines: list[str]) -> str:
    """Tab when each of the first lines with content holds a tab and tabs outnumber
    commas there (a tab-separated export may write ``"1,200"``), else comma."""
    sample = [ln for ln in lines if ln.strip()][:5]
    tabs = sum(ln.count("\t") for ln in sample)
    if sample and all("\t" in ln for ln in sample) and tabs > sum(ln.count(",") for ln in sample):
        return "\t"
    return ","


_ACCOUNT_PHRASE = re.compile(
    r"(?i)\b(for\s+accounts?|accounts?\s*(?:#|no\.?|number|name|id|nickname|title)\s*:?"
    r"|accounts?\s*:|(?:account\s+)?(?:holder|owner)s?\s*:)(\s*)(.*?)"
    r"(?=\s+as\s+of\b|\"|,|$)"
)
_ACCOUNT_NUMBER = re.compile(
    r"(?i)(?:\.{2,}|\bx{2,}-?|\*{2,}|#)\d{2,}\b|\b[A-Z]{1,3}\d{5,}\b"
    r"|\b(?!(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:[0-2]\d|3[01])\b)\d{8,}\b"
    r"|(?<=[A-Za-z] )-\d{3,}\b"
)


ACCOUNT_LINE = "(account line: name and number withheld)"
"""What a free-text line naming an account is shown as: the whole line, since the
account's name stands around its number (``Jane Doe Trading ...482``)."""


def redact_line(text: str) -> str:
    """A free-text line (a title, a note) with account names and numbers withheld:
    what follows "account" up to "as of" (``Positions for account Individual ...123 as
    of ...`` -> ``Positions for account *** as of ...``); a line still holding anything
    shaped like an account number (``...123``, ``XXXX-1234``, ``Z12345678``,
    ``U1234567``) is an account's label, and the whole of it is withheld
    (:data:`ACCOUNT_LINE`): the name around the number is as private as the number."""
    text = _ACCOUNT_PHRASE.sub(lambda m: f"{m[1]}{m[2]}***" if m[3].strip() else m[0], text)
    if _ACCOUNT_NUMBER.search(text):
        return ACCOUNT_LINE
    return shorten_text(text)


def row_text(
    cells: list[str], withheld: set[int] | frozenset[int], shown_as_is: frozenset[int] = frozenset()
) -> str:
    """A table row echoed for a report, as CSV (a cell holding a comma or a quote is
    quoted, so ``2,210.00`` stays one cell): the account columns (``withheld``) shown as
    ``***``, and any other cell holding something shaped like an account number
    withheld whole, except the cells of ``shown_as_is`` (the quantity and price columns:
    their value is why a row was refused, and the user must see it)."""
    shown = []
    for i, cell in enumerate(cells):
        cell = cell.strip()
        if (cell and i in withheld) or (i not in shown_as_is and _ACCOUNT_NUMBER.search(cell)):
            cell = "***"
        shown.append(cell)
    while shown and not shown[-1]:
        shown.pop()
    return shorten_text(csv_line(shown))


def csv_line(cells: list[str]) -> str:
    """Cells written back as one CSV line (quoted where CSV needs it)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def shorten_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` printable and cut to ``limit`` characters with ``...``."""
    text = printable(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


_DIGITS = re.compile(r"\d+")


def file_label(path: str, *, folder: bool = False) -> str:
    """The file as warnings name it (they reach logs and Redis): its base name, with
    every run of 4 or more digits that is not a date masked as ``XXXX``, since brokers
    name exports by account (``Individual-Positions-2026-11-30-482913.csv`` ->
    ``Individual-Positions-2026-11-30-XXXX.csv``, ``U1234567.csv`` -> ``UXXXX.csv``).
    A year (``2026``) and a ``YYYYMMDD`` date stay; so do runs of 1 to 3 digits unless an
    account mask (``...482``, ``XXX482``) leads them. ``folder``: the whole path, masked
    the same way (an error's message, which reaches a queued scan's state in Redis)."""
    import datetime as dt
    import os

    def mask(match: re.Match[str]) -> str:
        digits = match[0]
        before = match.string[: match.start()]
        if len(digits) < 4:
            return "XXXX" if before.endswith(("...", "XX", "xx", "#")) else digits
        if len(digits) == 4 and 1900 <= int(digits) <= 2099:
            return digits
        if len(digits) == 8:
            try:
                dt.datetime.strptime(digits, "%Y%m%d")
            except ValueError:
                return "XXXX"
            return digits
        return "XXXX"

    name = path if folder else (os.path.basename(path.rstrip("/\\")) or path)
    return _DIGITS.sub(mask, name)
