"""The one shape of a paper experiment: ``run(config, *, output_dir) -> Result``.

Each experiment module has a ``Config``, a frozen dataclass read by ``parse_config`` from the notebook's ``config``
parameter (a profile file's ``config:`` key has the same shape, so the CLI, Python and Papermill agree); a misspelled
key is one ``ValueError`` naming its dotted path. Searches inside it are ``videonas.config.SearchConfig`` under
``search``. ``run`` trains, judges and writes; a notebook is its parameters, one ``run`` call, the figures and the
conclusion. What one experiment takes from another is a declared input (``input_path``), found beside the output
folder, never a literal path.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from videonas.checks import check_keys, within
from videonas.experiments import prose
from videonas.report import display
from videonas.report.results import Results

FIGURE_DPI = 120


def parse_config(cls: type, data: Mapping[str, Any] | None, *, path: str = "config",
                 parsers: Mapping[str, Callable[[Any, str], Any]] | None = None) -> Any:
    """A frozen dataclass ``cls`` from ``data``: unknown keys are refused (their dotted paths and the allowed keys),
    a field missing from ``data`` takes its default, and ``parsers[field](value, "path.field")`` checks or converts a
    given value (a ``ValueError`` from the dataclass itself is prefixed with ``path``)."""
    data = {} if data is None else data
    names = [field.name for field in dataclasses.fields(cls)]
    required = [field.name for field in dataclasses.fields(cls)
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING]
    check_keys(path, data, required, names)
    values = {name: (parsers or {}).get(name, lambda value, _: value)(value, f"{path}.{name}")
              for name, value in data.items()}
    return within(path, "", lambda: cls(**values))


def input_path(output_dir: str | os.PathLike, experiment: str, file_name: str) -> Path:
    """A declared input: ``file_name`` written by ``experiment``, whose folder sits beside ``output_dir`` (as
    ``reports/<name>/`` do), with a ``ValueError`` that says which experiment to run first when it is missing."""
    path = Path(output_dir).resolve().parent / experiment / file_name
    if not path.is_file():
        raise ValueError(f"input {file_name} of experiment {experiment!r} not found at {path}: run {experiment} first "
                         f"(make reproduce runs it before this one)")
    return path


@dataclasses.dataclass
class Result:
    """What ``run`` returns: the results file's content, the figures (file name -> matplotlib figure, saved in
    ``folder``), the named files written (``outputs``) and the experiment's own objects (``details``: runs,
    ensembles...) for further analysis."""

    results: Results
    folder: Path
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)
    outputs: dict[str, Path] = dataclasses.field(default_factory=dict)
    details: Any = None

    @property
    def verdicts(self) -> list:
        return self.results.verdicts

    @property
    def conclusion(self) -> str:
        return self.results.conclusion

    def show(self, names: Sequence[str] | None = None) -> None:
        """Display the figures (all, or those named) in a notebook."""
        for name in names or list(self.figures):
            display.show_figure(self.figures[name], name)

    def __repr__(self) -> str:
        """Short and free of local paths: a notebook stores it beside the Markdown view."""
        return f"Result({self.results.title!r}, figures={list(self.figures)}, outputs={sorted(self.outputs)})"

    def _repr_markdown_(self) -> str:
        """A notebook shows a result as its title and conclusion, as prose rather than program output: a heading per
        question with its verdict, then the notes."""
        text = prose.conclusion_markdown(self.results.verdicts, self.results.conclusion, heading=self.results.title,
                                         level=3)
        data = self.results.extra.get("data")
        if not data:
            return text
        lines = "\n".join(f"    {line}" for line in data["text"].splitlines())
        return f"{text}\n\n#### Data\n\nWhat the reader found (files per split, what was skipped and why):\n\n{lines}\n"


def finish(folder: str | os.PathLike, *, title: str, question: str, headline: Sequence[Mapping[str, Any]],
           conclusion: str, verdicts: Sequence[Any] = (), figures: Mapping[str, Any] | None = None,
           deterministic: str = "", extra: Mapping[str, Any] | None = None,
           outputs: Mapping[str, os.PathLike] | None = None, details: Any = None, dataset: Any = None) -> Result:
    """Save ``figures`` (file name -> figure) in ``folder``, write its ``results.json`` and return the ``Result``.
    ``dataset`` (an opened ``videonas.data.Dataset``): its load report goes into the results (``extra["data"]``) and
    the notebook's conclusion, once."""
    folder = Path(folder)
    figures = dict(figures or {})
    if dataset is not None:
        text, report = dataset.load_report()
        extra = {**(extra or {}), "data": {"text": text, **report}}
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=FIGURE_DPI, bbox_inches="tight")
    results = Results(title=title, question=question, headline=[dict(row) for row in headline],
                      conclusion=conclusion, figures=list(figures), deterministic=deterministic,
                      extra=dict(extra or {}), verdicts=list(verdicts))
    written = {"results": results.write(folder), **{k: Path(v) for k, v in (outputs or {}).items()}}
    return Result(results, folder, figures, written, details)
