"""``webfaq-stream publish PATH...``: put WARC / WARC.gz / JSON-lines files onto the crawl topic.

Creates the crawl topic (``Settings.partitions``) and the dead-letter topic when they are missing,
sends one message per response record or envelope keyed by origin, shows progress on stderr and
prints the last offset per partition (what a drain check compares committed offsets with).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from webfaq_stream.settings import Settings, load_settings


@dataclass
class PublishResult:
    """What was published: message counts, skipped WARC records, records that could not be framed
    (``"<file>: offset N: <what>"``), last offset per partition."""

    topic: str
    messages: int
    warc_records: int
    envelopes: int
    skipped: dict[str, int] = field(default_factory=dict)
    last_offsets: dict[int, int] = field(default_factory=dict)
    framing_errors: list[str] = field(default_factory=list)


def publish_files(settings: Settings, paths: list[Path], *, bootstrap: str | None = None,
                  compress: bool = False, progress: bool = True) -> PublishResult:
    """Create topics if missing, publish every record of ``paths``, wait for all acknowledgements.

    A record over the producer's size limit is reported on stderr, counted in ``skipped`` as
    ``too_large`` and not sent; the others still are. A WARC record that cannot be framed is reported
    on stderr with its file offset; reading goes on with the next record."""
    from tqdm import tqdm

    from webfaq_stream.adapters.crawl_files import FileStats, read_messages
    from webfaq_stream.adapters.kafka.client import Publisher, RecordTooLargeError, ensure_topics
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs

    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": bootstrap})
    options = kafka_client_kwargs(settings)
    ensure_topics(options, {settings.topic: settings.partitions, settings.dead_letter_topic: 1},
                  settings.replication_factor)
    stats = FileStats()
    with tqdm(desc=f"publish to {settings.topic}", unit="rec", file=sys.stderr,
              disable=None if progress else True) as bar, Publisher(options, settings.topic) as publisher:
        for message in read_messages(paths, stats, compress=compress):
            try:
                publisher.send(message.value, message.key, message.headers, on_delivery=bar.update)
            except RecordTooLargeError as exc:  # reported, counted, and the rest still goes out
                print(f"webfaq-stream publish: skipped: {exc}", file=sys.stderr)
                stats.skip("too_large")
        last_offsets = publisher.flush()
    for error in stats.framing_errors:
        print(f"webfaq-stream publish: broken WARC framing: {error}", file=sys.stderr)
    return PublishResult(settings.topic, publisher.sent, stats.warc_records, stats.envelopes,
                         dict(stats.skipped), last_offsets, list(stats.framing_errors))


def run(args: argparse.Namespace) -> int:
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
