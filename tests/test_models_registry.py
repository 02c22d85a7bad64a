"""videonas.models: family dispatch through the family registry and the registry of named models."""

from __future__ import annotations

import numpy
import pytest

from videonas import models
from videonas.genome import published

PUBLISHED = ["tvn-1", "tvn-2", "tvn-3", "tvn-4", "assemblenet-50", "assemblenet-101", "evanet-a", "evanet-b"]
BASELINES = ["r2plus1d-18", "r3d-18", "x3d-xs", "two-stream"]


def test_list_models_names_published_genomes_and_baselines():
    assert models.list_models() == PUBLISHED + BASELINES
    assert {name.lower() for name in published.names()} == set(PUBLISHED)


def test_model_info_gives_display_names_families_and_published_inputs():
    tvn = published.load("TVN-3")
    assert models.model_info("tvn-3") == models.ModelInfo("tvn-3", "TVN-3", "tvn", (tvn.num_frames, tvn.image_size))
    assert models.model_info("R(2+1)D-18") == models.ModelInfo("r2plus1d-18", "R(2+1)D-18", "baseline", (16, 112))
    assert models.model_info("EvaNet-A").family == "evanet"
    with pytest.raises(ValueError, match="name must be one of"):
        models.model_info("tvn-9")


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


def test_clip_spec_follows_each_family_input_policy():
    from videonas.task import TrainTask

    task = TrainTask(num_frames=8, image_size=64, frame_stride=2)
    tvn = published.load("TVN-1")  # carries its own input
    spec = task.clip_spec(inputs=("rgb",), genome=tvn)
    assert (spec.num_frames, spec.image_size, spec.frame_stride) == (tvn.num_frames, tvn.image_size, tvn.frame_stride)
    evanet = published.load("EvaNet-A")  # the task sets it
    spec = task.clip_spec(inputs=("flow",), genome=evanet)
    assert (spec.num_frames, spec.image_size, spec.frame_stride, spec.rgb, spec.flow) == (8, 64, 2, False, True)
    with pytest.raises(ValueError, match="inputs"):
        task.clip_spec(inputs=("depth",))


def test_build_model_rejects_unknown_family():
    class Fake:
        FAMILY = "resnet"

    with pytest.raises(ValueError, match="resnet"):
        models.build_model(Fake(), num_classes=2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tvn-1", "evanet-a", "assemblenet-50"])
def test_create_model_builds_published_genomes_at_their_or_another_input(name):
    from videonas import families

    genome = published.load(name)
    model = models.create_model(name, num_classes=4, width_multiplier=0.125, num_frames=4, image_size=32)
    expected = ["rgb", "flow"] if genome.FAMILY == "assemblenet" else ["rgb"]
    assert sorted(t.name for t in model.inputs) == sorted(expected)
    for tensor in model.inputs:
        assert tuple(tensor.shape[1:4]) == (4, 32, 32)  # a TVN at another input: the same blocks on another clip
    assert model.outputs[0].shape[-1] == 4
    assert model.outputs[0] is model.get_layer("logits").output
    if families.get(genome.FAMILY).genome_input:
        own = models.create_model(name, num_classes=4, width_multiplier=0.125)
        assert tuple(own.inputs[0].shape[1:4]) == (genome.num_frames, genome.image_size, genome.image_size)


@pytest.mark.parametrize("name", ["tvn-1", "evanet-a", "assemblenet-50", "r2plus1d-18", "x3d-xs"])
def test_every_batch_norm_uses_the_short_budget_momentum(name):
    import keras

    from videonas import layers as video_layers

    size = {} if name.startswith("tvn") else {"num_frames": 4, "image_size": 32}  # a TVN brings its own input
    model = models.create_model(name, num_classes=2, width_multiplier=0.25, **size)
    # Nested layers (iTGM, (2+1)D, non-local) hold their own BatchNormalization.
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and {layer.momentum for layer in norms} == {video_layers.BATCH_NORM_MOMENTUM}
