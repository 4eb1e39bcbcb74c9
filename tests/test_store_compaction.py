"""The daemon's compaction of the embedded store: its schedule, and what it does to a real qdrant-edge shard.

- schedule: flush and optimize only after writes, each at most once per its interval; a failing
  flush is retried after the next batch;
- rewrites of the same pairs for a long time: with the daemon's flushes the segments and the WAL stay
  bounded (without them both grow with every rewrite: the control);
- pairs rewritten out of a compact (non-appendable) segment are vacuumed by ``optimize()`` with the
  store's settings once they pass the threshold, and not before (the segments of an older store,
  built with an HNSW graph, are rebuilt without one by its first ``optimize()``);
- the worker's schedule on a store that takes many new and rewritten pairs keeps it compact: its
  size and scroll time after rewriting every pair stay near a fresh store's.
"""

from __future__ import annotations

import math
import random
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from qdrant_edge import (
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeVectorParams,
    Point,
    UpdateOperation,
)

from webfaq_stream.adapters.qdrant.edge import EdgePairStore
from webfaq_stream.adapters.qdrant.opener import VECTOR_NAME
from webfaq_stream.domain.ids import pair_id, point_id
from webfaq_stream.domain.model import StoredPair
from webfaq_stream.errors import StoreError
from webfaq_stream.store.indexer import IndexStats
from webfaq_stream.testing import FaultInjectingStore
from webfaq_stream.worker.compaction import StoreCompaction

