"""The worker's batch logic with the in-memory fakes (``webfaq_stream.testing``): no broker, no model, no disk.

A bug is never mistaken for an outage: a record that trips a bug in the indexer, or whose pairs the
store rejects for good, is isolated and dead-lettered (``internal_error`` with the exception's type),
every other record of the batch is stored once and exactly as a batch without the bad record would
store it, the checkpoint covers the whole batch, and the worker stays healthy and goes on. Transient
failures are still retried, not isolated.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from webfaq_stream.adapters.crawl_files import JSON_HEADERS
from webfaq_stream.domain.model import SourceRef, StoredPair
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.embed.models import StoreModels
from webfaq_stream.errors import StoreRejectedError
from webfaq_stream.ports import PairStore
from webfaq_stream.store import indexer as indexer_module
from webfaq_stream.store.gate import CHECKPOINT_KEY, ReleaseGate
from webfaq_stream.store.stats import STATS_KEY
from webfaq_stream.testing import (
    UNREACHABLE,
    FakeEmbedder,
    FakeTagger,
    FaultInjectingStore,
    InjectedBug,
    MemoryDeadLetters,
    MemoryPairStore,
    align_origin_with_bug,
)
from webfaq_stream.worker.batch import BatchProcessor
from webfaq_stream.worker.health import HealthState

TOPIC = "crawl"
BUG = "poisoned-by-a-bug"
REJECTED = "refused-by-the-store"


def envelope(url: str, pairs: Sequence[tuple[str, str]], seen: str = "2026-11-20T12:00:00Z") -> bytes:
    return json.dumps({"url": url, "warc_date": seen,
                       "faq": [{"question": q, "answer": a} for q, a in pairs]}).encode()


def site_pages(site: int) -> list[bytes]:
    """One site's FAQ in English and German (word-for-word, so the fake embedder aligns them) and a
    page re-crawled a day later (dedup within the batch)."""
    origin = f"https://velo-{site}.example"
    pages = []
    for language, ask in (("eng", "Question"), ("deu", "Frage")):
        pairs = [(f"{ask} {n} about renting bikes at site {site} for a day?",
                  f"Answer {n}: bikes at site {site} are rented for {n + 1} days with a helmet and a lock.")
                 for n in range(3)]
        pages.append(envelope(f"{origin}/{language}/faq", pairs))
    recrawled = (f"Question 0 about renting bikes at site {site} for a day?",
                 f"Answer 0: bikes at site {site} are rented for 1 days with a helmet and a lock.")
    pages.append(envelope(f"{origin}/eng/faq", [recrawled], seen="2026-11-21T12:00:00Z"))
    return pages


def bad_page(marker: str, site: int = 1) -> bytes:
    """A German page of ``site`` whose pairs include one with ``marker`` in the question."""
    return envelope(f"https://velo-{site}.example/deu/hilfe", [
        (f"Frage {marker} about renting bikes at site {site} for a week?",
         f"Answer {marker}: bikes at site {site} are rented for a week with a helmet and a lock."),
        (f"Frage 9 about parking bikes at site {site} overnight?",
         f"Answer 9: bikes at site {site} may be parked overnight in the yard behind the shop.")])


def messages(values: Sequence[bytes], first_offset: int = 0) -> list[RawMessage]:
    return [RawMessage(value, b"key", tuple(JSON_HEADERS), SourceRef(TOPIC, 0, first_offset + offset))
            for offset, value in enumerate(values)]


def batch(*bad: bytes) -> list[RawMessage]:
    """Two sites, a page without FAQs, an undecodable record and the ``bad`` pages among them."""
    values = site_pages(1)[:2] + list(bad) + site_pages(1)[2:] + site_pages(2)
    values += [envelope("https://velo-2.example/eng/about", []), b'{"url": "https://broken.example/", "html": ']
    return messages(values)


def processor_on(store: PairStore) -> BatchProcessor:
    embedder = StoreModels(FakeEmbedder())  # store vectors: question and answer halves
    store.open(embedder.dim)
    return BatchProcessor(pipeline=Pipeline(FakeTagger()), embedder=embedder, store=ReleaseGate(store),
                          dead_letters=MemoryDeadLetters(), health=HealthState(),
                          retry_delay_s=0.01, retry_max_delay_s=0.02)


def contents(store: PairStore) -> dict[str, tuple[dict[str, Any], list[float] | None]]:
    return {pair.id: (pair.payload(), pair.vector) for pair in store.scroll(with_vectors=True)}


def reference(values: Sequence[RawMessage]) -> MemoryPairStore:
    """What an undisturbed processor stores for ``values``."""
    store = MemoryPairStore()
    processor_on(store).process(values)
    return store


def assert_isolated(processor: BatchProcessor, store: PairStore, values: list[RawMessage],
                    bad: Mapping[int, str]) -> None:
    """The messages at ``bad`` (index -> exception type) are dead letters ``internal_error``; the store
    equals an undisturbed run without them; the checkpoint covers the whole batch; the counts add up."""
    sink = processor.dead_letters
    assert isinstance(sink, MemoryDeadLetters)
    internal = [letter for letter in sink.letters if letter.reason == "internal_error"]
    assert [(letter.value, letter.source) for letter in internal] == \
        [(values[i].value, values[i].source) for i in sorted(bad)]
    assert [letter.detail.split(":")[0] for letter in internal] == [bad[i] for i in sorted(bad)]
    assert [letter.reason for letter in sink.letters if letter.reason != "internal_error"] == ["invalid_json"]

    good = [message for i, message in enumerate(values) if i not in bad]
    expected_store = reference(good)
    assert contents(store) == contents(expected_store)  # same pairs, payloads, alignment, vectors
    assert any(payload["aligned"] for payload, _ in contents(store).values())
    assert store.get_meta(CHECKPOINT_KEY)["offsets"] == {f"{TOPIC}:0": len(values)}
    stats, expected_stats = store.get_meta(STATS_KEY), expected_store.get_meta(STATS_KEY)
    assert stats["records"] == len(values) and stats["pairs_kept"] == expected_stats["pairs_kept"]
    assert stats["pages_with_faq"] == expected_stats["pages_with_faq"]
    assert stats["dead_letters"] == {"internal_error": len(bad), "invalid_json": 1}
    assert processor.health is not None and processor.health.report().healthy


def test_a_batch_is_stored_in_one_operation_and_a_replay_writes_nothing() -> None:
    store = MemoryPairStore()
    processor = processor_on(store)
    values = batch()
    first = processor.process(values)
    assert store.upserts == 1 and store.count() == len({pair.id for pair in first.result.pairs}) > 0
    assert store.get_meta(CHECKPOINT_KEY)["offsets"] == {f"{TOPIC}:0": len(values)}
    again = processor.process(values)
    assert again.replayed == len(values) and again.index.points_written == 0
    model = processor.embedder.store
    assert model.calls and max(model.calls) <= model.batch_size


def test_a_bug_in_the_indexer_for_one_record_dead_letters_it_and_stores_the_rest(monkeypatch) -> None:
    monkeypatch.setattr(indexer_module, "align_origin", align_origin_with_bug(BUG))
    store = MemoryPairStore()
    processor = processor_on(store)
    values = batch(bad_page(BUG))
    outcome = processor.process(values)
    assert [letter.reason for letter in outcome.result.dead_letters] == ["invalid_json", "internal_error"]
    monkeypatch.undo()  # the reference run has no bug
    assert_isolated(processor, store, values, {2: InjectedBug.__name__})

    later = processor.process(messages(site_pages(3), first_offset=len(values)))  # the worker goes on
    assert later.batch_seq == 2 and later.index.new > 0
    assert store.get_meta(CHECKPOINT_KEY)["offsets"] == {f"{TOPIC}:0": len(values) + len(site_pages(3))}


def test_a_batch_the_store_rejects_for_good_is_stored_without_the_rejected_record() -> None:
    store = FaultInjectingStore(MemoryPairStore(), reject=lambda pair: REJECTED in pair.question)
    processor = processor_on(store)
    values = batch(bad_page(REJECTED, site=2))
    processor.process(values)
    assert store.rejected >= 2  # the whole batch, then each part that still held the record
    assert_isolated(processor, store, values, {2: StoreRejectedError.__name__})


def test_several_bad_records_of_both_kinds_are_each_isolated(monkeypatch) -> None:
    monkeypatch.setattr(indexer_module, "align_origin", align_origin_with_bug(BUG))
    store = FaultInjectingStore(MemoryPairStore(), reject=lambda pair: REJECTED in pair.question)
    processor = processor_on(store)
    values = batch(bad_page(BUG), bad_page(REJECTED, site=2), bad_page(BUG + "-again", site=2))
    processor.process(values)
    monkeypatch.undo()
    assert_isolated(processor, store, values, {2: "InjectedBug", 3: "StoreRejectedError", 4: "InjectedBug"})


def test_an_outage_is_retried_not_isolated(tmp_path: Path) -> None:
    flag = tmp_path / "store-fault"
    store = FaultInjectingStore(MemoryPairStore(), flag_path=flag)
    processor = processor_on(store)
    values = batch()
    flag.write_text(UNREACHABLE)
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(processor.process(values)))
    thread.start()
    deadline = time.monotonic() + 30
    while store.injected < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert thread.is_alive() and not processor.health.report().healthy
    flag.unlink()
    thread.join(30)
    assert done and [letter.reason for letter in processor.dead_letters.letters] == ["invalid_json"]
    expected_store = reference(values)
    assert contents(store) == contents(expected_store) and processor.health.report().healthy


class MetaRejectingStore(MemoryPairStore):
    """Accepts pairs, refuses every checkpoint: a failure that no record causes."""

    def upsert(self, pairs: Sequence[StoredPair], meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        if meta:
            raise StoreRejectedError("400 Bad Request: meta documents refused")
        super().upsert(pairs, meta)


def test_a_failure_no_record_causes_is_raised_and_nothing_is_committed() -> None:
    store = MetaRejectingStore()
    processor = processor_on(store)
    with pytest.raises(StoreRejectedError):
        processor.process(batch())
    assert store.get_meta(CHECKPOINT_KEY) is None
    assert [letter.reason for letter in processor.dead_letters.letters] == ["invalid_json"]


class RejectingStore(MemoryPairStore):
    """Refuses every write once opened and holding data: the store is broken, not the records."""

    def upsert(self, pairs: Sequence[StoredPair], meta: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        raise StoreRejectedError("403 Forbidden: collection is read-only")


@pytest.mark.parametrize("values", [batch(), messages(site_pages(1)[:1])], ids=["batch", "one record"])
def test_a_store_that_refuses_every_write_dead_letters_nothing(values: list[RawMessage]) -> None:
    processor = processor_on(RejectingStore())
    with pytest.raises(StoreRejectedError):
        processor.process(values)
    assert all(letter.reason != "internal_error" for letter in processor.dead_letters.letters)


def test_the_stop_deadline_abandons_an_isolation_uncommitted(monkeypatch) -> None:
    from webfaq_stream.worker.shutdown import BatchAbandoned, GracefulStop

    store = FaultInjectingStore(MemoryPairStore(), reject=lambda pair: REJECTED in pair.question)
    processor = processor_on(store)
    processor.stop = GracefulStop(grace_s=0.0)
    rejected: Callable[[StoredPair], bool] = store.reject  # type: ignore[assignment]

    def reject_then_stop(pair: StoredPair) -> bool:
        processor.stop.request("test")  # the stop arrives while the first write fails
        return rejected(pair)

    store.reject = reject_then_stop
    with pytest.raises(BatchAbandoned):
        processor.process(batch(bad_page(REJECTED)))
    assert store.get_meta(CHECKPOINT_KEY) is None and store.count() == 0
    assert not [letter for letter in processor.dead_letters.letters if letter.reason == "internal_error"]
