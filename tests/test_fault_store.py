"""Store failure: while the store refuses writes (disk full) or every call (unreachable), the worker
stays alive, retries with backoff, reports 503 on /health and commits nothing; once the store is
back, the result equals an undisturbed run.

The faults are injected in the real qdrant-edge store by ``connectors.store_faults`` (enabled by
``WEBFAQ_FAULT_STORE_FLAG``; the flag file's content picks the fault), not by a mock.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from bad_inputs import report
from bad_inputs.stream import (
    assert_same,
    batches_logged,
    publish,
    shared_reference,
    snapshot,
    wait_for,
    worker_http,
)

from connectors.kafka import committed_offsets, ensure_topics, wait_drained
from connectors.store_faults import DISK_FULL, FAULT_FLAG_ENV, UNREACHABLE
from webfaq_stream.settings import load_settings


def test_store_outage_keeps_offsets_and_heals(broker, sample_crawl, worker_processes, worker_env,
                                              tmp_path: Path) -> None:
    records, reference = shared_reference(sample_crawl)
    settings = load_settings(kafka_bootstrap=broker.bootstrap, store_dir=tmp_path / "store",
                             release_dir=tmp_path / "releases", partitions=2)
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {settings.topic: 2, settings.dead_letter_topic: 1})
    last_offsets = publish(options, settings.topic, records)
    flag = tmp_path / "store-fault"
    worker = worker_processes(WEBFAQ_KAFKA_BOOTSTRAP=broker.bootstrap, WEBFAQ_STORE_DIR=str(settings.store_dir),
                              WEBFAQ_RELEASE_DIR=str(settings.release_dir), WEBFAQ_BATCH_SIZE="8",
                              **{FAULT_FLAG_ENV: str(flag)})
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
    assert "webfaq_store_errors_total" in metrics

    lost, doubled = assert_same(snapshot(settings), reference, records=len(records))
    report.record("store outage", store_outages_survived=outages, records=len(records),
                  records_lost=lost, records_doubled=doubled)
