"""An exported ``.keras`` file loads with one call, ``videonas.load_model``, in a process that never imported the
package's layers."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import sys, numpy, keras
import videonas
assert "videonas.layers" not in sys.modules
model = videonas.load_model(sys.argv[1])
clip = numpy.zeros((1, 2, 32, 32, 3), "float32")
print(model.name, model(clip).shape[-1])
"""


@pytest.mark.slow
def test_an_exported_keras_file_loads_with_one_call(tmp_path):
    from videonas.genome import published
    from videonas.experiments.tvn_common import at_input
    from videonas import models

    genome = at_input(published.load("TVN-1"), image_size=32)
    model = models.build_model(genome.__class__.from_dict({**genome.to_dict(), "num_frames": 2}), num_classes=5)
    assert any("context_gate" in layer.name for layer in model.layers)  # a custom layer to find
    path = tmp_path / "tvn.keras"
    model.save(path)
    done = subprocess.run([sys.executable, "-c", CODE, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == [model.name, "5"]
