"""Benchmark: write a release of 1,000,000 pairs in 20 languages from the embedded store.

Run ``make bench-release`` (or ``python bench/bench_release.py [--pairs N] [--runs R]``).

- The store is generated once under ``bench/out/release-store-<N>/`` (synthetic pairs with
  realistic text lengths, 20 languages, ~7% of pairs aligned across languages within a site, as
  in WebFAQ v2) and reused by later runs.
- Each run is a fresh process that opens the store and writes a release (with the diff against the
  previous one, as a nightly run does); it reports wall time, CPU time, peak RSS (``VmHWM``) and peak private memory.
- A last run releases, from a copy of the store (its writes must not change the store later runs
  read), through a ``ReleaseGate`` while a writer thread keeps applying batches
  (updating ``last_seen`` of 64 pairs every 5 ms, as a worker re-seeing pages does) and reports
  how long the worker was paused by the cut and its batch latencies during the release.
Prints the median of the runs. Targets: under 60 s and under 2 GB peak memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
DIM = 8  # the release never reads vectors; a small vector keeps generation quick
LANGUAGES = ("eng", "deu", "fra", "spa", "ita", "por", "nld", "pol", "rus", "jpn",
             "zho", "kor", "tur", "swe", "dan", "fin", "ces", "hun", "ron", "ell")


def _vocabulary(rng: random.Random, language: str) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyzäöüéèñçß"
    return [language[:1] + "".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(3000)]


def _unit_vector(rng: random.Random) -> list[float]:
    raw = [rng.random() + 0.01 for _ in range(DIM)]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


def generate_store(directory: Path, pairs: int, seed: int = 1) -> None:
    """Fill an embedded store with ``pairs`` synthetic pairs (once; marked complete by a file).

    Sites of 40 pairs, half English and half in one of 20 languages; per site, about 7% of its
    pairs are aligned (an English pair with a pair in another language, mutually).
    """
    from webfaq_stream.adapters.qdrant.opener import open_pair_store
    from webfaq_stream.domain.ids import pair_id
    from webfaq_stream.domain.model import StoredPair

    rng = random.Random(seed)
    vocab = {language: _vocabulary(rng, language) for language in LANGUAGES}
    store = open_pair_store(url=None, api_key=None, path=directory, collection="webfaq")
    store.open(DIM)
    started = time.monotonic()
    batch: list[StoredPair] = []
    for site_start in range(0, pairs, 40):
        origin = f"https://site{site_start // 40}.example"
        site: list[StoredPair] = []
        for _ in range(min(40, pairs - site_start)):
            language = rng.choice(LANGUAGES) if rng.random() < 0.5 else "eng"
            words = vocab[language]
            question = " ".join(rng.choices(words, k=rng.randint(6, 16))) + "?"
            answer = " ".join(rng.choices(words, k=rng.randint(20, 70))) + "."
            site.append(StoredPair(
                id=pair_id(question, answer), origin=origin, url=f"{origin}/{language}/faq", language=language,
                language_score=round(rng.uniform(0.3, 1.0), 4), question=question, answer=answer,
                title=f"FAQ {origin}", description="Frequently asked questions",
                first_seen="2026-11-01T00:00:00Z", last_seen="2026-11-20T00:00:00Z",
                near_duplicate_similarity=round(rng.uniform(0.2, 0.99), 4),
                vector=_unit_vector(rng)))
        english = [p for p in site if p.language == "eng"]
        others = [p for p in site if p.language != "eng"]
        for left, right in list(zip(english, others))[:rng.choice((1, 2))]:
            similarity = round(rng.uniform(0.85, 0.99), 4)
            left.aligned[right.language] = {"id": right.id, "similarity": similarity}
            right.aligned["eng"] = {"id": left.id, "similarity": similarity}
        batch += site
        if len(batch) >= 20_000 or site_start + 40 >= pairs:
            store.upsert(batch)
            batch = []
            print(f"  {min(site_start + 40, pairs):,} pairs ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    store.set_meta("checkpoint", {"offsets": {"webfaq.crawl:0": pairs}, "time": "2026-11-20T00:00:00Z",
                                  "batch_seq": 1})
    optimize = getattr(store, "optimize", None)
    if optimize:
        optimize()
    store.close()
    (directory / ".complete").write_text(str(pairs))
    print(f"store of {pairs:,} pairs generated in {time.monotonic() - started:.0f} s", file=sys.stderr)


def child_release(store_dir: Path, release_dir: Path, gated: bool) -> dict:
    """One release in this process; returns its figures."""
    from webfaq_stream.adapters.qdrant.opener import open_pair_store
    from webfaq_stream.release.build import ReleaseGate, write_release
    from webfaq_stream.settings import Settings

    sampler = _AnonSampler()
    sampler.start()
    scratch = None
    if gated:  # the writer thread changes the store: work on a copy, so later runs find it as generated
        scratch = Path(tempfile.mkdtemp(prefix="bench-release-store-", dir=OUT))
        store_dir = Path(shutil.copytree(store_dir, scratch / store_dir.name))
    store = open_pair_store(url=None, api_key=None, path=store_dir, collection="webfaq")
    store.open(DIM)
    settings = Settings(release_dir=release_dir, release_retention=2)
    figures: dict = {}
    try:
        if not gated:
            started = time.monotonic()
            result = write_release(store, settings, progress=False)
            figures["seconds"] = time.monotonic() - started
        else:
            gate = ReleaseGate(store)
            ids = [p.id for _, p in zip(range(50_000), store.scroll(batch_size=5000))]
            stop = threading.Event()
            latencies: list[float] = []

            def worker() -> None:
                rng = random.Random(3)
                while not stop.is_set():
                    began = time.monotonic()
                    with gate.batch():  # a batch that re-sees 64 pairs: whole points, as the worker writes
                        seen = gate.get(rng.sample(ids, 64), with_vectors=True)
                        gate.upsert([dataclasses.replace(pair, last_seen="2026-11-21T00:00:00Z")
                                     for pair in seen.values()])
                    latencies.append(time.monotonic() - began)
                    time.sleep(0.005)

            thread = threading.Thread(target=worker, daemon=True)
            thread.start()
            time.sleep(1.0)
            baseline = len(latencies)
            started = time.monotonic()
            result = write_release(gate, settings, progress=False)
            figures["seconds"] = time.monotonic() - started
            during = latencies[baseline:]
            stop.set()
            thread.join()
            figures["worker_batches_during_release"] = len(during)
            figures["worker_batch_ms_median_before"] = 1000 * statistics.median(latencies[:baseline])
            figures["worker_batch_ms_median_during"] = 1000 * statistics.median(during)
            figures["worker_batch_ms_max_during"] = 1000 * max(during)
        figures["worker_paused_ms"] = 1000 * result.manifest["timings"]["worker_paused_s"]
        figures["timings"] = result.manifest["timings"]
        figures["pairs"] = result.manifest["pairs"]
        figures["bitexts"] = result.manifest["bitexts"]
        figures["languages"] = len(result.counts)
        figures["bytes"] = sum(e["bytes"] for e in result.manifest["files"].values())
    finally:
        store.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    status = _memory_status()
    figures["peak_rss_mb"] = status["VmHWM"] / 1024
    figures["peak_private_mb"] = max(sampler.peak_anon_kb, status["RssAnon"]) / 1024
    sampler.stop.set()
    figures["cpu_s"] = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    return figures


def _memory_status() -> dict[str, int]:
    """VmHWM (peak RSS of this process image), RssAnon and RssFile in kB from /proc/self/status."""
    wanted = ("VmHWM", "RssAnon", "RssFile")
    with open("/proc/self/status") as handle:
        return {line.split(":")[0]: int(line.split()[1]) for line in handle if line.startswith(wanted)}


class _AnonSampler(threading.Thread):
    """Samples private (anonymous) memory every 0.2 s: RSS also counts the store's mmapped files."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak_anon_kb = 0

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak_anon_kb = max(self.peak_anon_kb, _memory_status()["RssAnon"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", choices=("plain", "gated"), help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--releases", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_release(args.store, args.releases, args.child == "gated")))
        return
    store_dir = OUT / f"release-store-{args.pairs}"
    if not (store_dir / ".complete").exists():
        generate_store(store_dir, args.pairs)
    release_dir = OUT / f"releases-{args.pairs}"
    load_before = os.getloadavg()
    runs = []
    for mode in ["plain"] * args.runs + ["gated"]:
        done = subprocess.run([sys.executable, __file__, "--child", mode, "--store", str(store_dir),
                               "--releases", str(release_dir)], check=False, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"release run failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        figures["mode"] = mode
        runs.append(figures)
        print(f"{mode:<6} {figures['seconds']:6.1f} s  cpu {figures['cpu_s']:5.1f} s  peak RSS "
              f"{figures['peak_rss_mb']:5.0f} MB  private {figures['peak_private_mb']:5.0f} MB  "
              f"{json.dumps(figures['timings'])}", file=sys.stderr)
    plain = [r for r in runs if r["mode"] == "plain"]
    gated = runs[-1]
    first = plain[0]
    print(f"release of {first['pairs']:,} pairs in {first['languages']} languages, {first['bitexts']:,} bitexts, "
          f"{first['bytes'] / 1e6:,.0f} MB on disk")
    print(f"  load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())} after, on {os.cpu_count()} CPUs")
    listed = ", ".join(f"{r['seconds']:.1f}" for r in plain)
    print(f"  wall time  median {statistics.median(r['seconds'] for r in plain):.1f} s "
          f"(runs: {listed}; target < 60 s)")
    print(f"  CPU time   median {statistics.median(r['cpu_s'] for r in plain):.1f} s (user + system, all threads)")
    print(f"  peak RSS   median {statistics.median(r['peak_rss_mb'] for r in plain):.0f} MB, of which private "
          f"(anonymous) {statistics.median(r['peak_private_mb'] for r in plain):.0f} MB; the rest is the "
          f"store's mmapped files (page cache); target < 2048 MB")
    print(f"  while a worker writes: release {gated['seconds']:.1f} s, worker paused by the cut "
          f"{gated['worker_paused_ms']:.3f} ms; worker batch latency median "
          f"{gated['worker_batch_ms_median_before']:.1f} ms before, "
          f"{gated['worker_batch_ms_median_during']:.1f} ms during (max "
          f"{gated['worker_batch_ms_max_during']:.1f} ms, {gated['worker_batches_during_release']} batches)")


if __name__ == "__main__":
    main()
