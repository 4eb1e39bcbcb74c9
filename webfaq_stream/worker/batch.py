"""One worker batch, from raw messages to stored pairs and a checkpoint (no Faust, no Kafka here).

``BatchProcessor(pipeline=..., embedder=..., store=..., dead_letters=...).process(messages)``, run in
a worker thread (the CPU-bound work never runs on the event loop):

1. reads the store's checkpoint and skips records it already covers (replays after a crash);
2. decodes, extracts, cleans and tags (:class:`~webfaq_stream.domain.pipeline.Pipeline`);
3. sends undecodable records to the dead-letter sink and flushes it;
4. embeds ``question answer`` and applies the pairs with :class:`PairIndexer`, writing in the
   same store operation the checkpoint meta ``{"offsets": {"<topic>:<partition>": next_offset},
   "time", "batch_seq"}`` and the cumulative ``worker_stats`` (through the ``ReleaseGate``, inside
   ``gate.batch()``, so a release sees whole batches only).

While the store fails (``StoreError``: unreachable, disk full) or the broker refuses dead letters
(``BrokerError``), the step is retried by the :class:`~webfaq_stream.worker.retry.RetryPolicy` for as
long as it takes; a stop request meanwhile raises ``BatchAbandoned`` and nothing is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from webfaq_stream.domain.pipeline import BatchResult, Pipeline, RawMessage, offset_key
from webfaq_stream.errors import BrokerError, ConfigurationError
from webfaq_stream.ports import DeadLetterSink, Embedder
from webfaq_stream.store.gate import CHECKPOINT_KEY, ReleaseGate
from webfaq_stream.store.indexer import IndexStats, PairIndexer
from webfaq_stream.store.stats import STATS_KEY, IngestStats
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.metrics import BatchStats, Metrics
from webfaq_stream.worker.retry import STORE_RETRY_MAX_DELAY_S, RetryPolicy
from webfaq_stream.worker.shutdown import GracefulStop

log = logging.getLogger(__name__)

MODEL_KEY = "model"
#: Seconds a batch in hand may still take after a stop when no GracefulStop is given.
STOP_GRACE_S = 30.0
#: Messages per pipeline chunk; the extraction thread runs chunk k+1 while chunk k is embedded.
EXTRACT_CHUNK = 8


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_meta(embedder: Embedder) -> dict[str, Any]:
    """The ``model`` meta document: what built the store's vectors and thresholds."""
    return {"name": embedder.name, "dim": int(embedder.dim),
            "near_duplicate_threshold": float(embedder.near_duplicate_threshold),
            "alignment_threshold": float(embedder.alignment_threshold)}


def check_store_model(stored: dict[str, Any] | None, embedder: Embedder) -> None:
    """Refuse to mix vectors of two models in one store (``ConfigurationError``)."""
    if stored and (stored.get("name") != embedder.name or int(stored.get("dim", embedder.dim)) != embedder.dim):
        raise ConfigurationError(
            f"WEBFAQ_EMBEDDING_MODEL: the store holds vectors of {stored.get('name')!r} "
            f"({stored.get('dim')} dims), not {embedder.name!r}; use another store or collection")


@dataclass
class BatchOutcome:
    """What one batch did (for logs and tests)."""

    result: BatchResult
    index: IndexStats
    replayed: int
    batch_seq: int
    seconds: float


