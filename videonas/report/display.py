"""What an experiment notebook displays besides its figures: tables and the conclusion, shaped for a reader.

Tables are HTML without pandas' positional index (0..n says nothing) and with missing values as an empty dash, not
"NaN" or "None"; the conclusion is Markdown with a heading per question (``videonas.experiments.prose``), so the
rendered report shows prose, not program output. The exporter (``videonas.report.export``) gives outputs of notebooks
executed before these helpers existed the same shape.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

from videonas.experiments import prose

MISSING = "\u2013"


def format_cell(value: Any) -> str:
    """A number for reading: integers and values of 1000 or more with thousands separators and no decimals, others
    with four significant figures; text as it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return MISSING if value is None else str(value)
    if not math.isfinite(value):
        return MISSING if math.isnan(value) else str(value)
    if isinstance(value, numbers.Integral) or (float(value).is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{float(value):,.0f}" if abs(value) >= 1000 else f"{float(value):.4g}"


def table_html(table: Any) -> str:
    """``table`` (a pandas DataFrame, or a list of row dicts) as an HTML table without its index, missing values
    shown as a dash."""
    import pandas  # deferred: heavy start-up

    frame = table if isinstance(table, pandas.DataFrame) else pandas.DataFrame(list(table))
    # Cells formatted before pandas sees them: its na_rep leaves None as "None".
    return frame.map(format_cell).to_html(index=False, border=0)


def show_tables(tables: Iterable[Any]) -> None:
    """Display each of ``tables`` (see ``table_html``) in a notebook."""
    from IPython.display import HTML, display  # deferred: only notebooks display

    for table in tables:
        display(HTML(table_html(table)))


def show_conclusion(result: Any) -> None:
    """Display an experiment ``Result``'s conclusion as Markdown: a heading per question with its verdict, then the
    notes."""
    from IPython.display import Markdown, display  # deferred: only notebooks display

    display(Markdown(prose.conclusion_markdown(result.verdicts, result.conclusion)))
