"""Prometheus metrics of a worker, in a registry of their own.

In: the outcome of each batch (:class:`BatchStats`) plus a few events the worker reports
(consumer lag, dead letters, store errors). Out: ``webfaq_*`` counters, gauges and a batch
latency histogram, rendered in the Prometheus text format by :meth:`Metrics.render` (what
``/metrics`` serves, see :mod:`webfaq_stream.worker.web`).

Guarantees: every counter only grows; each :class:`Metrics` owns a private
``CollectorRegistry`` so several instances (tests, two workers in one process) never
collide; all methods are thread-safe (prometheus_client locks internally) and cheap
enough to call once per batch. Label values are bounded: drop and dead-letter reasons are
:class:`~webfaq_stream.domain.reasons.Reason` values, and every one of them is exported from the start
(at 0) so dashboards and alerts see a series before its first drop; languages are ISO 639-3 codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from webfaq_stream.domain.reasons import DEAD_LETTER_REASONS, DROP_REASONS

#: Content type of :meth:`Metrics.render`'s output.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Batch latency buckets (seconds): a batch is 64 records by default, 10 ms to 2 min.
BATCH_SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


@dataclass(slots=True)
class BatchStats:
    """What one worker batch did; the worker fills it and hands it to :meth:`Metrics.observe_batch`.

    ``drops`` counts removed pairs/pages by named reason (``answer_has_question_mark``,
    ``no_faqpage``...); ``languages`` counts kept pairs by ISO 639-3 code; ``dead_letters``
    counts records sent to the dead-letter topic by reason; ``seconds`` is the batch's wall
    time from take to stored.
    """

    records: int = 0
    pages_with_faq: int = 0
    pairs_kept: int = 0
    aligned_pairs: int = 0
    drops: Mapping[str, int] = field(default_factory=dict)
    languages: Mapping[str, int] = field(default_factory=dict)
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    seconds: float | None = None


class Metrics:
    """The worker's Prometheus metrics (attribute names are the instruments)."""

    def __init__(self, namespace: str = "webfaq") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.records_consumed = Counter(
            "records_consumed", "Crawl records taken from the topic.", namespace=namespace, registry=reg)
        self.pages_with_faq = Counter(
            "pages_with_faq", "Pages on which at least one FAQ pair was extracted.",
            namespace=namespace, registry=reg)
        self.pairs_kept = Counter(
            "pairs_kept", "Pairs that passed the WebFAQ filters and were stored.",
            namespace=namespace, registry=reg)
        self.drops = Counter(
            "drops", "Pairs or pages dropped, by named reason.", ["reason"],
            namespace=namespace, registry=reg)
        self.pairs_by_language = Counter(
            "pairs_by_language", "Stored pairs by ISO 639-3 language.", ["language"],
            namespace=namespace, registry=reg)
        self.aligned_pairs = Counter(
            "aligned_pairs", "Cross-lingual alignments made or changed.", namespace=namespace, registry=reg)
        self.dead_letters = Counter(
            "dead_letters", "Records sent to the dead-letter topic, by reason.", ["reason"],
            namespace=namespace, registry=reg)
        self.store_errors = Counter(
            "store_errors", "Failed store operations.", namespace=namespace, registry=reg)
        self.batches = Counter(
            "batches", "Batches completed (stored and committed).", namespace=namespace, registry=reg)
        self.batch_seconds = Histogram(
            "batch_seconds", "Wall time of a batch from take to stored.", namespace=namespace,
            registry=reg, buckets=BATCH_SECONDS_BUCKETS)
        self.consumer_lag = Gauge(
            "consumer_lag", "Records behind the end of the partition.", ["topic", "partition"],
            namespace=namespace, registry=reg)
        self.last_batch_time = Gauge(
            "last_batch_timestamp_seconds", "Unix time the last batch completed.",
            namespace=namespace, registry=reg)
        for reason in sorted(DROP_REASONS):
            self.drops.labels(reason=reason)
        for reason in sorted(DEAD_LETTER_REASONS):
            self.dead_letters.labels(reason=reason)

    def observe_batch(self, stats: BatchStats) -> None:
        """Add one batch's outcome to the counters (negative counts are a programming error)."""
        self.records_consumed.inc(stats.records)
        self.pages_with_faq.inc(stats.pages_with_faq)
        self.pairs_kept.inc(stats.pairs_kept)
        self.aligned_pairs.inc(stats.aligned_pairs)
        for reason, count in stats.drops.items():
            self.drops.labels(reason=reason).inc(count)
        for language, count in stats.languages.items():
            self.pairs_by_language.labels(language=language).inc(count)
        for reason, count in stats.dead_letters.items():
            self.dead_letters.labels(reason=reason).inc(count)
        if stats.seconds is not None:
            self.batch_seconds.observe(stats.seconds)
        self.batches.inc()
        self.last_batch_time.set_to_current_time()

    def record_store_error(self) -> None:
        """Count one failed store operation."""
        self.store_errors.inc()

    def set_consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        """Set the lag of one assigned partition (end offset minus committed offset, >= 0)."""
        self.consumer_lag.labels(topic=topic, partition=str(partition)).set(max(0, lag))

    def forget_partition(self, topic: str, partition: int) -> None:
        """Drop the lag series of a partition this worker no longer owns (after a rebalance)."""
        try:
            self.consumer_lag.remove(topic, str(partition))
        except KeyError:
            pass

    def render(self) -> bytes:
        """The current values in the Prometheus text exposition format."""
        return generate_latest(self.registry)
