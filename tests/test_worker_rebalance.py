"""Two workers in one consumer group (each with its own embedded store): after the rebalance each
reports consumer lag only for the partitions it owns (a revoked partition's series is dropped, not
left stale), and both still stop cleanly."""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path
from typing import Any

from webfaq_stream.adapters.crawl_files import warc_response_bytes
from webfaq_stream.adapters.kafka.client import Publisher, ensure_topics, wait_drained
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.settings import load_settings

PARTITIONS = 4
LAG = re.compile(r'^webfaq_consumer_lag\{partition="(\d+)",topic="([^"]+)"\}', re.MULTILINE)


def _metrics_port(log_path: Path, timeout_s: float = 60.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        match = re.search(r"metrics on port (\d+)", log_path.read_text())
        if match:
            return int(match.group(1))
        time.sleep(0.2)
    raise AssertionError(log_path.read_text()[-2000:])


def _lag_partitions(port: int, topic: str) -> set[int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {int(partition) for partition, name in LAG.findall(text) if name == topic}


def _publish(bootstrap: str, topic: str, pages: Any) -> dict[int, int]:
    """Every page as a record keyed by its origin; returns the last offset per partition."""
    with Publisher({"bootstrap_servers": bootstrap}, topic) as publisher:
        for page in pages:
            publisher.send(warc_response_bytes(page), origin_of(page.url).encode())
        return publisher.flush()


def test_revoked_partitions_stop_reporting_lag(broker, sample_crawl, worker_processes, worker_env,
                                                tmp_path: Path) -> None:
    settings = load_settings(kafka_bootstrap=broker.bootstrap, partitions=PARTITIONS)
    options = {"bootstrap_servers": broker.bootstrap}
    ensure_topics(options, {settings.topic: PARTITIONS, settings.dead_letter_topic: 1})
    first_offsets = _publish(broker.bootstrap, settings.topic, sample_crawl.pages)
    assert len(first_offsets) == PARTITIONS, "the sample's origins should cover every partition"

    def start(name: str) -> Any:
        return worker_processes(WEBFAQ_KAFKA_BOOTSTRAP=broker.bootstrap, WEBFAQ_PARTITIONS=str(PARTITIONS),
                                WEBFAQ_STORE_DIR=str(tmp_path / f"store-{name}"), WEBFAQ_BATCH_SIZE="4",
                                WEBFAQ_RELEASE_DIR=str(tmp_path / f"releases-{name}"))

    first = start("a")
    wait_drained(options, settings.consumer_group, settings.topic, first_offsets, timeout_s=120,
                 alive=lambda: first.poll() is None)
    first_port = _metrics_port(Path(first.log_path))
    assert _lag_partitions(first_port, settings.topic) == set(range(PARTITIONS))

    second = start("b")
    second_port = _metrics_port(Path(second.log_path))
    # The rebalance revokes the first worker's partitions: their series go until it reports again.
    deadline = time.monotonic() + 90
    while _lag_partitions(first_port, settings.topic) == set(range(PARTITIONS)):
        assert time.monotonic() < deadline, "the first worker still reports every partition after the second joined"
        assert first.poll() is None and second.poll() is None
        time.sleep(0.5)

    # The same pages again (new offsets): each worker stores a batch of its own partitions.
    last_offsets = _publish(broker.bootstrap, settings.topic, sample_crawl.pages)
    wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=120,
                 alive=lambda: first.poll() is None and second.poll() is None)
    owned_first = _lag_partitions(first_port, settings.topic)
    owned_second = _lag_partitions(second_port, settings.topic)
    assert owned_first and owned_second
    assert not owned_first & owned_second, (owned_first, owned_second)
    assert owned_first | owned_second == set(range(PARTITIONS))

    for process in (first, second):
        process.terminate()
        assert process.wait(60) == 0, Path(process.log_path).read_text()[-3000:]
