"""A scan's opportunities as CSV (``--format csv``, the ``csv`` sink).

One row per opportunity, the columns of :data:`optscan.output.columns.CSV_ORDER` then
the enrichers' facts (:mod:`optscan.output.extras`), or the ``--columns`` chosen,
numbers rounded as the columns module says: no float noise
such as ``1.7650000000000001``, counts as integers.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from optscan.output.columns import BY_KEY, CSV_ORDER, Column, csv_value
from optscan.output.extras import fact_columns, value_of

if TYPE_CHECKING:
    from optscan.models import ScanResult


def result_csv(result: ScanResult, columns: list[Column] | None = None) -> str:
    """The CSV text (a header line, then one line per opportunity)."""
    chosen = columns or [*(BY_KEY[key] for key in CSV_ORDER), *fact_columns(result.opportunities)]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.key for column in chosen])
    for opportunity in result.opportunities:
        data = opportunity.model_dump(mode="json")
        writer.writerow([csv_value(column, value_of(data, column.key)) for column in chosen])
    return buffer.getvalue()
