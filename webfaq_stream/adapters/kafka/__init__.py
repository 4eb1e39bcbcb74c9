"""Kafka: client options and security, the producer and dead-letter sink, the embedded broker,
read-only inspection."""

from webfaq_stream import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("EmbeddedBroker", "free_port"), "broker"),
    **dict.fromkeys(("Publisher", "KafkaDeadLetterSink", "ensure_topics", "committed_offsets",
                     "wait_drained"), "client"),
    **dict.fromkeys(("partition_lag", "read_topic"), "inspect"),
    "kafka_client_kwargs": "security",
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
