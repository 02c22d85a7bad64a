"""videonas.deploy.export (and the runtimes it drives): the ONNX and LiteRT files of a found-TVN-like genome and of
TVN-1, at smoke size, reproduce the Keras logits on the same clips within ``export.allowed_difference`` (``TOLERANCE``
relative to the logits' scale)."""

from __future__ import annotations

import json

import keras
import numpy
import pytest

from videonas import models
from videonas import runtimes as runtime_names
from videonas.deploy import export, runtimes
from videonas.genome.tvn import TVNGenome

# The network the default tvn_search found (reports/tvn_search/found_genome.json): non-local, context gating,
# squeeze-excitation, spatial max/avg pooling, (2+1)D and depthwise blocks, temporal max/avg pooling.
FOUND_LIKE = {"family": "tvn", "image_size": 48, "num_frames": 2, "frame_stride": 2, "blocks": [
    {"context_gate": False, "expand": 1, "filters": 16, "non_local": True, "repeats": 2, "skip": True,
     "spatial_kernel": 3, "spatial_stride": 4, "spatial_type": "avgpool", "squeeze": 0.5, "temporal_kernel": 4,
     "temporal_stride": 3, "temporal_type": "1d"},
    {"context_gate": True, "expand": 1, "filters": 16, "non_local": True, "repeats": 1, "skip": False,
     "spatial_kernel": 2, "spatial_stride": 2, "spatial_type": "maxpool", "squeeze": 0.25, "temporal_kernel": 1,
     "temporal_stride": 2, "temporal_type": "avgpool"},
    {"context_gate": False, "expand": 3, "filters": 16, "non_local": False, "repeats": 1, "skip": False,
     "spatial_kernel": 4, "spatial_stride": 2, "spatial_type": "depth", "squeeze": 0.0, "temporal_kernel": 3,
     "temporal_stride": 3, "temporal_type": "maxpool"}]}


def _with_large_logits(model):
    """Initial logits are ~1e-3 (stddev-0.01 head): a unit-scale head makes a 1e-4 tolerance a real check."""
    head = model.get_layer("logits")
    rng = numpy.random.default_rng(0)
    head.kernel.assign(rng.normal(size=head.kernel.shape).astype("float32"))
    head.bias.assign(rng.normal(size=head.bias.shape).astype("float32"))
    return model


def _model(name: str):
    keras.utils.set_random_seed(0)
    if name == "found-like":
        return models.build_model(TVNGenome.from_dict(FOUND_LIKE), num_classes=5)
    return models.create_model("tvn-1", num_classes=5, num_frames=2, image_size=64, width_multiplier=0.25)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["found-like", "tvn-1"])
def test_onnx_and_litert_reproduce_the_keras_logits(name, tmp_path):
    model = _with_large_logits(_model(name))
    manifest = export.export_model(model, folder=tmp_path, name=name, latency_runs=2, threads=1)
    assert manifest["ok"] and set(manifest["files"]) == set(runtime_names.RUNTIMES)
    scale = manifest["check"]["reference_max_abs_logit"]
    assert scale > 0.1  # the check compares real logits, not near-zero ones
    for runtime in runtime_names.RUNTIMES:
        check = manifest["check"][runtime]
        assert check["max_abs_diff"] <= export.allowed_difference(scale) == manifest["check"]["allowed_max_abs_diff"]
        assert (tmp_path / manifest["files"][runtime]).stat().st_size > 0
        assert manifest["latency"][runtime]["threads"] == 1 and manifest["latency"][runtime]["runs"] == 2
    written = json.loads((tmp_path / f"{name}.manifest.json").read_text())
    assert written["versions"]["onnxruntime"] and written["versions"]["ai-edge-litert"]
    assert written["inputs"] == {"rgb": list(model.inputs[0].shape[1:])}
    # The files stand alone: other clips through the reloaded ONNX model give Keras' logits too.
    clips = numpy.random.default_rng(1).random((3, *model.inputs[0].shape[1:]), dtype="float32")
    onnx = runtimes.load(tmp_path / manifest["files"]["onnxruntime"], runtime="onnxruntime", threads=1)
    reference = model.predict_on_batch(clips)
    numpy.testing.assert_allclose(onnx({"rgb": clips}), reference,
                                  atol=export.allowed_difference(numpy.max(numpy.abs(reference))))


