"""The streaming worker: batch processing and retries, the Faust app, start-up, operations (health,
metrics, logs, web, status, dead letters), publishing crawl files and following OWI shards, forgetting
origins and URLs, and the one-shot ingest."""

from webfaq_stream import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("BatchProcessor", "BatchOutcome"), "batch"),
    "RetryPolicy": "retry",
    **dict.fromkeys(("build_app", "BatchRunner"), "app"),
    "run_worker": "startup",
    **dict.fromkeys(("GracefulStop", "BatchAbandoned"), "shutdown"),
    "HealthState": "health",
    **dict.fromkeys(("Metrics", "BatchStats"), "metrics"),
    **dict.fromkeys(("run_ingest", "IngestResult"), "ingest"),
    **dict.fromkeys(("publish_files", "PublishResult"), "publish"),
    "status_report": "status",
    **dict.fromkeys(("read_dead_letters", "replay"), "dead_letters"),
    "serve_broker": "broker",
    "isolate_failures": "isolate",
    **dict.fromkeys(("forget_now", "list_tombstones", "ForgetRequests"), "forget"),
    "ShardFollower": "follow",
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
