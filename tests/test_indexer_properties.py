"""PairIndexer on a real qdrant-edge store: order independence, idempotence, batch equivalence.

Generated records (origins, languages, clustered vectors, the same pair re-seen on other pages,
even on another origin, at times of day) are applied in random orders and batchings; the store must
always equal a brute-force batch computation over the records (``last_seen`` the latest sighting
rounded down to the resolution), replaying any prefix must write nothing, and so must a re-crawl
within the period of each pair's ``last_seen``; a re-crawl in a later period writes exactly the
re-seen pairs, and only their ``last_seen``.
"""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_align_properties import (
    CENTERS,
    DIM,
    Item,
    brute_alignment,
    brute_near_duplicates,
    brute_weighted_similarity,
)

from webfaq_stream.adapters.qdrant.edge import EdgePairStore
from webfaq_stream.domain.align import AlignRule, bitext_rows, normalize_rows, question_answer_similarity
from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import StoredPair, TaggedPair
from webfaq_stream.store.indexer import DAY_S, PairIndexer, WideVectors, last_seen_at, representative_key

ORIGINS = ["https://a.example", "https://b.example"]
LANGUAGES = ["deu", "eng", "fra"]
THRESHOLD = 0.5
#: The two-model configuration: the store vectors' model knows deu and eng only; the alignment model
#: (a deterministic function of the question) aligns with a pivot weight and the veto.
KNOWN = frozenset({"deu", "eng"})
WIDE_RULE = AlignRule(threshold=0.8, pivot_weight=0.5, veto_threshold=0.2, veto_languages=KNOWN)
WIDE_DIM = 5
#: The default one-model rule: question-weighted similarity of the store vectors' halves + pivot.
WEIGHTED_RULE = AlignRule(threshold=0.6, pivot_weight=0.5, question_weight=0.75, disagreement=0.3)


def wide_vector(question: str) -> np.ndarray:
    """The fake alignment model: clustered by the question's number, noise from its characters."""
    rng = np.random.default_rng(sum(map(ord, question)))
    center = np.eye(WIDE_DIM)[int(question.split()[1].rstrip("?")) % 3]
    return normalize_rows([center + rng.normal(scale=0.3, size=WIDE_DIM)])[0]


def wide_options() -> dict:
    return {"align_rule": WIDE_RULE, "known_languages": KNOWN,
            "wide": WideVectors(lambda questions: np.array([wide_vector(q) for q in questions]), 0.9)}


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
                seen=f"2026-01-0{draw(st.integers(1, 8))}T{draw(st.integers(0, 23)):02d}:00:00Z"))
    return records, vectors


def expected_store(records, vectors, max_per_language, wide: bool = False,
                   resolution_s: int = DAY_S, rule: AlignRule | None = None) -> dict[str, dict]:
    """The brute-force batch result: one point per id with its representative record's fields (with
    ``wide``: the two-model configuration of :func:`wide_options`; with ``rule``: that one-model rule)."""
    vectors = {pid: normalize_rows([vector])[0] for pid, vector in vectors.items()}  # the bits the store keeps
    by_id: dict[str, list[TaggedPair]] = {}
    for record in records:
        by_id.setdefault(record.id, []).append(record)
    pairs = {}
    for pid, group in by_id.items():
        rep = min(group, key=representative_key)
        pairs[pid] = StoredPair(
            id=pid, origin=rep.origin, url=rep.url, language=rep.language, language_score=rep.language_score,
            question=rep.question, answer=rep.answer, title=rep.title, description=rep.description,
            first_seen=min(r.seen for r in group),
            last_seen=last_seen_at(max(r.seen for r in group), resolution_s))
    items = [Item(p.id, p.origin, p.language, p.question, p.answer, vectors[p.id]) for p in pairs.values()]
    if not wide:
        near = brute_near_duplicates(items)
        aligned = (brute_alignment(items, THRESHOLD, max_per_language) if rule is None else
                   brute_alignment(items, rule.threshold, max_per_language, rule.pivot_weight,
                                   similarity=brute_weighted_similarity(rule.question_weight, rule.disagreement)))
    else:
        near = brute_near_duplicates([Item(i.id, i.origin, i.language, i.question, i.answer,
                                           i.vector if i.language in KNOWN else wide_vector(i.question))
                                      for i in items])
        aligned = {}
        for origin in {i.origin for i in items}:
            group = [i for i in items if i.origin == origin]
            if len({i.language for i in group}) < 2:
                aligned.update({i.id: {} for i in group})
                continue
            aligned.update(brute_alignment(
                [Item(i.id, i.origin, i.language, i.question, i.answer, wide_vector(i.question), i.vector)
                 for i in group], WIDE_RULE.threshold, max_per_language, WIDE_RULE.pivot_weight,
                (WIDE_RULE.veto_threshold, set(KNOWN))))
    for pid, pair in pairs.items():
        pair.near_duplicate_similarity, pair.aligned = near[pid], aligned[pid]
        pair.semantic_similarity_score = (question_answer_similarity(vectors[pid])
                                          if not wide or pair.language in KNOWN else None)
    return {pid: pair.payload() for pid, pair in pairs.items()}


