"""Adapters to outside systems: Kafka, the embedded broker, WARC/OWI readers, Qdrant.

A connector never imports the application modules (worker, release, cli).
"""
