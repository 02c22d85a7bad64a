"""A misspelled key planted at a dotted path of a configuration, and the check that the error names that path."""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Mapping

import pytest


def assert_typo_named(parse: Callable[[Mapping[str, Any]], Any], data: Mapping[str, Any], path: str) -> None:
    """``parse`` of ``data`` with a key ``path`` ("search.task.batchsize") added raises one ``ValueError`` that names
    the full dotted path of that key (``config.search.task.batchsize``)."""
    data = copy.deepcopy(dict(data))
    *parents, key = path.split(".")
    node = data
    for parent in parents:
        node = node.setdefault(parent, {})
    node[key] = 1
    with pytest.raises(ValueError, match=re.escape(".".join(["config", *parents, key]))):
        parse(data)
