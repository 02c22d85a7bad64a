"""Weights trained on one Keras backend load on the other: the EvaNet and AssembleNet notebooks train on torch
workers and score the saved members in a TensorFlow kernel (``ensemble_runs.member_logits``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each family's genome and build options (the default profiles' inputs, tiny widths), shared by both processes.
CODE = """
import json, sys
import numpy, keras
from videonas import families, models
CASES = {
    "evanet": ({"max_branches": 3, "max_repeats": 2, "temporal_sizes": [1, 3, 5, 7]}, 5,
               {"num_frames": 8, "image_size": 32, "width_multiplier": 0.0625}),
    "assemblenet": ({"nodes_per_level": [2, 2, 1, 1], "filters_per_level": [[8, 16], [16, 32], [32], [32, 48]],
                     "dilations": [1, 2, 4]}, 2, {"num_frames": 8, "image_size": 32}),
}


def case(name):
    options, draw, build = CASES[name]
    space = families.get(name).space(**options)
    rng = numpy.random.default_rng(draw)
    genome = space.sample(rng)
    keras.utils.set_random_seed(0)
    model = models.build_model(genome, num_classes=13, **build)
    inputs = {tensor.name: numpy.random.default_rng(7).normal(size=(2, *tensor.shape[1:])).astype("float32")
              for tensor in model.inputs}
    return model, inputs


def logits(model, inputs):
    given = next(iter(inputs.values())) if len(inputs) == 1 else inputs
    return numpy.asarray(keras.ops.convert_to_numpy(model(given, training=False))).tolist()
"""

SAVE = CODE + """
folder = sys.argv[1]
out = {"backend": keras.backend.backend()}
for name in CASES:
    model, inputs = case(name)
    model.save_weights(f"{folder}/{name}.weights.h5")
    out[name] = logits(model, inputs)
print(json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.other_backend
def test_weights_saved_on_torch_give_the_same_logits_on_tensorflow(tmp_path):
    environment = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(ROOT)}
    saved = subprocess.run([sys.executable, "-c", SAVE, str(tmp_path)], env=environment, capture_output=True,
                           text=True, timeout=300)
    assert saved.returncode == 0, saved.stderr[-2000:]
    on_torch = json.loads(saved.stdout.strip().splitlines()[-1])
    assert on_torch["backend"] == "torch"
    namespace: dict = {}
    exec(CODE, namespace)  # the same genomes and inputs, built here on TensorFlow with other initial weights
    import keras

    assert keras.backend.backend() == "tensorflow"
    for name in ("evanet", "assemblenet"):
        model, inputs = namespace["case"](name)
        fresh = numpy.array(namespace["logits"](model, inputs))
        model.load_weights(str(tmp_path / f"{name}.weights.h5"))
        loaded = numpy.array(namespace["logits"](model, inputs))
        assert not numpy.allclose(fresh, on_torch[name], atol=1e-3)  # the weights did change the logits
        numpy.testing.assert_allclose(loaded, on_torch[name], rtol=1e-4, atol=1e-4, err_msg=name)
