"""A worker SIGKILLed mid-stream and restarted: every record processed, no pair lost or stored twice."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.adapters.kafka.client import (
    Publisher,
    committed_offsets,
    ensure_topics,
    is_drained,
    wait_drained,
)
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.settings import load_settings
from webfaq_stream.store.gate import CHECKPOINT_KEY
from webfaq_stream.store.opener import open_store
from webfaq_stream.store.stats import STATS_KEY, IngestStats


def test_sigkill_mid_stream_then_restart(broker, sample_crawl, worker_processes, worker_env,
                                         tmp_path: Path) -> None:
    settings = load_settings(kafka_bootstrap=broker.bootstrap, store_dir=tmp_path / "store",
                             release_dir=tmp_path / "releases", partitions=3)
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {settings.topic: 3, settings.dead_letter_topic: 1})
    # every page twice (the second crawl a day later): dedup must keep one point per pair
    pages = sample_crawl.pages + [Page(p.url, p.html, "2026-11-21T12:00:00Z", p.content_type, p.status)
                                  for p in sample_crawl.pages]
    with Publisher(options, settings.topic) as publisher:
        for page in pages:
            publisher.send(warc_response_bytes(page), origin_of(page.url).encode())
        last_offsets = publisher.flush()
    env = {"WEBFAQ_KAFKA_BOOTSTRAP": broker.bootstrap, "WEBFAQ_STORE_DIR": str(settings.store_dir),
           "WEBFAQ_RELEASE_DIR": str(settings.release_dir), "WEBFAQ_BATCH_SIZE": "1"}

    first = worker_processes(**env)
    deadline = time.monotonic() + 120
    while True:  # kill as soon as some (not all) records are committed
        committed = committed_offsets(options, settings.consumer_group, settings.topic)
        if sum(committed.values()) >= 3 or time.monotonic() > deadline or first.poll() is not None:
            break
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = committed_offsets(options, settings.consumer_group, settings.topic)
    assert sum(at_kill.values()) >= 3, Path(first.log_path).read_text()[-3000:]
    assert not is_drained(at_kill, last_offsets), "the worker finished before it could be killed"

    second = worker_processes(**env)
    wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=180,
                 alive=lambda: second.poll() is None)
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0, Path(second.log_path).read_text()[-3000:]

    store = open_store(settings)
    try:
        stored = list(store.scroll())
        stats = IngestStats.from_meta(store.get_meta(STATS_KEY))
        checkpoint = store.get_meta(CHECKPOINT_KEY)
        count = store.count()
    finally:
        store.close()
    ids = [pair.id for pair in stored]
    assert sorted(ids) == sorted(sample_crawl.expected_ids)  # none lost, none twice
    assert count == len(sample_crawl.expected_ids)
    assert {pair.first_seen for pair in stored} == {"2026-11-20T12:00:00Z"}
    assert {pair.last_seen for pair in stored} == {"2026-11-21T00:00:00Z"}  # the day (WEBFAQ_LAST_SEEN_RESOLUTION)
    # every record counted exactly once: replays after the kill were recognised by the checkpoint
    assert stats.records == len(pages)
    assert checkpoint["offsets"] == {f"{settings.topic}:{p}": last + 1 for p, last in last_offsets.items()}
