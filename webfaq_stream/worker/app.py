"""The Faust (faust-streaming) app of the worker: one agent feeds the crawl topic to a BatchProcessor.

The agent reads the crawl topic in batches (``stream.take_events(batch_size, within=
batch_timeout_s)``: ``take`` with the events, for their offsets and headers; raw values) and hands
each batch to :class:`BatchRunner`, which runs :class:`~webfaq_stream.worker.batch.BatchProcessor` in
one thread.

Offsets after writes: Faust commits an offset only once its event is acked, and ``take_events``
acks a batch's events only when the agent asks for the next batch, i.e. after the batch was stored.
An abandoned batch's messages are marked so that Faust never acks them; an unexpected failure exits
the worker (status 3) for its supervisor to restart it: nothing past the last stored batch is ever
committed. At-least-once delivery is made exact by the checkpoint skip and the idempotent store.
``stream_wait_empty`` is off (with ``take`` it can hang a shutdown); a SIGTERM lets the batch in hand
finish within the grace period.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from webfaq_stream.domain.model import SourceRef
from webfaq_stream.domain.pipeline import RawMessage
from webfaq_stream.settings import Settings
from webfaq_stream.worker.batch import BatchOutcome, BatchProcessor
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.shutdown import BatchAbandoned

log = logging.getLogger(__name__)

#: Exit status of a worker whose batch failed unexpectedly (its supervisor restarts it).
EXIT_STORE_FAILED = 3
#: Seconds between the worker's broker contacts for /health when no batch arrives.
BROKER_CHECK_S = 5.0
#: Longest wait for Faust's consumer thread to stop (mode's default is 60 s). After a broker restart
#: it can hang in aiokafka's stop for the whole wait; what it would still do (a last commit) only
#: saves a replay, which the checkpoint and the idempotent store make harmless.
CONSUMER_STOP_TIMEOUT_S = 10.0


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
        compaction = outcome.compaction.seconds if outcome.compaction is not None else 0.0
        log.info("batch %d: %d records (%d replayed), %d pages with FAQs, %d pairs kept, %d new, "
                 "%d points written, %d dead letters, %.2fs (store compaction %.3fs)", outcome.batch_seq,
                 len(messages), outcome.replayed, result.pages_with_faq, len(result.pairs), outcome.index.new,
                 outcome.index.points_written, len(result.dead_letters), outcome.seconds, compaction)

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
        metrics = runner.processor.metrics
        if metrics is not None:
            for tp in revoked:
                metrics.forget_partition(tp.topic, tp.partition)

    # Faust calls it as (app, revoked, signal=...); its stub wants a handler for any positional arguments.
    app.on_partitions_revoked.connect(forget_revoked)  # type: ignore[arg-type]

    @app.agent(topic, name="crawl-records")
    async def crawl_records(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
            await runner.handle(events)

    return app
