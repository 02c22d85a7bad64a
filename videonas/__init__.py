"""videonas: video neural architecture search (EvaNet, AssembleNet, Tiny Video Networks) with one evolution loop.

Importing the package is cheap: Keras and the video libraries load only in the modules that need them, so the search
driver and the trial store stay light.
"""

__version__ = "0.1.0"


def load_model(path):
    """A ``.keras`` file written by ``videonas export`` (or any model of this package), with its custom layers
    (context gating, (2+1)D convolutions, iTGM, ...) registered first: ``keras.saving.load_model`` alone cannot find
    them unless ``videonas.layers`` was imported."""
    import keras  # deferred: importing videonas stays cheap

    from videonas import layers  # noqa: F401 - registers the custom layers for deserialization

    return keras.saving.load_model(path)