def run_in_order(records, vectors, order, cuts, directory: Path, **options):
    """Apply the records in ``order``, split at ``cuts``; return the store snapshot and pairs."""
    store = EdgePairStore(directory)
    store.open(DIM, WIDE_DIM if "wide" in options else 0)
    try:
        indexer = PairIndexer(store, 0.9, THRESHOLD, **options)
        ordered = [records[i] for i in order]
        bounds = [0, *sorted(set(cuts)), len(ordered)]
        batches = [ordered[a:b] for a, b in pairwise(bounds) if b > a]
        for batch in batches:
            indexer.apply(batch, np.array([vectors[r.id] for r in batch]))
        pairs = list(store.scroll(with_vectors=True))
        snapshot = {p.id: p.payload() for p in pairs}
        if "wide" in options:  # wide vectors exactly where needed: multilingual origins, unknown languages
            languages = {o: {p.language for p in pairs if p.origin == o} for o in {p.origin for p in pairs}}
            for pair in pairs:
                if len(languages[pair.origin]) >= 2 or pair.language not in KNOWN:
                    assert pair.wide_vector is not None and np.allclose(pair.wide_vector,
                                                                         wide_vector(pair.question))
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
    {"last_seen_resolution_s": 0},                       # exact last_seen
    "wide",                                              # two models: wide vectors, pivot rule, veto
    "wide-incremental",
    {"align_rule": WEIGHTED_RULE},                       # the default model's question-weighted rule
], ids=["default", "incremental", "language-limit", "exact-last-seen", "wide", "wide-incremental",
        "question-weighted"])
@settings(max_examples=12, deadline=None)
@given(data=crawl(), shuffles=st.data())
def test_any_order_and_batching_gives_the_batch_result(options, data, shuffles):
    if isinstance(options, str):
        options = {**wide_options(), **({"full_recompute_max": 1} if options.endswith("incremental") else {})}
    records, vectors = data
    expected = expected_store(records, vectors, options.get("max_pairs_per_language", 10_000),
                              wide="wide" in options, resolution_s=options.get("last_seen_resolution_s", DAY_S),
                              rule=None if "wide" in options else options.get("align_rule"))
    expected_bitexts = bitext_rows(StoredPair.from_payload(p) for p in expected.values())
    for _ in range(2):
        order = shuffles.draw(st.permutations(range(len(records))))
        cuts = shuffles.draw(st.lists(st.integers(0, len(records)), max_size=4))
        with tempfile.TemporaryDirectory() as tmp:
            snapshot, pairs = run_in_order(records, vectors, order, cuts, Path(tmp), **options)
        assert snapshot == expected
        assert bitext_rows(pairs) == expected_bitexts


