"""One worker batch, from raw messages to stored pairs and a checkpoint (no Faust, no Kafka here).

``BatchProcessor(pipeline=..., embedder=..., store=..., dead_letters=...)`` works a batch in three
stages, each run in a worker thread (the CPU-bound work never runs on the event loop):
``extract(messages)`` (steps 1-2: reads the store, writes nothing), ``embed(extracted)`` (the model
work of step 4: no store access) and ``commit(embedded)`` (steps 3-5: every write). ``process(messages)``
runs the three in a row; the worker overlaps the stages of consecutive batches
(:class:`~webfaq_stream.worker.stages.BatchStages`), and ``commit`` reads the checkpoint again, so
a batch is stored as if the batches before it had been stored before it was extracted:

1. reads the store's checkpoint and skips records it already covers (replays after a crash), and
   its tombstones;
2. decodes, extracts, cleans and tags (:class:`~webfaq_stream.domain.pipeline.Pipeline`), and drops
   the pairs of forgotten origins and URLs (``forgotten``) before they are embedded;
3. sends undecodable records to the dead-letter sink and flushes it;
4. embeds questions and answers into store vectors (:class:`~webfaq_stream.embed.models.StoreModels`;
   the indexer adds alignment vectors where they are needed), labels the pairs
   (:class:`~webfaq_stream.worker.labels.Labeller`: it reads the batch's stored points first, so a
   re-seen pair keeps the labels its model already gave) and applies them with :class:`PairIndexer`,
   writing in the same store operation the checkpoint meta ``{"offsets": {"<topic>:<partition>": next_offset},
   "time", "batch_seq"}`` and the cumulative ``worker_stats`` (through the ``ReleaseGate``, inside
   ``gate.batch()``, so a release sees whole batches only). Inside ``gate.batch()`` the tombstones
   are read again, so a forget that ran while the batch was extracted keeps its pairs out too;
5. gives the stored batch to the embedded store's compaction schedule, if any
   (:class:`~webfaq_stream.worker.compaction.StoreCompaction`: flush, optimize), inside
   ``gate.batch()`` too, so that a flush or an optimize never runs beside another write.

Failures say what to do (``errors``). While the store fails transiently (``StoreUnavailableError``:
unreachable, timeout, disk full) or the broker refuses dead letters (``BrokerError``), the step is
retried by the :class:`~webfaq_stream.worker.retry.RetryPolicy` for as long as it takes; a stop
request meanwhile raises ``BatchAbandoned`` and nothing is stored. When step 4 fails for any other
reason (the store rejects the request for good, a bug in the indexer), the records that make it fail
are isolated (:func:`~webfaq_stream.worker.isolate.isolate_failures`: the batch's records with pairs
are split in halves, each half applied on its own, still inside one ``gate.batch()``):

- each record that fails on its own goes to the dead-letter sink with reason ``internal_error`` and
  the detail ``"<exception type>: <message>"``, and its pairs are not stored;
- every other record's pairs are stored exactly once (each in one successful apply; the indexer's
  result does not depend on how pairs are split into applies, so the store is what one apply of the
  good pairs would give);
- the dead letters are flushed, then the checkpoint (covering the whole batch) and the counts
  (the isolated records counted as dead letters, not as pages with FAQs) are written on their own:
  the batch is committed once, and the worker stays healthy and goes on.

A failure that no record causes propagates, with nothing dead-lettered when the store refuses every
write (when every record failed on its own, an unchanged rewrite of the counts must succeed before
they are dead-lettered), or after the dead letters when only the checkpoint write fails: the worker
exits (status 3) and its supervisor restarts it. A crash or abandon during isolation leaves the good
halves stored without the checkpoint: the replay stores them again unchanged and isolates again (a
record may be dead-lettered twice: dead letters are at-least-once).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from webfaq_stream.domain.model import iso_time, utc_now
from webfaq_stream.domain.pipeline import (
    BatchResult,
    DeadLetter,
    Pipeline,
    RawMessage,
    offset_key,
)
from webfaq_stream.domain.reasons import Reason
from webfaq_stream.domain.tombstones import Tombstones
from webfaq_stream.embed.models import StoreModels
from webfaq_stream.errors import BrokerError, ConfigurationError, WebFAQError
from webfaq_stream.ports import DeadLetterSink, Embedder
from webfaq_stream.store.forget import TombstoneCache
from webfaq_stream.store.gate import CHECKPOINT_KEY, ReleaseGate
from webfaq_stream.store.indexer import DAY_S, IndexStats, PairIndexer, WideVectors
from webfaq_stream.store.stats import STATS_KEY, IngestStats
from webfaq_stream.worker.compaction import CompactionReport, StoreCompaction
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.isolate import isolate_failures
from webfaq_stream.worker.labels import Labeller
from webfaq_stream.worker.metrics import BatchStats, Metrics
from webfaq_stream.worker.retry import STORE_RETRY_MAX_DELAY_S, RetryPolicy
from webfaq_stream.worker.shutdown import BatchAbandoned, GracefulStop

log = logging.getLogger(__name__)

MODEL_KEY = "model"
#: Seconds a batch in hand may still take after a stop when no GracefulStop is given.
STOP_GRACE_S = 30.0


def store_models(embedder: StoreModels | Embedder) -> StoreModels:
    """``embedder`` as :class:`StoreModels` (a single model embeds everything)."""
    return embedder if isinstance(embedder, StoreModels) else StoreModels(embedder)


def model_meta(embedder: StoreModels | Embedder) -> dict[str, Any]:
    """The ``model`` meta document: what built the store's vectors and thresholds."""
    return store_models(embedder).meta()


