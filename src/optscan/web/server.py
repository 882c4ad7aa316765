"""Build ``optscan web``'s app from the settings, and serve it with waitress."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from optscan.config import Settings

RQ_PREFIX = "/rq"


class WebConfigError(Exception):
    """The page cannot start as configured (the CLI exits 2 with this message)."""


def check_binding(host: str, settings: Settings) -> None:
    """Refuse to serve another address than loopback without ``[web] access_token``."""
    from optscan.web.security import is_loopback

    if not is_loopback(host) and not settings.web.access_token.get_secret_value():
        raise WebConfigError(
            f"--host {host} serves other machines: set [web] access_token (at least 16 "
            "characters; e.g. OPTSCAN_WEB__ACCESS_TOKEN) to require a login, or bind "
            "127.0.0.1"
        )


def build_app(
    settings: Settings,
    *,
    bind: str = "127.0.0.1",
    redis: Any = None,
    overrides: dict[str, Any] | None = None,
    plugins: Iterable[object] = (),
) -> Flask:
    """The app: scans in this process, or with ``redis`` on RQ workers (then
    rq-dashboard is mounted at ``/rq``). ``plugins`` are extra plugin objects for the
    embedded scans' host (tests register a provider this way)."""
    from optscan.plugins import PluginHost
    from optscan.web.app import WebState, create_app
    from optscan.web.runner import EmbeddedRunner, QueueRunner
    from optscan.web.security import Guard

    check_binding(bind, settings)
    extra = list(plugins)

    def host_factory(listeners: list[object]) -> PluginHost:
        return PluginHost.from_settings(settings, plugins=[*extra, *listeners])

    runner: Any
    if redis is None:
        runner = EmbeddedRunner(settings, host_factory)
        host = runner.host
    else:
        host = host_factory([])
        runner = QueueRunner(settings, redis, host)
    guard = Guard.for_binding(
        bind,
        settings.web.allowed_hosts,
        settings.web.access_token.get_secret_value(),
        rq_writes=settings.dashboard.writes,
    )
    state = WebState(
        settings=settings,
        runner=runner,
        guard=guard,
        providers=sorted(host.names("providers")),
        overrides=dict(overrides or {}),
        redis=redis,
        rq_prefix=RQ_PREFIX if redis is not None else None,
    )
    return create_app(state)
