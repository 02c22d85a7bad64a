"""The runtimes a model can be timed and shipped on, by name, and whether this machine has them.

This module is a leaf (standard library only, no Keras): a search configuration names a runtime (``MaxLatency``'s
``runtime``) and is validated on the driver before anything heavy is imported. Converting and running a model on a
runtime lives one layer up, in ``videonas.deploy.runtimes``; cost measurement (``videonas.measure``) times Keras only
and knows nothing of either, so the layers read: ``runtimes`` (names) <- ``measure`` (Keras cost) <- ``deploy``
(converters, latency on a runtime) <- whoever wires a runtime's latency into a search (``videonas.train``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

RUNTIMES = ("keras", "onnxruntime", "litert")
# The Python modules a runtime needs to convert to it and run it.
MODULES = {"keras": (), "onnxruntime": ("onnxruntime", "onnx", "tf2onnx"), "litert": ("ai_edge_litert",)}


def check_runtime(field: str, value: Any) -> str:
    """``value`` if it names a runtime, else ``ValueError`` naming ``field`` and the value."""
    if not isinstance(value, str) or value not in RUNTIMES:
        raise ValueError(f"{field} must be one of {list(RUNTIMES)}, got {value!r}")
    return value


def check_installed(field: str, runtime: str) -> str:
    """``check_runtime``, and the runtime's converter and runtime packages are importable: a search set to measure R
    on ONNX Runtime fails at start-up where they are missing, not in every trial."""
    check_runtime(field, runtime)
    missing = [module for module in MODULES[runtime] if importlib.util.find_spec(module) is None]
    if missing:
        raise ValueError(f"{field} {runtime!r} needs the Python modules {missing}: install the project's "
                         f"dependencies (pip install -e .)")
    if runtime != "keras" and backend() != "tensorflow":
        raise ValueError(f"{field} {runtime!r} converts on the tensorflow Keras backend, got {backend()!r} "
                         f"(KERAS_BACKEND=tensorflow)")
    return runtime


# The Keras backends a worker may be started on (``KERAS_BACKEND``) and the module each needs.
BACKENDS = {"tensorflow": "tensorflow", "torch": "torch", "jax": "jax"}


def check_backend(field: str, value: Any) -> str:
    """``value`` if it names a Keras backend installed here, else ``ValueError`` naming ``field`` and the value: a
    worker pool set to a misspelt or missing backend fails at start-up, not in every trial."""
    if not isinstance(value, str) or value not in BACKENDS:
        raise ValueError(f"{field} must be one of {sorted(BACKENDS)}, got {value!r}")
    if importlib.util.find_spec(BACKENDS[value]) is None:
        installed = sorted(name for name, module in BACKENDS.items() if importlib.util.find_spec(module) is not None)
        raise ValueError(f"{field} {value!r} is not installed here (installed backends: {installed})")
    return value


def backend() -> str:
    """The Keras backend this process uses (or will use: Keras is not imported for the answer)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")
