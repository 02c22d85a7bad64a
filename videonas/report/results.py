"""The one results schema: what an experiment notebook and a bench section write, and what the index reads.

A ``Results`` is written as strict JSON (NaN and infinities become ``null``), so any JSON parser reads it. Files
written before verdicts existed have no ``verdicts`` key and still read (as an empty list).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import jsonio
from videonas.experiments.verdicts import Verdict

RESULTS_FILE = "results.json"


@dataclasses.dataclass
class Results:
    """One experiment's (or bench section's) outcome.

    ``headline`` rows are ``{"label", "value", "paper"}`` (``paper``: the published figure it compares with, or "");
    ``figures`` are file names beside the results file; ``deterministic`` says which numbers repeat exactly;
    ``verdicts`` are the answers to the paper's questions (``videonas.experiments.Verdict``, or their dicts), which
    the index shows first.
    """

    title: str
    headline: list[dict[str, Any]]
    conclusion: str
    question: str = ""
    figures: list[str] = dataclasses.field(default_factory=list)
    deterministic: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    verdicts: list[Verdict] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title:
            raise ValueError(f"results.title must be a non-empty string, got {self.title!r}")
        rows = []
        for index, row in enumerate(self.headline):
            if not isinstance(row, Mapping) or not {"label", "value"} <= set(row):
                raise ValueError(f"results.headline[{index}] needs 'label' and 'value', got {str(row)[:200]}")
            rows.append({"paper": "", **row})
        self.headline = rows
        self.figures = [str(figure) for figure in self.figures]
        for figure in self.figures:
            if Path(figure).is_absolute() or ".." in Path(figure).parts:
                raise ValueError(f"results.figures must be file names beside the results, got {figure!r}")
        self.extra = dict(self.extra or {})
        if not isinstance(self.verdicts, (list, tuple)):
            raise ValueError(f"results.verdicts must be a list, got {type(self.verdicts).__name__}")
        verdicts = []
        for index, verdict in enumerate(self.verdicts):
            try:
                verdicts.append(verdict if isinstance(verdict, Verdict) else Verdict.from_dict(verdict))
            except ValueError as error:
                raise ValueError(f"results.verdicts[{index}]: {error}") from None
        self.verdicts = verdicts

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Results":
        return jsonio.from_object(cls, data, name="results")

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Results":
        """Read a results file; a malformed one raises ``ValueError`` naming it."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"{path}: {error}") from None

    def write(self, output_dir: str | os.PathLike, *, file_name: str = RESULTS_FILE) -> Path:
        """Write ``output_dir/file_name``; every listed figure must already be a file there."""
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        for figure in self.figures:
            if not (output_dir / figure).is_file():
                raise ValueError(f"results.figures lists {figure!r}, which is not a file in {output_dir}")
        return jsonio.dump(dataclasses.asdict(self), output_dir / file_name)


def write_results(output_dir: str | os.PathLike, *, title: str, question: str, headline: Sequence[dict[str, Any]],
                  conclusion: str, figures: Sequence[str] = (), deterministic: str = "",
                  extra: dict[str, Any] | None = None, verdicts: Sequence[Verdict | Mapping[str, Any]] = ()) -> Path:
    """A notebook's last call: write its ``results.json`` (see ``Results``)."""
    results = Results(title=title, question=question, headline=list(headline), conclusion=conclusion,
                      figures=list(figures), deterministic=deterministic, extra=extra or {}, verdicts=list(verdicts))
    return results.write(output_dir)

