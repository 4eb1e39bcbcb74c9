"""Read-only views of Kafka for operators: partition lag of a group, and reading a topic.

In: kafka-python client options (``webfaq_stream.adapters.kafka.security.kafka_client_kwargs``).
Out:
- :func:`partition_lag`: per partition of a topic, the end offset, the group's committed
  offset and the lag (end - committed; a partition the group never committed counts from 0);
- :func:`read_topic`: the messages of a topic from the beginning, without a consumer group
  (nothing is committed, the worker's group is untouched), as :class:`TopicMessage`, until
  ``limit`` messages or ``idle_s`` without a message;
- :func:`end_offsets`: per partition, the end offset (exact on Kafka, a lower bound on Tansu);
- :func:`read_since`: the messages of given partitions from given offsets on, without a group,
  until every partition has shown a message created at or after ``until_ms``, or ``idle_s``
  without a message (the publisher's follow mode reads back an interrupted chunk with it).

End offsets come from ListOffsets, which the embedded Tansu broker gets wrong when producers
batch (docs/architecture.md, "The embedded broker"): there the lag is only a lower bound; real Kafka
is exact. For the same reason :func:`read_topic` never trusts end offsets and stops on silence instead. Every failure
is raised as ``BrokerError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from webfaq_stream.adapters.kafka.client import committed_offsets
from webfaq_stream.errors import BrokerError


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One partition's end offset, the group's committed offset (None: never) and the lag."""

    partition: int
    end_offset: int
    committed: int | None
    lag: int


@dataclass(frozen=True, slots=True)
class TopicMessage:
    """One message as read from a topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int


def _consumer(options: Mapping[str, Any], timeout_s: float, **config: Any) -> Any:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    wait_ms = int(timeout_s * 1000)
    try:
        return KafkaConsumer(group_id=None, enable_auto_commit=False, client_id="webfaq-inspect",
                             bootstrap_timeout_ms=wait_ms, request_timeout_ms=max(wait_ms, 1000),
                             **options, **config)
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"cannot reach Kafka at {options.get('bootstrap_servers')}: {exc!r}") from exc


def _partitions(consumer: Any, topic: str) -> list[Any]:
    from kafka import TopicPartition

    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise BrokerError(f"topic {topic!r} does not exist")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


def partition_lag(options: Mapping[str, Any], group: str, topic: str,
                  timeout_s: float = 10.0) -> list[PartitionLag]:
    """Lag of consumer group ``group`` on every partition of ``topic``; ``timeout_s`` bounds the
    wait for an unreachable broker."""
    ends = end_offsets(options, topic, timeout_s)
    committed = committed_offsets(options, group, topic)
    out = []
    for partition, end in sorted(ends.items()):
        done = committed.get(partition)
        out.append(PartitionLag(partition, end, done, max(0, end - (done or 0))))
    return out


def end_offsets(options: Mapping[str, Any], topic: str, timeout_s: float = 10.0) -> dict[int, int]:
    """``{partition: end offset}`` of ``topic`` (a lower bound on Tansu, see the module docstring)."""
    from kafka.errors import KafkaError

    consumer = _consumer(options, timeout_s)
    try:
        partitions = _partitions(consumer, topic)
        return {tp.partition: int(offset) for tp, offset in consumer.end_offsets(partitions).items()}
    except KafkaError as exc:
        raise BrokerError(f"cannot read the end offsets of {topic!r}: {exc!r}") from exc
    finally:
        consumer.close()


def read_since(options: Mapping[str, Any], topic: str, since: Mapping[int, int], *, until_ms: int,
               idle_s: float = 2.0, timeout_s: float = 10.0) -> Iterator[TopicMessage]:
    """Messages of the partitions in ``since`` from those offsets on (see the module docstring)."""
    from kafka import TopicPartition
    from kafka.errors import KafkaError

    consumer = _consumer(options, timeout_s, consumer_timeout_ms=int(idle_s * 1000))
    try:
        partitions = [TopicPartition(topic, int(p)) for p in sorted(since)]
        if not partitions:
            return
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, int(since[tp.partition]))
        waiting = {tp.partition for tp in partitions}
        for message in consumer:  # ends after idle_s without a message
            yield TopicMessage(message.partition, message.offset, message.key, message.value or b"",
                               dict(message.headers or []), int(message.timestamp or 0))
            if int(message.timestamp or 0) >= until_ms:
                waiting.discard(message.partition)
                if not waiting:
                    return
    except KafkaError as exc:
        raise BrokerError(f"reading {topic!r} failed: {exc!r}") from exc
    finally:
        consumer.close()


def read_topic(options: Mapping[str, Any], topic: str, *, limit: int | None = None,
               idle_s: float = 2.0, timeout_s: float = 10.0) -> Iterator[TopicMessage]:
    """The messages of ``topic`` from the start, partition order not guaranteed; see the module."""
    from kafka.errors import KafkaError

    consumer = _consumer(options, timeout_s, auto_offset_reset="earliest",
                         consumer_timeout_ms=int(idle_s * 1000))
    try:
        partitions = _partitions(consumer, topic)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        for count, message in enumerate(consumer, 1):  # ends after idle_s without a message
            yield TopicMessage(message.partition, message.offset, message.key, message.value or b"",
                               dict(message.headers or []), int(message.timestamp or 0))
            if limit is not None and count >= limit:
                return
    except KafkaError as exc:
        raise BrokerError(f"reading {topic!r} failed: {exc!r}") from exc
    finally:
        consumer.close()
