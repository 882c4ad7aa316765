"""optscan's built-in plugins, registered exactly like third-party ones.

Each is a module (or the module's ``plugin`` object) with hook implementations, all
``trylast`` so an installed plugin can replace any of them. Their plugin names are
the ones 0.1.0 used (``optscan plugins`` shows them, ``plugins.disabled`` takes them),
whatever module they live in now.
"""

from __future__ import annotations

DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("optscan.sources", "optscan.default_plugins.sources"),
    ("optscan.providers", "optscan.default_plugins.providers"),
    ("optscan.sinks", "optscan.default_plugins.sinks"),
    ("optscan.calendars", "optscan.default_plugins.calendars"),
    ("optscan.redis_sink", "optscan.default_plugins.redis_sink"),
)
"""``(plugin name, module)`` of every built-in plugin, in registration order."""
