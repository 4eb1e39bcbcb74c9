"""Releases: store -> versioned Parquet + DuckDB snapshot, its manifest, card, diff and schedule."""
