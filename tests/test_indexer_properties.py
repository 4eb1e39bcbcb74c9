"""PairIndexer on a real qdrant-edge store: order independence, idempotence, batch equivalence.

Generated records (origins, languages, clustered vectors, the same pair re-seen on other pages,
even on another origin) are applied in random orders and batchings; the store must always equal a
brute-force batch computation over the records, and replaying any prefix must write nothing.
"""

from __future__ import annotations

import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_align_properties import CENTERS, DIM, Item, brute_alignment, brute_near_duplicates

from webfaq_stream.adapters.qdrant.edge import EdgePairStore
from webfaq_stream.domain.align import bitext_rows, normalize_rows
from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import StoredPair, TaggedPair
from webfaq_stream.store.indexer import PairIndexer, representative_key

ORIGINS = ["https://a.example", "https://b.example"]
LANGUAGES = ["deu", "eng", "fra"]
THRESHOLD = 0.5


@st.composite
def crawl(draw):
    """``(records, vectors)``: tagged records and the vector of each pair id (a function of its text)."""
    templates = []
    for index in range(draw(st.integers(1, 12))):
        center = CENTERS[draw(st.integers(0, len(CENTERS) - 1))]
        noise = np.array(draw(st.lists(st.floats(-0.35, 0.35, allow_nan=False), min_size=DIM, max_size=DIM)))
        question = f"Question {draw(st.integers(0, 5))}?"
        answer = f"Answer {index} " + "x" * draw(st.integers(0, 3))
        templates.append((question, answer, normalize_rows([center + noise])[0]))
    vectors = {pair_id(q, a): v for q, a, v in templates}
    records = []
    for question, answer, _ in templates:
        for _ in range(draw(st.integers(1, 3))):
            origin = draw(st.sampled_from(ORIGINS))
            language = draw(st.sampled_from(LANGUAGES))
            records.append(TaggedPair(
                id=pair_id(question, answer), origin=origin, url=f"{origin}/{draw(st.sampled_from('pqr'))}",
                language=language, language_score=draw(st.sampled_from([0.5, 0.9])), question=question,
                answer=answer, title=draw(st.sampled_from(["", "T"])), description="",
                seen=f"2026-01-0{draw(st.integers(1, 9))}T00:00:00Z"))
    return records, vectors


def expected_store(records, vectors, max_per_language) -> dict[str, dict]:
    """The brute-force batch result: one point per id with its representative record's fields."""
    by_id: dict[str, list[TaggedPair]] = {}
    for record in records:
        by_id.setdefault(record.id, []).append(record)
    pairs = {}
    for pid, group in by_id.items():
        rep = min(group, key=representative_key)
        pairs[pid] = StoredPair(
            id=pid, origin=rep.origin, url=rep.url, language=rep.language, language_score=rep.language_score,
            question=rep.question, answer=rep.answer, title=rep.title, description=rep.description,
            first_seen=min(r.seen for r in group), last_seen=max(r.seen for r in group))
    items = [Item(p.id, p.origin, p.language, p.question, p.answer, vectors[p.id]) for p in pairs.values()]
    near = brute_near_duplicates(items)
    aligned = brute_alignment(items, THRESHOLD, max_per_language)
    for pid, pair in pairs.items():
        pair.near_duplicate_similarity, pair.aligned = near[pid], aligned[pid]
    return {pid: pair.payload() for pid, pair in pairs.items()}


def run_in_order(records, vectors, order, cuts, directory: Path, **options):
    """Apply the records in ``order``, split at ``cuts``; return the store snapshot and pairs."""
    store = EdgePairStore(directory)
    store.open(DIM)
    try:
        indexer = PairIndexer(store, 0.9, THRESHOLD, **options)
        ordered = [records[i] for i in order]
        bounds = [0, *sorted(set(cuts)), len(ordered)]
        batches = [ordered[a:b] for a, b in pairwise(bounds) if b > a]
        for batch in batches:
            indexer.apply(batch, np.array([vectors[r.id] for r in batch]))
        pairs = list(store.scroll())
        snapshot = {p.id: p.payload() for p in pairs}
        for batch in batches[: max(1, len(batches) // 2)]:  # replay a prefix
            stats = indexer.apply(batch, np.array([vectors[r.id] for r in batch]))
            assert (stats.new, stats.updated, stats.points_written) == (0, 0, 0)
        assert {p.id: p.payload() for p in store.scroll()} == snapshot
        return snapshot, pairs
    finally:
        store.close()


@pytest.mark.parametrize("options", [
    {},                                                  # defaults: small groups recomputed from scratch
    {"full_recompute_max": 1},                           # incremental near-duplicate path
    {"max_pairs_per_language": 2},                       # large languages skipped by alignment
], ids=["default", "incremental", "language-limit"])
@settings(max_examples=12, deadline=None)
@given(data=crawl(), shuffles=st.data())
def test_any_order_and_batching_gives_the_batch_result(options, data, shuffles):
    records, vectors = data
    expected = expected_store(records, vectors, options.get("max_pairs_per_language", 10_000))
    expected_bitexts = bitext_rows(StoredPair.from_payload(p) for p in expected.values())
    for _ in range(2):
        order = shuffles.draw(st.permutations(range(len(records))))
        cuts = shuffles.draw(st.lists(st.integers(0, len(records)), max_size=4))
        with tempfile.TemporaryDirectory() as tmp:
            snapshot, pairs = run_in_order(records, vectors, order, cuts, Path(tmp), **options)
        assert snapshot == expected
        assert bitext_rows(pairs) == expected_bitexts