DIM = 8
WIDE = 512  # the default model's width
MB = 1024 * 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(EdgePairStore):
    """The real store, counting the compaction calls it gets."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.flushes = self.optimizes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()

    def optimize(self) -> bool:
        self.optimizes += 1
        return super().optimize()


def pairs(count: int, answer_bytes: int = 200) -> list[StoredPair]:
    rng = random.Random(count)
    out = []
    for n in range(count):
        raw = [rng.random() + 0.01 for _ in range(DIM)]
        norm = math.sqrt(sum(x * x for x in raw))
        question, answer = f"Question {n}?", f"Answer {n} " + "x" * answer_bytes
        out.append(StoredPair(id=pair_id(question, answer), origin="https://a.example", url="https://a.example/f",
                              language="eng", language_score=0.9, question=question, answer=answer, title="",
                              description="", first_seen="2026-01-01T00:00:00Z", last_seen="2026-01-01T00:00:00Z",
                              vector=[x / norm for x in raw]))
    return out


def disk_bytes(directory: Path) -> int:
    return sum(path.stat().st_blocks * 512 for path in directory.rglob("*") if path.is_file())


@pytest.fixture()
def store(tmp_path: Path):
    opened = CountingStore(tmp_path / "store")
    opened.open(DIM)
    yield opened
    opened.close()


def test_flush_and_optimize_follow_writes_at_most_once_per_interval(store) -> None:
    store.upsert(pairs(10))
    clock = Clock()
    compaction = StoreCompaction(store, flush_interval_s=10, optimize_interval_s=5, clock=clock)
    report = compaction.after_batch(IndexStats(new=10, points_written=10))
    assert (report.flush_s, report.optimize_s) == (None, None)  # neither due yet
    clock.now += 6
    report = compaction.after_batch(IndexStats())  # the earlier writes are still unoptimized
    assert report.flush_s is None and report.optimize_s is not None and store.optimizes == 1
    clock.now += 5
    report = compaction.after_batch(IndexStats())
    assert report.flush_s is not None and store.flushes == 1 and report.optimize_s is None  # nothing new
    clock.now += 11
    assert compaction.after_batch(IndexStats()).seconds == 0 and store.flushes == 1  # nothing written since
    report = compaction.after_batch(IndexStats(updated=1, points_written=1))
    assert report.flush_s is not None and report.optimize_s is not None
    assert (store.flushes, store.optimizes) == (2, 2)


def test_a_failing_flush_is_tried_again_after_the_next_batch(tmp_path: Path) -> None:
    inner = EdgePairStore(tmp_path / "store")
    inner.open(DIM)
    flag = tmp_path / "full"
    faulty = FaultInjectingStore(inner, flag)
    clock = Clock()
    compaction = StoreCompaction(faulty, flush_interval_s=1, optimize_interval_s=3600, clock=clock)
    faulty.upsert(pairs(3))
    flag.write_text("disk_full")
    clock.now += 2
    assert compaction.after_batch(IndexStats(new=3, points_written=3)).flush_s is None
    assert faulty.injected == 1
    flag.unlink()
    assert compaction.after_batch(IndexStats()).flush_s is not None
    inner.close()


def rewrite_rounds(store: EdgePairStore, stored: list[StoredPair], rounds: int,
                   compaction: StoreCompaction | None) -> None:
    """Every pair gets a new ``answer`` ``rounds`` times (as re-crawls that change a field would)."""
    for round_ in range(rounds):
        store.set_payload({pair.id: {"answer": f"{round_} {pair.answer}"} for pair in stored})
        if compaction is not None:
            compaction.clock.now += 1
            compaction.after_batch(IndexStats(updated=len(stored), points_written=len(stored)))


def test_the_daemons_flushes_keep_segments_and_wal_bounded_under_rewrites(tmp_path: Path) -> None:
    stored = pairs(64, answer_bytes=4000)
    sizes = {}
    for mode in ("daemon", "no compaction"):
        store = EdgePairStore(tmp_path / mode)
        store.open(DIM)
        store.upsert(stored)
        store.flush()
        start = disk_bytes(store.directory / "segments")
        clock = Clock()
        compaction = StoreCompaction(store, 10, 5, clock=clock) if mode == "daemon" else None
        rewrite_rounds(store, stored, 400, compaction)  # ~100 MB of payload through the WAL
        sizes[mode] = (start, disk_bytes(store.directory / "segments"), disk_bytes(store.directory / "wal"))
        assert store.count() == len(stored)
        store.close()
    start, segments, wal = sizes["daemon"]
    assert segments <= 2 * start + MB, sizes
    assert wal <= 2 * 32 * MB + 4 * MB, sizes  # one open and one retained 32 MB WAL segment
    _, segments_without, wal_without = sizes["no compaction"]
    assert segments_without > 10 * segments and wal_without > 2 * wal, sizes


def unit_vectors(count: int, dim: int) -> np.ndarray:
    rows = np.random.default_rng(count).random((count, dim)) + 0.01
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def wide_pairs(count: int, dim: int = WIDE) -> list[StoredPair]:
    """Pairs with model-sized vectors: 6,000 of them pass the 10 MB at which a segment is compacted."""
    return [replace(pair, vector=vector.tolist()) for pair, vector in zip(pairs(count, 300), unit_vectors(count, dim))]


@pytest.fixture(scope="module")
def compacted_store(tmp_path_factory) -> tuple[Path, list[StoredPair]]:
    """A store of 6,000 wide pairs that its first ``optimize()`` turned into a compact segment."""
    directory = tmp_path_factory.mktemp("compacted") / "store"
    store = EdgePairStore(directory)
    store.open(WIDE)
    stored = wide_pairs(6000)
    store.upsert(stored)
    assert store.optimize() is True and store.optimize() is False
    store.close()
    return directory, stored


@pytest.mark.parametrize(("fraction", "vacuumed"), [(0.1, False), (0.3, True)])
def test_pairs_rewritten_out_of_a_compact_segment_are_vacuumed_past_the_threshold(compacted_store, tmp_path,
                                                                                  fraction, vacuumed) -> None:
    directory = Path(shutil.copytree(compacted_store[0], tmp_path / "store"))
    stored = compacted_store[1]
    store = EdgePairStore(directory)
    store.open(WIDE)
    rewritten = stored[: int(fraction * len(stored))]
    store.set_payload({pair.id: {"last_seen": "2026-01-02T00:00:00Z"} for pair in rewritten})
    assert store.optimize() is vacuumed
    assert store.optimize() is False  # nothing left to do
    assert store.count() == len(stored)
    got = store.get([pair.id for pair in stored])
    assert sum(pair.last_seen == "2026-01-02T00:00:00Z" for pair in got.values()) == len(rewritten)
    store.close()


def test_rewriting_every_pair_through_the_schedule_keeps_the_store_compact(compacted_store, tmp_path) -> None:
    directory = Path(shutil.copytree(compacted_store[0], tmp_path / "store"))
    stored = compacted_store[1]
    store = CountingStore(directory)
    store.open(WIDE)
    fresh = disk_bytes(directory / "segments")
    clock = Clock()
    compaction = StoreCompaction(store, flush_interval_s=10, optimize_interval_s=5, clock=clock)
    order = random.Random(3).sample(stored, len(stored))
    for start in range(0, len(order), 200):  # a re-crawl: every pair's last_seen moves on, in batches
        store.set_payload({pair.id: {"last_seen": "2026-01-02T00:00:00Z"} for pair in order[start:start + 200]})
        clock.now += 2
        compaction.after_batch(IndexStats(updated=200, points_written=200))
    store.flush()
    store.optimize()
    assert store.optimizes > 3 and store.count() == len(stored)
    assert disk_bytes(directory / "segments") <= 1.3 * fresh
    assert {pair.last_seen for pair in store.scroll()} == {"2026-01-02T00:00:00Z"}
    store.close()


def test_an_older_stores_hnsw_segments_are_rebuilt_without_a_graph_once(tmp_path: Path) -> None:
    stored = pairs(2000, answer_bytes=50)
    shard = EdgeShard.create(str(tmp_path / "store"), EdgeConfig(vectors={
        VECTOR_NAME: EdgeVectorParams(size=DIM, distance=Distance.Dot)},
        optimizers=EdgeOptimizersConfig(indexing_threshold=1)))  # 1 KB: these few vectors get a graph
    shard.update(UpdateOperation.upsert_points([
        Point(point_id(pair.id), {VECTOR_NAME: pair.vector}, pair.payload()) for pair in stored]))
    assert shard.optimize() and shard.info().indexed_vectors_count == len(stored)
    shard.close()
    store = EdgePairStore(tmp_path / "store")
    store.open(DIM)
    assert store.optimize() is True and store.optimize() is False
    assert store.count() == len(stored)
    hits = store.search(stored[7].vector, limit=1)  # an exact scan now
    assert hits[0][0].id == stored[7].id
    store.close()


def test_a_closed_store_cannot_be_compacted(tmp_path: Path) -> None:
    store = EdgePairStore(tmp_path / "store")
    with pytest.raises(StoreError):
        store.flush()
    with pytest.raises(StoreError):
        store.optimize()
