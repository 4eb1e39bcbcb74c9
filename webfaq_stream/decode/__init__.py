"""Decoding crawl records (WARC response records, JSON envelopes) into domain records."""

from webfaq_stream import lazy_exports

_EXPORTS = {"decode_record": "records"}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