def check_store_model(stored: dict[str, Any] | None, embedder: StoreModels | Embedder) -> None:
    """Refuse to mix vectors of two models in one store (``ConfigurationError``)."""
    models = store_models(embedder)
    if stored and (stored.get("name") != models.name or int(stored.get("dim", models.dim)) != models.dim):
        raise ConfigurationError(
            f"WEBFAQ_EMBEDDING_MODEL / WEBFAQ_ALIGNMENT_MODEL: the store holds vectors of "
            f"{stored.get('name')!r} ({stored.get('dim')} dims), not {models.name!r}; use another store or "
            "collection")


def pair_indexer(store: Any, models: StoreModels, last_seen_resolution_s: int = DAY_S) -> PairIndexer:
    """The indexer for a store built by ``models`` (thresholds, alignment rule, wide vectors)."""
    wide = (WideVectors(models.wide.encode, models.wide.near_duplicate_threshold)
            if models.wide is not None else None)
    return PairIndexer(store, models.store.near_duplicate_threshold, models.align_rule().threshold,
                       align_rule=models.align_rule(), wide=wide, known_languages=models.languages,
                       last_seen_resolution_s=last_seen_resolution_s)


@dataclass
class BatchOutcome:
    """What one batch did (for logs and tests); ``result`` counts the isolated records as dead letters."""

    result: BatchResult
    index: IndexStats
    replayed: int
    batch_seq: int
    seconds: float
    compaction: CompactionReport | None = None


@dataclass(frozen=True)
class ExtractedBatch:
    """A batch after :meth:`BatchProcessor.extract`: its records, those the checkpoint did not cover
    (``fresh``), their pipeline result without forgotten pairs, the record of each pair (``sources``),
    the tombstones that were applied, and when the batch's work started (``time.monotonic``)."""

    messages: Sequence[RawMessage]
    fresh: list[RawMessage]
    result: BatchResult
    sources: list[RawMessage]
    tombstones: Tombstones
    started: float


@dataclass(frozen=True)
class EmbeddedBatch:
    """A batch after :meth:`BatchProcessor.embed`: one store vector per pair of ``extracted.result``."""

    extracted: ExtractedBatch
    vectors: np.ndarray


def _offsets(checkpoint: dict[str, Any]) -> dict[str, int]:
    """A checkpoint's offsets: ``"<topic>:<partition>" -> next offset to store``."""
    return dict(checkpoint.get("offsets") or {})


def _covers(covered: dict[str, int], message: RawMessage) -> bool:
    """Whether the checkpoint offsets ``covered`` already include ``message`` (a replay)."""
    return message.source is not None and message.source.offset < int(covered.get(offset_key(message.source), 0))


