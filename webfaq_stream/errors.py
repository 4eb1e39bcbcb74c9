"""One exception hierarchy for the whole project, rooted in :class:`WebFAQError`.

Every error the project raises on purpose derives from ``WebFAQError`` so callers can
catch the project's failures without catching programming errors. Adapters' errors
(crawl files, the producer) are defined here too, under the same root.
"""

from __future__ import annotations


class WebFAQError(Exception):
    """Root of every error raised on purpose by webfaq-stream."""


class ConfigurationError(WebFAQError):
    """A setting is missing or invalid; the message names the variable."""


class RecordError(WebFAQError):
    """A crawl record cannot be decoded; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class PageDropped(WebFAQError):
    """A page was decoded but cannot be processed (too large, too slow, ...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ModelError(WebFAQError):
    """An embedding or language-id model cannot be loaded or used."""


class StoreError(WebFAQError):
    """The pair store failed (unreachable, full, locked by another process, ...)."""


class StoreLockedError(StoreError):
    """The embedded store directory is held by another process."""


class ReleaseError(WebFAQError):
    """A release could not be written or read."""


class BrokerError(WebFAQError):
    """The Kafka-compatible broker cannot be started, reached or used."""


class CrawlFileError(WebFAQError):
    """A crawl file cannot be read (missing, not WARC, not JSON lines, corrupt)."""


class RecordTooLargeError(BrokerError):
    """One message is over the producer's size limit: refused before sending, nothing else fails."""
