"""Sentence embedding models selected by name, with each model's calibrated thresholds."""
