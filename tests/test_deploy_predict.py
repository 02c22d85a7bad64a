"""videonas.deploy.predict and the self-describing manifest: an export run on a video file through its manifest
alone gives the Keras model's logits on the clip training would have cut from that file, on every runtime; the
preprocessing it reads is the one training applies (ClipBatches, the clip cache); a missing field or path is a
ValueError naming it."""

from __future__ import annotations

import json

import keras
import numpy
import pytest

from videonas import data, models, task
from videonas import runtimes as runtime_names
from videonas.deploy import export, predict
from videonas.deploy import manifest as manifests
from videonas.genome.tvn import TVNGenome

GENOME = {"family": "tvn", "image_size": 32, "num_frames": 2, "frame_stride": 2, "blocks": [
    {"context_gate": True, "expand": 1, "filters": 16, "non_local": False, "repeats": 1, "skip": False,
     "spatial_kernel": 3, "spatial_stride": 2, "spatial_type": "std", "squeeze": 0.25, "temporal_kernel": 2,
     "temporal_stride": 1, "temporal_type": "1d"},
    {"context_gate": False, "expand": 2, "filters": 16, "non_local": False, "repeats": 1, "skip": True,
     "spatial_kernel": 3, "spatial_stride": 2, "spatial_type": "maxpool", "squeeze": 0.0, "temporal_kernel": 2,
     "temporal_stride": 2, "temporal_type": "maxpool"}]}
TASK = task.TrainTask(dataset="embedded:smoke")


