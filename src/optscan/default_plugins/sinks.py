"""Built-in result sinks: ``console`` (a rich table on stderr), ``json`` and ``csv`` files.

The console sink writes to stderr because stdout belongs to the command's own output
(``optscan scan --format json | jq`` must see nothing else). File sinks write to a
temporary file and rename it, so readers never see half a result.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from pydantic import Field

from optscan.hookspecs import hookimpl
from optscan.models import ScanResult
from optscan.output.files import write_atomically
from optscan.protocols import PluginConfig, ResultSink


def _expand(template: str, result: ScanResult) -> str:
    """``{scan_id}``, ``{profile}`` and ``{strategy}`` may appear in file paths."""
    return template.format(scan_id=result.scan_id, profile=result.profile, strategy=result.strategy)


class ConsoleConfig(PluginConfig):
    limit: int = Field(default=50, ge=0, le=100_000)


class ConsoleSink(ResultSink[ConsoleConfig]):
    name = "console"

    def publish(self, result: ScanResult) -> None:
        from optscan.output.table import print_table

        print_table(result, file=sys.stderr, limit=self.config.limit)


class JsonConfig(PluginConfig):
    path: str = "optscan-results.json"


class JsonSink(ResultSink[JsonConfig]):
    name = "json"

    def publish(self, result: ScanResult) -> None:
        from optscan.output.jsondoc import result_json

        write_atomically(_expand(self.config.path, result), result_json(result) + "\n")


class CsvConfig(PluginConfig):
    path: str = "optscan-results.csv"


class CsvSink(ResultSink[CsvConfig]):
    name = "csv"

    def publish(self, result: ScanResult) -> None:
        from optscan.output.csvdoc import result_csv

        write_atomically(_expand(self.config.path, result), result_csv(result))


@hookimpl(trylast=True)
def register_result_sinks(register: Callable[[type[ResultSink]], None]) -> None:
    register(ConsoleSink)
    register(JsonSink)
    register(CsvSink)
