"""Models: sentence embedders selected by name, with each model's calibrated thresholds (``models``),
and transformers text classifiers loaded from where they are installed (``classifiers``)."""
