"""``webfaq-stream ingest PATH...``: the whole path, once, on your own WARC or envelope files.

Starts the embedded broker (unless ``WEBFAQ_KAFKA_BOOTSTRAP`` names a cluster), publishes the
files, runs the worker until every record is consumed, writes a release and prints a summary:
records read, pages with FAQs, pairs kept and dropped by reason, pairs per language, aligned
pairs and where the release is. Stops everything it started.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from webfaq_stream.settings import load_settings


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.worker.ingest import run_ingest
    from webfaq_stream.worker.logs import configure_logging

    overrides: dict[str, object] = {}
    if args.store_dir:
        overrides["store_dir"] = args.store_dir
    if args.release_dir:
        overrides["release_dir"] = args.release_dir
    settings = load_settings(**overrides)
    configure_logging("WARNING", "text")
    progress = not args.quiet
    result = run_ingest(settings, [Path(p) for p in args.paths], progress=progress,
                        drain_timeout_s=args.timeout)
    print(result.summary())
    print(f"  worker log             {result.worker_log}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest", help="one-shot: broker, publish, worker, release, summary",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: webfaq-stream ingest crawl.warc.gz --store-dir data/store --release-dir data/releases")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="WARC, WARC.gz or JSON-lines files")
    parser.add_argument("--store-dir", type=Path, help="embedded store directory (WEBFAQ_STORE_DIR)")
    parser.add_argument("--release-dir", type=Path, help="releases directory (WEBFAQ_RELEASE_DIR)")
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS",
                        help="longest wait for the worker to consume everything (default 3600)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)
