"""Kafka: client configuration and producer/consumer helpers, the embedded broker, topic inspection."""