def test_a_wrong_model_is_caught_by_the_check(tmp_path, monkeypatch):
    """The check compares against Keras: a runtime that returned other logits is reported, not hidden."""
    model = _with_large_logits(_model("found-like"))
    real_load = runtimes.load

    def shifted(path, **kwargs):
        runner = real_load(path, **kwargs)
        return lambda feed: runner(feed) + 0.01

    monkeypatch.setattr(runtimes, "load", shifted)
    manifest = export.export_model(model, folder=tmp_path, name="shifted", runtimes=["onnxruntime"])
    assert not manifest["ok"] and manifest["check"]["onnxruntime"]["max_abs_diff"] == pytest.approx(0.01, rel=1e-3)


@pytest.mark.parametrize("kwargs, field", [({"runtimes": ["tensorrt"]}, "runtimes[0]"), ({"name": "a/b"}, "name")])
def test_bad_arguments_name_the_field(kwargs, field, tmp_path):
    inputs = keras.Input((2, 8, 8, 3), name="rgb")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling3D()(inputs)))
    with pytest.raises(ValueError, match=field.replace("[", r"\[")):
        export.export_model(model, folder=tmp_path, **{"name": "m", **kwargs})


def test_convert_wants_the_runtime_suffix(tmp_path):
    inputs = keras.Input((2, 8, 8, 3), name="rgb")
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling3D()(inputs))
    with pytest.raises(ValueError, match=r"\.onnx"):
        runtimes.convert(model, runtime="onnxruntime", path=tmp_path / "model.tflite")
    with pytest.raises(ValueError, match="runtime"):
        runtime_names.check_runtime("runtime", "tflite")


def test_a_runtime_whose_packages_are_missing_fails_at_start_up(monkeypatch):
    import importlib.util

    from videonas.search.constraints import MaxLatency

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    with pytest.raises(ValueError, match=r"latency_runtime 'onnxruntime' needs the Python modules \['tf2onnx'\]"):
        MaxLatency(5.0, runtime="onnxruntime")
    assert MaxLatency(5.0, runtime="litert").runtime == "litert"
    monkeypatch.setattr(runtime_names, "backend", lambda: "torch")
    with pytest.raises(ValueError, match="latency_runtime 'litert' converts on the tensorflow Keras backend"):
        MaxLatency(5.0, runtime="litert")
    assert MaxLatency(5.0).runtime == "keras"  # Keras itself runs on any backend


@pytest.mark.slow
def test_an_assemblenet_exports_to_onnx(tmp_path):
    """The published AssembleNet-50 graph: two streams and WeightedFusion (str-keyed projections, frame-wise pooling)
    through tf2onnx. Its LiteRT conversion (dilated temporal convs on stacked taps: no built-in SpaceToBatchND on 5-D
    tensors) costs about 80 s here, so LiteRT is checked on the sampled AssembleNets of ``test_deploy_spaces``,
    which have the same dilated convs and fusion."""
    keras.utils.set_random_seed(0)
    model = models.create_model("assemblenet-50", num_classes=5, num_frames=8, image_size=32, width_multiplier=0.25)
    assert {tensor.name for tensor in model.inputs} == {"rgb", "flow"}
    manifest = export.export_model(model, folder=tmp_path, name="assemblenet", runtimes=["onnxruntime"])
    allowed = export.allowed_difference(manifest["check"]["reference_max_abs_logit"])
    assert manifest["ok"] and manifest["check"]["onnxruntime"]["max_abs_diff"] <= allowed
    assert set(manifest["inputs"]) == {"rgb", "flow"}
