"""``webfaq-stream dlq``: list dead-letter records and publish them again to the crawl topic.

Records that cannot be processed go to the dead-letter topic (``WEBFAQ_DEAD_LETTER_TOPIC``) with
headers ``reason``, ``source-topic``, ``source-partition``, ``source-offset`` and ``detail`` (for
``internal_error``, the exception's type and message).

- ``dlq list``: every dead letter (or those with ``--reason``), oldest first per partition, and
  a count per reason; ``--format json`` for scripts.
- ``dlq replay``: publish the selected dead letters (``--reason``, ``--offset P:O``) again to
  the crawl topic (or ``--to``), with their original key and value plus a ``dlq-source``
  header; a record that fails again comes back to the dead-letter topic. ``--dry-run`` only
  says what would be sent. Use it after fixing the cause (a bigger WEBFAQ_MAX_RECORD_BYTES, a
  decoder fix); the store's writes are idempotent, so a record replayed twice is harmless.

Reading uses no consumer group (nothing is committed) and stops after ``--idle-s`` seconds
without a new message. Needs ``WEBFAQ_KAFKA_BOOTSTRAP``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from tqdm import tqdm

from webfaq_stream.cli.search import positive_int
from webfaq_stream.settings import load_settings
from webfaq_stream.worker.dead_letters import dead_letter_entry, read_dead_letters, replay, replay_target

EXAMPLE = """\
examples:
  webfaq-stream dlq list
  webfaq-stream dlq list --reason too_large --format json | jq '.[].source_offset'
  webfaq-stream dlq replay --reason too_large --dry-run
  webfaq-stream dlq replay --offset 0:17 --offset 2:3
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dlq", help="list and re-publish dead-letter records",
        description=__doc__.split("\n\n", 1)[1], epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="dlq_action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--reason", action="append", help="only dead letters with this reason (repeatable)")
    common.add_argument("--offset", action="append", type=partition_offset, metavar="P:O",
                        help="only the dead letter at partition P, offset O of the DLQ topic (repeatable)")
    common.add_argument("--limit", type=positive_int, help="stop after this many dead letters")
    common.add_argument("--idle-s", type=float, default=2.0,
                        help="stop reading after this many seconds without a message (default 2)")
    listing = actions.add_parser("list", parents=[common], help="show dead letters and counts per reason",
                                 epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    listing.add_argument("--format", choices=("text", "json"), default="text", help="output (default text)")
    listing.set_defaults(func=run_list)
    replay = actions.add_parser("replay", parents=[common], help="publish dead letters to the crawl topic",
                                epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    replay.add_argument("--to", help="target topic (default: WEBFAQ_TOPIC)")
    replay.add_argument("--dry-run", action="store_true", help="only list what would be published")
    replay.set_defaults(func=run_replay)


def partition_offset(text: str) -> tuple[int, int]:
    """argparse type: ``P:O`` -> ``(partition, offset)``."""
    partition, sep, offset = text.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise argparse.ArgumentTypeError(f"expected PARTITION:OFFSET such as 0:17, got {text!r}")
    return int(partition), int(offset)


def _selected(args: argparse.Namespace) -> Iterator[Any]:
    return read_dead_letters(load_settings(), reasons=args.reason, offsets=args.offset, limit=args.limit,
                             idle_s=args.idle_s)


def run_list(args: argparse.Namespace) -> int:
    entries = [dead_letter_entry(m)
               for m in tqdm(_selected(args), unit="record", desc="reading", disable=None, leave=False)]
    if args.format == "json":
        print(json.dumps(entries, ensure_ascii=False, indent=2))
        return 0
    for e in entries:
        source = (f"{e['source_topic']}[{e['source_partition']}]@{e['source_offset']}"
                  if e["source_topic"] else "?")
        print(f"{e['partition']}:{e['offset']:<8} {e['reason']:<24} from {source:<28} "
              f"{e['bytes']:>9} B  {e['preview'][:40]!r}")
    counts = Counter(e["reason"] for e in entries)
    print(f"{len(entries)} dead letter(s)" + (": " + ", ".join(f"{r} {n}" for r, n in counts.most_common())
                                            if counts else ""))
    return 0


def run_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    target = replay_target(settings, args.to)
    chosen = list(tqdm(_selected(args), unit="record", desc="reading", disable=None, leave=False))
    if args.dry_run:
        for message in chosen:
            entry = dead_letter_entry(message)
            print(f"would publish {entry['partition']}:{entry['offset']} ({entry['reason']}) to {target}")
        print(f"{len(chosen)} dead letter(s) selected; nothing published (--dry-run)")
        return 0
    sent = replay(settings, tqdm(chosen, unit="record", desc=f"publishing to {target}", disable=None), target)
    print(f"published {sent} dead letter(s) to {target}")
    return 0
