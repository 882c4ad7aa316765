"""optscan-notify: the ``notify`` result sink, which alerts on *new* opportunities.

This module is the plugin optscan loads from the ``optscan`` entry point group. It only
registers the sink class; the sink module loads when a scan publishes to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from optscan import hookimpl

if TYPE_CHECKING:
    from optscan import ResultSink

__all__ = ["register_result_sinks"]


@hookimpl
def register_result_sinks(register: Callable[[type[ResultSink]], None]) -> None:
    from optscan_notify.sink import NotifySink

    register(NotifySink)
