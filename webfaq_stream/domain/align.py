"""Pure math over pair vectors: near-duplicate similarity, cross-lingual alignment, bitext rows.

Definitions (docs/architecture.md, "Invariants"), which the store maintains incrementally and which a
batch computation over the same pairs reproduces exactly:

- **similarity** of two pairs: the cosine of their unit vectors, computed in float64 and rounded
  to :data:`SIMILARITY_DECIMALS` decimals. Every comparison (maxima, thresholds, ties) uses the
  rounded value, so a result never depends on which other pairs were computed alongside.
- **near-duplicate similarity** of a pair: the largest similarity to any *other* pair of the same
  origin and language; ``None`` when it has no such pair.
- **alignment** of languages ``L1 != L2`` within one origin, under an :class:`AlignRule`: candidates
  are pairs of the two languages whose questions differ *and* whose answers differ; their
  *alignment similarity* is the similarity, or, with a ``question_weight`` ``w`` (vectors that are
  :func:`question_answer_vectors`), ``w cq + (1 - w) ca - disagreement |cq - ca|`` of the question
  cosine ``cq`` and the answer cosine ``ca`` (each ``2 <half, half>``), rounded like similarities:
  on a localized site a question whose answer another entry's answer repeats (or the reverse) is a
  near miss that the disagreement term keeps apart. The **score** of
  a candidate ``(a, b)`` is its alignment similarity plus ``pivot_weight`` times its *pivot agreement*:
  ``(k + PIVOT_PRIOR) / (n + 1)`` where ``k`` of the origin's ``n`` other aligned languages ``C`` give
  ``a`` and ``b`` the same best match (highest alignment similarity, ties to the smallest id), rounded like
  similarities; with ``pivot_weight = 0`` the score is the similarity, WebFAQ's rule. ``best(a)`` is the candidate
  with the highest score, ties broken by the smallest id; ``a`` and ``b`` are aligned when
  ``best(a) == b``, ``best(b) == a``, the score is ``>= threshold`` and, where ``veto_threshold`` is
  set and both languages are in ``veto_languages``, the similarity of their ``check`` vectors (a
  second model that knows both languages) is ``>= veto_threshold``. A language with more than
  :data:`MAX_PAIRS_PER_LANGUAGE` pairs in the origin takes part in no alignment (nor as a pivot).
  With a pivot weight, a pair's links depend on every language of its origin, so a change in any
  language recomputes them all.
- **question-answer similarity** (WebFAQ v2's ``semantic_similarity_score``): store vectors are
  :func:`question_answer_vectors`, ``[q, a] / sqrt 2`` of the unit question and answer vectors, so
  the cosine of two pairs is the mean of their question and answer cosines and ``cos(q, a)`` is
  ``2 * <first half, second half>`` (:func:`question_answer_similarity`), rounded as similarities.

Vectors go in as float arrays whose rows are unit length (the store keeps them so).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Protocol

import numpy as np

SIMILARITY_DECIMALS = 6
#: Pivot agreement is ``(agreeing pivots + PIVOT_PRIOR) / (pivots + 1)``: one pseudo-pivot that half
#: agrees, so an origin with two languages (no pivot) scores ``cosine + weight / 2``.
PIVOT_PRIOR = 0.5
#: Origins with more pairs than this in a language are skipped by alignment (WebFAQ).
MAX_PAIRS_PER_LANGUAGE = 10_000

BITEXT_COLUMNS = ("language1", "language2", "origin", "similarity", "id1", "id2", "question1",
                  "question2", "answer1", "answer2", "url1", "url2")


@dataclass(frozen=True, slots=True)
class AlignItem:
    """What alignment needs to know about one pair."""

    id: str
    language: str
    question: str
    answer: str
    vector: np.ndarray
    check: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class AlignRule:
    """How one origin is aligned (module contract): score threshold, pivot weight and the veto."""

    threshold: float
    pivot_weight: float = 0.0
    veto_threshold: float | None = None
    veto_languages: frozenset[str] = frozenset()
    question_weight: float | None = None
    disagreement: float = 0.0


@dataclass(frozen=True, slots=True)
class Match:
    """A mutual best match between ``left`` (language ``left_language``) and ``right``."""

    left: str
    right: str
    similarity: float


def normalize_rows(matrix: Any) -> np.ndarray:
    """Rows scaled to unit L2 norm in float64, returned as C-contiguous float32; zero rows stay zero.

    The one normalisation every vector gets before it is stored, so the store keeps these exact bits.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {values.shape}")
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(values / norms, dtype=np.float32)


def stack_vectors(vectors: Sequence[Any]) -> np.ndarray:
    """Stack vectors (lists or arrays) into a float64 matrix, one row each."""
    return np.asarray([np.asarray(v, dtype=np.float64) for v in vectors], dtype=np.float64)