@dataclass(frozen=True)
class _Record:
    """One record of a batch with the rows (in the batch's pairs and vectors) of its pairs."""

    message: RawMessage
    rows: list[int] = field(default_factory=list)


def _records_with_pairs(sources: Sequence[RawMessage]) -> list[_Record]:
    """Group the rows of the pairs by the record they came from (``sources[row]``), in order."""
    records: list[_Record] = []
    for row, message in enumerate(sources):
        if not records or records[-1].message is not message:
            records.append(_Record(message))
        records[-1].rows.append(row)
    return records


def _without(result: BatchResult, isolated: Sequence[tuple[_Record, DeadLetter]]) -> BatchResult:
    """``result`` with the isolated records' pairs removed and the records counted as dead letters."""
    rows = {row for record, _ in isolated for row in record.rows}
    return BatchResult(records=result.records, pages_with_faq=result.pages_with_faq - len(isolated),
                       pairs=[pair for row, pair in enumerate(result.pairs) if row not in rows],
                       drops=Counter(result.drops),
                       dead_letters=result.dead_letters + [letter for _, letter in isolated],
                       offsets=dict(result.offsets))


def _summed(parts: Sequence[IndexStats]) -> IndexStats:
    return IndexStats(**{f.name: sum(getattr(part, f.name) for part in parts) for f in fields(IndexStats)})


