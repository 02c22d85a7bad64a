"""The package's layers hold: light packages import no heavy framework, no import loop, no private cross-imports.

Import edges are read from the source with ``ast``, function-level imports included (a loop through a deferred import
is still a loop: it only fails later). ``from videonas.a import b`` is an edge to ``videonas.a.b`` when that is a
module, else to ``videonas.a``; a package's ``__init__`` is the module ``videonas.a``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import videonas

ROOT = Path(videonas.__file__).resolve().parent
HEAVY = ("keras", "tensorflow", "ray", "pandas")
LIGHT = ("videonas.search", "videonas.families", "videonas.genome", "videonas.runtimes")


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(module: str) -> list[tuple[ast.AST, str, list[str]]]:
    """``(node, imported module, names imported from it)`` for every import of a videonas module in ``module``."""
    path = MODULES[module]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node, alias.name, []) for alias in node.names if alias.name.startswith("videonas")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            if base.startswith("videonas"):
                found.append((node, base, [alias.name for alias in node.names]))
    return found


def _edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module in MODULES:
        for _, base, names in _imports(module):
            targets = [f"{base}.{name}" if f"{base}.{name}" in MODULES else base for name in names] or [base]
            for target in targets:
                while target not in MODULES and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != module:
                    graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_light_packages_import_no_heavy_framework():
    code = (f"import json, sys\nimport {', '.join(LIGHT)}\n"
            "from videonas.search.constraints import Constraints\n"
            "Constraints.from_dict({'max_latency_ms': 5, 'latency_runtime': 'keras'})\n"
            f"print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                               cwd=ROOT.parent)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.splitlines()[-1]) == []


@pytest.mark.parametrize("given, expected", [(None, "1"), ("0", "0")])
def test_importing_the_package_turns_on_onednn_unless_the_user_chose(given, expected):
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    if given is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = given
    code = "import os, videonas; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                               cwd=ROOT.parent, env=env)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == expected


def test_the_scanner_sees_a_loop_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert "videonas.measure" in _edges()["videonas.search.constraints"]  # imported inside ``Constraints.check``


def test_no_import_cycle_among_videonas_modules():
    assert _cycles(_edges()) == []


@pytest.mark.parametrize("layer, above", [("videonas.measure", "videonas.deploy"),
                                          ("videonas.search", "videonas.deploy"),
                                          ("videonas.runtimes", "videonas")])
def test_lower_layers_do_not_import_higher_ones(layer, above):
    graph = _edges()
    offenders = {(module, target) for module in graph if module == layer or module.startswith(layer + ".")
                 for target in graph[module] if target == above or target.startswith(above + ".")}
    assert offenders == set()


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for module in MODULES:
        path = MODULES[module]
        tree = ast.parse(path.read_text())
        aliases = {}
        for node, base, names in _imports(module):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in MODULES:
                        aliases[alias.asname or alias.name] = target
                    elif alias.name.startswith("_") and base != module:
                        offenders.append(f"{module}: from {base} import {alias.name}")
            else:
                for alias in node.names:
                    if alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and aliases[node.value.id] != module):
                offenders.append(f"{module}: {aliases[node.value.id]}.{node.attr}")
    assert offenders == []
