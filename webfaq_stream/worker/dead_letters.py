"""The dead-letter topic for operators: read (and select) dead letters, publish them again.

Records that cannot be decoded go to ``WEBFAQ_DEAD_LETTER_TOPIC`` with headers ``reason``,
``source-topic``, ``source-partition``, ``source-offset`` and ``detail`` (the worker's
``KafkaDeadLetterSink``).

- ``read_dead_letters(settings, reasons=..., offsets=..., limit=..., idle_s=...)``: the dead letters
  whose reason and ``(partition, offset)`` on the dead-letter topic match the filters, oldest first
  per partition, at most ``limit``; read without a consumer group (nothing is committed), stopping
  after ``idle_s`` seconds without a new message.
- ``dead_letter_entry(message)``: one dead letter as plain values (where it sits, why, where it came
  from, its size and a preview).
- ``replay(settings, messages, target=None)``: publish the messages again to ``target`` (default: the
  crawl topic) with their original key and value and a ``dlq-source`` header
  (``<dlq topic>/<partition>/<offset>``); a record that fails again comes back as a new dead letter.
  Replaying into the dead-letter topic itself is refused (``BrokerError``: it would loop).
Needs ``WEBFAQ_KAFKA_BOOTSTRAP``; every Kafka failure is a ``BrokerError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from webfaq_stream.errors import BrokerError
from webfaq_stream.settings import Settings

#: Bytes of a dead letter's value shown in its entry.
PREVIEW_BYTES = 80
UNKNOWN_REASON = "unknown"


def reason_of(message: Any) -> str:
    """The ``reason`` header of a dead letter (``unknown`` when it has none)."""
    return message.headers.get("reason", UNKNOWN_REASON.encode()).decode("utf-8", "replace")


def dead_letter_entry(message: Any) -> dict[str, Any]:
    """A dead letter as plain values: where it sits, why, where it came from, a preview."""
    headers = {name: value.decode("utf-8", "replace") for name, value in message.headers.items()}
    return {
        "partition": message.partition, "offset": message.offset,
        "reason": headers.get("reason", UNKNOWN_REASON),
        "detail": headers.get("detail"),
        "source_topic": headers.get("source-topic"),
        "source_partition": int(headers["source-partition"]) if "source-partition" in headers else None,
        "source_offset": int(headers["source-offset"]) if "source-offset" in headers else None,
        "key": message.key.decode("utf-8", "replace") if message.key is not None else None,
        "bytes": len(message.value),
        "preview": message.value[:PREVIEW_BYTES].decode("utf-8", "replace"),
    }


def select(messages: Iterable[Any], reasons: Sequence[str] | None, offsets: Iterable[tuple[int, int]] | None,
           limit: int | None) -> Iterator[Any]:
    """The messages whose reason and position match the filters, at most ``limit``."""
    wanted_offsets = set(offsets or ())
    count = 0
    for message in messages:
        if reasons and reason_of(message) not in reasons:
            continue
        if wanted_offsets and (message.partition, message.offset) not in wanted_offsets:
            continue
        yield message
        count += 1
        if limit is not None and count >= limit:
            return


def read_dead_letters(settings: Settings, *, reasons: Sequence[str] | None = None,
                      offsets: Iterable[tuple[int, int]] | None = None, limit: int | None = None,
                      idle_s: float = 2.0) -> Iterator[Any]:
    """The selected dead letters (module docstring), as ``TopicMessage``."""
    from webfaq_stream.adapters.kafka.inspect import read_topic
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs

    messages = read_topic(kafka_client_kwargs(settings), settings.dead_letter_topic, idle_s=idle_s)
    return select(messages, reasons, offsets, limit)


def replay_target(settings: Settings, target: str | None = None) -> str:
    """The topic a replay publishes to; ``BrokerError`` for the dead-letter topic itself."""
    topic = target or settings.topic
    if topic == settings.dead_letter_topic:
        raise BrokerError("--to: replaying the dead-letter topic into itself would loop")
    return topic


def replay(settings: Settings, messages: Iterable[Any], target: str | None = None) -> int:
    """Publish ``messages`` again to ``replay_target(settings, target)``; returns how many were sent."""
    from webfaq_stream.adapters.kafka.client import Publisher
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs

    topic = replay_target(settings, target)
    sent = 0
    with Publisher(kafka_client_kwargs(settings), topic, client_id="webfaq-dlq-replay") as publisher:
        for message in messages:
            origin = f"{settings.dead_letter_topic}/{message.partition}/{message.offset}"
            publisher.send(message.value, message.key, [("dlq-source", origin.encode())])
            sent += 1
        publisher.flush()
    return sent
