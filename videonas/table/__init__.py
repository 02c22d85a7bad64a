"""A tabulated benchmark of Tiny Video Networks: a closed TVN sub-space trained once, looked up by any search.

- ``videonas.genome.tvn_table_space``: the sub-space (``TVNSpace(table=...)``), enumerable with a stable index;
- ``build``: ``python -m videonas table build`` trains it through the search loop (resumable), times it, exports;
- ``tables``: the file, its typed form (``Table``) and ``load_table``;
- ``provenance``: what a table records about its making, and ``stale_reasons`` against this checkout;
- ``lookup``: ``evaluate_table``, the trial function that looks genomes up (``"videonas.table:evaluate_table"``);
- ``validate``: ``python -m videonas table validate`` retrains drawn genomes with a new seed, Kendall tau vs the table;
- ``cost``: a build's predicted wall time from a model fitted to timed trainings (``python -m videonas table cost``).
"""

from __future__ import annotations

from videonas.table.lookup import evaluate_table
from videonas.table.provenance import stale_reasons
from videonas.table.synthetic import is_synthetic, synthetic_table
from videonas.table.tables import Replicate, Table, TableRow, load_table, write_table

__all__ = ["Replicate", "Table", "TableRow", "evaluate_table", "is_synthetic", "load_table", "stale_reasons",
           "synthetic_table", "write_table"]
