"""The worker: a Faust (faust-streaming) app that turns crawl records into stored FAQ pairs.

One agent reads the crawl topic in batches (``stream.take_events(batch_size, within=
batch_timeout_s)``: ``take`` with the events, for their offsets and headers; raw values). Per
batch, in a thread (the CPU-bound work never runs on the event loop), :class:`BatchProcessor`:

1. reads the store's checkpoint and skips records it already covers (replays after a crash);
2. decodes, extracts, cleans and tags (:class:`~webfaq_stream.domain.pipeline.Pipeline`);
3. sends undecodable records to the dead-letter topic (original bytes; headers ``reason``,
   ``source-topic``, ``source-partition``, ``source-offset``) and flushes;
4. embeds ``question answer`` and applies the pairs with :class:`PairIndexer`, writing in the
   same store operation the checkpoint meta ``{"offsets": {"<topic>:<partition>": next_offset},
   "time", "batch_seq"}`` and the cumulative ``worker_stats`` (through the ``ReleaseGate``, inside
   ``gate.batch()``, so a release sees whole batches only).

Offsets after writes: Faust commits an offset only once its event is acked, and ``take_events``
acks a batch's events only when the agent asks for the next batch, i.e. after step 4 returned.
While the store fails (``StoreError``: unreachable, disk full), the batch is retried with capped
exponential backoff (``retry_delay_s`` doubling up to ``retry_max_delay_s``) for as long as it
takes: the worker stays alive, reports unhealthy (``/health`` 503) and commits nothing; once the
store is back the batch is stored and the stream goes on. A stop request during the outage
abandons the batch. An abandoned batch's messages are marked so that Faust never acks them; an
unexpected failure (not a store error) exits the worker (status 3) for its supervisor to restart
it: nothing past the last stored batch is ever committed. At-least-once delivery is made exact by
the checkpoint skip and the idempotent store. ``stream_wait_empty`` is off (with ``take`` it can
hang a shutdown); a SIGTERM lets the batch in hand finish within the grace period.

Also runs: the ``/metrics`` and ``/health`` server (``Settings.web_port``) and, for the embedded
store (one process owns it), the release scheduler thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from webfaq_stream.domain.model import SourceRef
from webfaq_stream.domain.pipeline import BatchResult, Pipeline, RawMessage, offset_key
from webfaq_stream.errors import BrokerError, ConfigurationError, StoreError
from webfaq_stream.ports import DeadLetterSink, Embedder
from webfaq_stream.settings import Settings
from webfaq_stream.store.gate import CHECKPOINT_KEY, ReleaseGate
from webfaq_stream.store.indexer import IndexStats, PairIndexer
from webfaq_stream.store.stats import STATS_KEY, IngestStats
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.metrics import BatchStats, Metrics
from webfaq_stream.worker.shutdown import BatchAbandoned, GracefulStop

log = logging.getLogger(__name__)

MODEL_KEY = "model"
#: Exit status of a worker whose batch failed unexpectedly (its supervisor restarts it).
EXIT_STORE_FAILED = 3
#: Longest wait between two attempts at a failing store operation (capped exponential backoff).
STORE_RETRY_MAX_DELAY_S = 30.0
#: Seconds a batch in hand may still take after a stop when no GracefulStop is given.
STOP_GRACE_S = 30.0
#: Messages per pipeline chunk; the extraction thread runs chunk k+1 while chunk k is embedded.
EXTRACT_CHUNK = 8
#: Seconds between the worker's broker contacts for /health when no batch arrives.
BROKER_CHECK_S = 5.0
#: Longest wait for Faust's consumer thread to stop (mode's default is 60 s). After a broker restart
#: it can hang in aiokafka's stop for the whole wait; what it would still do (a last commit) only
#: saves a replay, which the checkpoint and the idempotent store make harmless.
CONSUMER_STOP_TIMEOUT_S = 10.0


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
    """Synchronous batch work, run in a worker thread; see the module docstring (steps 1-4)."""

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
        self.retry_delay_s = retry_delay_s
        self._extractor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webfaq-extract")
        self.retry_max_delay_s = retry_max_delay_s

    def process(self, messages: Sequence[RawMessage]) -> BatchOutcome:
        """Steps 1-4; retries a failing store until it works (see :meth:`_with_retries`);
        raises ``BatchAbandoned`` when a stop arrives first."""
        started = time.monotonic()
        with self.stop.batch():
            checkpoint = self._read_meta(CHECKPOINT_KEY) or {}
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

    def _read_meta(self, key: str) -> dict[str, Any] | None:
        return self._with_retries(lambda: self.store.get_meta(key), f"reading {key}")

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

        self._with_retries(send_all, "sending dead letters", retry_on=BrokerError)

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

        return self._with_retries(write, f"storing batch {batch_seq}")

    def _with_retries(self, call: Any, what: str, retry_on: type[Exception] = StoreError) -> Any:
        """``call()`` until it does not raise ``retry_on`` (``StoreError``, or ``BrokerError`` for
        dead letters); waits ``retry_delay_s``, doubling up to ``retry_max_delay_s``, between
        attempts. Health is unhealthy from the first failure to the next success. Raises
        ``BatchAbandoned`` when a stop is requested meanwhile."""
        attempt = 0
        while True:
            attempt += 1
            try:
                value = call()
            except retry_on as exc:
                if retry_on is StoreError:
                    if self.metrics is not None:
                        self.metrics.record_store_error()
                    if self.health is not None:
                        self.health.mark_store_failed(exc)
                elif self.health is not None:
                    self.health.mark_broker_failed(exc)
                delay = min(self.retry_max_delay_s, self.retry_delay_s * 2 ** min(attempt - 1, 30))
                log.warning("%s failed (attempt %d), retrying in %.1fs: %s", what, attempt, delay, exc)
                self._wait_or_abandon(delay, what)
                continue
            if self.health is not None:
                (self.health.mark_store_ok if retry_on is StoreError else self.health.mark_broker_ok)()
            return value

    def _wait_or_abandon(self, delay_s: float, what: str) -> None:
        """Sleep ``delay_s`` in short steps; a stop request abandons the batch (store down)."""
        deadline = time.monotonic() + delay_s
        while True:
            if self.stop.requested:
                raise BatchAbandoned(f"stop ({self.stop.reason}) while {what} kept failing: batch abandoned")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.1, left))


def raw_message(event: Any) -> RawMessage:
    """A Faust event as a :class:`RawMessage` (value, key, headers, source offset)."""
    message = event.message
    headers = message.headers or ()
    if isinstance(headers, dict):
        headers = list(headers.items())
    return RawMessage(value=message.value, key=message.key,
                      headers=tuple((str(k), bytes(v or b"")) for k, v in headers),
                      source=SourceRef(message.topic, int(message.partition), int(message.offset)))


def _never_ack(events: Sequence[Any]) -> None:
    """Keep Faust from acking (and so committing) these events: they were not stored.

    ``take_events`` acks its batch in a ``finally`` even when the agent body fails; Faust's
    ``Message.ack``/``Consumer.ack`` (faust-streaming 0.15) skip a message already marked
    ``acked``, so its offset never reaches the commit.
    """
    for event in events:
        event.message.acked = True


class BatchRunner:
    """The agent's side: runs :class:`BatchProcessor` in one thread, guards the acks.

    One batch at a time: ``take_events`` acks (and so lets Faust commit) a batch's events only
    when :meth:`handle` returns, i.e. after :meth:`_complete` saw the batch stored. (Returning
    early to overlap Faust's buffering with the batch, holding each message by ``incref`` until it
    is stored, was tried: no gain beyond the shared machine's noise, and one unexplained stall in
    ~15 bench runs; see bench/RESULTS.md.)
    """

    def __init__(self, processor: BatchProcessor, health: HealthState | None = None) -> None:
        self.processor = processor
        self.health = health
        #: ``(topic, partition) -> end offset or None``; set by :func:`build_app` (consumer lag).
        self.end_offset: Any = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webfaq-batch")

    async def handle(self, events: Sequence[Any]) -> None:
        messages = [raw_message(event) for event in events]
        future = asyncio.get_running_loop().run_in_executor(self.executor, self.processor.process, messages)
        await self._complete(events, messages, future)

    async def _complete(self, events: Sequence[Any], messages: list[RawMessage],
                        future: asyncio.Future[BatchOutcome]) -> None:
        """Wait for one batch; mark its events never-acked unless it was stored."""
        try:
            outcome: BatchOutcome = await asyncio.shield(future)
        except asyncio.CancelledError:
            # The app is stopping mid-batch: let the batch finish within the grace period.
            stop = self.processor.stop
            stop.request("worker stopping")
            await asyncio.wait([future], timeout=min(stop.remaining_s(), stop.grace_s))
            if not future.done() or future.cancelled() or future.exception() is not None:
                _never_ack(events)
                log.warning("stopping: batch of %d records abandoned, not committed", len(events))
            raise
        except BatchAbandoned as exc:
            _never_ack(events)
            log.warning("%s", exc)
            return
        except Exception as exc:  # noqa: BLE001 - unexpected failure: exit, commit nothing more
            _never_ack(events)
            log.critical("batch of %d records not stored, exiting without committing: %s", len(events), exc)
            logging.shutdown()
            os._exit(EXIT_STORE_FAILED)
        if self.health is not None:
            self.health.mark_broker_ok()
        result = outcome.result
        self._report_lag(messages)
        log.info("batch %d: %d records (%d replayed), %d pages with FAQs, %d pairs kept, %d new, "
                 "%d dead letters, %.2fs", outcome.batch_seq, len(messages), outcome.replayed,
                 result.pages_with_faq, len(result.pairs), outcome.index.new, len(result.dead_letters),
                 outcome.seconds)

    def _report_lag(self, messages: Sequence[RawMessage]) -> None:
        """Consumer lag per partition of the batch: end offset minus the next offset to read."""
        metrics = self.processor.metrics
        if metrics is None or self.end_offset is None:
            return
        next_offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            if message.source is not None:
                key = (message.source.topic, message.source.partition)
                next_offsets[key] = max(next_offsets.get(key, 0), message.source.offset + 1)
        for (topic, partition), next_offset in next_offsets.items():
            end = self.end_offset(topic, partition)
            if end is not None:
                metrics.set_consumer_lag(topic, partition, int(end) - next_offset)


def build_app(settings: Settings, runner: BatchRunner, *, bootstrap: str | None = None,
              datadir: Path | None = None) -> Any:
    """The Faust app: one agent on ``settings.topic`` calling ``runner.handle`` per batch."""
    import faust
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    from webfaq_stream.adapters.kafka.security import faust_broker_credentials, faust_broker_urls

    AIOKafkaConsumerThread.shutdown_timeout = CONSUMER_STOP_TIMEOUT_S

    app = faust.App(
        settings.consumer_group,
        broker=faust_broker_urls(settings, bootstrap),
        broker_credentials=faust_broker_credentials(settings),
        value_serializer="raw", key_serializer="raw",
        store="memory://", web_enabled=False, topic_disable_leader=True,
        topic_partitions=settings.partitions, topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_s,
        broker_commit_interval=1.0, consumer_auto_offset_reset="earliest",
        stream_wait_empty=False, consumer_max_fetch_size=settings.max_record_bytes + 1024 * 1024,
        stream_buffer_maxsize=max(4 * settings.batch_size, 64),
        datadir=str(datadir or Path(tempfile.gettempdir()) / f"webfaq-faust-{os.getpid()}"),
    )
    topic = app.topic(settings.topic, key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw", allow_empty=True)

    from faust.types import TP

    runner.end_offset = lambda topic_name, partition: app.consumer.highwater(TP(topic_name, partition))

    @app.timer(interval=BROKER_CHECK_S)
    async def broker_contact() -> None:
        """A real round trip (ListOffsets of the assigned partitions) so /health knows the broker
        is there while no records arrive."""
        if runner.health is None:
            return
        assigned = [tp for tp in app.consumer.assignment() if tp.topic == settings.topic]
        try:
            if assigned:
                await app.consumer.highwaters(*assigned)
            runner.health.mark_broker_ok()
        except Exception as exc:  # noqa: BLE001 - any failure means the broker is not usable
            runner.health.mark_broker_failed(exc)

    async def forget_revoked(_app: Any, revoked: Any, **_: Any) -> None:
        """Partitions taken away by a rebalance: drop their lag series (their new owner reports them)."""
        metrics = getattr(runner.processor, "metrics", None)
        if metrics is not None:
            for tp in revoked:
                metrics.forget_partition(tp.topic, tp.partition)

    app.on_partitions_revoked.connect(forget_revoked)

    @app.agent(topic, name="crawl-records")
    async def crawl_records(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
            await runner.handle(events)

    return app


def run_worker(settings: Settings, *, bootstrap: str | None = None) -> int:
    """Run the worker until SIGTERM/SIGINT; returns the exit status."""
    import faust

    from webfaq_stream.adapters.kafka.client import KafkaDeadLetterSink, ensure_topics
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs
    from webfaq_stream.adapters.qdrant.opener import open_pair_store
    from webfaq_stream.domain.langid import LanguageTagger
    from webfaq_stream.embed.models import load_embedder
    from webfaq_stream.release.build import scheduled_releases
    from webfaq_stream.settings import secret_values
    from webfaq_stream.worker.logs import configure_logging
    from webfaq_stream.worker.web import serve_http

    configure_logging(settings.log_level, settings.log_format, secret_values(settings))
    for noisy in ("kafka", "aiokafka", "faust", "mode"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    options = kafka_client_kwargs(settings, bootstrap)
    ensure_topics(options, {settings.topic: settings.partitions, settings.dead_letter_topic: 1},
                  settings.replication_factor)
    health = HealthState(broker_stale_after_s=settings.health_broker_stale_s,
                         startup_grace_s=settings.health_startup_grace_s)
    metrics = Metrics()
    server = serve_http(settings.web_port, metrics, health, host=settings.web_host)
    embedder = load_embedder(settings.embedding_model,
                             near_duplicate_threshold=settings.near_duplicate_threshold,
                             alignment_threshold=settings.alignment_threshold)
    store = open_pair_store(url=settings.qdrant_url,
                            api_key=settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None,
                            path=settings.store_dir, collection=settings.collection)
    dead_letters = KafkaDeadLetterSink(options, settings.dead_letter_topic)
    scheduler = None
    runner: BatchRunner | None = None
    try:
        store.open(embedder.dim)
        check_store_model(store.get_meta(MODEL_KEY), embedder)
        store.set_meta(MODEL_KEY, model_meta(embedder))
        gate = ReleaseGate(store)
        stop = GracefulStop(settings.shutdown_grace_s, health)
        processor = BatchProcessor(
            pipeline=Pipeline(LanguageTagger(settings.langid_model_path),
                              max_record_bytes=settings.max_record_bytes,
                              page_time_budget_s=settings.page_time_budget_s),
            embedder=embedder, store=gate, dead_letters=dead_letters, metrics=metrics, health=health,
            stop=stop)
        runner = BatchRunner(processor, health)
        if settings.qdrant_url is None:
            scheduler = scheduled_releases(gate, settings, model=model_meta(embedder))
        with tempfile.TemporaryDirectory(prefix="webfaq-faust-") as datadir:
            app = build_app(settings, runner, bootstrap=bootstrap, datadir=Path(datadir))
            log.info("worker starting: topic %s, group %s, store %s, metrics on port %d",
                     settings.topic, settings.consumer_group, settings.qdrant_url or settings.store_dir,
                     server.port)
            worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, override_logging=False,
                                  redirect_stdouts=False)
            try:
                worker.execute_from_commandline()
            except SystemExit as exc:
                return int(exc.code or 0)
        return 0
    finally:
        if runner is not None:  # a batch still in the batch thread finishes (or is abandoned) first
            runner.processor.stop.request("worker stopped")
            runner.executor.shutdown(wait=True)
        if scheduler is not None:
            scheduler.stop(timeout_s=60)
        dead_letters.close()
        store.close()
        server.close()
        sys.stdout.flush()
