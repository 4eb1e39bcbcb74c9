"""Adapters to outside systems: Kafka and the embedded broker, Qdrant, crawl files."""
