"""In-memory fakes of the ports, and fault injection, for unit tests of logic (no broker, no model, no disk).

No production module imports this one (``tests/test_layout.py`` checks it); end-to-end tests keep
the real parts and use only :class:`FaultInjectingStore` (around a real store) from here.

- :class:`MemoryPairStore`: ``ports.PairStore`` in a dict, faithful where the indexer, the release
  gate and the worker's batch logic look: one point per id, whole-point upserts with their meta
  documents in one step (all or nothing), ``set_payload`` merging fields into stored points (a point
  not in the store is refused, as qdrant-edge refuses it), vectors checked as the adapters check them (``dim`` wide,
  unit length: ``StoreRejectedError``), id-ordered scrolls, copies in and out (a caller never
  aliases stored data), meta documents apart from the pairs.
- :class:`MemoryDeadLetters`: ``ports.DeadLetterSink`` keeping every :class:`SentLetter`.
- :class:`FakeTagger`: ``ports.Tagger`` that reads the language from the URL (``/deu/...``).
- :class:`FakeEmbedder`: ``ports.Embedder`` of hashed bag-of-words unit vectors: deterministic, each
  text's vector independent of its batch, texts sharing words close.
- :class:`RecordingClassifier`: ``ports.TextClassifier`` whose label depends on the text's length;
  it keeps every call's texts.
- :class:`FaultInjectingStore`: wraps any ``ports.PairStore`` and fails like a real store would:
  while ``flag_path`` exists (transient ``StoreUnavailableError``: ``disk_full`` or an empty file
  fails writes, ``unreachable`` fails everything), and, with ``reject``, refuses for good every
  ``upsert`` holding a pair that ``reject`` picks (``StoreRejectedError``, as for a bad payload).
  Failed calls leave the wrapped store untouched. ``flush`` and ``optimize`` (the embedded store's
  compaction) fail like writes.
- :func:`align_origin_with_bug`: ``domain.align.align_origin`` with a bug for the pairs whose
  question holds a marker (raises :class:`InjectedBug`, which is no ``WebFAQError``): patched into
  ``webfaq_stream.store.indexer`` it is a bug in the indexer that one record trips.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from webfaq_stream.adapters.qdrant.opener import VECTOR_NAME, WIDE_VECTOR_NAME, point_vectors
from webfaq_stream.domain.align import AlignItem, align_origin
from webfaq_stream.domain.model import SourceRef, StoredPair
from webfaq_stream.domain.pipeline import RawMessage
from webfaq_stream.errors import StoreError, StoreRejectedError, StoreUnavailableError
from webfaq_stream.ports import PairStore

UNREACHABLE = "unreachable"
DISK_FULL = "disk_full"


class MemoryPairStore:
    """A ``ports.PairStore`` in memory (see the module docstring)."""

    def __init__(self) -> None:
        self.dim = 0
        self.wide_dim = 0
        self.is_open = False
        self._pairs: dict[str, StoredPair] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        #: Number of ``upsert`` and ``set_payload`` calls that wrote something (tests count store operations).
        self.upserts = 0
        self.payload_updates = 0

    # --- lifecycle -------------------------------------------------------------------------
    def open(self, dim: int, wide_dim: int = 0) -> None:
        if self.is_open:
            return
        if self._pairs and (dim, wide_dim) != (self.dim, self.wide_dim):
            raise StoreRejectedError(f"the store holds {self.dim}/{self.wide_dim}-dim vectors, not {dim}/{wide_dim}")
        self.dim, self.wide_dim, self.is_open = dim, wide_dim, True

    def close(self) -> None:
        self.is_open = False

    def _require_open(self) -> None:
        if not self.is_open:
            raise StoreError("the memory store is not open")

    # --- writes ----------------------------------------------------------------------------
    def upsert(self, pairs: Sequence[StoredPair],
               meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._require_open()
        checked = [point_vectors(pair, self.dim, self.wide_dim) for pair in pairs]  # all before any write
        points = {pair.id: replace(pair, aligned=copy.deepcopy(pair.aligned), vector=vectors[VECTOR_NAME],
                                   wide_vector=vectors.get(WIDE_VECTOR_NAME))
                  for pair, vectors in zip(pairs, checked)}
        documents = {key: copy.deepcopy(dict(value)) for key, value in (meta or {}).items()}
        if not points and not documents:
            return
        self._pairs.update(points)
        self._meta.update(documents)
        self.upserts += 1

    def set_meta(self, key: str, value: Mapping[str, Any]) -> None:
        self.upsert([], meta={key: value})

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        self._require_open()
        missing = sorted(set(updates) - set(self._pairs))
        if missing:
            raise StoreRejectedError(f"set_payload of points not in the store: {missing[:3]}")
        for pair_id, fields in updates.items():
            pair = self._pairs[pair_id]
            merged = StoredPair.from_payload({**pair.payload(), **copy.deepcopy(dict(fields))},
                                             vector=pair.vector, wide_vector=pair.wide_vector)
            self._pairs[pair_id] = merged
        if updates:
            self.payload_updates += 1

    def delete(self, ids: Sequence[str]) -> None:
        self._require_open()
        for pair_id in ids:
            self._pairs.pop(pair_id, None)

    # --- reads -----------------------------------------------------------------------------
    def _out(self, pair: StoredPair, with_vectors: bool) -> StoredPair:
        return replace(pair, aligned=copy.deepcopy(pair.aligned),
                       vector=list(pair.vector) if with_vectors and pair.vector is not None else None,
                       wide_vector=list(pair.wide_vector) if with_vectors and pair.wide_vector is not None else None)

    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, StoredPair]:
        self._require_open()
        return {i: self._out(self._pairs[i], with_vectors) for i in ids if i in self._pairs}

    def get_meta(self, key: str) -> dict[str, Any] | None:
        self._require_open()
        document = self._meta.get(key)
        return copy.deepcopy(document) if document is not None else None

    def origin_pairs(self, origin: str, language: str | None = None,
                     with_vectors: bool = True) -> list[StoredPair]:
        self._require_open()
        return [self._out(self._pairs[i], with_vectors) for i in sorted(self._pairs)
                if self._pairs[i].origin == origin and (language is None or self._pairs[i].language == language)]

    def scroll(self, batch_size: int = 1000, with_vectors: bool = False) -> Iterator[StoredPair]:
        self._require_open()
        for pair_id in sorted(self._pairs):
            yield self._out(self._pairs[pair_id], with_vectors)

    def count(self, language: str | None = None) -> int:
        self._require_open()
        return sum(1 for pair in self._pairs.values() if language is None or pair.language == language)

    def search(self, vector: Sequence[float], limit: int = 10, language: str | None = None,
               origin: str | None = None) -> list[tuple[StoredPair, float]]:
        self._require_open()
        query = np.asarray(vector, dtype=np.float64)
        scored = [(float(np.dot(query, np.asarray(pair.vector))), pair_id)
                  for pair_id, pair in self._pairs.items()
                  if (language is None or pair.language == language) and (origin is None or pair.origin == origin)]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [(self._out(self._pairs[pair_id], False), score) for score, pair_id in scored[:limit]]


@dataclass(frozen=True)
class SentLetter:
    """One dead letter as :class:`MemoryDeadLetters` received it."""

    value: bytes
    key: bytes | None
    reason: str
    source: SourceRef | None
    detail: str


class MemoryDeadLetters:
    """A ``ports.DeadLetterSink`` that keeps what it is sent (``letters``) and counts flushes."""

    def __init__(self) -> None:
        self.letters: list[SentLetter] = []
        self.flushes = 0

    def send(self, value: bytes, key: bytes | None, reason: str, source: SourceRef | None,
             detail: str = "") -> None:
        self.letters.append(SentLetter(value, key, reason, source, detail))

    def flush(self) -> None:
        self.flushes += 1


_LANGUAGE_SEGMENT = re.compile(r"[a-z]{3}")


class FakeTagger:
    """A ``ports.Tagger``: the URL's first path segment when it is an ISO 639-3 code (``/deu/faq``:
    ``deu``), else ``default``; always with ``score``."""

    def __init__(self, default: str = "eng", score: float = 0.99) -> None:
        self.default = default
        self.score = score

    def tag(self, question: str, answer: str, url: str, title: str = "", description: str = "",
            origin: str | None = None) -> tuple[str | None, float]:
        segment = urlsplit(url).path.strip("/").split("/")[0]
        return (segment if _LANGUAGE_SEGMENT.fullmatch(segment) else self.default), self.score


_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """A ``ports.Embedder`` of hashed bag-of-words vectors (see the module docstring).

    A text's vector is the normalised sum of one pseudo-random unit vector per distinct lower-cased
    word, seeded by the word's md5: texts that share most words have a high cosine.
    """

    def __init__(self, name: str = "fake-hashed-words", dim: int = 32, batch_size: int = 4,
                 near_duplicate_threshold: float = 0.95, alignment_threshold: float = 0.5) -> None:
        self.name = name
        self.dim = dim
        self.batch_size = batch_size
        self.near_duplicate_threshold = near_duplicate_threshold
        self.alignment_threshold = alignment_threshold
        #: Texts per ``encode`` call, in order (tests check the batching).
        self.calls: list[int] = []

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.md5(word.encode("utf-8")).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dim)
        return vector / np.linalg.norm(vector)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = sorted(set(_WORD.findall(text.lower()))) or [""]
            total = np.sum([self._word(word) for word in words], axis=0)
            out[row] = total / np.linalg.norm(total)
        return out


class FaultInjectingStore:
    """A ``ports.PairStore`` around ``inner`` that fails on demand (see the module docstring)."""

    def __init__(self, inner: PairStore, flag_path: Path | None = None,
                 reject: Callable[[StoredPair], bool] | None = None) -> None:
        self.inner = inner
        self.flag_path = Path(flag_path) if flag_path is not None else None
        self.reject = reject
        #: Calls failed by the flag file (transient) and upserts rejected for good.
        self.injected = 0
        self.rejected = 0

    def _fault(self) -> str | None:
        if self.flag_path is None:
            return None
        try:
            text = self.flag_path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError:
            text = ""
        return UNREACHABLE if text == UNREACHABLE else DISK_FULL

    def _check(self, write: bool, what: str) -> None:
        fault = self._fault()
        if fault == UNREACHABLE or (fault == DISK_FULL and write):
            self.injected += 1
            detail = "No space left on device (os error 28)" if fault == DISK_FULL else "connection refused"
            raise StoreUnavailableError(f"injected fault ({fault}) in {what}: {detail}")

    # --- lifecycle (never faulted: a worker must be able to start and stop) ----------------
    def open(self, dim: int, wide_dim: int = 0) -> None:
        self.inner.open(dim, wide_dim)

    def close(self) -> None:
        self.inner.close()

    # --- writes ------------------------------------------------------------------------------
    def upsert(self, pairs: Sequence[StoredPair], meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._check(True, "upsert")
        refused = [pair.id for pair in pairs if self.reject is not None and self.reject(pair)]
        if refused:
            self.rejected += 1
            raise StoreRejectedError(f"injected rejection: upsert of {len(pairs)} points refused "
                                     f"(400 Bad Request: bad payload of point {refused[0]})")
        self.inner.upsert(pairs, meta=meta)

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        self._check(True, "set_payload")
        self.inner.set_payload(updates)

    def delete(self, ids: Sequence[str]) -> None:
        self._check(True, "delete")
        self.inner.delete(ids)

    def flush(self) -> None:
        """The embedded store's flush (compaction), failing like a write."""
        self._check(True, "flush")
        self.inner.flush()  # type: ignore[attr-defined]

    def optimize(self) -> bool:
        """The embedded store's optimize (compaction), failing like a write."""
        self._check(True, "optimize")
        return bool(self.inner.optimize())  # type: ignore[attr-defined]

    def set_meta(self, key: str, value: Mapping[str, Any]) -> None:
        self._check(True, "set_meta")
        self.inner.set_meta(key, value)

    # --- reads -------------------------------------------------------------------------------
    def get(self, ids: Sequence[str], with_vectors: bool = False) -> dict[str, StoredPair]:
        self._check(False, "retrieve")
        return self.inner.get(ids, with_vectors=with_vectors)

    def get_meta(self, key: str) -> dict[str, Any] | None:
        self._check(False, "retrieve")
        return self.inner.get_meta(key)

    def origin_pairs(self, origin: str, language: str | None = None,
                     with_vectors: bool = True) -> list[StoredPair]:
        self._check(False, "scroll")
        return self.inner.origin_pairs(origin, language, with_vectors)

    def scroll(self, batch_size: int = 1000, with_vectors: bool = False) -> Iterator[StoredPair]:
        self._check(False, "scroll")
        return self.inner.scroll(batch_size, with_vectors)

    def count(self, language: str | None = None) -> int:
        self._check(False, "count")
        return self.inner.count(language)

    def search(self, vector: Sequence[float], limit: int = 10, language: str | None = None,
               origin: str | None = None) -> list[tuple[StoredPair, float]]:
        self._check(False, "query")
        return self.inner.search(vector, limit, language, origin)


