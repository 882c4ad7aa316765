"""Loaders for the recorded vendor chains in ``../shared/data/market`` (tests only).

The files belong to their vendors and stay outside the repository: these helpers read
them in place and turn each into the same columnar :class:`RecordedChain`, so the tests
can compare optscan's greeks with the vendors' whatever the vendor format was. When the
folder is absent (a user's clone) the tests that need it are skipped, not failed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

MARKET_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "market"
SKIP_REASON = "recorded market data in ../shared/data/market is not available (user clone)"


def market_dir() -> Path:
    """The recorded-data folder; skips the calling test when it is not there."""
    if not MARKET_DIR.is_dir():
        pytest.skip(SKIP_REASON)
    return MARKET_DIR


def load_oracle() -> dict[str, Any]:
    """``oracle.json``: per file, the spot/time convention and tolerances for delta."""
    return json.loads((market_dir() / "oracle.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class RecordedChain:
    """One recorded chain, one element per contract, with the vendor's own greeks.

    ``iv`` is a fraction (TDA's percent is divided by 100). A greek the vendor did not
    publish, or published as the string ``"NaN"``, is NaN. ``days_to_expiration`` is the
    vendor's count where it gives one (TDA), else None.
    """

    contract_symbol: np.ndarray
    is_call: np.ndarray
    strike: np.ndarray
    expiration: np.ndarray  # datetime64[D]
    iv: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    theta: np.ndarray
    vega: np.ndarray
    days_to_expiration: np.ndarray | None = None
    underlying_price: float | None = None

    def __len__(self) -> int:
        return len(self.contract_symbol)


def number(value: Any) -> float:
    """A vendor number as float; missing, blank or unparseable (``"NaN"``) becomes NaN."""
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _chain(rows: list[dict[str, Any]], **extra: Any) -> RecordedChain:
    """Columns from row dicts, with the dtypes the greeks functions expect."""

    def col(name: str) -> np.ndarray:
        return np.array([number(r[name]) for r in rows], dtype=np.float64)

    return RecordedChain(
        contract_symbol=np.array([r["contract_symbol"] for r in rows], dtype=np.str_),
        is_call=np.array([r["is_call"] for r in rows], dtype=bool),
        strike=col("strike"),
        expiration=np.array([r["expiration"] for r in rows], dtype="datetime64[D]"),
        iv=col("iv"),
        delta=col("delta"),
        gamma=col("gamma"),
        theta=col("theta"),
        vega=col("vega"),
        **extra,
    )


# Cboe delayed-quote CSV: after the column header, each row is the expiration, then the
# call's 10 columns, the strike, then the put's 10 columns.
_CBOE_SIDE = (
    "contract_symbol",
    "last",
    "net",
    "bid",
    "ask",
    "volume",
    "iv",
    "delta",
    "gamma",
    "open_interest",
)


def load_cboe_csv(path: Path) -> RecordedChain:
    """Parse a Cboe quotedata CSV (call and put side by side on each strike's row)."""
    rows: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        for line in reader:
            if line and line[0] == "Expiration Date":
                break
        else:
            raise ValueError(f"{path.name}: no 'Expiration Date' header row")
        for line in reader:
            if not line:
                continue
            expiration = dt.datetime.strptime(line[0], "%a %b %d %Y").date()
            strike = line[11]
            for is_call, cells in ((True, line[1:11]), (False, line[12:22])):
                row: dict[str, Any] = dict(zip(_CBOE_SIDE, cells, strict=True))
                row.update(
                    is_call=is_call, strike=strike, expiration=expiration, theta=None, vega=None
                )
                rows.append(row)
    return _chain(rows)


def load_tda_chain(path: Path) -> RecordedChain:
    """Parse a TD Ameritrade ``/v1/marketdata/chains`` response.

    ``callExpDateMap``/``putExpDateMap`` map ``"YYYY-MM-DD:dte"`` to strike to a list
    of contracts. TDA's own symbols (``SPY_052322C382``) are rewritten as OCC symbols so
    the root check is the same as for every other vendor.
    """
    payload = json.loads(path.read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = []
    for side, is_call in (("callExpDateMap", True), ("putExpDateMap", False)):
        for expiry_key, by_strike in payload.get(side, {}).items():
            expiration = dt.date.fromisoformat(expiry_key.split(":")[0])
            for contracts in by_strike.values():
                for c in contracts:
                    root = str(c["symbol"]).split("_")[0]
                    strike = number(c["strikePrice"])
                    occ = (
                        f"{root}{expiration:%y%m%d}{'C' if is_call else 'P'}"
                        f"{round(strike * 1000):08d}"
                    )
                    rows.append(
                        {
                            "contract_symbol": occ,
                            "is_call": is_call,
                            "strike": strike,
                            "expiration": expiration,
                            "iv": number(c["volatility"]) / 100.0,
                            "delta": c["delta"],
                            "gamma": c["gamma"],
                            "theta": c["theta"],
                            "vega": c["vega"],
                            "dte": c["daysToExpiration"],
                        }
                    )
    days = np.array([number(r["dte"]) for r in rows], dtype=np.float64)
    return _chain(
        rows, days_to_expiration=days, underlying_price=number(payload.get("underlyingPrice"))
    )


def load_recorded(relative: str) -> RecordedChain:
    """Load a file named as in ``oracle.json`` (relative to the market folder)."""
    path = market_dir() / relative
    if path.suffix == ".csv":
        return load_cboe_csv(path)
    if path.suffix == ".json":
        return load_tda_chain(path)
    raise ValueError(f"no loader for {relative}")
