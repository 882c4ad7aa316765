"""Serving a WSGI app from a command (``optscan web``, ``optscan dashboard``) with
waitress, a production WSGI server: bound before anything is announced, so a port in
use is one line and exit 1, not an announced page and a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def serve_wsgi(
    app: Any, host: str, port: int, announce: Callable[[int], None], *, threads: int = 8
) -> None:
    """Bind ``host:port`` (port 0: any free one), call ``announce(port)`` with the port
    bound, then serve until Ctrl-C. A port in use, or an address that is not this
    machine's, exits 1 with one line."""
    from waitress.server import create_server

    from optscan.cli.exits import EXIT_FAILED, fail

    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="optscan")
    except OSError as exc:
        fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}", EXIT_FAILED)
    announce(server.effective_port)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
