"""A job that does nothing: shows workers answer, and measures the queue's own cost."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any


def ping() -> dict[str, Any]:
    """``{"pid", "at"}`` of the work horse that ran it."""
    return {"pid": os.getpid(), "at": dt.datetime.now(dt.UTC).isoformat()}
