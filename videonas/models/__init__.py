"""Genome -> keras.Model, and a registry of named models (published genomes and hand-made baselines).

``build_model`` is the one place that maps a family to its builder; the family builders are imported lazily so that a
genome-only process (search bookkeeping, reports) never pays for Keras.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

_BUILDERS = {
    "tvn": ("videonas.models.tvn", "build_tvn"),
    "evanet": ("videonas.models.evanet", "build_evanet"),
    "assemblenet": ("videonas.models.assemblenet", "build_assemblenet"),
}

_PUBLISHED = {
    "tvn-1": "TVN-1", "tvn-2": "TVN-2", "tvn-3": "TVN-3", "tvn-4": "TVN-4",
    "evanet-a": "EvaNet-A", "evanet-b": "EvaNet-B",
    "assemblenet-50": "AssembleNet-50", "assemblenet-101": "AssembleNet-101",
}

# Input defaults for families whose genome does not carry its input (TVN's does). Interpretation: EvaNet and
# AssembleNet were trained on 224 px crops; 32 frames is our choice of a common clip length, not a paper figure.
_FAMILY_INPUT_DEFAULTS = {
    "evanet": {"num_frames": 32, "image_size": 224},
    "assemblenet": {"num_frames": 32, "image_size": 224},
}

_BASELINES = {
    "r2plus1d-18": "build_r2plus1d_18",
    "r3d-18": "build_r3d_18",
    "x3d-xs": "build_x3d_xs",
    "two-stream": "build_two_stream",
}


def _builder(family: str) -> Callable[..., Any]:
    if family not in _BUILDERS:
        raise ValueError(f"genome.FAMILY must be one of {sorted(_BUILDERS)}, got {family!r}")
    module, function = _BUILDERS[family]
    return getattr(importlib.import_module(module), function)


def build_model(genome, *, num_classes: int, multi_label: bool = False, **family_kwargs: Any):
    """The keras.Model (output: logits named "logits") of ``genome``; ``family_kwargs`` go to the family's builder
    (e.g. ``num_frames``/``image_size`` for EvaNet and AssembleNet, ``modality`` for EvaNet, ``width_multiplier``)."""
    family = getattr(genome, "FAMILY", None)
    return _builder(family)(genome, num_classes=num_classes, multi_label=multi_label, **family_kwargs)


def input_spec(genome, *, num_frames: int, image_size: int, frame_stride: int, modality: str = "rgb") -> dict[str, Any]:
    """What clips ``genome``'s model eats: TVN takes frames, size and stride from its genome (they are searched);
    the other families take them from the arguments. ``modality`` ("rgb" | "flow") selects EvaNet's single stream."""
    family = getattr(genome, "FAMILY", None)
    if family == "tvn":
        return {"num_frames": genome.num_frames, "image_size": genome.image_size, "frame_stride": genome.frame_stride,
                "inputs": ("rgb",)}
    for field, value in (("num_frames", num_frames), ("image_size", image_size), ("frame_stride", frame_stride)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{field} must be a positive int, got {value!r}")
    if family == "evanet":
        if modality not in ("rgb", "flow"):
            raise ValueError(f"modality must be 'rgb' or 'flow', got {modality!r}")
        inputs: tuple[str, ...] = (modality,)
    elif family == "assemblenet":
        inputs = ("rgb", "flow")
    else:
        raise ValueError(f"genome.FAMILY must be one of {sorted(_BUILDERS)}, got {family!r}")
    return {"num_frames": num_frames, "image_size": image_size, "frame_stride": frame_stride, "inputs": inputs}


def list_models() -> list[str]:
    """Registry names, published genomes first, then baselines."""
    return [*_PUBLISHED, *_BASELINES]


def create_model(name: str, *, num_classes: int, **kwargs: Any):
    """A named model, timm style: ``create_model("tvn-1", num_classes=10)``, ``create_model("r3d-18", num_classes=400,
    width_multiplier=0.25)``. Names are case-insensitive; ``kwargs`` go to the builder (see :func:`list_models`)."""
    key = name.lower() if isinstance(name, str) else name
    if key in _BASELINES:
        from videonas.models import baselines

        return getattr(baselines, _BASELINES[key])(num_classes=num_classes, **kwargs)
    if key in _PUBLISHED:
        from videonas.genome import published

        genome = published.load(_PUBLISHED[key])
        defaults = _FAMILY_INPUT_DEFAULTS.get(genome.FAMILY, {})
        return build_model(genome, num_classes=num_classes, **{**defaults, **kwargs})
    raise ValueError(f"name must be one of {list_models()}, got {name!r}")


__all__ = ["build_model", "input_spec", "create_model", "list_models"]
