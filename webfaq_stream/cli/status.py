"""``webfaq-stream status``: consumer lag per partition, store counts per language, last release.

In: the configuration (``WEBFAQ_*``). Out: three sections, as text or ``--format json``:
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
from collections import Counter
from typing import Any

from tqdm import tqdm

from webfaq_stream.errors import WebFAQError
from webfaq_stream.settings import Settings, load_settings

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
    settings = load_settings()
    report = {
        "kafka": _section(kafka_status, settings, timeout_s=args.timeout_s),
        "store": _section(store_status, settings, scan=not args.no_scan),
        "release": _section(release_status, settings),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.format == "json" else render(report))
    return 1 if any("error" in section for section in report.values()) else 0


def _section(function: Any, settings: Settings, **kwargs: Any) -> dict[str, Any]:
    try:
        return function(settings, **kwargs)
    except WebFAQError as exc:
        return {"error": str(exc)}


def kafka_status(settings: Settings, timeout_s: float = 10.0) -> dict[str, Any]:
    """Lag of the worker group on the crawl topic, per partition."""
    if not settings.kafka_bootstrap:
        return {"note": "embedded broker (inside the worker): set WEBFAQ_KAFKA_BOOTSTRAP to inspect one"}
    from webfaq_stream.adapters.kafka.inspect import partition_lag
    from webfaq_stream.adapters.kafka.security import kafka_client_kwargs

    lags = partition_lag(kafka_client_kwargs(settings), settings.consumer_group, settings.topic, timeout_s)
    return {
        "bootstrap": settings.kafka_bootstrap, "topic": settings.topic, "group": settings.consumer_group,
        "partitions": [{"partition": lag.partition, "end_offset": lag.end_offset,
                        "committed": lag.committed, "lag": lag.lag} for lag in lags],
        "total_lag": sum(lag.lag for lag in lags),
    }


def store_status(settings: Settings, scan: bool = True) -> dict[str, Any]:
    """Pair counts (total, per language, aligned) of the configured store."""
    from webfaq_stream.cli.search import open_configured_store
    from webfaq_stream.embed.models import load_embedder

    location = settings.qdrant_url or str(settings.store_dir / settings.collection)
    store = open_configured_store(settings, load_embedder(settings.embedding_model).dim)
    try:
        total = store.count()
        out: dict[str, Any] = {"location": location, "collection": settings.collection, "pairs": total}
        if scan:
            languages: Counter[str] = Counter()
            aligned = 0
            for pair in tqdm(store.scroll(batch_size=2000), total=total, unit="pair", desc="scanning store",
                             disable=None, leave=False):
                languages[pair.language] += 1
                aligned += bool(pair.aligned)
            out["languages"] = dict(languages.most_common())
            out["aligned_pairs"] = aligned
        return out
    finally:
        store.close()


def release_status(settings: Settings) -> dict[str, Any]:
    """The newest finished release, from its manifest."""
    from webfaq_stream.release.layout import list_releases
    from webfaq_stream.release.manifest import read_manifest

    ids = list_releases(settings.release_dir)
    if not ids:
        return {"note": f"no release yet in {settings.release_dir}"}
    manifest = read_manifest(settings.release_dir / ids[-1])
    return {"release_id": manifest["release_id"], "created": manifest.get("created"),
            "pairs": manifest.get("pairs"), "bitexts": manifest.get("bitexts"),
            "path": str(settings.release_dir / ids[-1]), "releases": len(ids)}


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
