"""The Faust (faust-streaming) app of the worker: one agent feeds the crawl topic to a BatchProcessor.

The agent reads the crawl topic in batches (``stream.take_events(batch_size, within=
batch_timeout_s)``: ``take`` with the events, for their offsets and headers; raw values) and hands
each batch to :class:`BatchRunner`, which runs the stages of
:class:`~webfaq_stream.worker.batch.BatchProcessor` in threads, overlapping consecutive batches
(:class:`~webfaq_stream.worker.stages.BatchStages`).

Offsets after writes: Faust commits an offset only once its event is acked, and :class:`BatchRunner`
holds each message by a reference until its batch was stored, so the ack ``take_events`` gives when
the agent asks for the next batch does not commit it.
An abandoned batch's messages are marked so that Faust never acks them; an unexpected failure exits
the worker (status 3) for its supervisor to restart it: nothing past the last stored batch is ever
committed. At-least-once delivery is made exact by the checkpoint skip and the idempotent store.
``stream_wait_empty`` is off (with ``take`` it can hang a shutdown); a SIGTERM lets the batch in hand
finish within the grace period (each batch in flight).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from webfaq_stream.domain.model import SourceRef
from webfaq_stream.domain.pipeline import RawMessage
from webfaq_stream.settings import Settings
from webfaq_stream.worker.batch import BatchOutcome, BatchProcessor
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.shutdown import BatchAbandoned
from webfaq_stream.worker.stages import BATCHES_IN_FLIGHT, BatchStages

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


def _release(events: Sequence[Any]) -> None:
    """Drop :class:`BatchRunner`'s hold on stored events: Faust may now commit their offsets."""
    for event in events:
        event.ack()


class BatchRunner:
    """The agent's side: runs the batches' stages in threads (:class:`BatchStages`), guards the acks.

    :meth:`handle` hands a batch to :class:`BatchStages` and returns as soon as fewer than
    :data:`BATCHES_IN_FLIGHT` batches are unstored, so that the next batch is extracted while this one
    is embedded, and embedded while this one is stored. Each message is held (``Message.incref``), so
    the ack that ``take_events`` gives it when :meth:`handle` returns does not let Faust commit it;
    :meth:`_complete` releases it (``Event.ack``) once its batch is stored, and marks it never-acked
    otherwise. Faust commits a partition only up to its first unacked offset.
    """

    def __init__(self, processor: BatchProcessor, health: HealthState | None = None) -> None:
        self.processor = processor
        self.health = health
        #: ``(topic, partition) -> end offset or None``; set by :func:`build_app` (consumer lag).
        self.end_offset: Any = None
        self.stages = BatchStages(processor)
        self.in_flight: deque[asyncio.Task[None]] = deque()

    async def handle(self, events: Sequence[Any]) -> None:
        for event in events:
            event.message.incref()
        messages = [raw_message(event) for event in events]
        future = asyncio.wrap_future(self.stages.submit(messages))
        task = asyncio.ensure_future(self._complete(events, messages, future))
        self.in_flight.append(task)
        task.add_done_callback(self.in_flight.remove)
        try:
            while len(self.in_flight) >= BATCHES_IN_FLIGHT:
                await asyncio.wait([self.in_flight[0]])
        except asyncio.CancelledError:
            await self._finish_within_grace(list(self.in_flight))  # the app is stopping
            raise

    async def _finish_within_grace(self, pending: list[Any]) -> None:
        """Ask the processor to stop and let ``pending`` (batches in hand) finish within the grace period."""
        stop = self.processor.stop
        stop.request("worker stopping")
        if pending:
            await asyncio.wait(pending, timeout=min(stop.remaining_s(), stop.grace_s))

    async def _complete(self, events: Sequence[Any], messages: list[RawMessage],
                        future: asyncio.Future[BatchOutcome]) -> None:
        """Wait for one batch; release its events for commit once stored, else mark them never-acked."""
        try:
            outcome: BatchOutcome = await asyncio.shield(future)
        except asyncio.CancelledError:
            await self._finish_within_grace([future])  # the loop is stopping mid-batch
            if not future.done() or future.cancelled() or future.exception() is not None:
                _never_ack(events)
                log.warning("stopping: batch of %d records abandoned, not committed", len(events))
            else:
                _release(events)
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
        _release(events)
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
