"""Graceful stop: SIGTERM lets the batch in hand finish or abandons it, never half-commits it.

In: a stop request (SIGTERM/SIGINT through :meth:`GracefulStop.install`, or
:meth:`GracefulStop.request`) and the worker's batches, each run inside
``with stop.batch():``. Out: the worker's loop asks :attr:`GracefulStop.requested` before
taking the next batch, calls :meth:`GracefulStop.checkpoint` before each irreversible step
(store write, offset commit) and, on the way out, :meth:`GracefulStop.wait_idle` (or
:meth:`wait_idle_async`) bounded by :meth:`remaining_s`.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
        self._in_hand = 0
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

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Mark a batch in hand for the duration of the block."""
        with self._cond:
            self._in_hand += 1
        try:
            yield
        finally:
            with self._cond:
                self._in_hand -= 1
                self._cond.notify_all()

    @property
    def busy(self) -> bool:
        """True while a batch is in hand."""
        return self._in_hand > 0

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Block until no batch is in hand (True) or ``timeout_s`` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_hand == 0, timeout=timeout_s)

    async def wait_idle_async(self, timeout_s: float | None = None, poll_s: float = 0.05) -> bool:
        """:meth:`wait_idle` for an event loop, without blocking it."""
        deadline = None if timeout_s is None else self._clock() + timeout_s
        while self.busy:
            if deadline is not None and self._clock() >= deadline:
                return False
            await asyncio.sleep(poll_s)
        return True
