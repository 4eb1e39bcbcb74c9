"""``webfaq-stream`` command line: a thin dispatcher over the command modules of ``webfaq_stream.cli``.

Each command lives in its own module under ``webfaq_stream/cli/`` exposing
``register(subparsers)`` which adds an ``argparse`` sub-parser whose ``func(args) -> int``
runs it. ``main`` turns project errors (``WebFAQError``) into a one-line message and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from webfaq_stream.errors import WebFAQError

#: Command modules, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "ingest",
    "publish",
    "worker",
    "broker",
    "release",
    "forget",
    "extract",
    "calibrate",
    "config",
    "status",
    "search",
    "dlq",
    "mine_negatives",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="webfaq-stream",
        description="Streaming ingestion of schema.org FAQPage pairs into a WebFAQ-style dataset.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'webfaq-stream COMMAND --help' for a command's options and an example.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"webfaq_stream.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"webfaq_stream.cli.{name}":
                continue  # command not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except WebFAQError as exc:
        print(f"webfaq-stream {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
