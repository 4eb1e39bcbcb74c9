"""Interfaces the application needs from the outside world, implemented in ``webfaq_stream.adapters``.

The domain and application depend on these protocols only; the adapters provide the
implementations (qdrant-edge-py embedded, qdrant-client server, Kafka). Keeping them here
lets the domain stay free of adapter imports.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from webfaq_stream.domain.model import StoredPair


class PairStore(Protocol):
    """One Qdrant collection of FAQ pairs (DESIGN section 5).

    Contract shared by every adapter:
    - ``open(dim)`` creates the collection (vector ``qa``: unit vectors, dot = cosine) and the payload indexes on
      ``origin`` and ``language`` before any data arrives; re-opening an existing store keeps
      its data. An embedded directory held by another process raises ``StoreLockedError``.
    - Ids are WebFAQ md5 hex ids; the adapter maps them to UUID point ids.
    - Writes are durable when the call returns (``flush`` where the engine needs it).
    - Every failure is raised as ``StoreError`` (or a subclass).
    """

    def open(self, dim: int) -> None: ...

    def close(self) -> None: ...

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, StoredPair]: ...

    def upsert(self, pairs: Sequence[StoredPair],
               meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Insert or replace whole points; every pair must carry its vector.

        ``meta`` documents (key -> value, as ``set_meta``) are written in the same operation.
        """
        ...

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Merge the given payload fields into existing points (id -> fields)."""
        ...

    def origin_pairs(self, origin: str, language: str | None = None,
                     with_vectors: bool = True) -> list[StoredPair]: ...

    def scroll(self, batch_size: int = 1000, with_vectors: bool = False) -> Iterator[StoredPair]:
        """Every point, in id order."""
        ...

    def count(self, language: str | None = None) -> int: ...

    def search(self, vector: Sequence[float], limit: int = 10, language: str | None = None,
               origin: str | None = None) -> list[tuple[StoredPair, float]]: ...

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """Small JSON documents kept beside the pairs (checkpoints, release bookkeeping)."""
        ...

    def set_meta(self, key: str, value: Mapping[str, Any]) -> None: ...


class Embedder(Protocol):
    """A sentence embedding model selected by name (DESIGN section 6).

    ``encode`` returns L2-normalised float32 vectors, one row per text, ``dim`` wide.
    ``near_duplicate_threshold`` and ``alignment_threshold`` are the model's calibrated
    defaults (cosine).
    """

    name: str
    dim: int
    near_duplicate_threshold: float
    alignment_threshold: float

    def encode(self, texts: Sequence[str]) -> Any: ...


class DeadLetterSink(Protocol):
    """Where undecodable records go, with the reason and the source offset."""

    def send(self, value: bytes, key: bytes | None, reason: str, source: Any) -> None: ...

    def flush(self) -> None: ...
