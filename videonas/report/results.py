"""The one results schema: what an experiment notebook and a bench section write, and what the index reads.

A ``Results`` is written as strict JSON (NaN and infinities become ``null``), so any JSON parser reads it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import jsonio

RESULTS_FILE = "results.json"


@dataclasses.dataclass
class Results:
    """One experiment's (or bench section's) outcome.

    ``headline`` rows are ``{"label", "value", "paper"}`` (``paper``: the published figure it compares with, or "");
    ``figures`` are file names beside the results file; ``deterministic`` says which numbers repeat exactly.
    """

    title: str
    headline: list[dict[str, Any]]
    conclusion: str
    question: str = ""
    figures: list[str] = dataclasses.field(default_factory=list)
    deterministic: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Results":
        if not isinstance(data, Mapping):
            raise ValueError(f"results must be a JSON object, got {type(data).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"results has unknown keys {unknown}")
        return cls(**dict(data))

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
                  extra: dict[str, Any] | None = None) -> Path:
    """A notebook's last call: write its ``results.json`` (see ``Results``)."""
    results = Results(title=title, question=question, headline=list(headline), conclusion=conclusion,
                      figures=list(figures), deterministic=deterministic, extra=extra or {})
    return results.write(output_dir)

