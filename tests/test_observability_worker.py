"""The real worker: metrics and health scraped over HTTP change as records flow, and SIGTERM in
the middle of the stream loses nothing (every committed record is stored; a restart completes it)."""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from webfaq_stream.adapters.crawl_files import warc_response_bytes
from webfaq_stream.adapters.kafka.broker import free_port
from webfaq_stream.adapters.kafka.client import Publisher, committed_offsets, ensure_topics, wait_drained
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.settings import load_settings
from webfaq_stream.store.opener import open_store


def scrape(port: int) -> dict[str, float]:
    """Unlabelled samples plus label-summed totals, from /metrics over HTTP."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def health(port: int) -> int:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for(condition, timeout_s: float, what: str, process) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # server not up yet
        assert process.poll() is None, f"worker exited early: {Path(process.log_path).read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stored_ids(settings) -> set[str]:
    store = open_store(settings)
    try:
        return {pair.id for pair in store.scroll()}
    finally:
        store.close()


def test_metrics_health_and_sigterm_mid_stream(broker, sample_crawl, worker_processes, worker_env, tmp_path):
    settings = load_settings(kafka_bootstrap=broker.bootstrap, store_dir=tmp_path / "store",
                             release_dir=tmp_path / "releases", partitions=2)
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {settings.topic: 2, settings.dead_letter_topic: 1})
    pipeline = Pipeline(LanguageTagger())
    ids_at: dict[tuple[int, int], set[str]] = {}  # (partition, offset) -> pair ids that record yields
    with Publisher(options, settings.topic) as publisher:
        futures = []
        for page in sample_crawl.pages:
            value = warc_response_bytes(page)
            futures.append((value, publisher.send(value, origin_of(page.url).encode())))
        last_offsets = publisher.flush()
    for value, future in futures:
        metadata = future.get()
        ids_at[(metadata.partition, metadata.offset)] = {p.id for p in pipeline.run([RawMessage(value)]).pairs}

    port = free_port()
    env = {"WEBFAQ_KAFKA_BOOTSTRAP": broker.bootstrap, "WEBFAQ_STORE_DIR": str(settings.store_dir),
           "WEBFAQ_RELEASE_DIR": str(settings.release_dir), "WEBFAQ_BATCH_SIZE": "2",
           "WEBFAQ_WEB_PORT": str(port)}
    worker = worker_processes(**env)
    wait_for(lambda: scrape(port)["webfaq_records_consumed_total"] >= 2, 120, "a first batch", worker)
    first = scrape(port)
    assert health(port) == 200
    wait_for(lambda: scrape(port)["webfaq_records_consumed_total"] > first["webfaq_records_consumed_total"],
             60, "more records", worker)
    worker.send_signal(signal.SIGTERM)  # batches of 2 flow continuously: one is in hand
    stopped_at = time.monotonic()
    assert worker.wait(60) == 0, Path(worker.log_path).read_text()[-3000:]
    assert time.monotonic() - stopped_at < 30  # bounded: the worker's grace period plus teardown

    assert first["webfaq_batches_total"] >= 1 and first["webfaq_batch_seconds_count"] >= 1
    committed = committed_offsets(options, settings.consumer_group, settings.topic)
    stored = stored_ids(settings)
    committed_ids = set().union(*(ids for (p, o), ids in ids_at.items() if o < committed.get(p, 0)))
    assert committed_ids <= stored  # nothing committed that was not stored
    assert len(stored) < len(sample_crawl.expected_ids)  # it really stopped mid-stream

    restarted = worker_processes(**env)
    wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=180,
                 alive=lambda: restarted.poll() is None)
    wait_for(lambda: health(port) == 200, 30, "health after restart", restarted)
    after = scrape(port)
    assert after["webfaq_batches_total"] >= 1
    assert after["webfaq_pairs_by_language_total"] > 0 and after["webfaq_batch_seconds_count"] >= 1
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(60) == 0
    assert stored_ids(settings) == sample_crawl.expected_ids  # nothing lost across the stop
