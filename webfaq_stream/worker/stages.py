"""Consecutive batches overlapped stage by stage: extract batch N+2 while N+1 is embedded and N stored.

In: batches, in the order the records arrived (:meth:`BatchStages.submit`: each gets the next
ticket, and one of :data:`BATCHES_IN_FLIGHT` threads). Out: a future of each batch's
:class:`~webfaq_stream.worker.batch.BatchOutcome`.

Guarantees:
- every stage (:meth:`~webfaq_stream.worker.batch.BatchProcessor.extract`, ``embed``, ``commit``)
  takes the batches one at a time, in ticket order, so at most one batch is in each stage and the
  store sees the writes of batch N before those of batch N+1;
- a batch commits only after every batch before it committed: once one fails (or is abandoned), the
  batches after it raise :class:`~webfaq_stream.worker.shutdown.BatchAbandoned` without writing, so
  no checkpoint ever covers records that were not stored;
- a batch whose records an earlier in-flight batch stored (a redelivery) is extracted again by
  ``commit`` against the new checkpoint (see ``BatchProcessor.commit``).

Why: on a 2-core machine the model keeps about 1.8 cores busy while it embeds, and a batch's
extraction and its store step each run on one thread. Run one after the other, a core waits during
both; overlapped, the model's threads share the cores with them (``make bench``, bench/RESULTS.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from webfaq_stream.domain.pipeline import RawMessage
from webfaq_stream.worker.batch import BatchOutcome, BatchProcessor
from webfaq_stream.worker.shutdown import BatchAbandoned

#: Batches in the worker at once: one in each stage (extract, embed, commit).
BATCHES_IN_FLIGHT = 3


class InTurn:
    """Lets numbered callers through one at a time, in number order (0, 1, 2, ...)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0

    @contextmanager
    def turn(self, ticket: int) -> Iterator[None]:
        """Wait until every lower ticket has had its turn, hold the turn for the ``with`` body."""
        with self._cond:
            self._cond.wait_for(lambda: self._next == ticket)
        try:
            yield
        finally:
            with self._cond:
                self._next = ticket + 1
                self._cond.notify_all()


class BatchStages:
    """Runs :class:`BatchProcessor`'s stages for the batches submitted, in order (module contract)."""

    def __init__(self, processor: BatchProcessor) -> None:
        self.processor = processor
        self._extract, self._embed, self._commit = InTurn(), InTurn(), InTurn()
        self._tickets = 0
        self._submitting = threading.Lock()
        self._failed: int | None = None  # the first ticket that did not commit
        self._threads = ThreadPoolExecutor(max_workers=BATCHES_IN_FLIGHT, thread_name_prefix="webfaq-batch")

    def submit(self, messages: Sequence[RawMessage]) -> Future[BatchOutcome]:
        """Run one batch after every batch submitted before it; :data:`BATCHES_IN_FLIGHT` run at once,
        later ones wait for a thread in the order they came (so a batch never waits for the turn of
        one that has no thread)."""
        with self._submitting:
            ticket, self._tickets = self._tickets, self._tickets + 1
            return self._threads.submit(self.run, ticket, messages)

    def close(self) -> None:
        """Wait for the batches submitted (each finishes or is abandoned), then free the threads."""
        self._threads.shutdown(wait=True)

    def run(self, ticket: int, messages: Sequence[RawMessage]) -> BatchOutcome:
        """Extract, embed and commit batch number ``ticket`` (:meth:`submit` numbers them), each stage
        in its turn; raises what a stage raised, or ``BatchAbandoned`` when an earlier batch did not
        commit. A failed batch still takes (and passes on) its later turns, so the batches after it
        never wait for it."""
        failure: BaseException | None = None
        value: Any = messages
        for stage, work in ((self._extract, self.processor.extract), (self._embed, self.processor.embed)):
            with stage.turn(ticket):
                if failure is None:
                    try:
                        value = work(value)
                    except BaseException as exc:  # noqa: BLE001 - raised below, after the turns
                        failure = exc
        with self._commit.turn(ticket):
            if failure is None and self._failed is not None:
                failure = BatchAbandoned(f"batch {self._failed} was not stored: this batch waits for its replay")
            if failure is None:
                try:
                    return self.processor.commit(value)
                except BaseException as exc:  # noqa: BLE001 - raised below
                    failure = exc
            if self._failed is None:
                self._failed = ticket
        raise failure
