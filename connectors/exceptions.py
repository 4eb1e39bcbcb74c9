"""Connector errors, under the project's single root ``WebFAQError``.

Connectors raise the domain's error classes (``StoreError``, ``BrokerError``...) or the
subclasses defined here, so the application catches them without knowing which adapter is in use.
"""

from webfaq_stream.exceptions import BrokerError, StoreError, StoreLockedError, WebFAQError


class CrawlFileError(WebFAQError):
    """A crawl file cannot be read (missing, not WARC, not JSON lines, corrupt)."""


class RecordTooLargeError(BrokerError):
    """One message is over the producer's size limit: refused before sending, nothing else fails."""


__all__ = ["BrokerError", "CrawlFileError", "RecordTooLargeError", "StoreError", "StoreLockedError",
           "WebFAQError"]
