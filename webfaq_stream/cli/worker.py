"""``webfaq-stream worker``: run the Faust worker (crawl topic -> Qdrant) until SIGTERM.

Needs a Kafka cluster (``WEBFAQ_KAFKA_BOOTSTRAP``; for local development run ``webfaq-stream
broker`` first). Stores in qdrant-edge under ``WEBFAQ_STORE_DIR`` or in the Qdrant server at
``WEBFAQ_QDRANT_URL``. Serves ``/metrics`` and ``/health`` on ``WEBFAQ_WEB_PORT``.
"""

from __future__ import annotations

import argparse

from webfaq_stream.settings import load_settings


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.worker.startup import run_worker

    overrides = {}
    if args.bootstrap:
        overrides["kafka_bootstrap"] = args.bootstrap
    if args.store_dir:
        overrides["store_dir"] = args.store_dir
    settings = load_settings(**overrides)
    if not settings.kafka_bootstrap:
        from webfaq_stream.errors import ConfigurationError

        raise ConfigurationError("WEBFAQ_KAFKA_BOOTSTRAP: not set; start one with 'webfaq-stream broker' "
                                 "or use 'webfaq-stream ingest' for a one-shot run")
    return run_worker(settings)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker", help="run the streaming worker (Faust app) until stopped",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: WEBFAQ_KAFKA_BOOTSTRAP=127.0.0.1:9092 webfaq-stream worker")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: WEBFAQ_KAFKA_BOOTSTRAP)")
    parser.add_argument("--store-dir", help="embedded store directory (default: WEBFAQ_STORE_DIR)")
    parser.set_defaults(func=run)
