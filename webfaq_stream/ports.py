"""Interfaces the application needs from the outside world, implemented in ``webfaq_stream.adapters``.

The domain and application depend on these protocols only; the adapters provide the
implementations (qdrant-edge-py embedded, qdrant-client server, Kafka, fastText, the embedding
models) and ``webfaq_stream.testing`` in-memory fakes of each. This module imports nothing but the
domain's value types, so the pure rooms may use it.

Required ports: :class:`PairStore`, :class:`Embedder`, :class:`Tagger`, :class:`DeadLetterSink`.
Optional capabilities are small protocols of their own (:class:`PayloadPageSource`,
:class:`PointInTimeSource`), checked with ``isinstance`` against the protocol, never against a
class: an implementation has one when it defines the method.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from webfaq_stream.domain.model import SourceRef, StoredPair


class PairStore(Protocol):
    """One Qdrant collection of FAQ pairs (docs/architecture.md, "Invariants").

    Contract shared by every adapter:
    - ``open(dim, wide_dim=0)`` creates the collection (vector ``qa`` and, with ``wide_dim``, ``wide``: unit
      vectors, dot = cosine; a point may lack ``wide``) and the payload indexes on
      ``origin`` and ``language`` before any data arrives; re-opening an existing store keeps
      its data. An embedded directory held by another process raises ``StoreLockedError``.
    - Ids are WebFAQ md5 hex ids; the adapter maps them to UUID point ids.
    - Writes are durable when the call returns (``flush`` where the engine needs it).
    - Every failure is raised as a ``StoreError`` that says what to do (``errors``): a
      ``StoreUnavailableError`` (transient: connection refused, timeout, HTTP 5xx, a full disk, I/O,
      a lock) only for what may succeed later; a ``StoreRejectedError`` (permanent) for a request the
      store refuses itself (a malformed point or payload, HTTP 4xx).
    """

    def open(self, dim: int, wide_dim: int = 0) -> None: ...

    def close(self) -> None: ...

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, StoredPair]: ...

    def upsert(self, pairs: Sequence[StoredPair],
               meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Insert or replace whole points; every pair must carry its unit vector.

        ``meta`` documents (key -> value, as ``set_meta``) are written in the same operation.
        """
        ...

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Set the given payload fields of existing points (pair id -> fields), vectors and other fields
        untouched: how a stored pair that changed is written (``store.indexer.pair_write``). The
        adapters send one engine operation per distinct fields (a day's ``last_seen`` for every
        re-seen pair of a batch is one)."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the points ``ids`` (ids not in the store are ignored)."""
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


@runtime_checkable
class PayloadPageSource(Protocol):
    """Optional store capability: every pair's payload, a page (list of dicts) per engine call.

    In ascending id order, ``id`` always set, no vectors, meta documents left out; the dicts belong
    to the caller. The embedded store has it; readers fall back to ``scroll()`` otherwise.
    """

    def scroll_payload_pages(self, batch_size: int = 10_000) -> Iterator[list[dict[str, Any]]]: ...


class StoreView(Protocol):
    """The store as of one moment, for a release: its checkpoint then, and its pairs' payloads.

    A context manager: leaving it ends the view (and whatever the source kept for it).
    """

    checkpoint: dict[str, Any] | None
    #: How long taking the view held the writer (seconds), and how long it waited for a batch.
    paused_s: float
    waited_s: float

    def payload_pages(self, batch_size: int = 10_000) -> Iterator[list[dict[str, Any]]]: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


@runtime_checkable
class PointInTimeSource(Protocol):
    """Optional capability: consistent cuts of a store that is being written (``store.gate.ReleaseGate``)."""

    def cut(self, timeout_s: float | None = None) -> StoreView: ...


class Embedder(Protocol):
    """A sentence embedding model selected by name.

    ``encode`` returns L2-normalised float32 vectors, one row per text, ``dim`` wide; texts are
    encoded ``batch_size`` at a time (callers that feed the model in pieces use the same batches).
    ``near_duplicate_threshold`` and ``alignment_threshold`` are the model's calibrated defaults
    (cosine).
    """

    name: str
    dim: int
    batch_size: int
    near_duplicate_threshold: float
    alignment_threshold: float

    def encode(self, texts: Sequence[str]) -> Any: ...


class TextClassifier(Protocol):
    """A text-classification model (topic, question type): one ``(label, score)`` per text, the
    label from the model's own label names and the score its probability; ``model_id`` names the
    model and its files (labels stored with the same id are not computed again)."""

    model_id: str

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]: ...


class Tagger(Protocol):
    """Language identification of one pair (``domain.langid.LanguageTagger`` with fastText lid.176).

    ``tag`` returns the ISO 639-3 language and its score, or ``(None, score)`` when the language is
    uncertain (the pair is dropped as ``language_uncertain``). ``origin`` is the record's origin (for
    per-origin overrides); ``None``: the URL's.
    """

    def tag(self, question: str, answer: str, url: str, title: str = "", description: str = "",
            origin: str | None = None) -> tuple[str | None, float]: ...


class DeadLetterSink(Protocol):
    """Where records that cannot be processed go: original bytes and key, the reason, the source
    offset and a ``detail`` for people (for ``internal_error``: the exception's type and message)."""

    def send(self, value: bytes, key: bytes | None, reason: str, source: SourceRef | None,
             detail: str = "") -> None: ...

    def flush(self) -> None: ...
