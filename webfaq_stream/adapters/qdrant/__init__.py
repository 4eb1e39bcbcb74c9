"""Qdrant: the pair store embedded (qdrant-edge-py) or on a server (qdrant-client), and the factory."""

from webfaq_stream import lazy_exports

_EXPORTS = {"open_pair_store": "opener", "EdgePairStore": "edge", "ServerPairStore": "server"}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
