"""Generic record/replay, built on the providers' extract/transform split.

``--record DIR`` saves every raw payload a provider extracts, untouched, as
``DIR/<provider>/<SYMBOL>/expirations.json``, ``DIR/<provider>/<SYMBOL>/<date>.json``
and (the optional part) ``DIR/<provider>/<SYMBOL>/fundamentals.json``;
``--replay DIR`` serves those files instead of the network. Both wrap any provider
without its help: the provider's own *transform* parses the replayed payloads exactly
as it parses live ones, so a replay exercises the real parsing code. Error answers
(:mod:`optscan.http_answers`) are payloads like any other: a recorded 429 or 401
replays as the same error, through the provider's own mapping.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from optscan.errors import NotRecordedError
from optscan.models import NEW_YORK
from optscan.protocols import JSON, OptionProvider
from optscan.symbols import normalize_symbol

MANIFEST = "manifest.json"
FUNDAMENTALS = "fundamentals.json"


def _symbol_dir(root: Path, provider: str, symbol: str) -> Path:
    # Symbols are validated before they get here; check again, they become paths.
    return root / provider / normalize_symbol(symbol)


def _write_json(path: Path, payload: JSON) -> None:
    """Write atomically so a crash never leaves half a payload behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Wrapper(OptionProvider):
    """Delegates the transforms (and everything else) to the wrapped provider."""

    def __init__(self, inner: OptionProvider, root: str | os.PathLike[str]) -> None:
        self.inner = inner
        self.root = Path(root)
        self.config = inner.config
        self.name = inner.name  # type: ignore[misc]
        self.synthetic = inner.synthetic  # type: ignore[misc]

    def __getattr__(self, item: str) -> Any:
        return getattr(self.inner, item)

    def transform_expirations(self, raw: JSON, symbol: str) -> list[dt.date]:
        return self.inner.transform_expirations(raw, symbol)

    def transform_chain(self, raw: JSON, symbol: str, expiration: dt.date) -> Any:
        return self.inner.transform_chain(raw, symbol, expiration)

    def transform_fundamentals(self, raw: JSON, symbol: str) -> Any:
        return self.inner.transform_fundamentals(raw, symbol)

    def close(self) -> None:
        self.inner.close()


class RecordingProvider(_Wrapper):
    """Extracts through the wrapped provider and saves each payload as it comes."""

    def __init__(
        self, inner: OptionProvider, root: str | os.PathLike[str], as_of: dt.datetime
    ) -> None:
        super().__init__(inner, root)
        _write_json(
            self.root / self.name / MANIFEST,
            {"provider": self.name, "recorded_at": as_of.astimezone(NEW_YORK).isoformat()},
        )

    def extract_expirations(self, symbol: str) -> JSON:
        raw = self.inner.extract_expirations(symbol)
        _write_json(_symbol_dir(self.root, self.name, symbol) / "expirations.json", raw)
        return raw

    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        raw = self.inner.extract_chain(symbol, expiration, listing)
        path = _symbol_dir(self.root, self.name, symbol) / f"{expiration.isoformat()}.json"
        _write_json(path, raw)
        return raw

    def extract_fundamentals(self, symbol: str) -> JSON:
        raw = self.inner.extract_fundamentals(symbol)
        _write_json(_symbol_dir(self.root, self.name, symbol) / FUNDAMENTALS, raw)
        return raw


class ReplayProvider(_Wrapper):
    """Serves recorded payloads; a missing file is a ``not_recorded`` outcome."""

    def _read(self, path: Path, what: str) -> JSON:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotRecordedError(f"{what} not recorded ({path})") from None
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested deep
            from optscan.errors import MalformedPayloadError

            raise MalformedPayloadError(f"{what}: unreadable recording {path}: {exc}") from None

    def extract_expirations(self, symbol: str) -> JSON:
        path = _symbol_dir(self.root, self.name, symbol) / "expirations.json"
        return self._read(path, f"{symbol} expirations")

    def extract_chain(self, symbol: str, expiration: dt.date, listing: JSON) -> JSON:
        path = _symbol_dir(self.root, self.name, symbol) / f"{expiration.isoformat()}.json"
        return self._read(path, f"{symbol} {expiration}")

    def extract_fundamentals(self, symbol: str) -> JSON:
        path = _symbol_dir(self.root, self.name, symbol) / FUNDAMENTALS
        return self._read(path, f"{symbol} fundamentals")

    def recorded_symbols(self, payload: str = "expirations.json") -> list[str]:
        """The symbols whose ``payload`` file was recorded (``FUNDAMENTALS`` for those
        with fundamentals)."""
        base = self.root / self.name
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / payload).is_file())

    def recorded_providers(self) -> list[str]:
        """Every provider the recording folder holds payloads of."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / MANIFEST).is_file())

    def recorded_clock(self) -> dt.datetime | None:
        """When the recording was made: the manifest, else the first chain's quote time."""
        manifest = self.root / self.name / MANIFEST
        if manifest.is_file():
            try:
                stamp = json.loads(manifest.read_text(encoding="utf-8"))["recorded_at"]
                return dt.datetime.fromisoformat(stamp)
            except (OSError, ValueError, KeyError, TypeError):
                pass
        for symbol in self.recorded_symbols():
            folder = _symbol_dir(self.root, self.name, symbol)
            for chain_file in sorted(folder.glob("????-??-??.json")):
                try:
                    raw = self._read(chain_file, symbol)
                    expiration = dt.date.fromisoformat(chain_file.stem)
                    return self.inner.transform_chain(raw, symbol, expiration).quote_time
                except Exception:
                    continue
        return None
