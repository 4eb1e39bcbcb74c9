"""Alignment math against a brute-force reference written independently with plain Python loops."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from webfaq_stream.domain.align import (
    BITEXT_COLUMNS,
    AlignItem,
    align_origin,
    bitext_rows,
    mutual_best_matches,
    near_duplicate_similarities,
    normalize_rows,
)
from webfaq_stream.domain.model import StoredPair

DIM = 6


def brute_similarity(u, v) -> float:
    return round(math.fsum(float(x) * float(y) for x, y in zip(u, v)), 6)


def brute_near_duplicates(items) -> dict[str, float | None]:
    """Max similarity to any other item of the same (origin, language)."""
    out = {}
    for a in items:
        others = [brute_similarity(a.vector, b.vector) for b in items
                  if b.id != a.id and b.origin == a.origin and b.language == a.language]
        out[a.id] = max(others) if others else None
    return out


def brute_alignment(items, threshold: float, max_per_language: int = 10_000) -> dict[str, dict]:
    """Mutual best matches per origin and language pair, ties to the smallest id."""
    aligned: dict[str, dict] = {item.id: {} for item in items}
    origins = {item.origin for item in items}
    for origin in origins:
        languages = sorted({i.language for i in items if i.origin == origin})
        for l1, l2 in combinations(languages, 2):
            left = [i for i in items if i.origin == origin and i.language == l1]
            right = [i for i in items if i.origin == origin and i.language == l2]
            if len(left) > max_per_language or len(right) > max_per_language:
                continue

            def best(a, candidates):
                scored = [(brute_similarity(a.vector, b.vector), b.id) for b in candidates
                          if b.question != a.question and b.answer != a.answer]
                if not scored:
                    return None
                top = max(s for s, _ in scored)
                return top, min(i for s, i in scored if s == top)

            for a in left:
                found = best(a, right)
                if found is None or found[0] < threshold:
                    continue
                b = next(i for i in right if i.id == found[1])
                back = best(b, left)
                if back is not None and back[1] == a.id:
                    aligned[a.id][l2] = {"id": b.id, "similarity": found[0]}
                    aligned[b.id][l1] = {"id": a.id, "similarity": found[0]}
    return aligned


class Item:
    """A pair as the brute force sees it."""

    def __init__(self, id, origin, language, question, answer, vector):
        self.id, self.origin, self.language = id, origin, language
        self.question, self.answer, self.vector = question, answer, vector


CENTERS = normalize_rows(np.random.default_rng(7).normal(size=(4, DIM)))


@st.composite
def origin_items(draw, min_size=0, max_size=14):
    """Pairs of one origin: clustered unit vectors, some shared questions/answers, exact ties."""
    count = draw(st.integers(min_size, max_size))
    items = []
    for index in range(count):
        center = draw(st.integers(0, len(CENTERS) - 1))
        noise = draw(st.lists(st.floats(-0.4, 0.4, allow_nan=False), min_size=DIM, max_size=DIM))
        vector = normalize_rows([CENTERS[center] + np.array(noise)])[0]
        if items and draw(st.booleans()) and draw(st.booleans()):
            vector = items[draw(st.integers(0, len(items) - 1))].vector.copy()  # exact tie
        items.append(Item(f"{index:032x}", "https://a.example", draw(st.sampled_from(["deu", "eng", "fra"])),
                          f"q{draw(st.integers(0, 6))}", f"a{draw(st.integers(0, 6))}", vector))
    return items


def as_align_items(items):
    return [AlignItem(i.id, i.language, i.question, i.answer, i.vector) for i in items]


@settings(max_examples=150, deadline=None)
@given(origin_items(), st.sampled_from([-1.0, 0.0, 0.5, 0.9]), st.randoms(use_true_random=False))
def test_align_origin_equals_brute_force_and_ignores_input_order(items, threshold, rnd):
    expected = brute_alignment(items, threshold)
    assert align_origin(as_align_items(items), threshold) == expected
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert align_origin(as_align_items(shuffled), threshold) == expected


@settings(max_examples=60, deadline=None)
@given(origin_items(min_size=2), st.integers(1, 4))
def test_languages_above_the_limit_take_part_in_no_alignment(items, limit):
    expected = brute_alignment(items, -1.0, max_per_language=limit)
    assert align_origin(as_align_items(items), -1.0, max_pairs_per_language=limit) == expected


@settings(max_examples=100, deadline=None)
@given(origin_items())
def test_near_duplicates_equal_brute_force(items):
    by_language: dict[str, list] = {}
    for item in items:
        by_language.setdefault(item.language, []).append(item)
    expected = brute_near_duplicates(items)
    for group in by_language.values():
        values = near_duplicate_similarities(np.array([i.vector for i in group]))
        assert dict(zip((i.id for i in group), values)) == {i.id: expected[i.id] for i in group}


def test_identical_question_or_answer_is_never_a_match():
    vector = normalize_rows([[1.0, 0.2, 0.0]])[0]
    left = [AlignItem("1" * 32, "eng", "Same question?", "Answer one is here.", vector)]
    same_question = [AlignItem("2" * 32, "deu", "Same question?", "Antwort eins ist hier.", vector)]
    same_answer = [AlignItem("3" * 32, "deu", "Gleiche Frage?", "Answer one is here.", vector)]
    different = [AlignItem("4" * 32, "deu", "Gleiche Frage?", "Antwort eins ist hier.", vector)]
    assert mutual_best_matches(left, same_question, 0.5) == []
    assert mutual_best_matches(left, same_answer, 0.5) == []
    assert [m.right for m in mutual_best_matches(left, different, 0.5)] == ["4" * 32]


def _stored(id, language, partner=None, partner_language=None, similarity=0.9):
    aligned = {partner_language: {"id": partner, "similarity": similarity}} if partner else {}
    return StoredPair(id=id, origin="https://a.example", url=f"https://a.example/{language}", language=language,
                      language_score=0.9, question=f"q {id}", answer=f"a {id}", title="", description="",
                      first_seen="2026-01-01T00:00:00Z", last_seen="2026-01-01T00:00:00Z", aligned=aligned)


def test_bitext_rows_have_release_columns_and_sorted_language_pair():
    rows = bitext_rows([
        _stored("b" * 32, "eng", "a" * 32, "deu", 0.93), _stored("a" * 32, "deu", "b" * 32, "eng", 0.93),
        _stored("c" * 32, "fra", "d" * 32, "eng"),  # partner missing: no row
        _stored("e" * 32, "eng", "a" * 32, "deu"),  # one-sided link: no row
    ])
    assert list(rows) == [("deu", "eng")]
    (row,) = rows[("deu", "eng")]
    assert tuple(row) == BITEXT_COLUMNS
    assert (row["language1"], row["id1"], row["id2"], row["similarity"]) == ("deu", "a" * 32, "b" * 32, 0.93)
    assert (row["question1"], row["url2"]) == ("q " + "a" * 32, "https://a.example/eng")
