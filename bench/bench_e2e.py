"""Throughput of the runtime spine on the demo crawl; prints medians of several runs.

Figures:
1. decode + extract + clean + tag (the pure ``Pipeline``), records/s, in-process;
2. the worker's batch step (pipeline + embedding + store write + checkpoint) on a fresh
   qdrant-edge store, records/s and pairs/s, with the default packaged model;
3. ``webfaq-stream ingest`` end to end (embedded broker, publish, worker child until drained,
   release), wall seconds, and how much of it is the worker's fixed start-up (group join).

Run: ``make bench`` or ``.venv/bin/python bench/bench_e2e.py [--runs N] [--copies K]``.
``--copies`` repeats the sample's records under distinct URLs (so the store sees new pages but the
same pairs deduplicate) to make the batch figures less noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample" / "sample-crawl.warc.gz"


def sample_values(copies: int) -> list[bytes]:
    """The sample's WARC records, ``copies`` times, each copy under other URLs."""
    from connectors.crawl_files import Page, read_messages, warc_response_bytes
    from webfaq_stream.exceptions import PageDropped
    from webfaq_stream.records import decode_record

    originals = [message.value for message in read_messages([SAMPLE])]
    values = list(originals)
    for copy in range(1, copies):
        for value in originals:
            try:
                record = decode_record(value)
            except PageDropped:
                continue
            url = f"{record.url}{'&' if '?' in record.url else '?'}copy={copy}"
            values.append(warc_response_bytes(Page(url, record.html, record.warc_date)))
    return values


def bench_pipeline(values: list[bytes], runs: int) -> None:
    from webfaq_stream.langid import LanguageTagger
    from webfaq_stream.pipeline import Pipeline, messages_from

    pipeline = Pipeline(LanguageTagger())
    messages = messages_from(values)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = pipeline.run(messages)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"pipeline (decode+extract+clean+tag): {len(values)} records, {len(result.pairs)} pairs, "
          f"median {median:.3f}s = {len(values) / median:,.0f} records/s")


class _NoDeadLetters:
    def send(self, *args: object) -> None:
        raise AssertionError("the sample has no undecodable records")

    def flush(self) -> None:
        pass


def bench_batch(values: list[bytes], runs: int, batch_size: int) -> None:
    from connectors.qdrant import open_pair_store
    from webfaq_stream.embed import load_embedder
    from webfaq_stream.langid import LanguageTagger
    from webfaq_stream.pipeline import Pipeline, messages_from
    from webfaq_stream.release_gate import ReleaseGate
    from webfaq_stream.settings import load_settings
    from webfaq_stream.worker import BatchProcessor

    model = load_settings().embedding_model
    embedder = load_embedder(model)
    messages = messages_from(values)
    rates = []
    pairs = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            store = open_pair_store(url=None, api_key=None, path=Path(tmp), collection="bench")
            store.open(embedder.dim)
            processor = BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder,
                                       store=ReleaseGate(store), dead_letters=_NoDeadLetters())
            started = time.perf_counter()
            pairs = 0
            for start in range(0, len(messages), batch_size):
                pairs += len(processor.process(messages[start:start + batch_size]).result.pairs)
            rates.append(time.perf_counter() - started)
            store.close()
    median = statistics.median(rates)
    print(f"worker batch step ({model}, batches of {batch_size}, fresh edge store): {len(values)} records, "
          f"{pairs} pairs, median {median:.2f}s = {len(values) / median:,.0f} records/s, "
          f"{pairs / median:,.0f} pairs/s")


def bench_ingest(runs: int) -> None:
    from webfaq_stream.ingest import run_ingest
    from webfaq_stream.settings import load_settings

    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(store_dir=Path(tmp) / "store", release_dir=Path(tmp) / "releases")
            started = time.perf_counter()
            result = run_ingest(settings, [SAMPLE], progress=False, drain_timeout_s=300)
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"ingest end to end (sample, {result.published.messages} records, {result.run.pairs_kept} pairs): "
          f"median {median:.1f}s over {runs} runs (min {min(times):.1f}s, max {max(times):.1f}s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    values = sample_values(args.copies)
    bench_pipeline(values, args.runs)
    bench_batch(values, args.runs, args.batch_size)
    bench_ingest(args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
