"""Where the ``notify`` sink remembers the contracts of a profile's previous scan.

Two stores with one small interface (``load() -> set``, ``save(set)``): a JSON file for
a single machine, written atomically (temporary file + rename) so a crash never leaves a
half-written state that would re-send every alert; and a Redis set, for scans that run
as RQ jobs on several workers, replaced in one ``MULTI``/``EXEC`` transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol


class StateError(Exception):
    """The state store cannot be read or written; the message names it, never a secret."""


class SeenStore(Protocol):
    """The contract symbols a profile's previous scan reported."""

    def load(self) -> set[str]: ...

    def save(self, seen: set[str]) -> None: ...

    def close(self) -> None: ...


class FileStore:
    """``{"seen": [...]}`` in a JSON file of its own per profile."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def close(self) -> None:
        """Nothing held open between calls."""

    def load(self) -> set[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError) as exc:
            # A damaged state would re-send everything once; say so rather than guess.
            raise StateError(f"notify: cannot read state file {self.path}: {exc}") from None
        seen = data.get("seen") if isinstance(data, dict) else None
        if not isinstance(seen, list) or not all(isinstance(s, str) for s in seen):
            raise StateError(
                f"notify: state file {self.path} holds no 'seen' list; delete it to start over"
            )
        return set(seen)

    def save(self, seen: set[str]) -> None:
        text = json.dumps({"seen": sorted(seen)}, indent=1) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
        except OSError as exc:
            raise StateError(f"notify: cannot write state file {self.path}: {exc}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StateError(f"notify: cannot write state file {self.path}: {exc}") from None
            raise


class RedisStore:
    """A Redis set at ``key``; ``client`` is a ``redis.Redis`` with ``decode_responses``."""

    def __init__(self, client: Any, key: str) -> None:
        self.client = client
        self.key = key

    def close(self) -> None:
        """Release the connection: a sink object lives for one publication only."""
        with contextlib.suppress(Exception):  # closing must never hide the real outcome
            self.client.close()

    def load(self) -> set[str]:
        try:
            return {
                m.decode() if isinstance(m, bytes) else m for m in self.client.smembers(self.key)
            }
        except Exception as exc:
            raise StateError(
                f"notify: cannot read Redis set {self.key}: {_redis_text(exc)}"
            ) from None

    def save(self, seen: set[str]) -> None:
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.delete(self.key)
                if seen:
                    pipe.sadd(self.key, *sorted(seen))
                pipe.execute()
        except Exception as exc:
            raise StateError(
                f"notify: cannot write Redis set {self.key}: {_redis_text(exc)}"
            ) from None


def _redis_text(exc: BaseException) -> str:
    """redis-py's messages name host and port, not the password; mask URLs anyway."""
    from optscan import scrub

    return scrub(f"{type(exc).__name__}: {exc}")