class InjectedBug(RuntimeError):
    """Raised by an injected bug; deliberately no ``WebFAQError`` (a real bug would not be one)."""


def align_origin_with_bug(marker: str) -> Callable[..., dict[str, dict[str, dict[str, Any]]]]:
    """``domain.align.align_origin`` that raises :class:`InjectedBug` when an item's question holds
    ``marker`` (a bug that one record trips), and otherwise gives what ``align_origin`` gives."""

    def buggy(items: Iterable[AlignItem], *args: Any, **kwargs: Any) -> dict[str, dict[str, dict[str, Any]]]:
        items = list(items)
        tripped = [item.id for item in items if marker in item.question]
        if tripped:
            raise InjectedBug(f"injected bug: alignment of pair {tripped[0]} divides by zero")
        return align_origin(items, *args, **kwargs)

    return buggy


class RecordingClassifier:
    """An in-memory :class:`~webfaq_stream.ports.TextClassifier` for unit tests of the labelling logic:
    the label of a text is ``labels[len(text) % len(labels)]`` with score 0.5, and every call's
    texts are kept in ``calls``."""

    def __init__(self, model_id: str, labels: Sequence[str] = ("a", "b", "c")) -> None:
        self.model_id = model_id
        self.labels = tuple(labels)
        self.calls: list[list[str]] = []

    def classify(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        self.calls.append(list(texts))
        return [(self.labels[len(text) % len(self.labels)], 0.5) for text in texts]


def messages_from(values: Sequence[bytes], topic: str = "test", partition: int = 0) -> list[RawMessage]:
    """Raw messages with consecutive offsets from 0, for tests and benchmarks that have only values."""
    return [RawMessage(value, source=SourceRef(topic, partition, offset))
            for offset, value in enumerate(values)]
