"""The worker's retry policy: transient failures are retried with capped exponential backoff.

``RetryPolicy(stop, health=..., metrics=..., delay_s=1.0, max_delay_s=30.0).call(fn, what,
retry_on=StoreError)`` calls ``fn()`` until it does not raise a *transient* ``retry_on`` error
(``errors.WebFAQError.transient``: ``StoreUnavailableError`` for the store, ``BrokerError`` for the
dead-letter producer), waiting ``delay_s`` doubling up to ``max_delay_s`` between attempts, for as
long as it takes. Health is unhealthy from the first failure to the next success (store or broker,
by ``retry_on``), and every store failure is counted in the metrics. Any other exception, a
permanent ``retry_on`` error included (a store that rejects the request, a bug), propagates at once:
it is not an outage, and retrying it would stall the partition for ever. A stop request during the
wait raises ``BatchAbandoned``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from webfaq_stream.errors import StoreError, WebFAQError
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.metrics import Metrics
from webfaq_stream.worker.shutdown import BatchAbandoned, GracefulStop

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Longest wait between two attempts at a failing store operation (capped exponential backoff).
STORE_RETRY_MAX_DELAY_S = 30.0


class RetryPolicy:
    """Capped exponential backoff for the store and the broker; see the module contract."""

    def __init__(self, stop: GracefulStop, *, health: HealthState | None = None, metrics: Metrics | None = None,
                 delay_s: float = 1.0, max_delay_s: float = STORE_RETRY_MAX_DELAY_S) -> None:
        self.stop = stop
        self.health = health
        self.metrics = metrics
        self.delay_s = delay_s
        self.max_delay_s = max_delay_s

    def call(self, fn: Callable[[], T], what: str, retry_on: type[WebFAQError] = StoreError) -> T:
        """``fn()``, retried while it raises a transient ``retry_on``; see the module contract."""
        attempt = 0
        while True:
            attempt += 1
            try:
                value = fn()
            except retry_on as exc:
                if not exc.transient:
                    raise
                self._mark_failed(retry_on, exc)
                delay = min(self.max_delay_s, self.delay_s * 2 ** min(attempt - 1, 30))
                log.warning("%s failed (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc)
                self._wait_or_abandon(delay, what)
                continue
            if self.health is not None:
                (self.health.mark_store_ok if issubclass(retry_on, StoreError) else self.health.mark_broker_ok)()
            return value

    def _mark_failed(self, retry_on: type[WebFAQError], exc: WebFAQError) -> None:
        if issubclass(retry_on, StoreError):
            if self.metrics is not None:
                self.metrics.record_store_error()
            if self.health is not None:
                self.health.mark_store_failed(exc)
        elif self.health is not None:
            self.health.mark_broker_failed(exc)

    def _wait_or_abandon(self, delay_s: float, what: str) -> None:
        """Sleep ``delay_s`` in short steps; a stop request abandons the batch."""
        deadline = time.monotonic() + delay_s
        while True:
            if self.stop.requested:
                raise BatchAbandoned(f"stop ({self.stop.reason}) while {what} kept failing: batch abandoned")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.1, left))
