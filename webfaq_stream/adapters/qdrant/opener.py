"""The pair store factory and what both Qdrant adapters share.

``open_pair_store(url=None, path=..., collection=...)`` returns the embedded qdrant-edge-py
store (``webfaq_stream.adapters.qdrant.edge``); a ``url`` selects qdrant-client
(``webfaq_stream.adapters.qdrant.server``): ``http(s)://...`` for a server or cluster, ``":memory:"`` or
``"local:<dir>"`` for qdrant-client's local mode (tests). The caller then calls
``store.open(dim, wide_dim)``.

Shared layout of the collection: the named vector ``qa`` (every pair: the store vector of question
and answer) and, when an alignment model is configured (``wide_dim > 0``), the named vector ``wide``
(only the pairs that need it carry one: Qdrant points may lack a named vector), unit vectors compared
by dot product,
which is their cosine: unlike Qdrant's ``Cosine`` distance (which qdrant-client's local mode
re-normalises in its own way) it keeps the vectors bit for bit, so similarities recomputed from
stored vectors are reproducible on every backend; ``upsert`` refuses vectors that are not unit
length. Payload as
:meth:`StoredPair.payload`; payload indexes on ``origin`` and ``language``. Meta documents
(checkpoints, release bookkeeping) on a server are points of the same collection whose ``origin``
is :data:`META_ORIGIN` (a value no URL yields), a zero vector and payload ``{"meta_key", "value"}``,
so they can be written in the same request as pairs and pair queries exclude them; the embedded
store keeps them in a file beside its shard (``edge.META_FILE``) and still reads such points.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from webfaq_stream.domain.ids import pair_id_from_point, point_id
from webfaq_stream.domain.model import StoredPair
from webfaq_stream.errors import StoreLockedError, StoreRejectedError
from webfaq_stream.ports import PairStore

VECTOR_NAME = "qa"
WIDE_VECTOR_NAME = "wide"
META_ORIGIN = "webfaq-stream:meta"
INDEXED_FIELDS = ("origin", "language")
LOCK_FILE = "webfaq-stream.lock"
UNIT_NORM_TOLERANCE = 1e-3


def meta_point_id(key: str) -> str:
    """The point id (UUID) of the meta document ``key``."""
    return point_id(hashlib.md5(f"webfaq-stream:meta:{key}".encode()).hexdigest())


def meta_payload(key: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of the meta document ``key``."""
    return {"origin": META_ORIGIN, "language": META_ORIGIN, "meta_key": key, "value": dict(value)}


def payload_groups(updates: Mapping[str, Mapping[str, Any]]) -> list[tuple[dict[str, Any], list[str]]]:
    """Field updates (pair id -> fields) as ``(fields, point ids)``: one group per distinct fields,
    so that one set-payload operation serves every pair that gets the same values (a day's
    ``last_seen``)."""
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for pair_id_hex, fields in updates.items():
        key = json.dumps(fields, sort_keys=True, default=str)
        groups.setdefault(key, (dict(fields), []))[1].append(point_id(pair_id_hex))
    return list(groups.values())


def vector_layout(dim: int, wide_dim: int) -> dict[str, int]:
    """Named vector -> size of a collection opened with ``open(dim, wide_dim)``."""
    return {VECTOR_NAME: dim, **({WIDE_VECTOR_NAME: wide_dim} if wide_dim else {})}


def check_layout(where: str, found: Mapping[str, int], wanted: Mapping[str, int]) -> None:
    """``StoreRejectedError`` naming both layouts when an existing store was made with other vectors
    (an older single-vector store, another model): mixing them would silently break similarities."""
    if dict(found) != dict(wanted):
        raise StoreRejectedError(
            f"{where} was made with the vectors {dict(sorted(found.items()))}, this configuration needs "
            f"{dict(sorted(wanted.items()))} (an older single-vector store or another embedding or "
            f"alignment model): ingest into a new WEBFAQ_STORE_DIR or WEBFAQ_COLLECTION")


def point_vectors(pair: StoredPair, dim: int, wide_dim: int) -> dict[str, Any]:
    """The named vectors of a pair's point: ``qa`` always, ``wide`` when the pair has one."""
    vectors: dict[str, Any] = {VECTOR_NAME: require_vector(pair.id, pair.vector, dim)}
    if pair.wide_vector is not None:
        if not wide_dim:
            raise StoreRejectedError(f"pair {pair.id} has a wide vector but the store has no alignment model")
        vectors[WIDE_VECTOR_NAME] = require_vector(pair.id, pair.wide_vector, wide_dim)
    return vectors


def pair_from_record(point: Any, payload: Mapping[str, Any] | None,
                     vector: Any = None) -> StoredPair:
    """A :class:`StoredPair` from a point's id, payload and named vectors.

    The pair id is the payload's ``id``; only a payload without one has it derived from the point id.
    """
    payload = payload or {}
    if "id" not in payload:
        payload = {**payload, "id": pair_id_from_point(str(point))}
    wide = None
    if isinstance(vector, Mapping):
        vector, wide = vector.get(VECTOR_NAME), vector.get(WIDE_VECTOR_NAME)
    return StoredPair.from_payload(payload, vector=list(vector) if vector is not None else None,
                                   wide_vector=list(wide) if wide is not None else None)


def require_vector(pair_id: str, vector: Sequence[float] | None, dim: int) -> list[float]:
    """A pair's vector as a list, checked to be ``dim`` wide and unit length (``StoreRejectedError``:
    a malformed point, refused before it reaches the engine)."""
    if vector is None or len(vector) != dim:
        raise StoreRejectedError(f"pair {pair_id} needs a {dim}-dim vector, got "
                         f"{None if vector is None else len(vector)}")
    try:
        values = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StoreRejectedError(f"pair {pair_id}: the vector is not numbers ({exc})") from None
    if values.shape != (dim,):
        raise StoreRejectedError(f"pair {pair_id} needs a {dim}-dim vector of numbers, got shape {values.shape}")
    norm = float(np.sqrt(np.dot(values, values)))
    if not abs(norm - 1.0) <= UNIT_NORM_TOLERANCE:
        raise StoreRejectedError(f"pair {pair_id}: vector norm {norm:.6f} is not 1 (normalise it first)")
    return values.tolist()


def lock_directory(directory: Path) -> IO[str]:
    """Hold an exclusive ``flock`` on ``directory``'s lock file; ``StoreLockedError`` if held."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_FILE, "a+")  # noqa: SIM115 - held open while the store is
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreLockedError(f"store directory {directory} is held by another process") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def open_pair_store(*, url: str | None, api_key: str | None, path: Path, collection: str) -> PairStore:
    """The store for this configuration (not yet opened: call ``open(dim)``)."""
    if url is None or not url.strip():
        from webfaq_stream.adapters.qdrant.edge import EdgePairStore

        return EdgePairStore(Path(path) / collection)
    from webfaq_stream.adapters.qdrant.server import ServerPairStore

    url = url.strip()
    if url == ":memory:":
        return ServerPairStore(collection=collection, location=":memory:")
    if url.startswith("local:"):
        return ServerPairStore(collection=collection, local_path=Path(url[len("local:"):] or path))
    return ServerPairStore(collection=collection, url=url, api_key=api_key)
