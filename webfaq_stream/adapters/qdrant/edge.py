"""The embedded pair store: one qdrant-edge-py shard in a directory (docs/architecture.md,
"Invariants").

Implements :class:`webfaq_stream.ports.PairStore`. One process owns the directory: ``open``
takes an exclusive ``flock`` on ``<dir>/webfaq-stream.lock`` and raises ``StoreLockedError``
when another process (or another open store) holds it. Re-opening an existing directory
keeps its data; a directory made with other named vectors or sizes (an older single-vector store,
another model) raises ``StoreError`` naming both layouts.

Writes: an ``upsert`` of pairs is one update operation (through the shard's write-ahead log);
``set_payload`` is one operation per distinct set of fields (a day's ``last_seen`` for every
re-seen pair of a batch is one operation). Meta documents (checkpoint, counts, model) are not
points here: they live in ``<dir>/webfaq-meta.json``, replaced whole (write, then rename) after
the batch's pair operations, so the many batches that change no pair append nothing to the WAL
or the segments (two meta points cost ~3.4 KB of WAL per batch). A crash between the pair
operations and the rename leaves the old checkpoint: the batch is replayed and, the store being
idempotent, completed exactly. Meta points of stores written before are still read.

Compaction (:meth:`flush`, :meth:`optimize`; the worker schedules them,
:mod:`webfaq_stream.worker.compaction`). The shard is created and loaded with optimizer settings
that keep it compact as pairs are rewritten: a point updated in a compact (non-appendable)
segment moves to the appendable one, leaving a deleted copy; ``optimize()`` vacuums a segment once
such copies pass :data:`VACUUM_DELETED_THRESHOLD` of it (segments of :data:`VACUUM_MIN_VECTORS`
points or more), turns the appendable segment into a compact one once it holds about
:data:`CONVERT_POINTS` points, and merges small segments, never beyond about
:data:`MAX_SEGMENT_POINTS` points, which bounds each rebuild (and so each stall: qdrant-edge's
``optimize`` holds the interpreter). Points rewritten in place in the appendable segment are not
vacuumed (their space is reused after a flush) but that segment stays small. No HNSW graph is
built (``m=0``): ``search`` is an exact scan, and no rebuild spends minutes on a graph; nothing
else here searches by vector. ``flush()`` persists the segments and truncates the WAL to its open
32 MB segment and one closed one (qdrant-edge's fixed ``WalOptions``).
Every engine failure is raised as the ``StoreError`` that says what to do
(``adapters.qdrant.failures``: transient for outages, permanent for a rejected request).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self
from uuid import UUID

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    HnswIndexConfig,
    KeywordIndexParams,
    MatchValue,
    Point,
    Query,
    QueryRequest,
    ScrollRequest,
    UpdateOperation,
)

from webfaq_stream.adapters.qdrant.failures import engine_failure
from webfaq_stream.adapters.qdrant.opener import (
    INDEXED_FIELDS,
    META_ORIGIN,
    VECTOR_NAME,
    WIDE_VECTOR_NAME,
    check_layout,
    lock_directory,
    meta_point_id,
    pair_from_record,
    payload_groups,
    point_vectors,
    vector_layout,
)
from webfaq_stream.domain.ids import pair_id_from_point, point_id
from webfaq_stream.domain.model import StoredPair
from webfaq_stream.errors import StoreError, StoreLockedError, StoreRejectedError

#: The shard's own description of its vectors (qdrant-edge-py writes it on create).
EDGE_CONFIG_FILE = "edge_config.json"
#: Vacuum a segment once this fraction of its points are deleted or rewritten copies (Qdrant's default).
VACUUM_DELETED_THRESHOLD = 0.2
#: ... if it holds at least this many points (Qdrant's default, 1000, left small stores unvacuumed).
VACUUM_MIN_VECTORS = 100
#: The appendable segment is rebuilt as a compact one once it holds about this many points
#: (Qdrant counts KB of vectors: 10 MB at 512 dimensions, its default).
CONVERT_POINTS = 5_120
#: No segment is built beyond about this many points (48 MB of vectors at 512 dimensions): a bound on
#: each rebuild, whatever the vector width (the payload, not the vector, dominates a narrow store).
#: A scroll's cost grows with the number of segments (every point is looked up in each), and a
#: vacuumed segment keeps four fifths of its points: at 16,384 two vacuumed segments could never
#: merge, and a store that took a million updates held 82 segments where a fresh one held 51 (its
#: release 1.15x as long); at 24,576 they merge (61 segments, 1.05x), with the longest rebuild
#: pause unchanged (bench/RESULTS.md).
MAX_SEGMENT_POINTS = 24_576
#: A bulk scroll reads the payload files into the page cache first if they take at most this share of
#: the available memory (:func:`prefetch_payloads`).
PREFETCH_SHARE = 0.5
#: Points per engine call of a bulk scroll (:meth:`EdgePairStore.scroll_payload_pages`): calls of
#: 20,000 or 50,000 points saved at most 3% of a 1M-pair release and held 50-220 MB more.
SCROLL_CALL_POINTS = 10_000
#: The file of meta documents beside the shard.
META_FILE = "webfaq-meta.json"

PAIRS_ONLY = Filter(must_not=[FieldCondition(key="origin", match=MatchValue(META_ORIGIN))])


def _pair_filter(origin: str | None = None, language: str | None = None) -> Filter:
    must: list[Any] = [FieldCondition(key=name, match=MatchValue(value))
            for name, value in (("origin", origin), ("language", language)) if value is not None]
    return Filter(must=must, must_not=PAIRS_ONLY.must_not) if must else PAIRS_ONLY


def prefetch_payloads(directory: Path, share_of_available: float = PREFETCH_SHARE) -> int:
    """Read the payload files of the store in ``directory`` into the page cache, in file order;
    returns the bytes read (0 when they would take more than ``share_of_available`` of the
    memory the kernel says is available, or it cannot say).

    qdrant-edge maps the payload pages for random access, one 4 KB read per page fault, and a
    scroll in point-id order touches them in no file order: the payload pages of a 1M-pair store
    took 63 s to scroll with the files read this way, and 41 s after one sequential read of them
    (bench/RESULTS.md).
    Nothing is held: the kernel may evict the pages again under pressure.
    """
    files = [path for path in Path(directory).glob("segments/*/payload_storage/*") if path.is_file()]
    allocated = sum(path.stat().st_blocks * 512 for path in files)
    if allocated == 0 or allocated > share_of_available * _available_memory():
        return 0
    buffer = bytearray(4 << 20)
    read = 0
    for path in files:
        try:
            with path.open("rb", buffering=0) as handle:
                while count := handle.readinto(buffer):
                    read += count
        except OSError:  # a file an optimize just replaced: the scroll reads what is there
            continue
    return read


def _available_memory() -> int:
    """``MemAvailable`` of /proc/meminfo in bytes; 0 where there is no such file."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def vector_kb(dim: int, points: int) -> int:
    """KB of ``points`` float32 vectors of ``dim`` dimensions (how Qdrant sizes segments)."""
    return max(1, dim * 4 * points // 1024)


def created_vectors(directory: Path) -> dict[str, int] | None:
    """Named vector -> width of the store in ``directory`` as it was created; ``None`` when there is no
    store (``StoreError`` when its config cannot be read). Reads one small file: no lock, no engine."""
    config = Path(directory) / EDGE_CONFIG_FILE
    try:
        vectors = json.loads(config.read_text(encoding="utf-8"))["vectors"]
        return {str(name): int(params["size"]) for name, params in vectors.items()}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StoreError(f"unreadable store config {config}: {exc}") from None


def created_dims(directory: Path) -> tuple[int, int] | None:
    """The ``qa`` and ``wide`` widths (``wide`` 0: none) the store in ``directory`` was created with."""
    vectors = created_vectors(directory)
    if vectors is None:
        return None
    if VECTOR_NAME not in vectors:
        raise StoreError(f"the store at {directory} has no {VECTOR_NAME!r} vector: {vectors}")
    return vectors[VECTOR_NAME], vectors.get(WIDE_VECTOR_NAME, 0)


class EdgePairStore:
    """A :class:`~webfaq_stream.ports.PairStore` on a qdrant-edge-py shard in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.dim = 0
        self.wide_dim = 0
        self._shard: EdgeShard | None = None
        self._lock: IO[str] | None = None
        self._meta: dict[str, dict[str, Any]] = {}

    # --- lifecycle -------------------------------------------------------------------------
    def open(self, dim: int, wide_dim: int = 0) -> None:
        """Create or load the shard for ``dim``-wide ``qa`` (and ``wide_dim``-wide ``wide``) vectors,
        with the payload indexes."""
        if self._shard is not None:
            return
        self._lock = lock_directory(self.directory)
        layout = vector_layout(dim, wide_dim)
        width = sum(layout.values())  # segments are sized by all their vectors
        config = EdgeConfig(
            vectors={name: EdgeVectorParams(size=size, distance=Distance.Dot) for name, size in layout.items()},
            hnsw_config=HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000),
            optimizers=EdgeOptimizersConfig(deleted_threshold=VACUUM_DELETED_THRESHOLD,
                                            vacuum_min_vector_number=VACUUM_MIN_VECTORS,
                                            indexing_threshold=vector_kb(width, CONVERT_POINTS),
                                            max_segment_size=vector_kb(width, MAX_SEGMENT_POINTS)))
        try:
            self._meta = self._read_meta_file()
            found = created_vectors(self.directory)
            if found is not None:
                check_layout(f"the store at {self.directory}", found, layout)
                self._shard = EdgeShard.load(str(self.directory), config)
            else:
                self._shard = EdgeShard.create(str(self.directory), config)
            schema = self._shard.info().payload_schema
            for name in INDEXED_FIELDS:
                if name not in schema:
                    self._shard.update(UpdateOperation.create_field_index(
                        name, KeywordIndexParams(is_tenant=(name == "origin"))))
        except Exception as exc:
            self._release_lock()
            self._shard = None
            if isinstance(exc, StoreError):
                raise
            if "WouldBlock" in str(exc):
                raise StoreLockedError(f"store directory {self.directory} is held by another process") from exc
            raise engine_failure(f"opening the embedded store at {self.directory}", exc) from exc
        self.dim, self.wide_dim = dim, wide_dim

    def close(self) -> None:
        """Flush and close the shard, then release the directory lock."""
        shard, self._shard = self._shard, None
        try:
            if shard is not None:
                shard.flush()
                shard.close()
        except Exception as exc:
            raise engine_failure("closing the embedded store", exc) from exc
        finally:
            self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def shard(self) -> EdgeShard:
        if self._shard is None:
            raise StoreError("the embedded store is not open")
        return self._shard

    def _call(self, what: str, function: Any, *args: Any) -> Any:
        try:
            return function(*args)
        except Exception as exc:
            raise engine_failure(f"embedded store {what}", exc) from exc

    # --- writes ----------------------------------------------------------------------------
    def upsert(self, pairs: Sequence[StoredPair],
               meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Insert or replace whole points in one update operation, then replace the meta documents."""
        points = [Point(point_id(pair.id), point_vectors(pair, self.dim, self.wide_dim), pair.payload())
                  for pair in pairs]
        if points:
            self._call("upsert", self.shard.update, UpdateOperation.upsert_points(points))
        if meta:
            self._write_meta(meta)

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        """Set payload fields of existing points (id -> fields): one operation per distinct fields."""
        for fields, ids in payload_groups(updates):
            point_ids: list[int | UUID | str] = list(ids)
            self._call("set_payload", self.shard.update, UpdateOperation.set_payload(point_ids, fields))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove the points ``ids`` in one update operation (unknown ids are ignored)."""
        if ids:
            self._call("delete", self.shard.update, UpdateOperation.delete_points([point_id(i) for i in ids]))

    def set_meta(self, key: str, value: Mapping[str, Any]) -> None:
        self._write_meta({key: value})

    def optimize(self) -> bool:
        """Run the shard's optimizers now (vacuum, conversion, merges; blocking); True if segments changed."""
        return bool(self._call("optimize", self.shard.optimize))

    def flush(self) -> None:
        """Persist the segments and truncate the WAL (see the module docstring)."""
        self._call("flush", self.shard.flush)

    def _read_meta_file(self) -> dict[str, dict[str, Any]]:
        path = self.directory / META_FILE
        try:
            documents = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read the store's meta documents {path}: {exc}") from exc
        if not isinstance(documents, dict):
            raise StoreError(f"{path}: expected a JSON object of meta documents")
        return documents

    def _write_meta(self, meta: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the meta file with the documents updated by ``meta`` (write, then rename)."""
        if self._shard is None:
            raise StoreError("the embedded store is not open")
        documents = {**self._meta, **{key: dict(value) for key, value in meta.items()}}
        path = self.directory / META_FILE
        temporary = path.with_name(path.name + ".tmp")
        try:
            temporary.write_text(json.dumps(documents, sort_keys=True), encoding="utf-8")
            os.replace(temporary, path)
        except OSError as exc:
            raise engine_failure(f"writing the store's meta documents {path}", exc) from exc
        except (TypeError, ValueError) as exc:
            raise StoreRejectedError(f"meta documents that are not JSON: {exc}") from exc
        self._meta = documents

    # --- reads -----------------------------------------------------------------------------
    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, StoredPair]:
        if not ids:
            return {}
        records = self._call("retrieve", self.shard.retrieve, [point_id(i) for i in ids], True, with_vectors)
        pairs = (pair_from_record(r.id, r.payload, r.vector if with_vectors else None) for r in records)
        return {pair.id: pair for pair in pairs if pair.origin != META_ORIGIN}

    def get_meta(self, key: str) -> dict[str, Any] | None:
        """The meta document ``key`` (from the meta file; else a meta point of an older store)."""
        if key in self._meta:
            document: dict[str, Any] = json.loads(json.dumps(self._meta[key]))
            return document
        records = self._call("retrieve", self.shard.retrieve, [meta_point_id(key)], True, False)
        return dict(records[0].payload.get("value") or {}) if records else None

    def _scroll(self, flt: Filter | None, batch_size: int, with_vectors: bool) -> Iterator[StoredPair]:
        """Points matching ``flt``; ``None``: every pair (meta points skipped here, not by a filter)."""
        offset = None
        while True:
            request = ScrollRequest(offset=offset, limit=batch_size, filter=flt,
                                    with_payload=True, with_vector=with_vectors)
            records, offset = self._call("scroll", self.shard.scroll, request)
            for record in records:
                payload = record.payload  # converted from Rust on every access: read it once
                if flt is None and payload.get("origin") == META_ORIGIN:
                    continue
                yield pair_from_record(record.id, payload, record.vector if with_vectors else None)
            if offset is None or not records:
                return

    def scroll_payload_pages(self, batch_size: int = 10_000) -> Iterator[list[dict[str, Any]]]:
        """Every pair's payload, in pages of ``batch_size``, in point-id order (= pair-id order).

        For bulk readers (releases) that need no ``StoredPair`` objects: each payload is the dict
        converted from Rust (the caller owns it), with ``id`` set; meta points skipped; no vectors.
        Each engine call reads at least :data:`SCROLL_CALL_POINTS` points, cut into pages of
        ``batch_size``; a record is freed once converted. The payload files are read into the page
        cache first when they fit (:func:`prefetch_payloads`).
        """
        prefetch_payloads(self.directory)
        offset = None
        while True:
            request = ScrollRequest(offset=offset, limit=max(batch_size, SCROLL_CALL_POINTS), with_payload=True,
                                    with_vector=False)
            records, offset = self._call("scroll", self.shard.scroll, request)
            exhausted = offset is None or not records
            records.reverse()  # popped from the end in id order: each record is freed once converted
            page: list[dict[str, Any]] = []
            while records:
                record = records.pop()
                payload = record.payload  # converted from Rust on every access: read it once
                if payload.get("origin") == META_ORIGIN:
                    continue
                if "id" not in payload:
                    payload["id"] = pair_id_from_point(str(record.id))
                page.append(payload)
                if len(page) == batch_size:
                    yield page
                    page = []
            if page:
                yield page
            if exhausted:
                return

    def origin_pairs(self, origin: str, language: str | None = None,
                     with_vectors: bool = True) -> list[StoredPair]:
        return list(self._scroll(_pair_filter(origin, language), 10_000, with_vectors))

    def scroll(self, batch_size: int = 1000, with_vectors: bool = False) -> Iterator[StoredPair]:
        # Unfiltered: a must_not filter makes qdrant-edge's scroll ~5x slower (14k vs 70k points/s).
        return self._scroll(None, batch_size, with_vectors)

    def count(self, language: str | None = None) -> int:
        return int(self._call("count", self.shard.count, CountRequest(exact=True, filter=_pair_filter(
            language=language))))

    def search(self, vector: Sequence[float], limit: int = 10, language: str | None = None,
               origin: str | None = None) -> list[tuple[StoredPair, float]]:
        request = QueryRequest(limit=limit, query=Query.Nearest([float(x) for x in vector], using=VECTOR_NAME),
                               filter=_pair_filter(origin, language), with_payload=True, with_vector=False)
        return [(pair_from_record(p.id, p.payload), float(p.score))
                for p in self._call("query", self.shard.query, request)]
