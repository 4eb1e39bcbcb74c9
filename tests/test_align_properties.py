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
    AlignRule,
    align_origin,
    bitext_rows,
    mutual_best_matches,
    near_duplicate_similarities,
    normalize_rows,
    question_answer_similarity,
    question_answer_vectors,
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


def brute_weighted_similarity(weight: float, disagreement: float):
    """The alignment similarity of question-answer vectors: ``weight`` x question cosine + the rest x
    answer cosine - ``disagreement`` x their difference (each cosine twice its halves' product)."""
    def similarity(u, v) -> float:
        half = len(u) // 2
        cq = 2 * math.fsum(float(x) * float(y) for x, y in zip(u[:half], v[:half]))
        ca = 2 * math.fsum(float(x) * float(y) for x, y in zip(u[half:], v[half:]))
        return round(weight * cq + (1 - weight) * ca - disagreement * abs(cq - ca), 6)
    return similarity


def brute_alignment(items, threshold: float, max_per_language: int = 10_000, pivot_weight: float = 0.0,
                    veto: tuple[float, set[str]] | None = None, similarity=brute_similarity) -> dict[str, dict]:
    """Mutual best matches per origin and language pair, ties to the smallest id; with a pivot weight
    the score adds that weight times the share of the other languages where both sides' best matches
    are the same item; a veto ``(threshold, languages)`` drops links between two of its languages
    whose ``check`` vectors are less similar than that; ``similarity`` scores two vectors."""
    aligned: dict[str, dict] = {item.id: {} for item in items}
    origins = {item.origin for item in items}

    def candidates(a, group):
        return [b for b in group if b.question != a.question and b.answer != a.answer]

    def best_by(a, group, score):
        scored = [(score(a, b), b.id) for b in candidates(a, group)]
        if not scored:
            return None
        top = max(s for s, _ in scored)
        return top, min(i for s, i in scored if s == top)

    for origin in origins:
        groups = {}
        for language in sorted({i.language for i in items if i.origin == origin}):
            group = [i for i in items if i.origin == origin and i.language == language]
            if len(group) <= max_per_language:
                groups[language] = group
        for l1, l2 in combinations(sorted(groups), 2):
            left, right = groups[l1], groups[l2]
            pivots = [language for language in groups if language not in (l1, l2)]

            def score(x, y, pivots=pivots, groups=groups):
                cosine = similarity(x.vector, y.vector)
                if not pivot_weight:
                    return cosine
                votes = 0.5  # the half-agreeing pseudo-pivot
                for pivot in pivots:
                    bx = best_by(x, groups[pivot], lambda u, v: similarity(u.vector, v.vector))
                    by = best_by(y, groups[pivot], lambda u, v: similarity(u.vector, v.vector))
                    votes += bx is not None and by is not None and bx[1] == by[1]
                return round(cosine + pivot_weight * votes / (len(pivots) + 1), 6)

            def oriented(x, y, l1=l1, score=score):  # score(left item, right item)
                return score(x, y) if x.language == l1 else score(y, x)

            for a in left:
                found = best_by(a, right, oriented)
                if found is None or found[0] < threshold:
                    continue
                b = next(i for i in right if i.id == found[1])
                back = best_by(b, left, oriented)
                if back is None or back[1] != a.id:
                    continue
                if veto is not None and {l1, l2} <= veto[1] and brute_similarity(a.check, b.check) < veto[0]:
                    continue
                aligned[a.id][l2] = {"id": b.id, "similarity": found[0]}
                aligned[b.id][l1] = {"id": a.id, "similarity": found[0]}
    return aligned


class Item:
    """A pair as the brute force sees it."""

    def __init__(self, id, origin, language, question, answer, vector, check=None):
        self.id, self.origin, self.language = id, origin, language
        self.question, self.answer, self.vector, self.check = question, answer, vector, check


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
    return [AlignItem(i.id, i.language, i.question, i.answer, i.vector, i.check) for i in items]


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


@settings(max_examples=60, deadline=None)
@given(items=origin_items(max_size=16), weight=st.sampled_from([0.25, 0.5]), data=st.data())
def test_pivot_agreement_and_veto_match_the_brute_force(items, weight, data):
    """The pivot score (cosine + weight x agreement in the other languages) and the veto by a second
    model's vectors, against the loop reference, in any input order."""
    for item in items:
        item.check = normalize_rows([np.roll(item.vector, 1) + 0.1])[0]
    threshold = data.draw(st.sampled_from([-1.0, 0.3, 0.6, 0.9]))
    veto = (data.draw(st.sampled_from([-1.0, 0.4, 0.8])), {"deu", "eng"})
    rule = AlignRule(threshold=threshold, pivot_weight=weight, veto_threshold=veto[0],
                     veto_languages=frozenset(veto[1]))
    expected = brute_alignment(items, threshold, pivot_weight=weight, veto=veto)
    assert align_origin(as_align_items(items), rule) == expected
    shuffled = data.draw(st.permutations(items))
    assert align_origin(as_align_items(shuffled), rule, language_pairs=[("deu", "eng")]) == expected


