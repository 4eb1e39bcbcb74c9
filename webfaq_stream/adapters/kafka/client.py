"""Kafka through kafka-python: client options, topic creation, the publisher, dead letters, drain check.

Contract (``options`` is kafka-python keyword arguments, from
``webfaq_stream.adapters.kafka.security.kafka_client_kwargs(settings)``):
- :func:`ensure_topics` creates missing topics (existing ones are left as they are).
- :class:`Publisher` sends messages and remembers, per partition, the offset the broker gave back
  for the last record (``RecordMetadata``); :meth:`Publisher.flush` returns them.
- :class:`KafkaDeadLetterSink` implements ``ports.DeadLetterSink``: the original bytes with the
  headers ``reason``, ``source-topic``, ``source-partition``, ``source-offset`` and, when there is
  one, ``detail`` (for ``internal_error``: the exception's type and message).
- :func:`committed_offsets` / :func:`is_drained` / :func:`wait_drained` tell whether a consumer
  group has committed past the last published offsets. They never use ListOffsets (end offsets),
  which the embedded broker gets wrong when producers batch (docs/architecture.md, "The embedded
  broker"); they work on real Kafka as well.
- Every failure is raised as :class:`BrokerError`; a single message over the size limit as its
  subclass :class:`RecordTooLargeError` (the caller reports it and goes on).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Self

from webfaq_stream.domain.model import SourceRef
from webfaq_stream.errors import BrokerError, RecordTooLargeError

Headers = list[tuple[str, bytes]]


def _admin(options: Mapping[str, Any]) -> Any:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        return KafkaAdminClient(client_id="webfaq-admin", **options)
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"cannot reach Kafka at {options.get('bootstrap_servers')}: {exc!r}") from exc


def ensure_topics(options: Mapping[str, Any], partitions: Mapping[str, int],
                  replication_factor: int = 1) -> list[str]:
    """Create each missing topic with its number of partitions; return the names created."""
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    admin = _admin(options)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, count, replication_factor)
                   for name, count in partitions.items() if name not in existing]
        if missing:
            try:
                admin.create_topics(missing, timeout_ms=10_000)
            except TopicAlreadyExistsError:
                pass  # created by someone else meanwhile
            admin.wait_for_topics([topic.name for topic in missing], timeout_ms=10_000)
        return [topic.name for topic in missing]
    except KafkaError as exc:
        raise BrokerError(f"cannot create topics {sorted(partitions)}: {exc!r}") from exc
    finally:
        admin.close()


#: Compression of produced batches: lz4 halves what a worker reads of crawl pages and costs the
#: consumer little to inflate (bench/RESULTS.md: aiokafka reads 2x the records/s of plain batches,
#: gzip batches 4x slower); every Kafka broker and client (aiokafka with cramjam) reads it.
COMPRESSION = "lz4"


def producer(options: Mapping[str, Any], **overrides: Any) -> Any:
    """A kafka-python ``KafkaProducer`` (acks=all, lz4 batches, idempotence off for broker
    compatibility)."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    config: dict[str, Any] = {"acks": "all", "linger_ms": 5, "retries": 5,
                              "max_request_size": 16 * 1024 * 1024, "client_id": "webfaq-publisher",
                              "enable_idempotence": False, "compression_type": COMPRESSION}
    config.update(overrides)
    try:
        return KafkaProducer(**options, **config)
    except (KafkaError, OSError) as exc:
        raise BrokerError(f"cannot create a Kafka producer: {exc!r}") from exc


