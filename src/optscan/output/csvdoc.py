"""A scan's opportunities as CSV (``--format csv``, the ``csv`` sink).

One row per opportunity, the columns of :data:`optscan.output.columns.CSV_ORDER` then
the enrichers' facts (:mod:`optscan.output.extras`), or the ``--columns`` chosen,
numbers rounded as the columns module says: no float noise
such as ``1.7650000000000001``, counts as integers. A result with a ``selection``
(``scan --cash``) has one more column, last: :data:`SELECTED_QUANTITY`.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from optscan.output.columns import BY_KEY, CSV_ORDER, Column, csv_value
from optscan.output.extras import fact_columns, value_of

if TYPE_CHECKING:
    from optscan.models import ScanResult

SELECTED_QUANTITY = "selected_quantity"
"""The column a result with a selection gains, after all others: the contracts to sell
of a selected opportunity (the selection's ``quantity``), empty for one not selected.
A result without a selection has no such column (its CSV is as it always was)."""


def result_csv(result: ScanResult, columns: list[Column] | None = None) -> str:
    """The CSV text (a header line, then one line per opportunity)."""
    chosen = columns or [*(BY_KEY[key] for key in CSV_ORDER), *fact_columns(result.opportunities)]
    selected = _selected(result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    extra = [] if selected is None else [SELECTED_QUANTITY]
    writer.writerow([*(column.key for column in chosen), *extra])
    for opportunity in result.opportunities:
        data = opportunity.model_dump(mode="json")
        row = [csv_value(column, value_of(data, column.key)) for column in chosen]
        if selected is not None:
            row.append(selected.get(opportunity.contract_symbol, ""))
        writer.writerow(row)
    return buffer.getvalue()


def _selected(result: ScanResult) -> dict[str, int] | None:
    """Contracts to sell by OCC symbol, from the result's selection (``None`` without
    one; ``{}`` for a selection of nothing, whose column is then empty throughout)."""
    if result.selection is None:
        return None
    return {c.contract_symbol: c.quantity for c in result.selection.contracts}
