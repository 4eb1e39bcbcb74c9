"""Retrieval train/test splits of one language, split by origin, in PaDaS-Lab/webfaq-retrieval's layout.

Split (``split_by_origin``): an origin is a *test origin* when the hash of its name falls below
``test_fraction`` (so an origin never moves between train and test as releases grow); when that
picks none but the language has two or more origins, the origin with the smallest hash is test.
At most ``max_test_queries`` test origins are kept (smallest hashes first). Each test origin
contributes exactly one test query (its pair with the smallest id); every pair of every other
origin is a train query; the other pairs of test origins are neither (they stay in the corpus).
So no test query shares an origin with a train query. Deterministic in its input set.

Layout (``write_retrieval``), BEIR-style as PaDaS-Lab/webfaq-retrieval, under
``retrieval/<lang>/``: ``corpus.jsonl.gz`` (``_id``, ``title``, ``text`` = the answer, every pair),
``queries.jsonl.gz`` (``_id``, ``text`` = the question, train and test queries),
``qrels/{train,test}.jsonl`` (as webfaq-retrieval, whose files are all JSON) and the same rows as
``qrels/{train,test}.tsv`` (BEIR's loaders) with ``query-id``, ``corpus-id``, ``score`` = 1 (a
query's relevant document is its own pair's answer, so query and corpus ids are the pair id). Files are
byte-identical for identical input (rows sorted by id, gzip without time or name).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TEST_FRACTION = 0.1
DEFAULT_MAX_TEST_QUERIES = 10_000
QRELS_HEADER = "query-id\tcorpus-id\tscore\n"


@dataclass(frozen=True, slots=True)
class RetrievalPair:
    """One pair of a release's language, as retrieval and mining need it."""

    id: str
    origin: str
    question: str
    answer: str
    near_duplicate_similarity: float | None = None


@dataclass(frozen=True, slots=True)
class RetrievalSplit:
    """Query ids per split (sorted) and the test origins."""

    train: tuple[str, ...]
    test: tuple[str, ...]
    test_origins: frozenset[str]


def origin_hash(origin: str) -> float:
    """A stable number in [0, 1) for an origin (first 8 bytes of its sha256)."""
    return int.from_bytes(hashlib.sha256(origin.encode()).digest()[:8], "big") / 2.0 ** 64


def split_by_origin(pairs: Sequence[RetrievalPair], *, test_fraction: float = DEFAULT_TEST_FRACTION,
                    max_test_queries: int = DEFAULT_MAX_TEST_QUERIES) -> RetrievalSplit:
    """Train and test queries of one language (module docstring); ``ValueError`` on bad parameters."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if max_test_queries < 0:
        raise ValueError(f"max_test_queries must be >= 0, got {max_test_queries}")
    by_origin: dict[str, list[str]] = {}
    for pair in pairs:
        by_origin.setdefault(pair.origin, []).append(pair.id)
    ranked = sorted(by_origin, key=lambda origin: (origin_hash(origin), origin))
    test_origins = [origin for origin in ranked if origin_hash(origin) < test_fraction]
    if not test_origins and len(ranked) >= 2 and test_fraction > 0:
        test_origins = ranked[:1]
    chosen = frozenset(test_origins[:max_test_queries])
    test = sorted(min(by_origin[origin]) for origin in chosen)
    train = sorted(pid for origin, ids in by_origin.items() if origin not in chosen for pid in ids)
    return RetrievalSplit(train=tuple(train), test=tuple(test), test_origins=chosen)


def write_jsonl_gz(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` as gzip-compressed JSON lines (no time or name in the header); returns rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=False).encode() + b"\n")
            count += 1
    return count


def write_qrels(directory: Path, split: str, query_ids: Sequence[str]) -> dict[str, int]:
    """``<split>.tsv`` (BEIR) and ``<split>.jsonl`` (webfaq-retrieval) in ``directory``: one
    ``query-id, corpus-id, score = 1`` row per query (its own pair is its relevant document)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{split}.tsv").write_text(QRELS_HEADER + "".join(f"{qid}\t{qid}\t1\n" for qid in query_ids))
    (directory / f"{split}.jsonl").write_text("".join(
        json.dumps({"query-id": qid, "corpus-id": qid, "score": 1.0}) + "\n" for qid in query_ids))
    return {f"{split}.tsv": len(query_ids), f"{split}.jsonl": len(query_ids)}


def write_retrieval(root: Path, language: str, pairs: Sequence[RetrievalPair],
                    split: RetrievalSplit) -> dict[str, int]:
    """Write ``retrieval/<language>/`` under ``root``; returns rows per file (paths relative to root)."""
    base = f"retrieval/{language}"
    ordered = sorted(pairs, key=lambda p: p.id)
    queries = set(split.train) | set(split.test)
    return {
        f"{base}/corpus.jsonl.gz": write_jsonl_gz(
            root / base / "corpus.jsonl.gz", ({"_id": p.id, "title": "", "text": p.answer} for p in ordered)),
        f"{base}/queries.jsonl.gz": write_jsonl_gz(
            root / base / "queries.jsonl.gz",
            ({"_id": p.id, "text": p.question} for p in ordered if p.id in queries)),
        **{f"{base}/qrels/{name}": n for split_name, ids in (("train", split.train), ("test", split.test))
           for name, n in write_qrels(root / base / "qrels", split_name, ids).items()},
    }
