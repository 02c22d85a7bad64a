"""From notebooks to ``reports/``: the results schema (``results``), the notebook runner (``runner``) and the index
renderer (``index``). Notebooks call ``write_results`` and ``project_root``; ``make reproduce`` calls ``main``."""

from __future__ import annotations

from videonas.report.index import build_index, project_root
from videonas.report.results import RESULTS_FILE, Results, write_results
from videonas.report.runner import PROFILES, main, reproduce

__all__ = ["PROFILES", "RESULTS_FILE", "Results", "build_index", "main", "project_root", "reproduce", "write_results"]
