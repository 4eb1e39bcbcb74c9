"""``webfaq-stream publish PATH...``: put WARC / WARC.gz / JSON-lines files and OWI Parquet shards onto
the crawl topic; ``publish --follow DIR``: keep publishing the OWI shards that appear under DIR.

Creates the crawl topic (``WEBFAQ_PARTITIONS``) and the dead-letter topic when they are missing,
sends one message per response record, envelope or OWI row keyed by origin, shows progress on stderr
and prints what was sent (JSON: counts, skipped records, unreadable OWI rows with their row number,
the last offset per partition). With ``--follow`` every settled shard under DIR (owilix's cache
layout; ``WEBFAQ_FOLLOW_DIR`` when DIR is not given) is published once, oldest first, with a durable
cursor (``WEBFAQ_FOLLOW_CURSOR``), until SIGTERM/SIGINT (``--once``: until none is left); it prints
the cursor's totals when it stops.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from webfaq_stream.errors import ConfigurationError
from webfaq_stream.settings import load_settings

EXAMPLES = """\
examples:
  WEBFAQ_KAFKA_BOOTSTRAP=127.0.0.1:9092 webfaq-stream publish crawl.warc.gz metadata_0.parquet
  webfaq-stream publish --follow ~/.owi/public/main     # the daily OWI shards owilix pulls
"""


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {"kafka_bootstrap": args.bootstrap} if args.bootstrap else {}
    if args.topic:
        overrides["topic"] = args.topic
    if args.partitions:
        overrides["partitions"] = args.partitions
    if args.cursor:
        overrides["follow_cursor"] = args.cursor
    settings = load_settings(**overrides)
    if args.follow is not None:
        directory = args.follow or settings.follow_dir
        if directory is None:
            raise ConfigurationError("publish --follow: name a DIR or set WEBFAQ_FOLLOW_DIR")
        if args.paths:
            raise ConfigurationError("publish: give either PATH... or --follow DIR, not both")
        from webfaq_stream.settings import secret_values
        from webfaq_stream.worker.follow import ShardFollower
        from webfaq_stream.worker.logs import configure_logging

        configure_logging(settings.log_level, settings.log_format, secret_values(settings))
        follower = ShardFollower(settings, Path(directory), chunk_rows=args.chunk_rows, settle_s=args.settle,
                                 poll_s=args.poll)
        for sign in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sign, lambda *_: follower.stop.set())
        totals = follower.run(once=args.once)
        print(json.dumps({"topic": settings.topic, "cursor": str(follower.cursor.path), **totals,
                          "last_offsets": {str(p): o for p, o in follower.cursor.last_offsets.items()}}))
        return 0
    if not args.paths:
        raise ConfigurationError("publish: give PATH... or --follow DIR")
    from webfaq_stream.worker.publish import publish_files

    result = publish_files(settings, [Path(p) for p in args.paths], compress=args.gzip, progress=not args.quiet)
    print(json.dumps(result.as_dict()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "publish", help="publish WARC / JSON-lines / OWI Parquet files onto the crawl topic, or follow a directory",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="WARC, WARC.gz, JSON-lines or OWI Parquet files")
    parser.add_argument("--follow", metavar="DIR", nargs="?", const="",
                        help="publish the OWI shards that appear under DIR (default: WEBFAQ_FOLLOW_DIR), once each")
    parser.add_argument("--cursor", type=Path, help="cursor file of --follow (default: WEBFAQ_FOLLOW_CURSOR)")
    parser.add_argument("--once", action="store_true", help="with --follow: stop when no shard is left")
    parser.add_argument("--poll", type=float, default=30.0, metavar="SECONDS",
                        help="with --follow: seconds between looks at DIR (default 30)")
    parser.add_argument("--settle", type=float, default=10.0, metavar="SECONDS",
                        help="with --follow: a shard is taken once unchanged this long (default 10)")
    parser.add_argument("--chunk-rows", type=int, default=1000, metavar="N",
                        help="with --follow: rows per cursor step (default 1000)")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: WEBFAQ_KAFKA_BOOTSTRAP)")
    parser.add_argument("--topic", help="crawl topic (default: WEBFAQ_TOPIC)")
    parser.add_argument("--partitions", type=int, help="partitions if the topic is created")
    parser.add_argument("--gzip", action="store_true",
                        help="send each WARC record as a gzip member (default: plain records; the producer's "
                             "lz4 batch compression is cheaper for the worker to read)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
