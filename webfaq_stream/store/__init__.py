"""The pair store's logic: the indexer (dedup, near-duplicates, alignment), the release gate and checkpoint, the ingest counts kept beside the pairs."""
