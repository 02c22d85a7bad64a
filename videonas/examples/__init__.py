"""Ready search configurations shipped with the package: ``videonas search --config smoke`` finds them by name.

``smoke`` (a first search on the embedded smoke data, about a minute), ``deploy`` (R measured on ONNX Runtime) and
``folder`` (your own folder-per-class dataset). Copy one out (``resolve(name)`` is its path) to change it.
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def names() -> list[str]:
    """The shipped examples, by name (file names without ``.yaml``)."""
    return sorted(path.stem for path in FOLDER.glob("*.yaml"))


def resolve(config: str | os.PathLike) -> str:
    """``config`` when it is a file; else the shipped example of that name (``smoke`` or ``smoke.yaml``); else
    ``config`` unchanged, so that the caller's "not found" error names what the user typed."""
    if os.path.isfile(config):
        return str(config)
    name = str(config)
    stem = name[:-len(".yaml")] if name.endswith(".yaml") else name
    if os.sep not in name and stem in names():
        return str(FOLDER / f"{stem}.yaml")
    return name
