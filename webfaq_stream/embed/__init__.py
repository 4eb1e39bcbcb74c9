"""Models: sentence embedders selected by name, with each model's calibrated thresholds (``models``),
and transformers text classifiers loaded from where they are installed (``classifiers``)."""

from webfaq_stream import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("load_embedder", "model_defaults", "ModelDefaults", "MODEL_DEFAULTS"), "models"),
    **dict.fromkeys(("load_text_classifier", "TransformersClassifier"), "classifiers"),
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
