"""The streaming worker: batch processing and retries, the Faust app, start-up, operations (health, metrics, logs, web) and the one-shot ingest."""
