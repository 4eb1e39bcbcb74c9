"""The pair store: the one opener, the indexer (dedup, near-duplicates, alignment), the release gate
and checkpoint, pages of payloads, the ingest counts kept beside the pairs, read-only queries."""

from webfaq_stream import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("open_store", "store_location"), "opener"),
    **dict.fromkeys(("PairIndexer", "IndexStats"), "indexer"),
    **dict.fromkeys(("ReleaseGate", "PointInTimeView", "CHECKPOINT_KEY"), "gate"),
    "payload_pages": "pages",
    **dict.fromkeys(("IngestStats", "STATS_KEY", "format_summary"), "stats"),
    **dict.fromkeys(("search_pairs", "store_counts", "StoreCounts"), "queries"),
    **dict.fromkeys(("forget", "complete_pending", "read_tombstones", "TombstoneCache"), "forget"),
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
