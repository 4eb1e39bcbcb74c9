"""The pair store on a Qdrant server or cluster through qdrant-client (docs/architecture.md,
"Invariants").

Implements :class:`webfaq_stream.ports.PairStore` with the same collection layout as the
embedded store (``webfaq_stream.adapters.qdrant.opener``). ``url`` selects a server; ``location=":memory:"`` or
``local_path`` select qdrant-client's local mode, which runs the same client calls (tests).
Several workers may share a server; local mode's directory is held by one client at a time
(``StoreLockedError`` otherwise). Writes use ``wait=True``, so they are applied when a call
returns; an ``upsert`` (pairs and meta documents together) is one request. Every client
failure is raised as the ``StoreError`` that says what to do (:func:`client_failure`).

A collection this adapter creates gets optimizer settings that vacuum (:data:`OPTIMIZERS`): the
server's background optimizers rewrite a segment once a fifth of its points are deleted or
rewritten copies, in segments of 100 points or more, and flush (truncating the WAL) every 5 s.
``set_payload`` sends all its field updates in one request (one operation per distinct fields).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from pydantic import ValidationError
from qdrant_client import QdrantClient, models
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from webfaq_stream.adapters.qdrant.failures import engine_failure
from webfaq_stream.adapters.qdrant.opener import (
    INDEXED_FIELDS,
    META_ORIGIN,
    VECTOR_NAME,
    check_layout,
    meta_payload,
    meta_point_id,
    pair_from_record,
    payload_groups,
    point_vectors,
    vector_layout,
)
from webfaq_stream.domain.ids import point_id
from webfaq_stream.domain.model import StoredPair
from webfaq_stream.errors import StoreError, StoreLockedError, StoreRejectedError, StoreUnavailableError

_NOT_META = [models.FieldCondition(key="origin", match=models.MatchValue(value=META_ORIGIN))]

#: Optimizer settings of a created collection (the server runs its optimizers in the background).
OPTIMIZERS = models.OptimizersConfigDiff(deleted_threshold=0.2, vacuum_min_vector_number=100, flush_interval_sec=5)


def _pair_filter(origin: str | None = None, language: str | None = None) -> models.Filter:
    must = [models.FieldCondition(key=name, match=models.MatchValue(value=value))
            for name, value in (("origin", origin), ("language", language)) if value is not None]
    return models.Filter(must=must or None, must_not=_NOT_META)


#: HTTP statuses that mean "not now" (besides every 5xx): request timeout, too many requests.
TRANSIENT_STATUSES = frozenset({408, 429})


def client_failure(what: str, exc: BaseException) -> StoreError:
    """``exc`` (raised by qdrant-client while doing ``what``) as the store error that says what to do.

    Transient (``StoreUnavailableError``): an HTTP 5xx, 408 or 429 answer, no answer at all (the
    exchange failed: connection refused, timeout) and, in local mode, what the engine rules of
    ``adapters.qdrant.failures`` call transient. Permanent (``StoreRejectedError``): any other
    HTTP 4xx answer (a malformed request or payload), a malformed answer and every other refusal.
    """
    if isinstance(exc, StoreError):
        return exc
    message = f"{what} failed: {exc!r}"
    if isinstance(exc, ResourceExhaustedResponse):
        return StoreUnavailableError(message)
    if isinstance(exc, UnexpectedResponse):
        status = exc.status_code
        if status is None or status >= 500 or status in TRANSIENT_STATUSES:
            return StoreUnavailableError(message)
        return StoreRejectedError(message)
    if isinstance(exc, ResponseHandlingException):  # the exchange failed, or its answer was malformed
        malformed = isinstance(exc.source, ValidationError)
        return StoreRejectedError(message) if malformed else StoreUnavailableError(message)
    return engine_failure(what, exc)


class ServerPairStore:
    """A :class:`~webfaq_stream.ports.PairStore` on one qdrant-client collection."""

    def __init__(self, collection: str, url: str | None = None, api_key: str | None = None,
                 location: str | None = None, local_path: Path | None = None, timeout_s: float = 30.0) -> None:
        self.collection = collection
        self._client_args: dict[str, Any] = (
            {"url": url, "api_key": api_key, "timeout": int(timeout_s)} if url
            else {"path": str(local_path)} if local_path is not None
            else {"location": location or ":memory:"})
        self.dim = 0
        self.wide_dim = 0
        self._client: QdrantClient | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def open(self, dim: int, wide_dim: int = 0) -> None:
        """Connect, create the collection (vectors ``qa`` and, with ``wide_dim``, ``wide``: dot of unit
        vectors) and payload indexes if missing; an existing collection with other vectors raises
        ``StoreError``."""
        if self._client is not None:
            return
        try:
            self._client = QdrantClient(**self._client_args)
        except Exception as exc:
            if "already accessed" in str(exc):
                raise StoreLockedError(f"store {self._client_args} is held by another client: {exc}") from exc
            raise client_failure(f"connecting to Qdrant ({self._where()})", exc) from exc
        try:
            layout = vector_layout(dim, wide_dim)
            if not self._client.collection_exists(self.collection):
                self._client.create_collection(self.collection, vectors_config={
                    name: models.VectorParams(size=size, distance=models.Distance.DOT)
                    for name, size in layout.items()}, optimizers_config=OPTIMIZERS)
            else:
                vectors = self._client.get_collection(self.collection).config.params.vectors
                found = ({str(name): int(params.size) for name, params in vectors.items()}
                         if isinstance(vectors, dict) else {})
                check_layout(f"collection {self.collection!r}", found, layout)
            for name in INDEXED_FIELDS:
                self._client.create_payload_index(self.collection, name,
                                                  models.PayloadSchemaType.KEYWORD, wait=True)
        except Exception as exc:
            self.close()
            raise client_failure(f"opening collection {self.collection!r} ({self._where()})", exc) from exc
        self.dim, self.wide_dim = dim, wide_dim

    def _where(self) -> str:
        return str(self._client_args.get("url") or self._client_args.get("path")
                   or self._client_args.get("location"))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as exc:
                raise client_failure("closing the Qdrant client", exc) from exc

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._client is None:
            raise StoreError("the Qdrant store is not open")
        try:
            return getattr(self._client, method)(self.collection, *args, **kwargs)
        except Exception as exc:
            raise client_failure(f"Qdrant {what} on {self.collection!r}", exc) from exc

    # --- writes ----------------------------------------------------------------------------
    def upsert(self, pairs: Sequence[StoredPair],
               meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Insert or replace whole points, and meta documents, in one request."""
        points = [models.PointStruct(id=point_id(pair.id), vector=point_vectors(pair, self.dim, self.wide_dim),
                                     payload=pair.payload()) for pair in pairs]
        points += [models.PointStruct(id=meta_point_id(key), vector={VECTOR_NAME: [0.0] * self.dim},
                                      payload=meta_payload(key, value)) for key, value in (meta or {}).items()]
        if points:
            self._call("upsert", "upsert", points=points, wait=True)

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Set payload fields of existing points (id -> fields), in one request."""
        operations: list[Any] = [models.SetPayloadOperation(set_payload=models.SetPayload(payload=fields, points=ids))
                                 for fields, ids in payload_groups(updates)]
        if operations:
            self._call("set_payload", "batch_update_points", update_operations=operations, wait=True)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the points ``ids`` in one request (unknown ids are ignored)."""
        if ids:
            self._call("delete", "delete", points_selector=models.PointIdsList(points=[point_id(i) for i in ids]),
                       wait=True)

    def set_meta(self, key: str, value: Mapping[str, Any]) -> None:
        self.upsert([], meta={key: value})

    # --- reads -----------------------------------------------------------------------------
    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, StoredPair]:
        if not ids:
            return {}
        records = self._call("retrieve", "retrieve", ids=[point_id(i) for i in ids], with_payload=True,
                             with_vectors=with_vectors)
        pairs = (pair_from_record(r.id, r.payload, r.vector if with_vectors else None) for r in records)
        return {pair.id: pair for pair in pairs if pair.origin != META_ORIGIN}

    def get_meta(self, key: str) -> dict[str, Any] | None:
        records = self._call("retrieve", "retrieve", ids=[meta_point_id(key)], with_payload=True)
        return dict((records[0].payload or {}).get("value") or {}) if records else None

    def _scroll(self, flt: models.Filter, batch_size: int, with_vectors: bool) -> Iterator[StoredPair]:
        offset = None
        while True:
            records, offset = self._call("scroll", "scroll", scroll_filter=flt, limit=batch_size, offset=offset,
                                         with_payload=True, with_vectors=with_vectors)
            for record in records:
                yield pair_from_record(record.id, record.payload, record.vector if with_vectors else None)
            if offset is None or not records:
                return

    def origin_pairs(self, origin: str, language: str | None = None,
                     with_vectors: bool = True) -> list[StoredPair]:
        return list(self._scroll(_pair_filter(origin, language), 10_000, with_vectors))

    def scroll(self, batch_size: int = 1000, with_vectors: bool = False) -> Iterator[StoredPair]:
        return self._scroll(_pair_filter(), batch_size, with_vectors)

    def count(self, language: str | None = None) -> int:
        return int(self._call("count", "count", count_filter=_pair_filter(language=language), exact=True).count)

    def search(self, vector: Sequence[float], limit: int = 10, language: str | None = None,
               origin: str | None = None) -> list[tuple[StoredPair, float]]:
        response = self._call("query", "query_points", query=[float(x) for x in vector], using=VECTOR_NAME,
                              query_filter=_pair_filter(origin, language), limit=limit, with_payload=True)
        return [(pair_from_record(p.id, p.payload), float(p.score)) for p in response.points]
