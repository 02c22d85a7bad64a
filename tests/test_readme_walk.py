"""The README's walk "From a dataset to a prediction", run as written: its commands, read out of the README, in a
fresh folder; the printed prediction is the Keras model's on the clip training cuts from that video."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## From a dataset to a prediction"


def walk_commands() -> list[list[str]]:
    """The commands of the section's bash block, as argument lists (``videonas`` and ``python`` as this Python)."""
    readme = (ROOT / "README.md").read_text()
    assert SECTION in readme
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"no bash block under {SECTION!r}"
    commands = []
    for line in block.group(1).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            words = shlex.split(line)
            commands.append([sys.executable, "-m", "videonas", *words[1:]] if words[0] == "videonas"
                            else [sys.executable, *words[1:]] if words[0] == "python" else words)
    return commands


def test_the_walk_is_a_dataset_a_search_an_export_and_a_prediction():
    commands = walk_commands()
    assert [command[3] if command[1:3] == ["-m", "videonas"] else command[1] for command in commands] == [
        "-c", "search", "export", "predict"]
    assert "--config" in commands[1] and (ROOT / "videonas" / "examples" / "folder.yaml").is_file()


@pytest.mark.slow
def test_the_readme_walk_runs_and_predicts_what_keras_does(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDEONAS_DATA": str(tmp_path / "cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    commands = walk_commands()
    outputs = []
    for command in commands:
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-3000:])
        outputs.append(done.stdout)
    assert "best fitness" in outputs[1] and outputs[2].count("(ok)") == 3, outputs[1:3]

    import videonas
    from videonas import data
    from videonas.deploy import export, predict

    video = tmp_path / commands[-1][-1]
    printed = [line.split() for line in outputs[-1].splitlines()[1:]]
    assert len(printed) == 5 and [int(row[0]) for row in printed] == [1, 2, 3, 4, 5]
    # The Keras model, on the clip training cuts from that video (the clip cache, ClipBatches), gives the same.
    manifest_path = next((tmp_path / "exported").glob("*.manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    model = videonas.load_model(tmp_path / "exported" / manifest["files"]["keras"])
    decode = manifest["preprocessing"]["decode"]
    spec = data.ClipSpec(num_frames=decode["num_frames"], frame_stride=decode["frame_stride"],
                         image_size=manifest["preprocessing"]["resize"]["image_size"])
    dataset = data.DatasetSpec.from_value(str(tmp_path / "my_actions")).open()
    clips = data.load_clips(dataset, "test", spec, cache_dir=tmp_path / "cache" / "clip_cache")
    index = [Path(path).resolve() for path in clips.paths].index(video.resolve())
    batch, _ = data.ClipBatches(clips, batch_size=len(clips), shuffle=False)[0]
    probabilities = predict.probabilities_of(numpy.asarray(model.predict_on_batch(batch[index:index + 1]))[0],
                                             activation="softmax")
    order = numpy.argsort(-probabilities, kind="stable")[:5]
    assert [row[1] for row in printed] == [manifest["class_names"][i] for i in order]
    numpy.testing.assert_allclose([float(row[2]) for row in printed], probabilities[order],
                                  atol=export.TOLERANCE + 1e-6)
    assert manifest["class_names"] == dataset.class_names and manifest["training"]["metrics"]["val"]["accuracy"] >= 0
