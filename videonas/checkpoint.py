"""A candidate's training checkpoint: what a multi-fidelity search needs to continue a candidate where it stopped, or
to start a child from its parent's weights (weight inheritance).

One ``.npz`` file: the epoch count, every top-level layer's weights (``weights/<layer>/<i>``) and its other state
(``state/<layer>/<i>``: dropout's random-seed counters, so that a continued run draws the masks an uninterrupted one
would), and the optimizer's variables in order (``optimizer/<i>``: Adam's iteration count and slots). That makes a
continued run exact on the TensorFlow backend; on torch an unseeded dropout draws from torch's global generator, which
Keras's data loader also draws from every epoch, so a continued run there matches only approximately. Layers are keyed
by name, which the builders derive from the block position, so two genomes that share a block share its layer names.
It is written under a temporary name in the same folder and renamed: a killed worker never leaves half a checkpoint.
Plain arrays rather than a ``.keras`` file: a parent's layers are read by name without rebuilding its model.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy

FORMAT = "videonas-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not fit the model it is loaded into."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read back from ``path``: ``epochs`` trained, each layer's ``weights`` and other ``state`` by layer
    name, and the ``optimizer``'s variables in order (``iterations``: its step count)."""

    path: str
    epochs: int
    iterations: int
    weights: dict[str, list[numpy.ndarray]]
    state: dict[str, list[numpy.ndarray]]
    optimizer: list[numpy.ndarray]


def save(model, path: str | Path, *, epochs: int) -> Path:
    """Write ``model``'s weights, layer state and optimizer state, trained for ``epochs`` epochs, to ``path``."""
    arrays: dict[str, Any] = {"format": numpy.asarray(FORMAT), "epochs": numpy.asarray(epochs, "int64")}
    for layer in model.layers:
        weights = layer.weights
        weight_ids = {id(variable) for variable in weights}
        state = [variable for variable in layer.variables if id(variable) not in weight_ids]
        for group, variables in (("weights", weights), ("state", state)):
            for index, variable in enumerate(variables):
                arrays[f"{group}/{layer.name}/{index}"] = numpy.asarray(variable)
    optimizer = model.optimizer
    if optimizer is not None:
        arrays["iterations"] = numpy.asarray(int(optimizer.iterations), "int64")
        for index, variable in enumerate(optimizer.variables):
            arrays[f"optimizer/{index}"] = numpy.asarray(variable)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            numpy.savez(handle, **arrays)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return path


def read(path: str | Path, *, field: str = "checkpoint") -> Checkpoint:
    """The checkpoint at ``path``; ``field`` names the option it came from in errors (``fidelity.resume_from``)."""
    if not Path(path).is_file():
        raise CheckpointError(f"{field}: no checkpoint at {str(path)!r}")
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{field}: {str(path)!r} is not a readable checkpoint ({error})") from None
    if "format" not in arrays or str(arrays["format"]) != FORMAT:
        raise CheckpointError(f"{field}: {str(path)!r} is not a {FORMAT} file")
    groups: dict[str, dict[str, dict[int, numpy.ndarray]]] = {"weights": {}, "state": {}}
    optimizer: dict[int, numpy.ndarray] = {}
    for key, array in arrays.items():
        parts = key.split("/")
        if parts[0] in groups:
            groups[parts[0]].setdefault(parts[1], {})[int(parts[2])] = array
        elif parts[0] == "optimizer":
            optimizer[int(parts[1])] = array
    ordered = {group: {name: [values[i] for i in sorted(values)] for name, values in layers.items()}
               for group, layers in groups.items()}
    return Checkpoint(path=str(path), epochs=int(arrays["epochs"]), iterations=int(arrays.get("iterations", 0)),
                      weights=ordered["weights"], state=ordered["state"],
                      optimizer=[optimizer[i] for i in sorted(optimizer)])


def restore(model, checkpoint: Checkpoint, *, field: str = "checkpoint") -> None:
    """Load every layer's weights and state and the optimizer's variables (built first: ``optimizer.build``) into
    ``model``, which must be the architecture that wrote the checkpoint: the first mismatch is a ``CheckpointError``."""
    where = f"{field}: {checkpoint.path!r}"
    if model.optimizer is None:
        raise CheckpointError(f"{where}: compile the model and build its optimizer before restoring")
    unknown = sorted(set(checkpoint.weights).union(checkpoint.state) - {layer.name for layer in model.layers})
    if unknown:
        raise CheckpointError(f"{where} has layers the model lacks: {unknown[:5]}")
    pairs = []
    for layer in model.layers:
        weight_ids = {id(variable) for variable in layer.weights}
        state = [variable for variable in layer.variables if id(variable) not in weight_ids]
        for group, variables, saved in (("weights", layer.weights, checkpoint.weights.get(layer.name, [])),
                                        ("state", state, checkpoint.state.get(layer.name, []))):
            if [tuple(v.shape) for v in variables] != [array.shape for array in saved]:
                raise CheckpointError(f"{where}: layer {layer.name!r} {group} shapes "
                                      f"{[tuple(v.shape) for v in variables]} != checkpoint's "
                                      f"{[array.shape for array in saved]}")
            pairs.extend(zip(variables, saved))
    variables = model.optimizer.variables
    if [tuple(v.shape) for v in variables] != [array.shape for array in checkpoint.optimizer]:
        raise CheckpointError(f"{where}: the optimizer's {len(variables)} variables do not match the checkpoint's "
                              f"{len(checkpoint.optimizer)}")
    pairs.extend(zip(variables, checkpoint.optimizer))
    for variable, array in pairs:
        variable.assign(array)


def inherit(model, checkpoint: Checkpoint) -> list[str]:
    """Copy the checkpoint's weights into every layer of ``model`` with the same name and the same weight shapes;
    the other layers keep their values (a fresh model's initialisation). Returns the names of the layers copied.
    Layer state (random-seed counters) and optimizer state are not inherited: the child starts its own training."""
    copied = []
    for layer in model.layers:
        saved = checkpoint.weights.get(layer.name)
        weights = layer.weights
        if not weights or saved is None or [tuple(v.shape) for v in weights] != [array.shape for array in saved]:
            continue
        for variable, array in zip(weights, saved):
            variable.assign(array)
        copied.append(layer.name)
    return copied