class Publisher:
    """Send messages to one topic and track the last offset acknowledged per partition."""

    def __init__(self, options: Mapping[str, Any], topic: str, **producer_overrides: Any) -> None:
        self.topic = topic
        self.sent = 0
        self.last_offsets: dict[int, int] = {}
        self._errors: list[BaseException] = []
        self._producer = producer(options, **producer_overrides)

    def send(self, value: bytes, key: bytes | None = None, headers: Headers | None = None,
             on_delivery: Callable[[], object] | None = None) -> Any:
        """Queue one message; returns kafka-python's future of its ``RecordMetadata`` (delivery is
        confirmed asynchronously, see :meth:`flush`). A message over the producer's
        ``max_request_size`` raises :class:`RecordTooLargeError` and is not sent; the publisher
        stays usable."""
        from kafka.errors import KafkaError, MessageSizeTooLargeError

        def delivered(metadata: Any) -> None:
            previous = self.last_offsets.get(metadata.partition, -1)
            self.last_offsets[metadata.partition] = max(previous, metadata.offset)
            if on_delivery is not None:
                on_delivery()

        try:
            future = self._producer.send(self.topic, value=value, key=key, headers=headers or [])
        except MessageSizeTooLargeError as exc:
            raise RecordTooLargeError(
                f"record of {len(value or b''):,} bytes (key {key!r:.80}) not sent to {self.topic}: over the "
                f"producer's max_request_size of {self._producer.config['max_request_size']:,} bytes") from exc
        except (KafkaError, OSError) as exc:
            raise BrokerError(f"cannot send to {self.topic}: {exc!r}") from exc
        future.add_callback(delivered)
        future.add_errback(self._errors.append)
        self.sent += 1
        return future

    def flush(self, timeout_s: float = 60.0) -> dict[int, int]:
        """Wait until every queued message is acknowledged; return ``{partition: last offset}``."""
        from kafka.errors import KafkaError

        try:
            self._producer.flush(timeout=timeout_s)
        except (KafkaError, OSError) as exc:
            raise BrokerError(f"flushing to {self.topic} failed: {exc!r}") from exc
        errors, self._errors = self._errors, []  # reported once: a later flush starts clean
        if errors:
            raise BrokerError(f"{len(errors)} message(s) not delivered to {self.topic}: {errors[0]!r}")
        return dict(sorted(self.last_offsets.items()))

    def close(self) -> None:
        self._producer.close(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


#: Longest ``detail`` header of a dead letter (characters): enough for an exception's type and message.
DETAIL_MAX_CHARS = 1000


class KafkaDeadLetterSink:
    """``ports.DeadLetterSink`` on a Kafka topic: original bytes; reason, source and detail in headers."""

    def __init__(self, options: Mapping[str, Any], topic: str) -> None:
        self.topic = topic
        self._publisher = Publisher(options, topic, client_id="webfaq-dead-letters")

    def send(self, value: bytes, key: bytes | None, reason: str, source: SourceRef | None,
             detail: str = "") -> None:
        headers: Headers = [("reason", reason.encode("utf-8"))]
        if source is not None:
            headers += [("source-topic", source.topic.encode("utf-8")),
                        ("source-partition", str(source.partition).encode("ascii")),
                        ("source-offset", str(source.offset).encode("ascii"))]
        if detail:
            headers.append(("detail", detail[:DETAIL_MAX_CHARS].encode("utf-8", "replace")))
        self._publisher.send(value, key, headers)

    def flush(self) -> None:
        self._publisher.flush()

    def close(self) -> None:
        self._publisher.close()


def committed_offsets(options: Mapping[str, Any], group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets on ``topic`` (``{partition: next offset to read}``)."""
    from kafka.errors import KafkaError

    admin = _admin(options)
    try:
        result = admin.list_group_offsets({group: None})
    except KafkaError as exc:
        raise BrokerError(f"cannot read committed offsets of group {group!r}: {exc!r}") from exc
    finally:
        admin.close()
    offsets = result.get(group, result) if isinstance(result, dict) else result
    out: dict[int, int] = {}
    for tp, meta in dict(offsets).items():
        offset = getattr(meta, "offset", meta)
        if getattr(tp, "topic", None) == topic and isinstance(offset, int) and offset >= 0:
            out[tp.partition] = offset
    return out


def is_drained(committed: Mapping[int, int], last_offsets: Mapping[int, int]) -> bool:
    """True when, for every partition, the committed offset is past the last published offset."""
    return all(committed.get(partition, -1) > last for partition, last in last_offsets.items())


def wait_drained(options: Mapping[str, Any], group: str, topic: str, last_offsets: Mapping[int, int],
                 timeout_s: float, poll_s: float = 0.5,
                 alive: Callable[[], bool] | None = None,
                 progress: Callable[[dict[int, int]], None] | None = None) -> dict[int, int]:
    """Poll :func:`committed_offsets` until :func:`is_drained`; return the committed offsets.

    Raises :class:`BrokerError` on timeout or when ``alive()`` turns false (the consumer died).
    """
    deadline = time.monotonic() + timeout_s
    committed: dict[int, int] = {}
    while True:
        committed = committed_offsets(options, group, topic)
        if progress is not None:
            progress(committed)
        if is_drained(committed, last_offsets):
            return committed
        if alive is not None and not alive():
            raise BrokerError("the consumer stopped before the topic was drained")
        if time.monotonic() > deadline:
            raise BrokerError(f"topic {topic} not drained by group {group} after {timeout_s:.0f}s: "
                              f"committed {committed}, published up to {dict(last_offsets)}")
        time.sleep(poll_s)


def consume_all(options: Mapping[str, Any], topic: str, expected: int, timeout_s: float = 30.0
                ) -> list[tuple[bytes | None, bytes, dict[str, bytes], int, int]]:
    """Read ``expected`` messages from the start of ``topic`` without a group (tests, inspection).

    Returns ``(key, value, headers, partition, offset)`` tuples; stops early at ``timeout_s``.
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=int(timeout_s * 1000),
                             **options)
    out: list[tuple[bytes | None, bytes, dict[str, bytes], int, int]] = []
    deadline = time.monotonic() + timeout_s
    try:
        for message in consumer:
            out.append((message.key, message.value, dict(message.headers or []),
                        message.partition, message.offset))
            if len(out) >= expected or time.monotonic() > deadline:
                break
    finally:
        consumer.close()
    return out

