"""Retrieval splits and hard-negative mining over a release."""

from webfaq_stream import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("mine_release", "NegativesResult"), "release"),
    **dict.fromkeys(("MiningParams", "MiningStats", "mine_language"), "mining"),
    **dict.fromkeys(("load_scorer", "Scorer"), "scorers"),
    **dict.fromkeys(("split_by_origin", "RetrievalPair", "RetrievalSplit"), "splits"),
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
