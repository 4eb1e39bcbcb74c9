"""``webfaq-stream forget ORIGIN|HOST|URL... [--reason TEXT]``: take sites or pages out of the dataset for good.

Removes their pairs from the store, re-aligns their partners (as a batch computation without them
would), and records a tombstone for each, so later crawls of the same origin or URL stay out and the
next release lists the removals in its manifest. An origin is ``scheme://host``; a bare host names
both its http and https origins; a URL with a path beyond ``/`` names that page as crawled.
Forgetting again changes nothing. With the embedded store held by a running worker, the worker does
it between two batches (the command waits up to ``--wait`` seconds). ``forget --list`` prints the
tombstones. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from webfaq_stream.errors import ConfigurationError
from webfaq_stream.settings import load_settings

EXAMPLES = """\
examples:
  webfaq-stream forget https://example.com --reason "owner's request, ticket 123"
  webfaq-stream forget example.org https://example.net/private/faq.html
  webfaq-stream forget --list
"""


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.worker.forget import forget_now, list_tombstones

    settings = load_settings(**({"store_dir": args.store_dir} if args.store_dir else {}))
    if args.list:
        if args.targets:
            raise ConfigurationError("forget: give either targets or --list, not both")
        answer = list_tombstones(settings, wait_s=args.wait)
    elif args.targets:
        answer = forget_now(settings, args.targets, args.reason, wait_s=args.wait)
    else:
        raise ConfigurationError("forget: name an origin, a host or a URL (or --list)")
    print(json.dumps(answer, indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "forget", help="remove origins or URLs from the store and keep them out (takedowns)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXAMPLES)
    parser.add_argument("targets", nargs="*", metavar="ORIGIN|HOST|URL", help="what to forget")
    parser.add_argument("--reason", default="", help="why (kept with the tombstone and listed in releases)")
    parser.add_argument("--list", action="store_true", help="print the tombstones")
    parser.add_argument("--store-dir", type=Path, help="embedded store directory (WEBFAQ_STORE_DIR)")
    parser.add_argument("--wait", type=float, default=600.0, metavar="SECONDS",
                        help="how long to wait for a running worker to answer (default 600)")
    parser.set_defaults(func=run)
