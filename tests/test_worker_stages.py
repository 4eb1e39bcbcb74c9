"""The worker's overlapped batch stages (``worker.stages``) store what one batch after another stores.

Batches run as the worker runs them (a thread each, stages in turn); the reference is
``BatchProcessor.process`` on the same batches one after the other, on a store of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from test_worker_batch import envelope, messages, site_pages

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import BatchResult, Pipeline, RawMessage
from webfaq_stream.embed.models import StoreModels
from webfaq_stream.store.gate import CHECKPOINT_KEY, ReleaseGate
from webfaq_stream.store.stats import STATS_KEY
from webfaq_stream.testing import FakeEmbedder, FakeTagger, MemoryDeadLetters, MemoryPairStore, messages_from
from webfaq_stream.worker.batch import BatchOutcome, BatchProcessor, EmbeddedBatch
from webfaq_stream.worker.shutdown import BatchAbandoned
from webfaq_stream.worker.stages import BatchStages, InTurn


def processor_on(store: MemoryPairStore) -> BatchProcessor:
    embedder = StoreModels(FakeEmbedder())
    store.open(embedder.dim)
    return BatchProcessor(pipeline=Pipeline(FakeTagger()), embedder=embedder, store=ReleaseGate(store),
                          dead_letters=MemoryDeadLetters(), retry_delay_s=0.01, retry_max_delay_s=0.02)


def stream(sites: int) -> list[RawMessage]:
    """Pages of ``sites`` sites (two languages each, re-crawls), pages without FAQs, garbage."""
    values: list[bytes] = []
    for site in range(sites):
        values += site_pages(site) + [envelope(f"https://velo-{site}.example/about", []), b"not json"]
    return messages(values)


def contents(store: MemoryPairStore) -> dict[str, Any]:
    return {pair.id: (pair.payload(), pair.vector) for pair in store.scroll(with_vectors=True)}


def run_pipelined(stages: BatchStages, batches: Sequence[Sequence[RawMessage]]) -> list[Any]:
    """The batches submitted in order, as ``BatchRunner`` submits them; a batch's outcome or the
    exception it raised."""
    futures = [stages.submit(batch) for batch in batches]
    stages.close()
    return [future.exception() or future.result() for future in futures]


def without_times(meta: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (meta or {}).items() if key != "time"}


def test_overlapped_batches_store_what_one_after_another_stores() -> None:
    values = stream(7)
    batches = [values[i:i + 5] for i in range(0, len(values), 5)]
    reference, store = MemoryPairStore(), MemoryPairStore()
    sequential = processor_on(reference)
    for batch in batches:
        sequential.process(batch)
    outcomes = run_pipelined(BatchStages(processor_on(store)), batches)
    assert all(isinstance(outcome, BatchOutcome) for outcome in outcomes)
    assert [outcome.batch_seq for outcome in outcomes] == list(range(1, len(batches) + 1))
    assert contents(store) == contents(reference) and any(p["aligned"] for p, _ in contents(store).values())
    assert without_times(store.get_meta(CHECKPOINT_KEY)) == without_times(reference.get_meta(CHECKPOINT_KEY))
    assert store.get_meta(STATS_KEY) == reference.get_meta(STATS_KEY)


def test_a_redelivered_record_extracted_before_its_first_batch_was_stored_counts_once() -> None:
    values = stream(2)
    first, redelivered = values[:6], values[3:]  # a rebalance hands records 3-5 over again
    store = MemoryPairStore()
    processor = processor_on(store)
    early = processor.extract(redelivered)  # extracted while ``first`` is still in flight
    processor.process(first)
    outcome = processor.commit(processor.embed(early))
    assert outcome.replayed == 3
    reference = MemoryPairStore()
    processor_on(reference).process(values)
    assert contents(store) == contents(reference)
    stats, expected = store.get_meta(STATS_KEY), reference.get_meta(STATS_KEY)
    assert stats["records"] == expected["records"] and stats["replayed"] == 3
    assert stats["pairs_kept"] == expected["pairs_kept"] and stats["pages_with_faq"] == expected["pages_with_faq"]


class FailingCommit(BatchProcessor):
    """Fails the commit of the batch holding ``fail_offset``."""

    fail_offset = -1

    def commit(self, batch: EmbeddedBatch) -> BatchOutcome:
        if any(m.source is not None and m.source.offset == self.fail_offset for m in batch.extracted.messages):
            raise RuntimeError("store bug")
        return super().commit(batch)


def failing_processor(store: MemoryPairStore, fail_offset: int) -> FailingCommit:
    embedder = StoreModels(FakeEmbedder())
    store.open(embedder.dim)
    processor = FailingCommit(pipeline=Pipeline(FakeTagger()), embedder=embedder, store=ReleaseGate(store),
                              dead_letters=MemoryDeadLetters())
    processor.fail_offset = fail_offset
    return processor


def test_no_batch_commits_after_one_that_failed() -> None:
    values = stream(4)
    batches = [values[i:i + 4] for i in range(0, len(values), 4)]
    store = MemoryPairStore()
    outcomes = run_pipelined(BatchStages(failing_processor(store, fail_offset=batches[1][0].source.offset)),
                             batches)
    assert isinstance(outcomes[0], BatchOutcome)
    assert isinstance(outcomes[1], RuntimeError)
    assert all(isinstance(outcome, BatchAbandoned) for outcome in outcomes[2:])
    checkpoint = store.get_meta(CHECKPOINT_KEY)
    assert checkpoint["offsets"] == {"crawl:0": len(batches[0])} and checkpoint["batch_seq"] == 1


def test_a_batch_that_fails_before_its_commit_lets_the_later_ones_finish_their_turns() -> None:
    values = stream(3)
    batches = [values[:4], [], values[4:8], values[8:]]
    store = MemoryPairStore()
    processor = processor_on(store)
    extract = processor.extract

    def failing_extract(batch: Sequence[RawMessage]) -> Any:
        if not batch:
            raise ValueError("extraction bug")
        return extract(batch)

    processor.extract = failing_extract  # type: ignore[method-assign]
    outcomes = run_pipelined(BatchStages(processor), batches)  # returns: nothing waits forever
    assert isinstance(outcomes[0], BatchOutcome) and isinstance(outcomes[1], ValueError)
    assert all(isinstance(outcome, BatchAbandoned) for outcome in outcomes[2:])
    assert store.get_meta(CHECKPOINT_KEY)["offsets"] == {"crawl:0": 4}


def test_turns_come_in_ticket_order() -> None:
    turn, seen = InTurn(), []

    def take(ticket: int) -> None:
        with turn.turn(ticket):
            seen.append(ticket)

    threads = [threading.Thread(target=take, args=(ticket,)) for ticket in (3, 1, 0, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [0, 1, 2, 3]


def test_stages_on_real_pages(fixture_pages: Path) -> None:
    """Real fixture pages, the real language tagger: pipelined batches give the plain pipeline's pairs."""
    pages = sorted(fixture_pages.glob("*.html"))
    values = [warc_response_bytes(Page(f"https://site{i}.example/{i}", page.read_bytes()))
              for i, page in enumerate(pages)] + [b"not a record"]
    stored = MemoryPairStore()
    embedder = StoreModels(FakeEmbedder())
    stored.open(embedder.dim)
    processor = BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder,
                               store=ReleaseGate(stored), dead_letters=MemoryDeadLetters())
    all_messages = messages_from(values, partition=2)
    batches = [all_messages[i:i + 8] for i in range(0, len(all_messages), 8)]
    outcomes = run_pipelined(BatchStages(processor), batches)
    expected = processor.pipeline.run(all_messages)
    assert sum(len(outcome.result.pairs) for outcome in outcomes) == len(expected.pairs) > 0
    assert {pair.id for pair in stored.scroll()} == {pair.id for pair in expected.pairs}
    assert stored.get_meta(CHECKPOINT_KEY)["offsets"] == {"test:2": len(values)}


def test_batch_without_pairs_gives_an_empty_matrix() -> None:
    processor = processor_on(MemoryPairStore())
    embedded = processor.embed(processor.extract(messages_from([b"garbage"] * 5)))
    assert embedded.vectors.shape == (0, processor.embedder.dim) and embedded.extracted.sources == []
    assert len(embedded.extracted.result.dead_letters) == 5


def test_result_extend_is_run_of_the_concatenation() -> None:
    pipeline = Pipeline(FakeTagger())
    values = stream(2)
    first = pipeline.run(values[:4])
    first.extend(pipeline.run(values[4:]))
    assert first == pipeline.run(values)
    assert BatchResult() == pipeline.run([])
