"""The domain: value types, ids and origins, the reasons records and pairs leave the flow for, WebFAQ's
cleaning rules, language id, alignment maths and the one pipeline. Pure: imports no adapter."""

from webfaq_stream import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("SourceRef", "CrawlRecord", "RawPair", "PageFAQ", "CleanPair", "Dropped", "TaggedPair",
                     "StoredPair", "utc_now", "iso_time"), "model"),
    **dict.fromkeys(("pair_id", "point_id", "origin_of"), "ids"),
    **dict.fromkeys(("Reason", "DEAD_LETTER_REASONS", "PAGE_DROP_REASONS", "PAIR_DROP_REASONS",
                     "DROP_REASONS"), "reasons"),
    **dict.fromkeys(("clean_pairs", "clean_each"), "clean"),
    "LanguageTagger": "langid",
    **dict.fromkeys(("AlignItem", "mutual_best_matches", "bitext_rows"), "align"),
    **dict.fromkeys(("Pipeline", "RawMessage", "DeadLetter", "BatchResult", "PageResult", "PairOutcome",
                     "page_record", "opted_out", "OPT_OUT_POLICIES"), "pipeline"),
    **dict.fromkeys(("Target", "Tombstone", "Tombstones", "parse_targets"), "tombstones"),
}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
