"""videonas: video neural architecture search (EvaNet, AssembleNet, Tiny Video Networks) with one evolution loop.

Importing the package is cheap: Keras and the video libraries load only in the modules that need them, so the search
driver and the trial store stay light.
"""

import os

__version__ = "0.1.0"

# TensorFlow turns its oneDNN kernels on only on CPUs with AVX-512 features; elsewhere (this project's AMD EPYC) its
# own Conv3D gradient takes 2.9 s a step for a strided (1, 7, 7) conv over 3 channels, against 0.03 s with oneDNN
# (measured 2026-12-07, tensorflow-cpu 2.21), and a smoke EvaNet candidate's epoch 90 s. Set before TensorFlow loads
# (any videonas import comes first in the package's processes; the Makefile exports it too); a user's value is kept.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def load_model(path):
    """A ``.keras`` file written by ``videonas export`` (or any model of this package), with its custom layers
    (context gating, (2+1)D convolutions, iTGM, ...) registered first: ``keras.saving.load_model`` alone cannot find
    them unless ``videonas.layers`` was imported."""
    import keras  # deferred: importing videonas stays cheap

    from videonas import layers  # noqa: F401 - registers the custom layers for deserialization

    return keras.saving.load_model(path)
