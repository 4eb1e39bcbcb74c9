"""Start-up wiring of ``webfaq-stream worker``: settings -> adapters, models, processor, Faust app.

``run_worker(settings)`` configures logging, creates the topics, serves ``/metrics`` and ``/health``
(``Settings.web_port``), loads the embedding model, the language tagger and the configured text
classifiers (topic, question type; on ``Settings.label_device``), opens the store (refusing one built
by another embedding model; recording the classifiers in the ``labellers`` meta), finishes any forget
a crash interrupted, builds the :class:`~webfaq_stream.worker.batch.BatchProcessor` behind a
``ReleaseGate`` and, for the embedded store (one process owns it), its compaction schedule, the release
scheduler thread and the thread answering forget requests, then runs the Faust app until SIGTERM/SIGINT. Everything it
started is stopped on the way out, the batch in hand first.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from webfaq_stream.domain.pipeline import Pipeline
from webfaq_stream.ports import TextClassifier
from webfaq_stream.release.manifest import LABELLERS_KEY
from webfaq_stream.settings import Settings
from webfaq_stream.store.forget import complete_pending
from webfaq_stream.store.gate import ReleaseGate
from webfaq_stream.store.opener import open_store
from webfaq_stream.worker.app import BatchRunner, build_app
from webfaq_stream.worker.batch import MODEL_KEY, BatchProcessor, check_store_model
from webfaq_stream.worker.compaction import CompactableStore, StoreCompaction
from webfaq_stream.worker.forget import ForgetRequests
from webfaq_stream.worker.health import HealthState
from webfaq_stream.worker.labels import Labeller
from webfaq_stream.worker.metrics import Metrics
from webfaq_stream.worker.shutdown import GracefulStop

log = logging.getLogger(__name__)


def load_labeller(settings: Settings) -> Labeller:
    """The labelling stage with the classifiers the settings name (``ModelError`` if one cannot load);
    ``transformers`` is imported only when one is named."""
    if settings.topic_model is None and settings.question_type_model is None:
        return Labeller()
    from webfaq_stream.embed.classifiers import load_text_classifier

    def load(location: str | None) -> TextClassifier | None:
        return None if location is None else load_text_classifier(location, device=settings.label_device)

    labeller = Labeller(topic=load(settings.topic_model), question_type=load(settings.question_type_model))
    log.info("text classifiers: %s", labeller.meta())
    return labeller


def run_worker(settings: Settings, *, bootstrap: str | None = None) -> int:
    """Run the worker until SIGTERM/SIGINT; returns the exit status."""
    import faust

    from webfaq_stream.adapters.kafka.client import KafkaDeadLetterSink, ensure_topics
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs
    from webfaq_stream.embed.models import configured_models
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
    embedder = configured_models(settings)
    labeller = load_labeller(settings)
    dead_letters = KafkaDeadLetterSink(options, settings.dead_letter_topic)
    scheduler = None
    forget_requests = None
    runner: BatchRunner | None = None
    store = None
    try:
        store = open_store(settings, embedder.dim, embedder.wide_dim)
        check_store_model(store.get_meta(MODEL_KEY), embedder)
        store.set_meta(MODEL_KEY, embedder.meta())
        store.set_meta(LABELLERS_KEY, labeller.meta())
        gate = ReleaseGate(store)
        stop = GracefulStop(settings.shutdown_grace_s, health)
        processor = BatchProcessor(
            pipeline=Pipeline.from_settings(settings),
            embedder=embedder, store=gate, dead_letters=dead_letters, labeller=labeller, metrics=metrics,
            health=health, stop=stop, last_seen_resolution_s=settings.last_seen_resolution_s,
            compaction=StoreCompaction(store, settings.store_flush_interval_s, settings.store_optimize_interval_s)
            if settings.qdrant_url is None and isinstance(store, CompactableStore) else None)
        with gate.batch():
            finished = complete_pending(gate, processor.indexer)
        if finished.removed:
            log.info("finished interrupted forgets: %s", finished.removed)
        runner = BatchRunner(processor, health)
        if settings.qdrant_url is None:
            scheduler = scheduled_releases(gate, settings, model=embedder.meta())
            forget_requests = ForgetRequests(settings, gate, processor.indexer).start()
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
        if runner is not None:  # the batches still in the batch threads finish (or are abandoned) first
            runner.processor.stop.request("worker stopped")
            runner.stages.close()
        if scheduler is not None:
            scheduler.stop(timeout_s=60)
        if forget_requests is not None:
            forget_requests.stop(timeout_s=60)
        dead_letters.close()
        if store is not None:
            store.close()
        server.close()
        sys.stdout.flush()
