"""``webfaq-stream dlq`` and the Kafka section of ``status`` against the embedded broker."""

from __future__ import annotations

import json
import os

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from webfaq_stream.adapters.kafka.client import KafkaDeadLetterSink, Publisher, ensure_topics
from webfaq_stream.adapters.kafka.inspect import read_topic
from webfaq_stream.adapters.kafka.security import kafka_client_kwargs
from webfaq_stream.cli.main import main
from webfaq_stream.domain.model import SourceRef
from webfaq_stream.settings import ENV_PREFIX, load_settings

CRAWL, DLQ = "crawl-test", "crawl-test.dlq"


@pytest.fixture()
def kafka(broker, monkeypatch, tmp_path):
    """The embedded broker with a 2-partition crawl topic, a DLQ holding three dead letters, and env."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    for name, value in {"KAFKA_BOOTSTRAP": broker.bootstrap, "TOPIC": CRAWL, "DEAD_LETTER_TOPIC": DLQ,
                        "CONSUMER_GROUP": "workers", "STORE_DIR": str(tmp_path / "store"),
                        "RELEASE_DIR": str(tmp_path / "releases")}.items():
        monkeypatch.setenv(ENV_PREFIX + name, value)
    options = kafka_client_kwargs(load_settings())
    ensure_topics(options, {CRAWL: 2, DLQ: 1})
    sink = KafkaDeadLetterSink(options, DLQ)
    for offset, (reason, value) in enumerate([("not_warc", b"garbage one"), ("too_large", b"x" * 5000),
                                              ("not_warc", b"garbage two")]):
        sink.send(value, b"https://example.com", reason, SourceRef(CRAWL, 1, 40 + offset))
    sink.flush()
    sink.close()
    return options


def test_dlq_list_shows_every_dead_letter_with_reason_and_source(kafka, capsys):
    assert main(["dlq", "list", "--format", "json", "--idle-s", "1"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["reason"] for e in entries] == ["not_warc", "too_large", "not_warc"]
    assert [e["source_offset"] for e in entries] == [40, 41, 42]
    assert entries[1]["bytes"] == 5000 and entries[0]["preview"] == "garbage one"
    assert all(e["source_topic"] == CRAWL and e["source_partition"] == 1 for e in entries)

    assert main(["dlq", "list", "--reason", "too_large", "--idle-s", "1"]) == 0
    text = capsys.readouterr().out
    assert "too_large" in text and "not_warc" not in text
    assert text.rstrip().endswith("1 dead letter(s): too_large 1")


def test_dlq_replay_republishes_the_selected_records_once(kafka, capsys):
    assert main(["dlq", "replay", "--reason", "not_warc", "--dry-run", "--idle-s", "1"]) == 0
    assert "2 dead letter(s) selected; nothing published" in capsys.readouterr().out
    assert list(read_topic(kafka, CRAWL, idle_s=1)) == []

    assert main(["dlq", "replay", "--reason", "not_warc", "--idle-s", "1"]) == 0
    assert f"published 2 dead letter(s) to {CRAWL}" in capsys.readouterr().out
    replayed = sorted(read_topic(kafka, CRAWL, idle_s=1), key=lambda m: m.value)
    assert [m.value for m in replayed] == [b"garbage one", b"garbage two"]
    assert all(m.key == b"https://example.com" for m in replayed)
    assert [m.headers["dlq-source"] for m in replayed] == [f"{DLQ}/0/0".encode(), f"{DLQ}/0/2".encode()]

    assert main(["dlq", "replay", "--offset", "0:1", "--idle-s", "1"]) == 0
    assert len(list(read_topic(kafka, CRAWL, idle_s=1))) == 3


def test_replaying_into_the_dead_letter_topic_is_refused(kafka, capsys):
    assert main(["dlq", "replay", "--to", DLQ, "--idle-s", "1"]) == 2
    assert "would loop" in capsys.readouterr().err


def test_bad_offset_selector_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["dlq", "replay", "--offset", "zero:1"])
    assert exit_info.value.code == 2
    assert "expected PARTITION:OFFSET" in capsys.readouterr().err


def test_status_shows_lag_per_partition_of_the_worker_group(kafka, capsys):
    with Publisher(kafka, CRAWL) as publisher:  # one record per flush: end offsets exact on Tansu
        for i in range(5):
            publisher.send(b"record %d" % i, b"https://a.example" if i % 2 else b"https://b.example")
            publisher.flush()
        last = dict(publisher.last_offsets)
    group = KafkaConsumer(group_id="workers", enable_auto_commit=False, **kafka)
    first = min(last)
    group.commit({TopicPartition(CRAWL, first): OffsetAndMetadata(1, "", -1)})
    group.close()

    assert main(["status", "--format", "json", "--no-scan"]) == 1  # no store yet: that section fails
    report = json.loads(capsys.readouterr().out)
    partitions = {p["partition"]: p for p in report["kafka"]["partitions"]}
    assert set(partitions) == {0, 1}
    assert partitions[first]["committed"] == 1
    for partition, offset in last.items():
        assert partitions[partition]["end_offset"] == offset + 1
    assert report["kafka"]["total_lag"] == 5 - 1
    assert "no store at" in report["store"]["error"]

    main(["status"])
    assert "total lag 4" in capsys.readouterr().out


def test_status_names_an_unreachable_broker(monkeypatch, capsys, tmp_path):
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WEBFAQ_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("WEBFAQ_STORE_DIR", str(tmp_path))
    assert main(["status", "--format", "json", "--no-scan", "--timeout-s", "1"]) == 1
    assert "127.0.0.1:1" in json.loads(capsys.readouterr().out)["kafka"]["error"]
