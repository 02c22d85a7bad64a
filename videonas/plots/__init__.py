"""Architecture drawings and result plots (matplotlib), one module per subject: ``videonas.plots.tvn``,
``videonas.plots.curves``. Importing a module does not import Keras, so reports can draw from stored trials alone."""
