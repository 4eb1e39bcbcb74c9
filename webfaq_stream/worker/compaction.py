"""The daemon's compaction of the embedded store: when to flush and when to optimize.

``StoreCompaction(store, flush_interval_s, optimize_interval_s).after_batch(index_stats)`` runs in
the worker's commit stage after each stored batch (so never while the store is written), once
that batch or an earlier one wrote points:

- **flush** (persist the segments, truncate the WAL) at most every ``flush_interval_s``;
- **optimize** at most every ``optimize_interval_s``: the store's optimizers (see
  :mod:`webfaq_stream.adapters.qdrant.edge`) vacuum a segment whose rewritten or deleted copies
  pass a fifth of it, turn the appendable segment into a compact one once it holds 10 MB of
  vectors and merge small segments, each plan bounded by the store's segment size. A call with
  nothing planned costs a fraction of a millisecond; a call with work holds the whole worker
  (qdrant-edge's ``optimize`` holds the interpreter) for that work: calling it often keeps each
  call small. bench/RESULTS.md has the measured stalls.

A failing flush or optimize (``StoreError``: disk full) is logged and tried again after the next
batch; the batch itself is already stored. Nothing here runs for a Qdrant server, whose own
optimizers run in the background.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from webfaq_stream.errors import StoreError
from webfaq_stream.store.indexer import IndexStats

log = logging.getLogger(__name__)


@runtime_checkable
class CompactableStore(Protocol):
    """What compaction needs from the embedded store (``EdgePairStore``)."""

    def flush(self) -> None: ...

    def optimize(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class CompactionReport:
    """What one ``after_batch`` did: seconds spent flushing and optimizing (``None``: not run)."""

    flush_s: float | None = None
    optimize_s: float | None = None
    optimized: bool = False

    @property
    def seconds(self) -> float:
        return (self.flush_s or 0.0) + (self.optimize_s or 0.0)


class StoreCompaction:
    """The schedule of the module docstring, fed with each stored batch's :class:`IndexStats`."""

    def __init__(self, store: CompactableStore, flush_interval_s: float, optimize_interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.flush_interval_s = flush_interval_s
        self.optimize_interval_s = optimize_interval_s
        self.clock = clock
        self._unflushed = self._unoptimized = False
        self._last_flush = self._last_optimize = clock()

    def after_batch(self, index: IndexStats) -> CompactionReport:
        """Flush and/or optimize if due after this batch; never raises a store failure."""
        if index.points_written:
            self._unflushed = self._unoptimized = True
        now = self.clock()
        flush_s = optimize_s = None
        optimized = False
        if self._unflushed and now - self._last_flush >= self.flush_interval_s:
            done, _ = self._attempt("flush", self.store.flush)
            if done:
                self._unflushed, self._last_flush = False, self.clock()
                flush_s = self._last_flush - now
        if self._unoptimized and now - self._last_optimize >= self.optimize_interval_s:
            started = self.clock()
            done, changed = self._attempt("optimize", self.store.optimize)
            if done:
                self._unoptimized, self._last_optimize = False, self.clock()
                optimize_s, optimized = self._last_optimize - started, bool(changed)
                if optimized:
                    log.info("store optimized in %.2f s (segments vacuumed, converted or merged)", optimize_s)
        return CompactionReport(flush_s=flush_s, optimize_s=optimize_s, optimized=optimized)

    @staticmethod
    def _attempt(what: str, operation: Callable[[], Any]) -> tuple[bool, Any]:
        """``(True, operation())``, or ``(False, None)`` after logging a store failure."""
        try:
            return True, operation()
        except StoreError as exc:
            log.warning("store compaction: %s failed, will retry after the next batch: %s", what, exc)
            return False, None