def similarity_matrix(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Rounded cosine similarities ``(len(left), len(right))`` of unit vectors, in float64."""
    left64 = np.asarray(left, dtype=np.float64)
    right64 = np.asarray(right, dtype=np.float64)
    if left64.shape[0] == 0 or right64.shape[0] == 0:
        return np.zeros((left64.shape[0], right64.shape[0]), dtype=np.float64)
    return np.round(left64 @ right64.T, SIMILARITY_DECIMALS)


def question_answer_vectors(questions: Any, answers: Any) -> np.ndarray:
    """Store vectors ``[q, a] / sqrt 2`` from unit question and answer vectors (rows), float32."""
    q = normalize_rows(questions).astype(np.float64)
    a = normalize_rows(answers).astype(np.float64)
    if q.shape != a.shape:
        raise ValueError(f"question and answer vectors differ in shape: {q.shape} vs {a.shape}")
    return normalize_rows(np.concatenate([q, a], axis=1))


def question_answer_similarity(vector: Any) -> float | None:
    """``cos(question, answer)`` of one :func:`question_answer_vectors` row, rounded; ``None`` when a
    half is zero."""
    values = np.asarray(vector, dtype=np.float64)
    half = values.shape[0] // 2
    q, a = values[:half], values[half:]
    qn, an = np.linalg.norm(q), np.linalg.norm(a)
    if values.shape[0] % 2 or qn == 0 or an == 0:
        return None
    return float(np.round(q @ a / (qn * an), SIMILARITY_DECIMALS))


def near_duplicate_similarities(vectors: np.ndarray) -> list[float | None]:
    """For each row, its largest rounded similarity to any other row (``None`` if alone)."""
    matrix = np.asarray(vectors, dtype=np.float64)
    count = matrix.shape[0]
    if count < 2:
        return [None] * count
    sims = similarity_matrix(matrix, matrix)
    np.fill_diagonal(sims, -np.inf)
    return [float(value) for value in sims.max(axis=1)]


def _identity_mask(left: Sequence[AlignItem], right: Sequence[AlignItem]) -> np.ndarray:
    """True where the two pairs share their question or their answer (never aligned)."""
    mask = np.zeros((len(left), len(right)), dtype=bool)
    for attribute in ("question", "answer"):
        rows: dict[str, list[int]] = defaultdict(list)
        for i, item in enumerate(left):
            rows[getattr(item, attribute)].append(i)
        for j, item in enumerate(right):
            for i in rows.get(getattr(item, attribute), ()):
                mask[i, j] = True
    return mask


def _candidate_similarities(left: Sequence[AlignItem], right: Sequence[AlignItem],
                            rule: AlignRule | None = None) -> np.ndarray:
    """Rounded alignment similarities (module contract) of two id-sorted groups, ``-inf`` where
    question or answer are identical."""
    left_vectors = stack_vectors([item.vector for item in left])
    right_vectors = stack_vectors([item.vector for item in right])
    if rule is None or rule.question_weight is None or not left or not right:
        sims = similarity_matrix(left_vectors, right_vectors)
    else:
        half = left_vectors.shape[1] // 2
        cq = 2 * left_vectors[:, :half] @ right_vectors[:, :half].T
        ca = 2 * left_vectors[:, half:] @ right_vectors[:, half:].T
        weight = rule.question_weight
        sims = np.round(weight * cq + (1 - weight) * ca - rule.disagreement * np.abs(cq - ca), SIMILARITY_DECIMALS)
    sims[_identity_mask(left, right)] = -np.inf
    return sims


def _best_in(sims: np.ndarray) -> np.ndarray:
    """Per row, the column of its best candidate (first maximum = smallest id); -1 without one."""
    if sims.shape[1] == 0:
        return np.full(sims.shape[0], -1)
    best: np.ndarray = sims.argmax(axis=1)
    best[~np.isfinite(sims.max(axis=1))] = -1
    return best


def mutual_best_matches(left: Sequence[AlignItem], right: Sequence[AlignItem], threshold: float,
                        scores: np.ndarray | None = None, rule: AlignRule | None = None,
                        languages: tuple[str, str] | None = None) -> list[Match]:
    """Mutual best matches at or above ``threshold`` between two languages' pairs of one origin.

    ``left`` and ``right`` must be sorted by id (ties go to the smallest id); ``scores`` (default: the
    candidates' similarities) rank them; ``rule`` with both ``languages`` in its veto languages also
    requires the check vectors' similarity. Returns matches sorted by the left id, with their score.
    """
    if not left or not right:
        return []
    left = sorted(left, key=lambda item: item.id)
    right = sorted(right, key=lambda item: item.id)
    if scores is None:
        scores = _candidate_similarities(left, right, rule)
    best_right = scores.argmax(axis=1)
    best_left = scores.argmax(axis=0)
    veto_threshold = (rule.veto_threshold if rule is not None and languages is not None
                      and set(languages) <= rule.veto_languages else None)
    matches = []
    for i, j in enumerate(best_right):
        score = scores[i, j]
        if best_left[j] != i or score < threshold or not np.isfinite(score):
            continue
        if veto_threshold is not None and _check_similarity(left[i], right[j]) < veto_threshold:
            continue
        matches.append(Match(left[i].id, right[j].id, float(score)))
    return matches


def _check_similarity(a: AlignItem, b: AlignItem) -> float:
    if a.check is None or b.check is None:
        return -np.inf
    return float(np.round(np.asarray(a.check, dtype=np.float64) @ np.asarray(b.check, dtype=np.float64),
                          SIMILARITY_DECIMALS))


def align_origin(items: Iterable[AlignItem], rule: AlignRule | float,
                 language_pairs: Iterable[tuple[str, str]] | None = None,
                 max_pairs_per_language: int = MAX_PAIRS_PER_LANGUAGE,
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    """The ``aligned`` payload of every item of one origin, over the given language pairs.

    ``rule`` is an :class:`AlignRule` (a float: the cosine rule at that threshold).
    ``language_pairs`` defaults to every pair of languages present (with a pivot weight every pair
    is computed whatever is given). Returns ``id -> {other language: {"id": partner id,
    "similarity": score}}`` with an entry (possibly empty) for every item.
    """
    if not isinstance(rule, AlignRule):
        rule = AlignRule(threshold=float(rule))
    by_language: dict[str, list[AlignItem]] = defaultdict(list)
    for item in items:
        by_language[item.language].append(item)
    aligned: dict[str, dict[str, dict[str, Any]]] = {
        item.id: {} for group in by_language.values() for item in group}
    groups = {language: sorted(group, key=lambda item: item.id) for language, group in by_language.items()
              if len(group) <= max_pairs_per_language}
    if language_pairs is None or rule.pivot_weight:
        language_pairs = combinations(sorted(groups), 2)
    wanted = sorted({tuple(sorted(pair)) for pair in language_pairs if pair[0] != pair[1]})
    wanted = [(a, b) for a, b in wanted if a in groups and b in groups]
    sims: dict[tuple[str, str], np.ndarray] = {}

    def similarities(first: str, second: str) -> np.ndarray:
        if (first, second) not in sims:
            if (second, first) in sims:
                return sims[(second, first)].T
            sims[(first, second)] = _candidate_similarities(groups[first], groups[second], rule)
        return sims[(first, second)]

    best: dict[tuple[str, str], np.ndarray] = {}
    if rule.pivot_weight:
        for first in groups:
            for second in groups:
                if first != second:
                    best[(first, second)] = _best_in(similarities(first, second))
    for first, second in wanted:
        scores = similarities(first, second)
        if rule.pivot_weight:
            pivots = [language for language in groups if language not in (first, second)]
            votes = np.full(scores.shape, PIVOT_PRIOR)
            for pivot in pivots:
                left_best, right_best = best[(first, pivot)], best[(second, pivot)]
                votes += (left_best[:, None] == right_best[None, :]) & (left_best[:, None] >= 0)
            scores = np.where(np.isfinite(scores),
                              np.round(scores + rule.pivot_weight * votes / (len(pivots) + 1), SIMILARITY_DECIMALS),
                              -np.inf)
        for match in mutual_best_matches(groups[first], groups[second], rule.threshold, scores, rule,
                                         (first, second)):
            aligned[match.left][second] = {"id": match.right, "similarity": match.similarity}
            aligned[match.right][first] = {"id": match.left, "similarity": match.similarity}
    return aligned


class BitextSide(Protocol):
    """What a bitext row needs of a stored pair (a ``StoredPair`` has it, and so may a lighter record)."""

    @property
    def id(self) -> str: ...
    @property
    def origin(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def aligned(self) -> Mapping[str, Mapping[str, Any]]: ...


def bitext_rows(pairs: Iterable[BitextSide]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Bitext rows (the README's ``bitexts/`` columns) from stored pairs' ``aligned`` payloads.

    Keys are ``(language1, language2)`` with ``language1 < language2``; a row is emitted only
    when both partners are present and name each other. Rows are sorted by origin, id1, id2.
    """
    by_id: Mapping[str, BitextSide] = {pair.id: pair for pair in pairs}
    out: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for pair in by_id.values():
        for language, link in (pair.aligned or {}).items():
            if not pair.language < language:
                continue
            partner = by_id.get(link.get("id", ""))
            if partner is None or partner.language != language:
                continue
            back = (partner.aligned or {}).get(pair.language) or {}
            if back.get("id") != pair.id:
                continue
            out[(pair.language, language)].append({
                "language1": pair.language, "language2": language, "origin": pair.origin,
                "similarity": float(link["similarity"]), "id1": pair.id, "id2": partner.id,
                "question1": pair.question, "question2": partner.question,
                "answer1": pair.answer, "answer2": partner.answer,
                "url1": pair.url, "url2": partner.url,
            })
    for rows in out.values():
        rows.sort(key=lambda row: (row["origin"], row["id1"], row["id2"]))
    return dict(sorted(out.items()))
