"""One exception hierarchy for the whole project, rooted in :class:`WebFAQError`; each error says what to do.

Every error the project raises on purpose derives from ``WebFAQError`` so callers can catch the
project's failures without catching programming errors. Adapters' errors (crawl files, the
producer, the stores) are defined here too, under the same root.

What to do is one class attribute, :attr:`WebFAQError.transient`:

- ``transient = True`` (:class:`BrokerError`, :class:`StoreUnavailableError` and
  :class:`StoreLockedError`): the same operation may succeed later (a broker or store that is down
  or restarting, a timeout, a full disk, a lock held by another process): the worker retries it
  with capped backoff (``worker.retry.RetryPolicy``) and reports itself unhealthy meanwhile;
- ``transient = False`` (everything else, e.g. :class:`StoreRejectedError`: the store refused the
  request itself): retrying cannot help; the worker isolates the record(s) that cause it and
  dead-letters them (``internal_error``), or stops when no record does.

A page that is dropped (``domain.model.PageDropped``) is an outcome, not an error: it is not part
of this hierarchy.
"""

from __future__ import annotations


class WebFAQError(Exception):
    """Root of every error raised on purpose by webfaq-stream."""

    #: True when retrying the same operation later may succeed (see the module docstring).
    transient: bool = False


class ConfigurationError(WebFAQError):
    """A setting is missing or invalid; the message names the variable."""


class RecordError(WebFAQError):
    """A crawl record cannot be decoded; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class ModelError(WebFAQError):
    """An embedding or language-id model cannot be loaded or used."""


class StoreError(WebFAQError):
    """The pair store failed; permanent (not retried) unless a :class:`StoreUnavailableError`."""


class StoreRejectedError(StoreError):
    """The store refused the request itself (a malformed point or payload, an HTTP 4xx): permanent."""


class StoreUnavailableError(StoreError):
    """The store cannot serve the request now (connection refused, timeout, HTTP 5xx, disk full, I/O)."""

    transient = True


class StoreLockedError(StoreUnavailableError):
    """The embedded store directory is held by another process."""


class StoreMissingError(StoreError):
    """A reader asked for a store that was never created (nothing to read)."""


class ReleaseError(WebFAQError):
    """A release could not be written or read."""


class BrokerError(WebFAQError):
    """The Kafka-compatible broker cannot be started, reached or used (transient)."""

    transient = True


class CrawlFileError(WebFAQError):
    """A crawl file cannot be read (missing, not WARC, not JSON lines, corrupt)."""


class RecordTooLargeError(BrokerError):
    """One message is over the producer's size limit: refused before sending, nothing else fails."""

    transient = False
