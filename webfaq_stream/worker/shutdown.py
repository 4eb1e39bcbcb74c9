"""Graceful stop: SIGTERM lets the batch in hand finish or abandons it, never half-commits it.

In: a stop request (SIGTERM/SIGINT through :meth:`GracefulStop.install`, or
:meth:`GracefulStop.request`). Out: the worker asks :attr:`GracefulStop.requested` before
taking the next batch (and while retrying a failing store), calls :meth:`GracefulStop.checkpoint`
before each irreversible step (store write, offset commit), and waits for the batch in hand at most
:meth:`remaining_s` on the way out.

Guarantees:
- once a stop is requested no new batch should start (``requested`` is true) and
  ``health.mark_stopping()`` has been called, so ``/health`` answers 503;
- within ``grace_s`` of the request a batch in hand may finish (write, then commit);
- after ``grace_s`` :meth:`checkpoint` raises :class:`BatchAbandoned`: the worker drops the
  batch without committing its offsets, so the records are read again after restart (the
  store's writes are idempotent, so a batch written but not committed is harmless);
- a second signal while stopping abandons at once (``remaining_s() == 0``).
Thread-safe; usable from a thread pool and from an asyncio loop.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from webfaq_stream.errors import WebFAQError
from webfaq_stream.worker.health import HealthState


class BatchAbandoned(WebFAQError):
    """The stop deadline passed: leave the batch unstored and uncommitted."""


class GracefulStop:
    """Coordinates a stop request with the batch in hand; see the module docstring."""

    def __init__(self, grace_s: float, health: HealthState | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._health = health
        self._clock = clock
        self._cond = threading.Condition()
        self._requested_at: float | None = None
        self._forced = False
        self.reason = ""
        self._callbacks: list[Callable[[str], None]] = []

    # --- the request ---------------------------------------------------------------------
    @property
    def requested(self) -> bool:
        """True once a stop was requested: take no new batch."""
        return self._requested_at is not None

    def request(self, reason: str = "requested") -> None:
        """Ask for a stop; a second request abandons the batch in hand at once."""
        with self._cond:
            if self._requested_at is not None:
                self._forced = True
            else:
                self._requested_at = self._clock()
                self.reason = reason
            callbacks = list(self._callbacks)
            self._cond.notify_all()
        if self._health is not None:
            self._health.mark_stopping()
        for callback in callbacks:
            callback(reason)

    def on_request(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` on every stop request (e.g. to stop the Faust app)."""
        with self._cond:
            self._callbacks.append(callback)

    def install(self, loop: asyncio.AbstractEventLoop | None = None,
                signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Turn ``signals`` into :meth:`request`: via ``loop.add_signal_handler`` when a loop
        is given, else with ``signal.signal`` (main thread only)."""
        for sig in signals:
            if loop is not None:
                loop.add_signal_handler(sig, self.request, sig.name)
            else:
                signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request(signal.Signals(signum).name)

    # --- the batch in hand ---------------------------------------------------------------
    def remaining_s(self) -> float:
        """Seconds the batch in hand may still use: ``inf`` before a request, 0 when forced."""
        with self._cond:
            if self._requested_at is None:
                return float("inf")
            if self._forced:
                return 0.0
            return max(0.0, self.grace_s - (self._clock() - self._requested_at))

    def checkpoint(self) -> None:
        """Raise :class:`BatchAbandoned` when the grace period is over; call before each
        store write and before committing offsets."""
        if self.remaining_s() <= 0:
            raise BatchAbandoned(f"stop ({self.reason}) after {self.grace_s:g}s grace: batch abandoned")