def test_an_origin_that_gains_a_language_late_gets_wide_vectors_and_links(tmp_path):
    """A monolingual origin stores no wide vectors; when a second language arrives, the older pairs get
    theirs from their stored questions in that batch, and the links equal the batch computation."""
    rng = np.random.default_rng(5)
    records, vectors = [], {}
    for index, language in enumerate(["eng", "eng", "eng", "deu", "deu", "deu"]):
        question, answer = f"Question {index % 3}? {language}", f"Answer {index} {language}"
        record = TaggedPair(id=pair_id(question, answer), origin=ORIGINS[0], url=f"{ORIGINS[0]}/{language}",
                            language=language, language_score=0.9, question=question, answer=answer,
                            title="", description="", seen="2026-01-01T00:00:00Z")
        records.append(record)
        vectors[record.id] = normalize_rows([CENTERS[index % 3] + rng.normal(scale=0.2, size=DIM)])[0]
    store = EdgePairStore(tmp_path)
    store.open(DIM, WIDE_DIM)
    try:
        indexer = PairIndexer(store, 0.9, THRESHOLD, **wide_options())
        first = indexer.apply(records[:3], np.array([vectors[r.id] for r in records[:3]]))
        assert first.wide_vectors == 0
        assert all(p.wide_vector is None for p in store.scroll(with_vectors=True))
        second = indexer.apply(records[3:], np.array([vectors[r.id] for r in records[3:]]))
        assert second.wide_vectors == 6
        stored = list(store.scroll(with_vectors=True))
        assert all(p.wide_vector is not None for p in stored)
        assert {p.id: p.payload() for p in stored} == expected_store(records, vectors, 10_000, wide=True)
        assert any(p.aligned for p in stored)
    finally:
        store.close()


class WriteRecorder(EdgePairStore):
    """The real store, recording which pairs reach it and with which fields."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.writes: dict[str, set[str]] = {}

    def upsert(self, pairs, meta=None) -> None:
        for pair in pairs:
            self.writes[pair.id] = set(pair.payload())
        super().upsert(pairs, meta=meta)

    def set_payload(self, updates) -> None:
        for point, fields in updates.items():
            self.writes[point] = set(fields)
        super().set_payload(updates)


@settings(max_examples=12, deadline=None)
@given(data=crawl(), resolution_h=st.sampled_from([1, 6, 24]), shuffles=st.data())
def test_a_re_crawl_writes_only_pairs_whose_last_seen_period_moves_on(data, resolution_h, shuffles):
    records, vectors = data
    resolution_s = resolution_h * 3600
    with tempfile.TemporaryDirectory() as tmp:
        store = WriteRecorder(Path(tmp))
        store.open(DIM)
        try:
            indexer = PairIndexer(store, 0.9, THRESHOLD, last_seen_resolution_s=resolution_s)
            indexer.apply(records, np.array([vectors[r.id] for r in records]))
            stored = {p.id: p for p in store.scroll()}
            # every pair's representative record seen again at the end of its stored last_seen period
            again = [dataclasses.replace(representative(records, pid), seen=period_end(pair.last_seen, resolution_s))
                     for pid, pair in sorted(stored.items())]
            store.writes.clear()
            stats = indexer.apply(again, np.array([vectors[r.id] for r in again]).reshape(len(again), DIM))
            assert (stats.points_written, store.writes) == (0, {})
            chosen = shuffles.draw(st.sets(st.sampled_from(sorted(stored))))
            next_day = "2026-01-09T12:00:00Z"  # after every generated sighting, in a later period
            recrawl = [dataclasses.replace(representative(records, pid), seen=next_day) for pid in sorted(chosen)]
            stats = indexer.apply(recrawl, np.array([vectors[r.id] for r in recrawl]).reshape(len(recrawl), DIM))
            assert stats.points_written == len(chosen)
            assert store.writes == {pid: {"last_seen"} for pid in chosen}
            after = {p.id: p for p in store.scroll()}
            assert {pid for pid in after if after[pid].last_seen != stored[pid].last_seen} == chosen
            assert all(after[pid].last_seen == last_seen_at(next_day, resolution_s) for pid in chosen)
        finally:
            store.close()


def representative(records, wanted: str) -> TaggedPair:
    """The record of pair ``wanted`` that supplies its stored fields."""
    return min((r for r in records if r.id == wanted), key=representative_key)


def period_end(last_seen: str, resolution_s: int) -> str:
    """The last second of the ``resolution_s`` period that starts at ``last_seen``."""
    start = datetime.strptime(last_seen, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (start + timedelta(seconds=resolution_s - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
