"""Broker restart: the embedded broker on persistent storage (Tansu's ``s3://`` engine against a local
moto S3 server) is restarted mid-stream, twice; the worker reconnects on its own and the result
equals an undisturbed run."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
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
)

from webfaq_stream.adapters.kafka.broker import EmbeddedBroker, free_port
from webfaq_stream.adapters.kafka.client import committed_offsets, is_drained, wait_drained

BUCKET = "tansu"


@pytest.fixture()
def s3_storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on a free loopback port with the broker's bucket; the ``s3://`` URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "fault-test", "AWS_SECRET_ACCESS_KEY": "fault-test",
                        "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT": endpoint,
                        "AWS_ALLOW_HTTP": "true"}.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        yield f"s3://{BUCKET}/"
    finally:
        server.stop()


def test_broker_restarts_mid_stream(s3_storage: str, sample_crawl, worker_processes, worker_env,
                                    tmp_path: Path) -> None:
    broker = EmbeddedBroker(port=free_port(), storage_url=s3_storage, log_path=tmp_path / "broker.log")
    broker.start()
    try:
        records, reference = shared_reference(sample_crawl)
        settings, options, last_offsets = publish_stream(broker.bootstrap, tmp_path, records, partitions=2)
        worker = worker_processes(WEBFAQ_KAFKA_BOOTSTRAP=broker.bootstrap,
                                  WEBFAQ_STORE_DIR=str(settings.store_dir),
                                  WEBFAQ_RELEASE_DIR=str(settings.release_dir), WEBFAQ_BATCH_SIZE="8")

        log_path = Path(worker.log_path)
        restarts = 0
        for down_s in (1.0, 4.0):  # restart once 15 more batches are stored: the worker works again
            wanted = batches_logged(log_path) + 15
            wait_for(lambda n=wanted: batches_logged(log_path) >= n or worker.poll() is not None,
                     120, f"{wanted} batches before broker restart {restarts + 1}")
            committed = committed_offsets(options, settings.consumer_group, settings.topic)
            assert not is_drained(committed, last_offsets), "drained before the broker restart"
            broker.stop()
            time.sleep(down_s)
            broker.start()
            restarts += 1
            assert worker.poll() is None, Path(worker.log_path).read_text()[-3000:]

        wait_drained(options, settings.consumer_group, settings.topic, last_offsets, timeout_s=180,
                     alive=lambda: worker.poll() is None)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, Path(worker.log_path).read_text()[-3000:]
    finally:
        broker.stop()

    lost, doubled = assert_same(snapshot(settings), reference, records=len(records))
    report.record("broker restart", broker_restarts_survived=restarts, records=len(records),
                  records_lost=lost, records_doubled=doubled)
