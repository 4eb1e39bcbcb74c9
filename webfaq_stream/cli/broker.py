"""``webfaq-stream broker``: run the embedded Kafka-compatible broker (Tansu) in the foreground.

For local development: prints the bootstrap address, serves until Ctrl-C or SIGTERM, then stops
the broker. Memory storage: topics are gone when it stops.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.adapters.kafka.broker import LOOPBACK, EmbeddedBroker

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedBroker(port=args.port, host=args.host or LOOPBACK) as broker:
        print(f"embedded broker listening; export WEBFAQ_KAFKA_BOOTSTRAP={broker.bootstrap}", flush=True)
        try:
            while not stop.wait(0.5):
                if not broker.running():
                    print(f"the broker exited unexpectedly; log: {broker.log_path}", file=sys.stderr)
                    return 1
        except KeyboardInterrupt:
            pass
        return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "broker", help="run the embedded Kafka-compatible broker in the foreground",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: webfaq-stream broker --port 9092")
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    parser.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    parser.set_defaults(func=run)
