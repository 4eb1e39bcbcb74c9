"""Adapters to outside systems: Kafka and the embedded broker, Qdrant, crawl files, OWI Parquet shards,
request files to a resource's owner. They import the
domain's types, the ports, settings and errors, never an application room."""

from webfaq_stream import lazy_exports

_EXPORTS = {
    "open_pair_store": "qdrant.opener",
    **dict.fromkeys(("read_messages", "warc_response_bytes", "write_warc_file", "Page"), "crawl_files"),
    "EmbeddedBroker": "kafka.broker",
    **dict.fromkeys(("Publisher", "KafkaDeadLetterSink", "ensure_topics"), "kafka.client"),
    "kafka_client_kwargs": "kafka.security",
    **dict.fromkeys(("owi_rows", "is_parquet", "row_count"), "owi"),
    "RequestBox": "request_files",
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