@settings(max_examples=60, deadline=None)
@given(items=origin_items(max_size=16), data=st.data())
def test_question_weighted_similarity_matches_the_brute_force(items, data):
    """Question-answer vectors aligned on ``w cq + (1 - w) ca - d |cq - ca|`` (+ the pivot term),
    against the loop reference, in any input order."""
    rng = np.random.default_rng(len(items))
    answers = normalize_rows(rng.normal(size=(max(1, len(items)), DIM)))
    for item, answer in zip(items, answers):  # a shared question vector keeps its tie in cq
        item.vector = question_answer_vectors([item.vector], [answer])[0]
    weight, disagreement = data.draw(st.sampled_from([0.5, 0.75, 1.0])), data.draw(st.sampled_from([0.0, 0.3]))
    pivot_weight = data.draw(st.sampled_from([0.0, 0.5]))
    threshold = data.draw(st.sampled_from([-1.0, 0.3, 0.9]))
    rule = AlignRule(threshold=threshold, pivot_weight=pivot_weight, question_weight=weight,
                     disagreement=disagreement)
    expected = brute_alignment(items, threshold, pivot_weight=pivot_weight,
                               similarity=brute_weighted_similarity(weight, disagreement))
    assert align_origin(as_align_items(items), rule) == expected
    shuffled = data.draw(st.permutations(items))
    assert align_origin(as_align_items(shuffled), rule) == expected


def test_question_weight_keeps_apart_entries_that_share_only_an_answer():
    """A localized site's old and new versions of one entry: different questions, the same answer.
    Equal weights link them; the question weight and the disagreement term do not."""
    e = np.eye(DIM // 2)
    unit = lambda v: normalize_rows([v])[0]
    old = Item("1" * 32, "o", "eng", "Version 1.0.x?", "a1",
               question_answer_vectors([unit(e[0] + 0.9 * e[1])], [e[2]])[0])
    new = Item("2" * 32, "o", "deu", "Why a new numbering?", "a2",
               question_answer_vectors([unit(e[0] + 0.9 * e[2])], [e[2]])[0])
    assert align_origin(as_align_items([old, new]), 0.7)["1" * 32]  # cosine (0.55 + 1) / 2
    weighted = AlignRule(threshold=0.7, question_weight=0.75, disagreement=0.3)
    assert align_origin(as_align_items([old, new]), weighted) == {"1" * 32: {}, "2" * 32: {}}


def test_pivot_agreement_links_what_the_cosine_alone_misses():
    """Three languages; ``a``'s nearest ``deu`` pair is the wrong one by cosine, but both agree on their
    ``fra`` partner with the right one: the pivot term decides."""
    e = np.eye(DIM)
    unit = lambda v: normalize_rows([v])[0]
    items = [Item("1" * 32, "o", "eng", "q1", "a1", unit(e[0] + 0.3 * e[1])),
             Item("2" * 32, "o", "deu", "q2", "a2", unit(e[0] + 0.3 * e[1] + 0.45 * e[2])),  # right: 0.918
             Item("3" * 32, "o", "deu", "q3", "a3", unit(e[0] + 0.3 * e[1] + 0.4 * e[3])),   # nearer: 0.934
             Item("4" * 32, "o", "fra", "q4", "a4", unit(e[0] + 0.3 * e[1] + 0.5 * e[2])),   # best of 1 and 2
             Item("5" * 32, "o", "fra", "q5", "a5", unit(e[0] + 0.3 * e[1] + 0.9 * e[3]))]   # best of 3
    cosine = align_origin(as_align_items(items), 0.0)
    pivot = align_origin(as_align_items(items), AlignRule(threshold=0.0, pivot_weight=0.5))
    assert cosine["1" * 32]["deu"]["id"] == "3" * 32
    assert pivot["1" * 32]["deu"]["id"] == "2" * 32
    assert pivot == brute_alignment(items, 0.0, pivot_weight=0.5)


def test_question_answer_vectors_keep_both_cosines():
    rng = np.random.default_rng(3)
    q, a = normalize_rows(rng.normal(size=(3, DIM))), normalize_rows(rng.normal(size=(3, DIM)))
    vectors = question_answer_vectors(q, a)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    for row in range(3):
        assert question_answer_similarity(vectors[row]) == round(float(q[row] @ a[row]), 6)
    assert np.isclose(float(vectors[0] @ vectors[1]), (q[0] @ q[1] + a[0] @ a[1]) / 2, atol=1e-6)
    assert question_answer_similarity(np.concatenate([q[0], np.zeros(DIM)])) is None
