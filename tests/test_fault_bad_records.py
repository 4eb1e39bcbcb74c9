"""A bug is not an outage, end to end: through the embedded broker, a worker child and the real
qdrant-edge store, one record trips a bug injected into the indexer and another one's pairs are
rejected for good by the store. Both land on the dead-letter topic as ``internal_error`` with the
exception's type; every other record is stored once, exactly as an undisturbed run of the good
records stores them; the worker stays healthy, drains the topic and exits cleanly.

The faults come from ``tests/fault_worker.py`` (``FAULT_INDEXER_BUG``, ``FAULT_STORE_REJECT``).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from bad_inputs import report
from bad_inputs.stream import StreamRecord, close, publish_stream, reference_run, snapshot, worker_http

from webfaq_stream.adapters.crawl_files import JSON_HEADERS, WARC_HEADERS, warc_response_bytes
from webfaq_stream.adapters.kafka.client import consume_all, wait_drained
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.settings import load_settings

BUG = "webfaqbugmarker"
REJECTED = "webfaqrejectmarker"


def envelope(url: str, pairs: list[tuple[str, str]]) -> StreamRecord:
    value = json.dumps({"url": url, "warc_date": "2026-11-20T12:00:00Z",
                        "faq": [{"question": q, "answer": a} for q, a in pairs]}).encode()
    return StreamRecord(value, origin_of(url).encode(), list(JSON_HEADERS))


def test_a_bug_and_a_rejection_are_dead_lettered_and_the_rest_is_stored(broker, sample_crawl, worker_processes,
                                                                        worker_env, tmp_path: Path) -> None:
    good = [StreamRecord(warc_response_bytes(page), origin_of(page.url).encode(), list(WARC_HEADERS))
            for page in sample_crawl.pages]
    origins = sorted({origin_of(page.url) for page in sample_crawl.pages if "/de/" in page.url})
    bug = envelope(f"{origins[0]}/en/rentals", [
        (f"Can I rent a tandem bike for two riders at the weekend {BUG}?",
         "Yes, tandem bikes for two riders can be rented every weekend from our main shop."),
        ("Do you offer child seats for the rental bikes?",
         "Child seats fit every city bike and come free of charge with any rental.")])
    rejected = envelope(f"{origins[-1]}/en/events", [
        (f"Can we book the back room for a private birthday party {REJECTED}?",
         "The back room seats twenty guests and can be booked for private parties in the evening.")])
    third = len(good) // 3
    records = good[:third] + [bug] + good[third:2 * third] + [rejected] + good[2 * third:]
    settings, options, last_offsets = publish_stream(broker.bootstrap, tmp_path, records, partitions=2)

    worker = worker_processes(faults=True, FAULT_INDEXER_BUG=BUG, FAULT_STORE_REJECT=REJECTED,
                              WEBFAQ_KAFKA_BOOTSTRAP=broker.bootstrap, WEBFAQ_STORE_DIR=str(settings.store_dir),
                              WEBFAQ_RELEASE_DIR=str(settings.release_dir), WEBFAQ_BATCH_SIZE="8")
    log_path = Path(worker.log_path)
    wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=180,
                 alive=lambda: worker.poll() is None)
    assert json.loads(worker_http(log_path, "/health")[1])["status"] == "ok"
    _, metrics = worker_http(log_path, "/metrics")
    assert 'webfaq_dead_letters_total{reason="internal_error"} 2.0' in metrics
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, log_path.read_text()[-3000:]
    assert "isolating the records that make it fail" in log_path.read_text()

    letters = consume_all(options, settings.dead_letter_topic, expected=2, timeout_s=20)
    found = {value: (headers["reason"].decode(), headers["detail"].decode().split(":")[0])
             for _key, value, headers, _partition, _offset in letters}
    assert found == {bug.value: ("internal_error", "InjectedBug"),
                     rejected.value: ("internal_error", "StoreRejectedError")}

    run = snapshot(settings)
    expected = reference_run(good, load_settings(store_dir=tmp_path / "reference", release_dir=tmp_path / "ref-rel"))
    assert set(run.pairs) == set(expected.pairs) == sample_crawl.expected_ids
    assert run.points == len(run.pairs)  # each stored once
    assert all(close(run.pairs[pair_id], expected.pairs[pair_id]) for pair_id in expected.pairs)
    assert close(run.bitext_rows, expected.bitext_rows) and expected.bitext_rows
    assert run.stats["records"] == len(records) and run.stats["pairs_kept"] == expected.stats["pairs_kept"]
    assert run.stats["dead_letters"] == {"internal_error": 2}
    report.record("bad records", records=len(records), isolated=2, stored_pairs=len(run.pairs))
