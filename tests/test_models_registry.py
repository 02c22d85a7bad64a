"""videonas.models: family dispatch, input specs and the registry of named models."""

from __future__ import annotations

import numpy
import pytest

from videonas import models
from videonas.genome import published

PUBLISHED = ["tvn-1", "tvn-2", "tvn-3", "tvn-4", "evanet-a", "evanet-b", "assemblenet-50", "assemblenet-101"]
BASELINES = ["r2plus1d-18", "r3d-18", "x3d-xs", "two-stream"]


def test_list_models_names_published_genomes_and_baselines():
    assert models.list_models() == PUBLISHED + BASELINES
    assert {name.lower() for name in published.names()} == set(PUBLISHED)


@pytest.mark.parametrize("name", ["r3d-18", "two-stream"])
def test_create_model_builds_baselines(name):
    model = models.create_model(name, num_classes=3, num_frames=2, image_size=16, width_multiplier=0.125)
    assert model.outputs[0] is model.get_layer("logits").output
    inputs = {t.name: numpy.zeros((1, *t.shape[1:]), "float32") for t in model.inputs}
    assert model.predict_on_batch(inputs if len(inputs) > 1 else inputs["rgb"]).shape == (1, 3)


def test_create_model_is_case_insensitive_and_rejects_unknown_names():
    model = models.create_model("R3D-18", num_classes=2, num_frames=2, image_size=16, width_multiplier=0.125)
    assert model.name == "r3d_18"
    with pytest.raises(ValueError, match="resnet-50"):
        models.create_model("resnet-50", num_classes=2)


def test_input_spec_per_family():
    tvn = published.load("TVN-1")
    spec = models.input_spec(tvn, num_frames=99, image_size=99, frame_stride=99)
    assert spec == {"num_frames": tvn.num_frames, "image_size": tvn.image_size, "frame_stride": tvn.frame_stride,
                    "inputs": ("rgb",)}
    evanet = published.load("EvaNet-A")
    assert models.input_spec(evanet, num_frames=8, image_size=64, frame_stride=2) == {
        "num_frames": 8, "image_size": 64, "frame_stride": 2, "inputs": ("rgb",)}
    assert models.input_spec(evanet, num_frames=8, image_size=64, frame_stride=2, modality="flow")["inputs"] == ("flow",)
    assemblenet = published.load("AssembleNet-50")
    assert models.input_spec(assemblenet, num_frames=8, image_size=64, frame_stride=1)["inputs"] == ("rgb", "flow")
    with pytest.raises(ValueError, match="num_frames"):
        models.input_spec(evanet, num_frames=0, image_size=64, frame_stride=1)


def test_build_model_rejects_unknown_family():
    class Fake:
        FAMILY = "resnet"

    with pytest.raises(ValueError, match="resnet"):
        models.build_model(Fake(), num_classes=2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tvn-1", "evanet-a", "assemblenet-50"])
def test_create_model_builds_published_genomes_with_their_input_spec(name):
    genome = published.load(name)
    spec = models.input_spec(genome, num_frames=4, image_size=32, frame_stride=1)
    kwargs = {} if genome.FAMILY == "tvn" else {"num_frames": 4, "image_size": 32}
    model = models.create_model(name, num_classes=4, width_multiplier=0.125, **kwargs)
    assert sorted(t.name for t in model.inputs) == sorted(spec["inputs"])
    for tensor in model.inputs:
        assert tuple(tensor.shape[1:4]) == (spec["num_frames"], spec["image_size"], spec["image_size"])
    assert model.outputs[0].shape[-1] == 4
    assert model.outputs[0] is model.get_layer("logits").output


@pytest.mark.parametrize("name", ["tvn-1", "evanet-a", "assemblenet-50", "r2plus1d-18", "x3d-xs"])
def test_every_batch_norm_uses_the_short_budget_momentum(name):
    import keras

    from videonas import layers as video_layers

    size = {} if name.startswith("tvn") else {"num_frames": 4, "image_size": 32}  # a TVN brings its own input
    model = models.create_model(name, num_classes=2, width_multiplier=0.25, **size)
    # Nested layers (iTGM, (2+1)D, non-local) hold their own BatchNormalization.
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and {layer.momentum for layer in norms} == {video_layers.BATCH_NORM_MOMENTUM}
