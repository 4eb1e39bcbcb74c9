"""Engine failures as store errors that say what to do (``errors``: transient or permanent).

``engine_failure(what, exc)`` classifies an exception raised by qdrant-edge-py (or qdrant-client's
local mode, which runs the same kind of engine in process):

- :class:`StoreUnavailableError` (transient, retried) for an ``OSError`` (``ConnectionError``,
  ``TimeoutError``, a full disk) and for engine messages that name an outage or a resource
  (:data:`TRANSIENT_MARKERS`: Qdrant's "Service runtime error" and "Service internal error", which a
  server answers as HTTP 500, I/O and ``os error`` texts, no space left, out of memory, timeouts,
  cancelled operations, a lock that would block);
- :class:`StoreRejectedError` (permanent, never retried) for everything else: the engine refused
  this request (a malformed id, vector or payload: ``ValueError``, "Wrong input", "Vector dimension
  error", "Not existing vector name error", ...), which the same request would meet again.

The server adapter adds the HTTP rules (``adapters.qdrant.server``: 5xx, 408 and 429 and transport
errors transient, other 4xx permanent).
"""

from __future__ import annotations

from webfaq_stream.errors import StoreError, StoreRejectedError, StoreUnavailableError

#: Lower-case fragments of an engine message that mean "not now", not "not this request".
TRANSIENT_MARKERS = ("service runtime error", "service internal error", "os error", "i/o error",
                     "input/output error", "no space left", "out of memory", "timeout", "timed out",
                     "cancelled", "wouldblock", "would block", "too many open files", "connection")


def is_transient_message(message: str) -> bool:
    """True when an engine message names an outage or a resource, not the request (module docstring)."""
    lowered = message.lower()
    return any(marker in lowered for marker in TRANSIENT_MARKERS)


def engine_failure(what: str, exc: BaseException) -> StoreError:
    """``exc`` (raised by the engine while doing ``what``) as the store error that says what to do."""
    if isinstance(exc, StoreError):
        return exc
    message = f"{what} failed: {exc}"
    if isinstance(exc, OSError) or is_transient_message(str(exc)):
        return StoreUnavailableError(message)
    return StoreRejectedError(message)
