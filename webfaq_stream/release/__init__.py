"""Releases: store -> versioned Parquet + DuckDB snapshot, its manifest, card, diff and schedule."""

from webfaq_stream import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("write_release", "release_now", "scheduled_releases", "summary_table", "ReleaseResult"),
                    "build"),
    **dict.fromkeys(("list_releases", "resolve_release", "ReleaseLock"), "layout"),
    **dict.fromkeys(("read_manifest", "verify_files"), "manifest"),
    **dict.fromkeys(("diff_releases", "format_diff"), "diff"),
    "ReleaseScheduler": "schedule",
    "dataset_card": "card",
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
