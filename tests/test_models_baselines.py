"""videonas.models.baselines: shapes, conventions and full-size parameter counts against the papers."""

from __future__ import annotations

import keras
import numpy
import pytest

from videonas import measure
from videonas.models import baselines

TINY = {"num_classes": 5, "num_frames": 4, "image_size": 32, "width_multiplier": 0.125}
RGB_BUILDERS = [baselines.build_r2plus1d_18, baselines.build_r3d_18,
                pytest.param(baselines.build_x3d_xs, marks=pytest.mark.slow)]


def _clip(shape, seed: int = 0) -> numpy.ndarray:
    return numpy.random.default_rng(seed).random((1, *shape), dtype="float32")


@pytest.mark.parametrize("builder", RGB_BUILDERS, ids=["r2plus1d_18", "r3d_18", "x3d_xs"])
def test_tiny_rgb_baselines_give_logits(builder):
    model = builder(**TINY)
    assert [t.name for t in model.inputs] == ["rgb"]
    assert tuple(model.inputs[0].shape) == (None, 4, 32, 32, 3)
    assert model.outputs[0] is model.get_layer("logits").output
    logits = model.predict_on_batch(_clip((4, 32, 32, 3)))
    assert logits.shape == (1, 5)
    assert numpy.isfinite(logits).all()


@pytest.mark.slow
def test_two_stream_averages_the_stream_logits():
    model = baselines.build_two_stream(**TINY)
    assert sorted(t.name for t in model.inputs) == ["flow", "rgb"]
    inputs = {"rgb": _clip((4, 32, 32, 3)), "flow": _clip((4, 32, 32, 2), seed=1) - 0.5}
    streams = keras.Model(model.inputs, [model.get_layer("rgb_logits").output, model.get_layer("flow_logits").output])
    rgb_logits, flow_logits = streams.predict_on_batch(inputs)
    numpy.testing.assert_allclose(model.predict_on_batch(inputs), (rgb_logits + flow_logits) / 2, atol=1e-5)
    assert not numpy.allclose(rgb_logits, flow_logits)


def test_r2plus1d_mid_channels_follow_tran_et_al():
    model = baselines.build_r2plus1d_18(num_classes=3, num_frames=4, image_size=32)
    # M = floor(t d^2 Nin Nout / (d^2 Nin + t Nout)), by hand: 64 -> 64 gives 110592 / 768 = 144; 64 -> 128 gives 230.
    assert model.get_layer("stage1_block1_conv1").mid_filters == 144
    assert model.get_layer("stage2_block1_conv1").mid_filters == 230
    assert model.get_layer("stage2_block1_conv2").mid_filters == 288


def test_width_multiplier_shrinks_parameters_about_quadratically():
    small = {"num_classes": 5, "num_frames": 4, "image_size": 32}
    full = measure.count_params(baselines.build_r3d_18(**small))
    half = measure.count_params(baselines.build_r3d_18(**small, width_multiplier=0.5))
    assert 0.2 < half / full < 0.3


@pytest.mark.parametrize("field, value", [("num_classes", 0), ("width_multiplier", -1.0), ("dropout", 1.0)])
def test_bad_arguments_raise(field, value):
    with pytest.raises(ValueError, match=field):
        baselines.build_r3d_18(**{**TINY, field: value})


@pytest.mark.slow
def test_full_size_parameter_counts_match_the_papers():
    # Tran et al. 2018, Table 2: R3D-18 33.4M, R(2+1)D-18 33.3M (torchvision's r2plus1d_18 has 31.5M because it reuses
    # the first conv's mid width for the second conv of each block). X3D paper, Table 4: X3D-XS 3.8M. 400 classes.
    r3d = measure.count_params(baselines.build_r3d_18(num_classes=400))
    r2plus1d = measure.count_params(baselines.build_r2plus1d_18(num_classes=400))
    x3d = measure.count_params(baselines.build_x3d_xs(num_classes=400))
    assert abs(r3d / 33.4e6 - 1) < 0.05
    assert abs(r2plus1d / 33.3e6 - 1) < 0.05
    assert abs(r2plus1d / r3d - 1) < 0.01  # the point of the mid-channel formula
    assert abs(x3d / 3.8e6 - 1) < 0.05


@pytest.mark.slow
def test_x3d_xs_flops_match_the_paper():
    # X3D paper: X3D-XS 0.6 GFLOPs at 4 x 160 x 160, counted as multiply-adds (ours too).
    flops = measure.count_flops(baselines.build_x3d_xs(num_classes=400))
    assert abs(flops / 0.6e9 - 1) < 0.1
