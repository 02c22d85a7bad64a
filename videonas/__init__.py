"""videonas: video neural architecture search (EvaNet, AssembleNet, Tiny Video Networks) with one evolution loop.

Importing the package is cheap: Keras and the video libraries load only in the modules that need them, so the search
driver and the trial store stay light.
"""

__version__ = "0.1.0"
