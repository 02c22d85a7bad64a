"""An exported ``.keras`` file loads with one call, ``videonas.load_model``, in a process that never imported the
package's layers; ``keras.saving.load_model`` alone fails there with an error that names the module to import."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from videonas import layers as videonas_layers

CODE = """
import sys, numpy, keras
import videonas
assert "videonas.layers" not in sys.modules
try:
    keras.saving.load_model(sys.argv[1])
except Exception as error:  # what a user without videonas.load_model sees
    print("PLAIN", type(error).__name__, " ".join(str(error).split()))
else:
    print("PLAIN loaded")
assert "videonas.layers" not in sys.modules
model = videonas.load_model(sys.argv[1])
clip = numpy.zeros((1, 2, 32, 32, 3), "float32")
print("LOADED", model.name, model(clip).shape[-1])
"""


def _tvn_with_context_gating():
    from videonas import models
    from videonas.experiments.tvn_common import at_input
    from videonas.genome import published

    genome = at_input(published.load("TVN-1"), image_size=32)
    model = models.build_model(genome.__class__.from_dict({**genome.to_dict(), "num_frames": 2}), num_classes=5)
    assert any("context_gate" in layer.name for layer in model.layers)  # a custom layer to find
    return model


@pytest.mark.slow
def test_an_exported_keras_file_loads_with_one_call(tmp_path):
    from videonas.deploy import export

    model = _tvn_with_context_gating()
    manifest = export.export_model(model, folder=tmp_path, name="tvn", runtimes=["keras"])
    path = tmp_path / manifest["files"]["keras"]
    done = subprocess.run([sys.executable, "-c", CODE, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.split()[:1] in (["PLAIN"], ["LOADED"])}
    assert lines["LOADED"].split()[1:] == [model.name, "5"]
    # Keras' own error names the class and the module that registers it: import it, or use videonas.load_model.
    plain = lines["PLAIN"]
    missing = re.search(r"Could not locate class '(\w+)'", plain)
    assert missing and hasattr(videonas_layers, missing.group(1)), plain  # the first videonas layer in the file
    assert "'module': 'videonas.layers." in plain and "make sure they are all imported" in plain, plain
