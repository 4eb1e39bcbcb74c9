"""Garbage among good records: each bad one lands on the dead-letter topic, every good one is stored."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import urllib.request
from pathlib import Path

from bad_inputs.stream import stored_ids_and_stats

from webfaq_stream.adapters.crawl_files import warc_response_bytes
from webfaq_stream.adapters.kafka.client import Publisher, consume_all, ensure_topics, wait_drained
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.settings import load_settings


def test_garbage_goes_to_the_dead_letter_topic(broker, sample_crawl, worker_processes, worker_env,
                                               tmp_path: Path) -> None:
    settings = load_settings(kafka_bootstrap=broker.bootstrap, store_dir=tmp_path / "store",
                             release_dir=tmp_path / "releases", partitions=2, batch_size=8)
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {settings.topic: 2, settings.dead_letter_topic: 1})
    good_pages = sample_crawl.pages
    html_only = b"<!DOCTYPE html><html><body><h1>FAQ</h1></body></html>"
    truncated = gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n" + os.urandom(2000))[:300]
    # random bytes led by a NUL, so they are never sniffed as JSON ("{") or gzip: unknown_format
    garbage = {"unknown_format": b"\x00" + os.urandom(511), "invalid_warc": truncated, "missing_url": html_only}

    publisher = Publisher(options, settings.topic)
    bad_futures = {}
    for index, page in enumerate(good_pages):
        publisher.send(warc_response_bytes(page), origin_of(page.url).encode())
        if index % 5 == 2 and garbage:  # garbage between good records, on the same partitions
            reason, value = garbage.popitem()
            bad_futures[reason] = (value, publisher.send(value, origin_of(page.url).encode()))
    last_offsets = publisher.flush()
    publisher.close()
    bad_sources = {reason: (future.get().partition, future.get().offset)
                   for reason, (_, future) in bad_futures.items()}

    worker = worker_processes(WEBFAQ_KAFKA_BOOTSTRAP=broker.bootstrap,
                              WEBFAQ_STORE_DIR=str(settings.store_dir), WEBFAQ_BATCH_SIZE="8",
                              WEBFAQ_RELEASE_DIR=str(settings.release_dir))
    wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=120,
                 alive=lambda: worker.poll() is None)
    metrics = _worker_endpoint(Path(worker.log_path), "/metrics")
    assert json.loads(_worker_endpoint(Path(worker.log_path), "/health"))["status"] == "ok"
    assert f"webfaq_records_consumed_total {float(len(good_pages) + 3)}" in metrics
    assert 'webfaq_dead_letters_total{reason="missing_url"} 1.0' in metrics
    assert "webfaq_consumer_lag{" in metrics
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0, Path(worker.log_path).read_text()[-3000:]

    letters = consume_all(options, settings.dead_letter_topic, expected=3, timeout_s=20)
    assert len(letters) == 3
    seen = {}
    for _key, value, headers, _partition, _offset in letters:
        reason = headers["reason"].decode()
        assert headers["source-topic"].decode() == settings.topic
        seen[reason] = (int(headers["source-partition"]), int(headers["source-offset"]))
        assert value == bad_futures[reason][0]  # the original bytes
    assert seen == bad_sources

    stored, stats = stored_ids_and_stats(settings)
    assert stored == sample_crawl.expected_ids
    assert stats.records == len(good_pages) + 3
    assert stats.dead_letters == {"unknown_format": 1, "invalid_warc": 1, "missing_url": 1}


def _worker_endpoint(log_path: Path, path: str) -> str:
    """GET ``path`` of the worker whose log names its metrics port."""
    match = re.search(r"metrics on port (\d+)", log_path.read_text())
    assert match, log_path.read_text()[-2000:]
    with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}{path}", timeout=10) as response:
        return response.read().decode()
