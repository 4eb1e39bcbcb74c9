"""``webfaq-stream status``: consumer lag per partition, store counts per language, last release.

In: the configuration (``WEBFAQ_*``). Out: three sections (``webfaq_stream.worker.status``), as text
or ``--format json``:
- ``kafka``: for the consumer group on the crawl topic, each partition's end offset, committed
  offset and lag (skipped when no ``WEBFAQ_KAFKA_BOOTSTRAP`` is set: the embedded broker lives
  inside its worker). On the embedded Tansu broker end offsets are unreliable, so lag is a lower bound;
- ``store``: pairs in total, per language, and how many are aligned to a pair in another
  language (a full scan, with a progress bar on a terminal; ``--no-scan`` gives the total only);
- ``release``: the newest release in ``WEBFAQ_RELEASE_DIR`` (id, creation time, pairs, bitexts).
Read-only. A section that cannot be read (broker down, embedded store held by a running worker)
shows its error and the exit code is 1; otherwise 0.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from webfaq_stream.settings import load_settings

EXAMPLE = """\
examples:
  webfaq-stream status
  webfaq-stream status --format json | jq .kafka.total_lag
  WEBFAQ_KAFKA_BOOTSTRAP=kafka:9092 WEBFAQ_QDRANT_URL=http://qdrant:6333 webfaq-stream status --no-scan
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status", help="lag per partition, store counts per language, last release",
        description=__doc__.split("\n\n", 1)[1], epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output (default text)")
    parser.add_argument("--no-scan", action="store_true",
                        help="store: total count only, no per-language scan (fast on big stores)")
    parser.add_argument("--timeout-s", type=float, default=10.0,
                        help="give up on an unreachable broker after this long (default 10)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from webfaq_stream.worker.status import status_report

    report = status_report(load_settings(), scan=not args.no_scan, timeout_s=args.timeout_s, progress=True)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.format == "json" else render(report))
    return 1 if any("error" in section for section in report.values()) else 0


def render(report: dict[str, Any]) -> str:
    """The report as aligned text sections."""
    lines = []
    kafka, store, release = report["kafka"], report["store"], report["release"]
    lines.append("Kafka")
    if "partitions" in kafka:
        lines.append(f"  {kafka['bootstrap']}  topic {kafka['topic']}  group {kafka['group']}  "
                     f"total lag {kafka['total_lag']}")
        lines.append(f"  {'partition':>9} {'end':>12} {'committed':>12} {'lag':>10}")
        for p in kafka["partitions"]:
            committed = "-" if p["committed"] is None else p["committed"]
            lines.append(f"  {p['partition']:>9} {p['end_offset']:>12} {committed:>12} {p['lag']:>10}")
    else:
        lines.append(f"  {kafka.get('error') or kafka.get('note')}")
    lines.append("Store")
    if "pairs" in store:
        aligned = f", {store['aligned_pairs']} aligned" if "aligned_pairs" in store else ""
        lines.append(f"  {store['location']}: {store['pairs']} pairs{aligned}")
        for language, count in store.get("languages", {}).items():
            lines.append(f"  {language:>9} {count:>12}")
    else:
        lines.append(f"  {store['error']}")
    lines.append("Last release")
    if "release_id" in release:
        lines.append(f"  {release['release_id']}  created {release['created']}  {release['pairs']} pairs, "
                     f"{release['bitexts']} bitexts  ({release['path']}; {release['releases']} kept)")
    else:
        lines.append(f"  {release.get('error') or release.get('note')}")
    return "\n".join(lines)
