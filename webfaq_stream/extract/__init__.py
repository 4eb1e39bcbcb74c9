"""Extraction of schema.org FAQPage pairs and page context from HTML."""

from webfaq_stream import lazy_exports

_EXPORTS = {"extract_faq": "page"}
__all__ = sorted(_EXPORTS)  # noqa: PLE0605 - the keys of _EXPORTS
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
