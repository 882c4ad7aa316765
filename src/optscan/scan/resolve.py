"""The symbols a scan covers: from the request, or from the enabled stock sources.

Sources hand back raw text; here it is upper-cased, validated and de-duplicated. An
invalid symbol becomes a ``skipped`` outcome (reason ``invalid_symbol``) and the others
still scan; a source that raises is reported in the result's ``errors`` and the other
sources still count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from optscan.errors import OptscanError
from optscan.models import SymbolOutcome
from optscan.secrets import scrub_exception
from optscan.symbols import normalize_symbol, shorten

if TYPE_CHECKING:
    from optscan.config import Settings
    from optscan.models import ScanRequest
    from optscan.plugins import PluginHost


def resolve_symbols(
    request: ScanRequest, settings: Settings, host: PluginHost
) -> tuple[list[str], list[SymbolOutcome], list[str]]:
    """``(symbols to scan, outcomes of the invalid ones, source errors)``."""
    raw: list[str] = []
    errors: list[str] = []
    if request.symbols is not None:
        raw = list(request.symbols)
    else:
        for name in settings.enabled("sources"):
            try:
                source = host.instantiate("sources", name, settings)
                raw.extend(source.symbols())
            except OptscanError:
                raise
            except Exception as exc:
                owner = host.owner("sources", name)
                error = scrub_exception(exc, with_type=False)
                errors.append(f"source {name!r} (plugin {owner!r}) failed: {error}")
    valid: list[str] = []
    skipped: list[SymbolOutcome] = []
    seen: set[str] = set()
    for item in raw:
        try:
            symbol = normalize_symbol(item)
        except ValueError as exc:
            text = shorten(str(item).strip().upper())
            if text not in seen:
                seen.add(text)
                skipped.append(
                    SymbolOutcome(
                        symbol=text, status="skipped", error=str(exc), reason="invalid_symbol"
                    )
                )
            continue
        if symbol not in seen:
            seen.add(symbol)
            valid.append(symbol)
    return valid, skipped, errors
