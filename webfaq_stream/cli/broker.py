"""``webfaq-stream broker``: run the embedded Kafka-compatible broker (Tansu) in the foreground.

For local development: prints the bootstrap address, serves until Ctrl-C or SIGTERM, then stops
the broker. Memory storage: topics are gone when it stops.
"""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.worker.broker import serve_broker

    return serve_broker(
        args.port, args.host,
        on_ready=lambda bootstrap: print(
            f"embedded broker listening; export WEBFAQ_KAFKA_BOOTSTRAP={bootstrap}", flush=True),
        on_died=lambda log_path: print(f"the broker exited unexpectedly; log: {log_path}", file=sys.stderr))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker", help="run the embedded Kafka-compatible broker in the foreground",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: webfaq-stream broker --port 9092")
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.set_defaults(func=run)