class BatchProcessor:
    """Synchronous batch work, run in a worker thread; see the module contract (steps 1-5).
    ``labeller`` defaults to one without classifiers (question-word types only)."""

    def __init__(self, *, pipeline: Pipeline, embedder: StoreModels | Embedder, store: ReleaseGate,
                 dead_letters: DeadLetterSink, labeller: Labeller | None = None,
                 metrics: Metrics | None = None,
                 health: HealthState | None = None, stop: GracefulStop | None = None,
                 retry_delay_s: float = 1.0, retry_max_delay_s: float = STORE_RETRY_MAX_DELAY_S,
                 last_seen_resolution_s: int = DAY_S, compaction: StoreCompaction | None = None) -> None:
        self.pipeline = pipeline
        self.embedder = store_models(embedder)
        self.store = store
        self.indexer = pair_indexer(store, self.embedder, last_seen_resolution_s)
        self.compaction = compaction
        self.labeller = labeller or Labeller()
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.health = health
        self.stop = stop or GracefulStop(STOP_GRACE_S)
        self.retry = RetryPolicy(self.stop, health=health, metrics=metrics, delay_s=retry_delay_s,
                                 max_delay_s=retry_max_delay_s)
        self.tombstones = TombstoneCache()

    def process(self, messages: Sequence[RawMessage]) -> BatchOutcome:
        """Steps 1-5 in this thread: ``commit(embed(extract(messages)))``."""
        return self.commit(self.embed(self.extract(messages)))

    def extract(self, messages: Sequence[RawMessage]) -> ExtractedBatch:
        """Steps 1-2: the records the checkpoint does not cover, through the pipeline, without the pairs
        of forgotten origins and URLs; then the model's work that can run ahead of :meth:`embed`
        (``StoreModels.prepare``: tokenization). Reads the store (checkpoint, tombstones), writes
        nothing."""
        started = time.monotonic()
        covered = _offsets(self._checkpoint())
        fresh = [m for m in messages if not _covers(covered, m)]
        tombstones = self.retry.call(lambda: self.tombstones.current(self.store), "reading the tombstones")
        result, sources = BatchResult(), []
        for message in fresh:  # one at a time: each pair's record is known (isolation, forgotten URLs)
            part = self.pipeline.run([message])
            result.extend(part)
            sources += [message] * len(part.pairs)
        kept = result.drop_pairs(Reason.FORGOTTEN, tombstones.covers)
        self.embedder.prepare([p.question for p in result.pairs], [p.answer for p in result.pairs])
        return ExtractedBatch(messages, fresh, result, [sources[i] for i in kept], tombstones, started)

    def embed(self, batch: ExtractedBatch) -> EmbeddedBatch:
        """Step 4's model work: the store vectors of the batch's pairs, in calls of the model's batch
        size at most, whatever the embedder does itself (no store access)."""
        pairs, step = batch.result.pairs, max(1, int(self.embedder.batch_size))
        parts = [self.embedder.pair_vectors([p.question for p in pairs[start:start + step]],
                                            [p.answer for p in pairs[start:start + step]])
                 for start in range(0, len(pairs), step)] or [self.embedder.pair_vectors([], [])]
        return EmbeddedBatch(batch, np.concatenate(parts) if len(parts) > 1 else parts[0])

    def commit(self, batch: EmbeddedBatch) -> BatchOutcome:
        """Steps 3-5: labels, dead letters, the pairs with the checkpoint in one store operation,
        compaction; retries a store that is down until it works, isolates the records that make the
        store step fail for good (module contract); raises ``BatchAbandoned`` when a stop arrives first.

        The checkpoint is read again first: a batch extracted while an earlier one was not yet stored
        (:class:`~webfaq_stream.worker.stages.BatchStages`) may hold records that batch stored (a
        redelivery after a rebalance); it is then extracted and embedded again against the new
        checkpoint, so no record is stored or counted twice."""
        extracted = batch.extracted
        checkpoint = self._checkpoint()
        covered = _offsets(checkpoint)
        if any(_covers(covered, message) for message in extracted.fresh):
            log.info("records of this batch were stored meanwhile: extracting it again")
            batch = self.embed(self.extract(extracted.messages))
            extracted = batch.extracted
        result, replayed = extracted.result, len(extracted.messages) - len(extracted.fresh)
        self._label(result)
        self._send_dead_letters(result.dead_letters)
        batch_seq = int(checkpoint.get("batch_seq") or 0) + 1
        result, index = self._store_batch(result, batch.vectors, extracted.sources, covered, batch_seq,
                                          replayed=replayed, tombstones=extracted.tombstones)
        compaction = None
        if self.compaction is not None:
            with self.store.batch():
                compaction = self.compaction.after_batch(index)
        seconds = time.monotonic() - extracted.started
        if self.metrics is not None:
            self.metrics.observe_batch(BatchStats(
                records=len(extracted.messages), pages_with_faq=result.pages_with_faq,
                pairs_kept=len(result.pairs), aligned_pairs=index.aligned_pairs_changed,
                drops=dict(result.drops), languages=dict(result.languages()),
                dead_letters=dict(result.dead_letter_reasons()), seconds=seconds))
        return BatchOutcome(result, index, replayed, batch_seq, seconds, compaction)

    def _checkpoint(self) -> dict[str, Any]:
        """The store's checkpoint meta (``{}`` before the first batch); retried while the store is down."""
        return self.retry.call(lambda: self.store.get_meta(CHECKPOINT_KEY), "reading the checkpoint") or {}

    def _label(self, result: BatchResult) -> None:
        """Step 4's labels: the batch's pairs replaced by their labelled selves (same order, so the
        vectors and the pairs' sources still match)."""
        if not result.pairs:
            return
        ids = sorted({pair.id for pair in result.pairs})
        stored = self.retry.call(lambda: self.store.get(ids), "reading the batch's stored pairs")
        result.pairs = self.labeller.label(result.pairs, stored)

    def _send_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Send and flush dead letters; while the broker refuses them (``BrokerError``: down,
        restarting) retry like a failing store, so the batch is never committed without them (a
        retry may send some twice: dead letters are at-least-once)."""
        if not letters:
            return
        for letter in letters:
            log.warning("dead letter: %s %s (source %s)", letter.reason, letter.detail[:200],
                        letter.message.source)

        def send_all() -> None:
            for letter in letters:
                self.dead_letters.send(letter.message.value or b"", letter.message.key, letter.reason,
                                       letter.message.source, detail=letter.detail)
            self.dead_letters.flush()

        self.retry.call(send_all, "sending dead letters", retry_on=BrokerError)

    def _checkpoint_meta(self, covered: dict[str, int], result: BatchResult, batch_seq: int,
                         replayed: int) -> dict[str, dict[str, Any]]:
        """The checkpoint (offsets past the whole batch) and the counts with this batch added."""
        offsets = dict(covered)
        for key, offset in result.offsets.items():
            offsets[key] = max(offset, int(offsets.get(key, 0)))
        batch_stats = IngestStats(records=result.records, replayed=replayed, pages_with_faq=result.pages_with_faq,
                                  pairs_kept=len(result.pairs), drops=result.drops,
                                  dead_letters=result.dead_letter_reasons(), languages=result.languages())
        stats = IngestStats.from_meta(self.store.get_meta(STATS_KEY)).add(batch_stats)
        return {CHECKPOINT_KEY: {"offsets": offsets, "time": iso_time(utc_now()), "batch_seq": batch_seq},
                STATS_KEY: stats.as_meta()}

    def _store_batch(self, result: BatchResult, vectors: np.ndarray, sources: Sequence[RawMessage],
                     covered: dict[str, int], batch_seq: int, replayed: int,
                     tombstones: Tombstones) -> tuple[BatchResult, IndexStats]:
        """Step 4 in one store operation; on a permanent failure, isolate its records (module contract)."""
        batch: dict[str, Any] = {"vectors": vectors, "sources": list(sources), "tombstones": tombstones}

        def without_forgotten() -> None:  # inside the gate: a forget that ran meanwhile keeps its pairs out
            latest = self.tombstones.current(self.store)
            if latest is not batch["tombstones"]:
                kept = result.drop_pairs(Reason.FORGOTTEN, latest.covers)
                batch.update(vectors=np.asarray(batch["vectors"])[kept], tombstones=latest,
                             sources=[batch["sources"][i] for i in kept])

        def write() -> IndexStats:
            self.stop.checkpoint()
            with self.store.batch():
                without_forgotten()
                meta = self._checkpoint_meta(covered, result, batch_seq, replayed)
                return self.indexer.apply(result.pairs, batch["vectors"], meta=meta)

        try:
            return result, self.retry.call(write, f"storing batch {batch_seq}")
        except BatchAbandoned:
            raise
        except Exception as exc:  # noqa: BLE001 - not an outage (those are retried): find the records
            log.warning("storing batch %d failed for good (%s: %s): isolating the records that make it fail",
                        batch_seq, type(exc).__name__, exc)
        with self.store.batch():
            without_forgotten()
            return self._isolate_and_store(result, batch["vectors"], batch["sources"], covered, batch_seq, replayed)

    def _isolate_and_store(self, result: BatchResult, vectors: np.ndarray, sources: Sequence[RawMessage],
                           covered: dict[str, int], batch_seq: int, replayed: int,
                           ) -> tuple[BatchResult, IndexStats]:
        """Apply the records' pairs in halves, dead-letter the records that fail alone, then write the
        checkpoint on its own (the caller holds the gate)."""
        applied: list[IndexStats] = []

        def apply(rows: Sequence[int], meta: dict[str, dict[str, Any]] | None, what: str) -> None:
            def write() -> IndexStats:
                self.stop.checkpoint()
                return self.indexer.apply([result.pairs[row] for row in rows], vectors[list(rows)], meta=meta)

            applied.append(self.retry.call(write, what))

        failures = isolate_failures(
            _records_with_pairs(sources),
            lambda part: apply([row for record in part for row in record.rows], None,
                               f"storing part of batch {batch_seq}"),
            fatal=(BatchAbandoned,))
        if failures and not applied:  # no part was accepted: is it the records, or the store itself?
            apply([], {STATS_KEY: IngestStats.from_meta(self.store.get_meta(STATS_KEY)).as_meta()},
                  f"checking that the store takes writes (batch {batch_seq})")
        isolated = [(record, DeadLetter(record.message, Reason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
                    for record, exc in failures]
        for (record, letter), (_, exc) in zip(isolated, failures, strict=True):
            log.error("record %s makes batch %d fail on its own: dead-lettered (%s)", record.message.source,
                      batch_seq, letter.detail[:300], exc_info=None if isinstance(exc, WebFAQError) else exc)
        final = _without(result, isolated)
        self._send_dead_letters([letter for _, letter in isolated])
        apply([], self._checkpoint_meta(covered, final, batch_seq, replayed),
              f"storing the checkpoint of batch {batch_seq}")
        return final, _summed(applied)