class BatchProcessor:
    """Synchronous batch work, run in a worker thread; see the module contract (steps 1-4)."""

    def __init__(self, *, pipeline: Pipeline, embedder: Embedder, store: ReleaseGate,
                 dead_letters: DeadLetterSink, metrics: Metrics | None = None,
                 health: HealthState | None = None, stop: GracefulStop | None = None,
                 retry_delay_s: float = 1.0, retry_max_delay_s: float = STORE_RETRY_MAX_DELAY_S) -> None:
        self.pipeline = pipeline
        self.embedder = embedder
        self.store = store
        self.indexer = PairIndexer(store, embedder.near_duplicate_threshold, embedder.alignment_threshold)
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.health = health
        self.stop = stop or GracefulStop(STOP_GRACE_S)
        self.retry = RetryPolicy(self.stop, health=health, metrics=metrics, delay_s=retry_delay_s,
                                 max_delay_s=retry_max_delay_s)
        self._extractor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webfaq-extract")

    def process(self, messages: Sequence[RawMessage]) -> BatchOutcome:
        """Steps 1-4; retries a failing store until it works; raises ``BatchAbandoned`` when a stop
        arrives first."""
        started = time.monotonic()
        with self.stop.batch():
            checkpoint = self.retry.call(lambda: self.store.get_meta(CHECKPOINT_KEY), "reading the checkpoint") or {}
            covered: dict[str, int] = dict(checkpoint.get("offsets") or {})
            fresh = [m for m in messages if m.source is None
                     or m.source.offset >= int(covered.get(offset_key(m.source), 0))]
            result, vectors = self._extract_and_embed(fresh)
            self._send_dead_letters(result)
            batch_seq = int(checkpoint.get("batch_seq") or 0) + 1
            batch_stats = IngestStats(records=result.records, replayed=len(messages) - len(fresh),
                                      pages_with_faq=result.pages_with_faq, pairs_kept=len(result.pairs),
                                      drops=result.drops, dead_letters=result.dead_letter_reasons(),
                                      languages=result.languages())
            index = self._apply(result, vectors, covered, batch_seq, batch_stats)
        seconds = time.monotonic() - started
        if self.metrics is not None:
            self.metrics.observe_batch(BatchStats(
                records=len(messages), pages_with_faq=result.pages_with_faq, pairs_kept=len(result.pairs),
                aligned_pairs=index.aligned_pairs_changed, drops=dict(result.drops),
                languages=dict(result.languages()), dead_letters=dict(result.dead_letter_reasons()),
                seconds=seconds))
        return BatchOutcome(result, index, len(messages) - len(fresh), batch_seq, seconds)

    def _extract_and_embed(self, messages: Sequence[RawMessage]) -> tuple[BatchResult, np.ndarray]:
        """``pipeline.run(messages)`` and the vectors of its pairs, overlapped: chunks of
        :data:`EXTRACT_CHUNK` messages go through the pipeline in the extraction thread while this
        thread embeds the pairs of the chunks before, in the model's batches (the same batches as
        one ``encode`` of all texts, so the same vectors; BLAS and the model engines release the
        GIL). A failure in either stage is raised after the queued chunks are cancelled."""
        chunks = [messages[i:i + EXTRACT_CHUNK] for i in range(0, len(messages), EXTRACT_CHUNK)]
        futures = [self._extractor.submit(self.pipeline.run, chunk) for chunk in chunks]
        result, texts, parts = BatchResult(), [], []
        step = max(1, int(getattr(self.embedder, "batch_size", 64)))
        try:
            for future in futures:
                part = future.result()
                result.extend(part)
                texts += [pair.embedding_text() for pair in part.pairs]
                while len(texts) >= step:
                    parts.append(self.embedder.encode(texts[:step]))
                    del texts[:step]
            if texts or not parts:
                parts.append(self.embedder.encode(texts) if texts
                             else np.zeros((0, self.embedder.dim), dtype=np.float32))
        finally:
            for future in futures:
                future.cancel()
        return result, np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _send_dead_letters(self, result: BatchResult) -> None:
        """Send and flush the batch's dead letters; while the broker refuses them (``BrokerError``:
        down, restarting) retry like a failing store, so the batch is never committed without
        them (a retry may send some twice: dead letters are at-least-once)."""
        if not result.dead_letters:
            return
        for letter in result.dead_letters:
            log.warning("dead letter: %s %s (source %s)", letter.reason, letter.detail[:200],
                        letter.message.source)

        def send_all() -> None:
            for letter in result.dead_letters:
                self.dead_letters.send(letter.message.value or b"", letter.message.key, letter.reason,
                                       letter.message.source)
            self.dead_letters.flush()

        self.retry.call(send_all, "sending dead letters", retry_on=BrokerError)

    def _apply(self, result: BatchResult, vectors: Any, covered: dict[str, int], batch_seq: int,
               batch_stats: IngestStats) -> IndexStats:
        def write() -> IndexStats:
            self.stop.checkpoint()
            with self.store.batch():
                offsets = dict(covered)
                for key, offset in result.offsets.items():
                    offsets[key] = max(offset, int(offsets.get(key, 0)))
                stats = IngestStats.from_meta(self.store.get_meta(STATS_KEY)).add(batch_stats)
                meta = {CHECKPOINT_KEY: {"offsets": offsets, "time": utc_now(), "batch_seq": batch_seq},
                        STATS_KEY: stats.as_meta()}
                return self.indexer.apply(result.pairs, vectors, meta=meta)

        return self.retry.call(write, f"storing batch {batch_seq}")
