"""Exports that are right (issue 27): random networks of the tvn, evanet and assemblenet default spaces, at smoke size,
give Keras' logits on ONNX Runtime and LiteRT within ``export.allowed_difference`` (``export.TOLERANCE`` relative to
the logits' scale), and so do the TVN windows the issue reported: pools smaller than their stride, and windows that
end two or more cells short of the input (a 2x2 window or a 1x1 projection at stride 4), where TensorFlow's 3-D ops
place the windows a cell off from every other runtime unless the builder pads "valid".

A bounded sample (``SAMPLES`` per family, seeded) keeps the file to about 3 minutes on one core: conversion dominates,
~5 s a TVN and 30-60 s an EvaNet or AssembleNet at 32 px and 4 frames."""

from __future__ import annotations

import keras
import numpy
import pytest

from videonas import families
from videonas.deploy import export
from videonas.genome.tvn import TVNGenome

SAMPLES = {"tvn": 3, "evanet": 1, "assemblenet": 1}
NUM_FRAMES, IMAGE_SIZE, WIDTH = 4, 32, 0.25
# Only the input choices move to smoke size; every layer choice is the default space's.
SMOKE_SPACE = {"tvn": {"image_sizes": (IMAGE_SIZE,), "frame_counts": (NUM_FRAMES,)}}

# Spatial and temporal pools whose window is smaller than their stride, max and average: the issue's
# MaxPooling3D((1, 2, 2), strides=(1, 4, 4), padding="same") and its kin; a 2x2 conv and a 1x1 projection at stride 4,
# whose windows end two or more cells short of the map (64 -> 16 -> 4).
_PLAIN = {"filters": 16, "expand": 1, "squeeze": 0.0, "context_gate": False, "non_local": False, "skip": False,
          "repeats": 1}
SMALL_WINDOWS = {"family": "tvn", "image_size": 2 * IMAGE_SIZE, "num_frames": NUM_FRAMES, "frame_stride": 1, "blocks": [
    {**_PLAIN, "spatial_type": "maxpool", "spatial_kernel": 2, "spatial_stride": 4, "temporal_type": "maxpool",
     "temporal_kernel": 2, "temporal_stride": 3},
    {**_PLAIN, "spatial_type": "std", "spatial_kernel": 2, "spatial_stride": 4, "temporal_type": "1d",
     "temporal_kernel": 1, "temporal_stride": 1, "skip": True},
    {**_PLAIN, "spatial_type": "avgpool", "spatial_kernel": 2, "spatial_stride": 3, "temporal_type": "avgpool",
     "temporal_kernel": 2, "temporal_stride": 2, "skip": True}]}


def _sampled(family: str, index: int):
    """The ``index``-th draw of ``family``'s default space (at smoke input), seeded by the family's name."""
    space = families.get(family).space(**SMOKE_SPACE.get(family, {}))
    rng = numpy.random.default_rng(sum(map(ord, family)))
    return [space.sample(rng) for _ in range(index + 1)][-1]


def _export(genome, tmp_path):
    """Export ``genome``'s model with a unit-scale head (fresh logits are ~1e-3: a check on them would be empty)."""
    keras.utils.set_random_seed(0)
    family = families.of(genome)
    model = family.build(genome, num_classes=5, num_frames=NUM_FRAMES, image_size=IMAGE_SIZE, width_multiplier=WIDTH)
    head = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None][-1]
    head.kernel.assign(numpy.random.default_rng(0).normal(size=head.kernel.shape).astype("float32"))
    return export.export_model(model, folder=tmp_path, name=family.name, runtimes=["onnxruntime", "litert"])


def _assert_faithful(manifest) -> None:
    check = manifest["check"]
    assert check["reference_max_abs_logit"] > 0.1  # the logits compared are real ones
    allowed = export.allowed_difference(check["reference_max_abs_logit"])
    for runtime in ("onnxruntime", "litert"):
        assert check[runtime]["max_abs_diff"] <= allowed, (runtime, check[runtime], allowed)
    assert manifest["ok"]


@pytest.mark.slow
@pytest.mark.parametrize("family, index", [(name, index) for name, count in SAMPLES.items() for index in range(count)])
def test_a_sampled_network_exports_faithfully(family, index, tmp_path):
    _assert_faithful(_export(_sampled(family, index), tmp_path))


@pytest.mark.slow
def test_pools_smaller_than_their_stride_export_faithfully(tmp_path):
    genome = TVNGenome.from_dict(SMALL_WINDOWS)
    windows = [(step.spatial_kernel, step.spatial_stride) for plan in genome.shape_plan() for step in plan.repeats]
    assert windows[:2] == [(2, 4), (2, 4)] and (2, 3) in windows
    _assert_faithful(_export(genome, tmp_path))


def test_the_allowed_difference_scales_with_the_logits_not_below_the_tolerance():
    assert export.allowed_difference(0.001) == export.TOLERANCE
    assert export.allowed_difference(160.0) == pytest.approx(160 * export.TOLERANCE)
    assert export.allowed_difference(2.0, tolerance=1e-3) == pytest.approx(2e-3)
