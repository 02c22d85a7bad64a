"""Helpers the report tests share: a small notebook that writes results, a link collector, two verdicts and a finished
experiment folder."""

from __future__ import annotations

import html.parser
from pathlib import Path

import nbformat

from videonas import experiments, jsonio, report


def write_notebook(path: Path, body: str) -> None:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('output_dir = "."\nscore = 0.25')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [nbformat.v4.new_markdown_cell("# A *small* experiment\n\nWhat it asks."), parameters,
                      nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(path))


GOOD = """
from tqdm.auto import tqdm  # without ipywidgets this warns "IProgress not found" on stderr, unless quieted
for _ in tqdm(range(3), desc="progress"):  # a bar on stderr, unless quieted
    pass
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from pathlib import Path
from videonas import report
figure, axis = plt.subplots()
axis.plot([0, 1], [0, score])
figure.savefig(Path(output_dir) / "curve.png")
from videonas import experiments
verdict = experiments.compare(question="Does the score beat a coin?", claim=experiments.Claim(text="it does"),
                              unit="points", a=[score * 100 + d for d in range(6)], b=[10] * 6)
report.write_results(output_dir, title="Good experiment", question="Does it run?",
    headline=[{"label": "score", "value": score, "paper": "0.5 (paper)"}], verdicts=[verdict],
    figures=["curve.png"], conclusion="It ran.", deterministic="score is a parameter.")
"""


class Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value and not value.startswith(("#", "http")):
                self.targets.append(value)


def sample_verdicts() -> list:
    claim = experiments.Claim(text="evolution finds better nets than random search")
    supported = experiments.compare(question="TVN evolution beats random", claim=claim, unit="points",
                                    a=[60, 62, 58, 65, 61, 63, 59], b=[50, 51, 49, 52, 50, 53, 48])
    inconclusive = experiments.compare(question="EvaNet evolution beats random", claim=claim, unit="points",
                                       a=[60, None], b=[50, 55])
    return [supported, inconclusive]


def write_experiment(reports: Path, name: str, **results) -> None:
    (reports / name).mkdir(parents=True)
    (reports / name / f"{name}.html").write_text("<html></html>")
    jsonio.dump({"status": "done", "html": f"{name}.html", "wall_seconds": 60}, reports / name / "run.json")
    report.Results(title=f"{name} title", headline=[], conclusion="c", **results).write(reports / name)
