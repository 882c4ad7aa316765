"""The embedded runner's latest result on disk (``[web] latest_file``): a restarted
``optscan web`` shows the profile's last scan instead of an empty page. (With
``--queue`` the result lives in Redis and needs none of this.)

The file holds the scan's JSON document, the one ``GET /api/results/latest`` answers,
written atomically and readable by its owner only (``0600``: a result can reveal
holdings through ``contracts_coverable`` and strikes chosen from the cost basis).
Only the configured file is read or written; nothing from a request names a path.
Neither reading nor writing ever stops the page: a problem is one warning naming the
file, and the page works from memory.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optscan.config import Settings


def latest_path(settings: Settings) -> Path | None:
    """The file of the settings' profile: ``[web] latest_file`` with ``{profile}``
    expanded (and ``~``), by default ``<user state dir>/optscan/web/latest-<profile>.json``;
    ``None`` when the key is ``""`` (memory only)."""
    template = settings.web.latest_file
    profile = settings.scan.profile
    if template == "":
        return None
    if template is None:
        from platformdirs import user_state_dir

        return Path(user_state_dir("optscan")) / "web" / f"latest-{profile}.json"
    return Path(template.format(profile=profile)).expanduser()


class IgnoredFile(Exception):
    """The file is there but holds no usable result of the profile: why, in words."""


class LatestFile:
    """One profile's latest-result file: :meth:`load` at start, :meth:`save` after
    each scan that replaces the page's result."""

    def __init__(self, path: Path, profile: str) -> None:
        self.path = path
        self.profile = profile
        self._failing = False  # the last save failed (and said so)

    @classmethod
    def for_settings(cls, settings: Settings) -> LatestFile | None:
        """The settings' file, or ``None`` when ``[web] latest_file`` is ``""``."""
        path = latest_path(settings)
        return None if path is None else cls(path, settings.scan.profile)

    def load(self) -> str | None:
        """The stored result as the scan's JSON document (``ScanResult.to_json_dict``,
        as :mod:`optscan.output.jsondoc` dumps it), or ``None``: quietly when there is
        no file, with one warning naming the file when it cannot be read, is not a
        scan result or is another profile's."""
        from optscan.logs import get_logger
        from optscan.secrets import scrub

        try:
            return self._read()
        except FileNotFoundError:
            return None
        except IgnoredFile as exc:
            reason = str(exc)
        except OSError as exc:
            reason = f"cannot read it: {exc.strerror or type(exc).__name__}"
        get_logger().warning(
            "web_latest_ignored",
            file=str(self.path),
            reason=scrub(reason),
            hint="the page starts empty, until the next scan",
        )
        return None

    def _read(self) -> str:
        from pydantic import ValidationError

        from optscan.config.messages import problems
        from optscan.models import ScanResult
        from optscan.output.jsondoc import dumps

        if not stat.S_ISREG(self.path.stat().st_mode):  # a folder, a FIFO: never open it
            raise IgnoredFile("it is not a regular file")
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:  # not UTF-8, not JSON
            raise IgnoredFile(f"it is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise IgnoredFile("it is not a scan result (not a JSON object)")
        data.pop("scanned_count", None)  # derived: ScanResult recomputes it
        try:
            result = ScanResult.model_validate(data)
        except ValidationError as exc:  # the first problem: the file may hold thousands
            key, problem = problems(exc)[0]
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            where = f"{key}: " if key else ""
            raise IgnoredFile(f"it is not a scan result: {where}{problem}{more}") from None
        if result.profile != self.profile:
            raise IgnoredFile(f"it holds profile {result.profile!r}, not {self.profile!r}")
        return dumps(result.to_json_dict())

    def save(self, text: str) -> None:
        """Replace the file with ``text`` (the document :meth:`load` gives back). A
        failure is one warning, not repeated until a write succeeds again, and never
        raised: the page keeps the result in memory."""
        from optscan.logs import get_logger
        from optscan.output.files import write_atomically
        from optscan.secrets import scrub_exception

        try:
            write_atomically(self.path, text + "\n")
        except OSError as exc:
            if not self._failing:
                get_logger().warning(
                    "web_latest_not_written",
                    file=str(self.path),
                    error=scrub_exception(exc),
                    hint="the page keeps the result in memory only",
                )
            self._failing = True
            return
        self._failing = False