def _val_clips(inputs):
    genome = TVNGenome.from_dict(GENOME)
    return TASK.load(TASK.open_dataset(), "val", TASK.clip_spec(inputs=inputs, genome=genome))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A TVN at 2x32x32 with a unit-scale head (so 1e-4 is a real tolerance), exported with its description."""
    folder = tmp_path_factory.mktemp("export")
    genome = TVNGenome.from_dict(GENOME)
    dataset = TASK.open_dataset()
    keras.utils.set_random_seed(0)
    model = models.build_model(genome, num_classes=len(dataset.class_names))
    head = model.get_layer("logits")
    rng = numpy.random.default_rng(0)
    head.kernel.assign(rng.normal(size=head.kernel.shape).astype("float32"))
    clip_spec = TASK.clip_spec(inputs=("rgb",), genome=genome)
    manifest = export.export_model(
        model, folder=folder, name="tvn", threads=1,
        preprocessing=manifests.describe_preprocessing(clip_spec, inputs=("rgb",)),
        class_names=dataset.class_names, genome=genome,
        training={"dataset": {"spec": TASK.dataset, "name": dataset.name}, "metrics": {"val": None, "test": None}})
    return folder, manifest, model


@pytest.mark.slow
@pytest.mark.parametrize("runtime", runtime_names.RUNTIMES)
def test_a_prediction_is_the_keras_models_on_the_clip_training_cuts(exported, runtime):
    folder, manifest, model = exported
    assert manifest["ok"]
    clips = _val_clips(("rgb",))
    batch, _ = data.ClipBatches(clips, batch_size=3, shuffle=False, inputs=("rgb",))[0]
    reference = numpy.asarray(model.predict_on_batch(batch))
    predictor = predict.load(folder, runtime=runtime, threads=1)
    assert predictor.path.suffix == {"keras": ".keras", "onnxruntime": ".onnx", "litert": ".tflite"}[runtime]
    for row in range(3):
        numpy.testing.assert_allclose(predictor.logits(clips.paths[row]), reference[row], atol=export.TOLERANCE,
                                      rtol=0)
    ranked = predict.predict(folder, clips.paths[0], runtime=runtime, threads=1)
    expected = predict.probabilities_of(reference[0], activation="softmax")
    assert [name for name, _ in ranked] == [clips.class_names[i] for i in numpy.argsort(-expected, kind="stable")]
    numpy.testing.assert_allclose([p for _, p in ranked], numpy.sort(expected)[::-1], atol=1e-4)
    assert predict.predict(folder, clips.paths[0], runtime=runtime, top_k=2) == ranked[:2]


@pytest.mark.slow
def test_the_manifest_describes_the_network_and_travels_inside_its_files(exported):
    folder, manifest, _ = exported
    written = json.loads((folder / "tvn.manifest.json").read_text())
    rgb = written["preprocessing"]["streams"]["rgb"]
    assert rgb["layout"] == "NTHWC" and rgb["shape"] == [None, 2, 32, 32, 3] and rgb["dtype"] == "float32"
    assert rgb["scale"] == pytest.approx(1 / 255) and rgb["mean"] is None and rgb["std"] is None
    assert written["preprocessing"]["decode"]["frame_stride"] == 2 and written["preprocessing"]["decode"]["fps"] is None
    assert written["preprocessing"]["resize"]["image_size"] == 32
    assert written["class_names"] == TASK.open_dataset().class_names and len(written["class_names"]) == 13
    assert written["output"] == {"kind": "logits", "activation": "softmax", "multi_label": False}
    assert TVNGenome.from_json(written["genome"]["json"]).to_dict() == GENOME
    assert written["versions"]["videonas"] == written["videonas_version"]
    assert written["training"]["dataset"]["spec"] == "embedded:smoke"
    assert set(written["embedded"]) == set(runtime_names.RUNTIMES)
    for file_name in written["files"].values():
        copy = manifests.read_embedded(folder / file_name)
        assert copy == {key: value for key, value in written.items() if key != "embedded"}
    # A model file alone is enough: its embedded manifest says how to feed it.
    clips = _val_clips(("rgb",))
    alone = predict.load(folder / written["files"]["onnxruntime"], threads=1)
    assert alone.runtime == "onnxruntime"
    assert alone(clips.paths[0]) == predict.predict(folder, clips.paths[0], threads=1)


@pytest.mark.parametrize("inputs", [("rgb",), ("rgb", "flow")])
def test_the_preprocessing_read_from_a_manifest_is_trainings(inputs):
    """clip_feed, reading only the description, gives the arrays ClipBatches feeds in training, bit for bit (RGB
    divided by 255, flow rounded through the cache's float16), from the file alone."""
    genome = TVNGenome.from_dict(GENOME)
    clip_spec = TASK.clip_spec(inputs=inputs, genome=genome)
    described = json.loads(json.dumps(manifests.describe_preprocessing(clip_spec, inputs=inputs)))
    clips = _val_clips(inputs)
    batch, _ = data.ClipBatches(clips, batch_size=2, shuffle=False, inputs=inputs)[0]
    batch = batch if isinstance(batch, dict) else {"rgb": batch}
    for row in range(2):
        feed = predict.clip_feed(described, clips.paths[row])
        assert sorted(feed) == sorted(inputs)
        for name in inputs:
            assert feed[name].dtype == numpy.float32 and feed[name].shape == (1, *batch[name].shape[1:])
            numpy.testing.assert_array_equal(feed[name][0], batch[name][row])


def test_raw_pixels_are_not_what_the_network_eats():
    """The point of the description: the feed is scaled to [0, 1], not the decoded uint8 values."""
    clip_spec = TASK.clip_spec(inputs=("rgb",), genome=TVNGenome.from_dict(GENOME))
    feed = predict.clip_feed(manifests.describe_preprocessing(clip_spec, inputs=("rgb",)),
                             _val_clips(("rgb",)).paths[0])
    assert 0.0 <= feed["rgb"].min() and feed["rgb"].max() <= 1.0 and feed["rgb"].max() > 0.2


@pytest.mark.parametrize("dotted", ["preprocessing.decode.num_frames", "preprocessing.streams.rgb.scale",
                                    "preprocessing.resize", "class_names", "output.activation", "files"])
def test_a_missing_manifest_field_is_named(tmp_path, dotted):
    clip_spec = data.ClipSpec(num_frames=2, image_size=32)
    manifest = {"name": "m", "files": {"onnxruntime": "m.onnx"}, "class_names": ["a", "b"],
                "output": {"kind": "logits", "activation": "softmax", "multi_label": False},
                "preprocessing": manifests.describe_preprocessing(clip_spec, inputs=("rgb",))}
    (tmp_path / "m.onnx").write_bytes(b"never opened: the manifest is checked first")
    parent = manifest
    *path, last = dotted.split(".")
    for part in path:
        parent = parent[part]
    del parent[last]
    (tmp_path / "m.manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=f"field {dotted} is missing"):
        predict.load(tmp_path)


def test_bad_paths_are_named(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        predict.load(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"one \*\.manifest\.json file, has none"):
        predict.load(tmp_path)
    (tmp_path / "a.manifest.json").write_text("{}")
    (tmp_path / "b.manifest.json").write_text("{}")
    with pytest.raises(ValueError, match="a.manifest.json, b.manifest.json"):
        predict.load(tmp_path)
    with pytest.raises(ValueError, match="field files is missing"):
        predict.load(tmp_path / "a.manifest.json")
    (tmp_path / "c.manifest.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        predict.load(tmp_path / "c.manifest.json")
    (tmp_path / "model.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="model.onnx"):
        predict.load(tmp_path / "model.onnx")
    described = manifests.describe_preprocessing(data.ClipSpec(num_frames=2, image_size=32), inputs=("rgb",))
    with pytest.raises(ValueError, match="video .*missing.mp4.* does not exist"):
        predict.clip_feed(described, tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="preprocessing.decode.temporal 'random' is not supported"):
        predict.clip_feed({**described, "decode": {**described["decode"], "temporal": "random"}}, tmp_path / "x")


def test_an_export_that_describes_another_network_is_refused(tmp_path):
    inputs = keras.Input((2, 8, 8, 3), name="rgb")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling3D()(inputs)))
    wrong = manifests.describe_preprocessing(data.ClipSpec(num_frames=4, image_size=8), inputs=("rgb",))
    with pytest.raises(ValueError, match=r"preprocessing.streams.rgb.shape \[4, 8, 8, 3\] is not the model's"):
        export.export_model(model, folder=tmp_path, name="m", runtimes=["keras"], preprocessing=wrong)
    with pytest.raises(ValueError, match="class_names has 3 names, the network gives 2"):
        export.export_model(model, folder=tmp_path, name="m", runtimes=["keras"], class_names=["a", "b", "c"])
