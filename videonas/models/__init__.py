"""How a genome becomes a keras.Model, and the one registry of named models (timm style).

``build_model`` asks the family registry (``videonas.families``) for the builder. ``create_model`` / ``list_models`` /
``model_info`` are the only name-to-model map of the package: published presets (from the families' records) and the
hand-made baselines, each with the display name papers use and the input it is published at. The family builders are
imported lazily so that a genome-only process (search bookkeeping, reports) never pays for Keras.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from videonas import families


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """A registry entry. ``published_input`` is ``(num_frames, image_size)``: the released genome's own input for a
    family whose genome carries it (TVN), else the input the paper or the baseline's authors run it at."""

    name: str
    display_name: str
    family: str  # a registered family, or "baseline"
    published_input: tuple[int, int]


# registry name -> (display name, builder in videonas.models.baselines, published (num_frames, image_size)):
# R(2+1)D-18 and R3D-18 as in Tran et al. 2018 / torchvision, X3D-XS as in Feichtenhofer 2020, and the two-stream
# late-fusion net on the same clip as the (2+1)D baseline.
_BASELINES = {
    "r2plus1d-18": ("R(2+1)D-18", "build_r2plus1d_18", (16, 112)),
    "r3d-18": ("R3D-18", "build_r3d_18", (16, 112)),
    "x3d-xs": ("X3D-XS", "build_x3d_xs", (4, 160)),
    "two-stream": ("two-stream", "build_two_stream", (16, 112)),
}


def build_model(genome, *, num_classes: int, multi_label: bool = False, **kwargs: Any):
    """The keras.Model (output: logits named "logits") of ``genome``; ``kwargs`` go to the family's builder
    (``num_frames``/``image_size`` where the task sets the input, ``modality`` for EvaNet, ``width_multiplier``)."""
    return families.of(genome).build(genome, num_classes=num_classes, multi_label=multi_label, **kwargs)


def list_models() -> list[str]:
    """Registry names: the families' published presets, then the baselines."""
    return [*(name for family in families.registered().values() for name in family.presets), *_BASELINES]


def model_info(name: str) -> ModelInfo:
    """The entry of ``name`` (case-insensitive; the display name works too: ``"TVN-1"``, ``"R(2+1)D-18"``)."""
    key = _key(name)
    if key in _BASELINES:
        display, _, published_input = _BASELINES[key]
        return ModelInfo(key, display, "baseline", published_input)
    family = next(family for family in families.registered().values() if key in family.presets)
    spec_name, published_input = family.presets[key]
    if published_input is None:  # the genome carries its input
        genome = _preset_genome(family, spec_name)
        published_input = family.clip_input(genome, num_frames=0, image_size=0, frame_stride=1)[:2]
    return ModelInfo(key, spec_name, family.name, tuple(published_input))


def create_model(name: str, *, num_classes: int, num_frames: int | None = None, image_size: int | None = None,
                 **kwargs: Any):
    """A named model at its published input, or at ``num_frames`` x ``image_size``: ``create_model("tvn-1",
    num_classes=10)``, ``create_model("r3d-18", num_classes=400, width_multiplier=0.25)``. ``kwargs`` go to the
    builder. A TVN at another input is the same blocks on another clip."""
    info = model_info(name)
    num_frames = info.published_input[0] if num_frames is None else num_frames
    image_size = info.published_input[1] if image_size is None else image_size
    if info.family == "baseline":
        from videonas.models import baselines

        builder = getattr(baselines, _BASELINES[info.name][1])
        return builder(num_classes=num_classes, num_frames=num_frames, image_size=image_size, **kwargs)
    family = families.get(info.family)
    genome = family.with_input(_preset_genome(family, info.display_name), num_frames=num_frames, image_size=image_size)
    return family.build(genome, num_classes=num_classes, num_frames=num_frames, image_size=image_size, **kwargs)


def _preset_genome(family: families.Family, spec_name: str):
    from videonas.genome import published

    genome = published.load(spec_name)
    if genome.FAMILY != family.name:
        raise ValueError(f"preset {spec_name!r} of family {family.name!r} loads a {genome.FAMILY!r} genome")
    return genome


def _key(name: str) -> str:
    if isinstance(name, str):
        key = name.lower()
        if key in _BASELINES or any(key in family.presets for family in families.registered().values()):
            return key
        for key, (display, _, _) in _BASELINES.items():
            if display.lower() == name.lower():
                return key
    raise ValueError(f"name must be one of {list_models()}, got {name!r}")


__all__ = ["ModelInfo", "build_model", "create_model", "list_models", "model_info"]
