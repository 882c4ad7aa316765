"""Writing a result file so that no reader ever sees half of it.

Shared by the ``json`` and ``csv`` sinks and ``optscan web``'s latest-result file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder
    and one rename: a reader sees the old file or the new one, never a part. Missing
    folders are created; ``~`` is expanded.

    The file is readable and writable by its owner only (``0600``, whatever the
    umask: :func:`tempfile.mkstemp` creates it so and the rename keeps it), since a
    result can reveal holdings. Raises :class:`OSError` when it cannot be written
    (the temporary file is removed).
    """
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
