"""OWI shard reading: rows per second into envelopes, and memory that stays flat however large the shard.

Builds one OWI metadata shard (resilipipe's schema, ``tests/owi_shards.py``) of ``--rows`` rows: real
fixture pages' rows (JSON-LD and microdata as resilipipe stores them) with every page's text as
``plain_text``, at distinct URLs; ``--faq-share`` of them declare an FAQPage, the rest have their FAQ
markup renamed (as most of a crawl). Then reads it ``--rounds`` times with the publisher's reader
(``worker.publish.shard_messages``: batches of rows, envelope per row, rows without FAQ markup not
sent) and prints the median rows/s (CPU time of this process) and the peak RSS growth over the
process before reading, next to the shard's size on disk.

Run: ``make bench-owi`` (or ``python bench/bench_owi.py [--rows N] [--rounds N]``).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import pyarrow as pa
import pyarrow.parquet as pq
from owi_shards import OWI_SCHEMA, page_row, provenance_pages

from webfaq_stream.worker.publish import ShardStats, shard_messages

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "faq-pages"


def template_rows() -> tuple[list[dict], list[dict]]:
    """Rows of the fixture pages that declare an FAQPage, and the same rows with it renamed."""
    faq, other = [], []
    for _, page in provenance_pages(FIXTURES):
        row = page_row(page)
        if "faqpage" in ((row["json-ld"] or "") + (row["microdata"] or "")).lower():
            faq.append(row)
            renamed = {**row, **{k: (row[k] or "").replace("FAQPage", "WebPage") or None
                                 for k in ("json-ld", "microdata")}}
            other.append(renamed)
    return faq, other


def build(path: Path, rows: int, faq_share: float) -> None:
    faq, other = template_rows()
    every = max(1, round(1 / faq_share)) if faq_share > 0 else rows + 1
    chunk: list[dict] = []
    writer = pq.ParquetWriter(path, OWI_SCHEMA, compression="zstd")
    try:
        for n in range(rows):
            template = (faq if n % every == 0 else other)[n % len(faq)]
            chunk.append({**template, "url": f"{template['url']}?n={n}", "record_id": f"bench-{n}"})
            if len(chunk) == 5000:
                write_rows(writer, chunk)
                chunk = []
        if chunk:
            write_rows(writer, chunk)
    finally:
        writer.close()


def write_rows(writer: pq.ParquetWriter, rows: list[dict]) -> None:
    table = pa.Table.from_pylist([{name: row.get(name) for name in writer.schema.names} for row in rows],
                                 schema=writer.schema)
    writer.write_table(table, row_group_size=1024)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--faq-share", type=float, default=0.05)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # the child that writes the shard
    args = parser.parse_args()
    if args.build:
        build(args.build, args.rows, args.faq_share)
        return
    with tempfile.TemporaryDirectory(prefix="bench-owi-") as directory:
        shard = Path(directory) / "metadata_0.parquet"
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build", str(shard), "--rows", str(args.rows),
                        "--faq-share", str(args.faq_share)], check=True)
        built_s = time.perf_counter() - started
        size_mb = shard.stat().st_size / 1e6
        before = rss_mb()
        rates, sent = [], 0
        for _ in range(args.rounds):
            stats = ShardStats()
            cpu = time.process_time()
            sent = sum(1 for _, message in shard_messages(shard, stats, name="bench") if message is not None)
            rates.append(stats.rows / max(time.process_time() - cpu, 1e-9))
        peak = rss_mb()
    print(f"OWI shard: {args.rows:,} rows, {size_mb:,.1f} MB on disk (built in {built_s:.1f} s), "
          f"{sent:,} rows sent (FAQ markup), {args.rows - sent:,} skipped")
    print(f"read: median {statistics.median(rates):,.0f} rows/s (CPU) over {args.rounds} rounds "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f})")
    print(f"peak RSS {peak:,.0f} MB: +{peak - before:,.0f} MB while reading (before reading {before:,.0f} MB)")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
