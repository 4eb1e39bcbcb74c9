"""Pure math over pair vectors: near-duplicate similarity, cross-lingual alignment, bitext rows.

Definitions (docs/architecture.md, "Invariants"), which the store maintains incrementally and which a
batch computation over the same pairs reproduces exactly:

- **similarity** of two pairs: the cosine of their unit vectors, computed in float64 and rounded
  to :data:`SIMILARITY_DECIMALS` decimals. Every comparison (maxima, thresholds, ties) uses the
  rounded value, so a result never depends on which other pairs were computed alongside.
- **near-duplicate similarity** of a pair: the largest similarity to any *other* pair of the same
  origin and language; ``None`` when it has no such pair.
- **alignment** of languages ``L1 != L2`` within one origin: candidates are pairs of the two
  languages whose questions differ *and* whose answers differ; ``best(a)`` is the candidate with
  the highest similarity, ties broken by the smallest id. ``a`` and ``b`` are aligned when
  ``best(a) == b``, ``best(b) == a`` and their similarity is ``>= threshold``. A language with more
  than :data:`MAX_PAIRS_PER_LANGUAGE` pairs in the origin takes part in no alignment.

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


def mutual_best_matches(left: Sequence[AlignItem], right: Sequence[AlignItem],
                        threshold: float) -> list[Match]:
    """Mutual best matches at or above ``threshold`` between two languages' pairs of one origin.

    Deterministic whatever the input order: items are ordered by id first, so ties go to the
    smallest id. Returns matches sorted by the left id.
    """
    if not left or not right:
        return []
    left = sorted(left, key=lambda item: item.id)
    right = sorted(right, key=lambda item: item.id)
    sims = similarity_matrix(stack_vectors([item.vector for item in left]),
                             stack_vectors([item.vector for item in right]))
    sims[_identity_mask(left, right)] = -np.inf
    best_right = sims.argmax(axis=1)  # first maximum = smallest id
    best_left = sims.argmax(axis=0)
    matches = []
    for i, j in enumerate(best_right):
        similarity = sims[i, j]
        if best_left[j] == i and similarity >= threshold and np.isfinite(similarity):
            matches.append(Match(left[i].id, right[j].id, float(similarity)))
    return matches


def align_origin(items: Iterable[AlignItem], threshold: float,
                 language_pairs: Iterable[tuple[str, str]] | None = None,
                 max_pairs_per_language: int = MAX_PAIRS_PER_LANGUAGE,
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    """The ``aligned`` payload of every item of one origin, over the given language pairs.

    ``language_pairs`` defaults to every pair of languages present. Returns ``id -> {other
    language: {"id": partner id, "similarity": float}}`` with an entry (possibly empty) for
    every item; only the given language pairs are computed.
    """
    by_language: dict[str, list[AlignItem]] = defaultdict(list)
    for item in items:
        by_language[item.language].append(item)
    aligned: dict[str, dict[str, dict[str, Any]]] = {
        item.id: {} for group in by_language.values() for item in group}
    if language_pairs is None:
        language_pairs = combinations(sorted(by_language), 2)
    for first, second in {tuple(sorted(pair)) for pair in language_pairs}:
        left, right = by_language.get(first, []), by_language.get(second, [])
        if first == second or len(left) > max_pairs_per_language or len(right) > max_pairs_per_language:
            continue
        for match in mutual_best_matches(left, right, threshold):
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
