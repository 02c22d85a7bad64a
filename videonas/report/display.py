"""Tables as an experiment notebook displays them: HTML without pandas' positional index (0..n says nothing) and
with missing values as a dash, not "NaN" or "None". The exporter (``videonas.report.export``) gives tables of
notebooks executed before this existed the same shape. Figures carry alternative text (their titles), which the
report template writes into the page. (The conclusion is ``Result._repr_markdown_``, from
``videonas.experiments.prose.conclusion_markdown``.)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

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


def figure_description(figure: Any, name: str) -> str:
    """A figure's alternative text: its overall title, else its panels' titles, else ``name``."""
    title = figure._suptitle.get_text() if getattr(figure, "_suptitle", None) is not None else ""
    panels = [axes.get_title() for axes in figure.get_axes() if axes.get_title()]
    return title or "; ".join(panels) or name


def show_figure(figure: Any, name: str) -> None:
    """Display ``figure`` in a notebook with ``figure_description`` as its PNG's alternative text."""
    from IPython.display import display  # deferred: only notebooks display

    display(figure, metadata={"image/png": {"alt": figure_description(figure, name)}})
