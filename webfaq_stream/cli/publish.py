"""``webfaq-stream publish PATH...``: put WARC / WARC.gz / JSON-lines files onto the crawl topic.

Creates the crawl topic (``Settings.partitions``) and the dead-letter topic when they are missing,
sends one message per response record or envelope keyed by origin, shows progress on stderr and
prints the last offset per partition (what a drain check compares committed offsets with).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from webfaq_stream.settings import load_settings


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.worker.publish import publish_files

    overrides = {"kafka_bootstrap": args.bootstrap} if args.bootstrap else {}
    if args.topic:
        overrides["topic"] = args.topic
    if args.partitions:
        overrides["partitions"] = args.partitions
    settings = load_settings(**overrides)
    result = publish_files(settings, [Path(p) for p in args.paths], compress=args.gzip,
                           progress=not args.quiet)
    print(json.dumps({"topic": result.topic, "messages": result.messages,
                      "warc_records": result.warc_records, "envelopes": result.envelopes,
                      "skipped": result.skipped, "framing_errors": result.framing_errors,
                      "last_offsets": {str(p): o for p, o in result.last_offsets.items()}}))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "publish", help="publish WARC / JSON-lines crawl files onto the crawl topic",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: WEBFAQ_KAFKA_BOOTSTRAP=127.0.0.1:9092 webfaq-stream publish crawl.warc.gz")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="WARC, WARC.gz or JSON-lines files")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: WEBFAQ_KAFKA_BOOTSTRAP)")
    parser.add_argument("--topic", help="crawl topic (default: WEBFAQ_TOPIC)")
    parser.add_argument("--partitions", type=int, help="partitions if the topic is created")
    parser.add_argument("--gzip", action="store_true",
                        help="send each WARC record as a gzip member (default: plain records; the producer's "
                             "lz4 batch compression is cheaper for the worker to read)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
