"""Qdrant: the embedded qdrant-edge-py store, the qdrant-client server store, and the store opener."""
