"""Hard-negative mining for one language of a release, as WebFAQ 2.0: BM25 candidates, rescored.

``mine_language(pairs, query_ids, scorer=..., near_duplicates=..., twins=..., params=...)`` returns
one grouped line per query (``query_id, query, positive_id, positive, positive_score, negatives``
= list of ``{id, text, score}`` best first, ``key`` and ``candidates``) and :class:`MiningStats`.
Per query:

1. **Candidates**: BM25 (``bm25s``, Lucene variant, lower-cased word tokens, no stop words, so any
   language) over the language's answers; the ``top_k`` (200) best with a BM25 score > 0, the
   positive itself excluded.
2. **False negatives removed** (before scoring; counted by reason): answers of an excluded origin
   (``excluded_origin``: test origins, so training never sees a test document); the positive's
   **aligned twins**, every pair connected to it through the bitexts (``aligned_twin``); pairs whose
   question or answer text equals the positive's, compared case- and whitespace-insensitively
   (``same_text``); the positive's **near-duplicates** (``near_duplicate``): same origin, both
   published ``near_duplicate_similarity`` at or above the model's threshold, and their
   ``question answer`` cosine (the release model, rounded as the store rounds it) at or above it.
3. **Reuse**: a line's ``key`` is the scorer name and parameters plus a hash of the query id and the
   remaining candidate id *set* (the line depends on nothing else: ids are md5 of the texts);
   ``candidates`` lists those candidates compactly (8-hex-digit id prefixes). With ``previous``
   (the last release's lines by query id) a line with the same key is reused as it is; one whose
   kept negatives are all still candidates is *extended*: only candidates new to it are scored and
   merged (every other old candidate was dropped for its own score or ranked below the kept ones,
   which are all still there), giving what mining afresh gives (scores to the model's float noise,
   about 1e-6: an embedding's last bits depend on its batch). Otherwise the query is mined.
4. **Rescoring** with ``scorer`` of the query against the positive and every candidate. Removed:
   candidates scoring above ``positive_score - margin`` (``margin``: likely unlabelled positives,
   NV-Retriever's TopK-MarginPos; the absolute margin 0.05 on cosine is near its best TopK-PercPos
   95% for typical positive scores 0.6-0.9, and, unlike a percentage, means the same for scores
   near 0 or below, such as cross-encoder logits; set it per scorer), then easy negatives: below
   ``min_score`` (``easy_floor``, off by default) or beyond the ``keep`` best (``easy_rank``).
Scores are rounded to 6 decimals and kept for distillation (MarginMSE: ``positive_score - score``).
Deterministic for the same input; lines sorted by query id. Bad parameters raise ``ValueError``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from webfaq_stream.domain.align import SIMILARITY_DECIMALS
from webfaq_stream.negatives.scorers import EmbeddingScorer, Scorer
from webfaq_stream.negatives.splits import RetrievalPair

SCORE_DECIMALS = 6
#: Characters of a candidate id kept in a line's ``candidates`` (32 bits: a new candidate is taken
#: for an old one with probability about top_k / 2**32).
PREFIX_CHARS = 8
#: Queries rescored together (bounds memory: at most this many x top_k texts per scorer call).
SCORE_CHUNK_QUERIES = 256
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class MiningParams:
    """What to mine: BM25 depth, false-negative margin, easy-negative floor and how many to keep."""

    top_k: int = 200
    margin: float = 0.05
    keep: int = 30
    min_score: float | None = None

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.keep < 1:
            raise ValueError(f"top_k and keep must be >= 1, got {self.top_k}, {self.keep}")
        if not (self.margin >= 0 and np.isfinite(self.margin)):
            raise ValueError(f"margin must be a finite number >= 0, got {self.margin}")
        if self.min_score is not None and not np.isfinite(self.min_score):
            raise ValueError(f"min_score must be finite, got {self.min_score}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class MiningStats:
    """Counts of one mining run: queries, lines mined and reused, negatives kept, drops by reason."""

    queries: int = 0
    mined: int = 0
    reused: int = 0
    extended: int = 0
    negatives: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"queries": self.queries, "mined": self.mined, "reused": self.reused, "extended": self.extended,
                "negatives": self.negatives, "dropped": dict(sorted(self.dropped.items()))}


class NearDuplicateCheck:
    """Whether two pairs are near-duplicates under the release model's threshold (module docstring).

    ``vectors`` embeds ``question answer`` texts; ``None`` (model not loadable here) treats every
    same-origin pair that both carry a similarity at or above the threshold as a near-duplicate
    (conservative: it may drop a good negative, never keeps a false one).
    """

    def __init__(self, threshold: float, vectors: EmbeddingScorer | None) -> None:
        self.threshold = threshold
        self.vectors = vectors

    def flagged(self, pair: RetrievalPair) -> bool:
        return pair.near_duplicate_similarity is not None and pair.near_duplicate_similarity >= self.threshold

    def __call__(self, positive: RetrievalPair, candidate: RetrievalPair) -> bool:
        if positive.origin != candidate.origin or not (self.flagged(positive) and self.flagged(candidate)):
            return False
        if self.vectors is None:
            return True
        left, right = self.vectors.vectors([f"{positive.question} {positive.answer}",
                                            f"{candidate.question} {candidate.answer}"]).astype(np.float64)
        return round(float(left @ right), SIMILARITY_DECIMALS) >= self.threshold


@functools.lru_cache(maxsize=1 << 16)
def normalized_text(text: str) -> str:
    """Text compared for ``same_text``: case-folded, whitespace folded."""
    return _SPACE_RE.sub(" ", text).strip().casefold()


def bm25_candidates(pairs: Sequence[RetrievalPair], query_rows: Sequence[int], top_k: int) -> list[list[int]]:
    """For each query row, up to ``top_k`` row numbers of other pairs by BM25 score (> 0), best first."""
    import bm25s  # scipy and friends: loaded only when mining (keeps `webfaq-stream --help` fast)

    if not query_rows:
        return []
    answers = bm25s.tokenize([p.answer for p in pairs], stopwords=None, show_progress=False)
    if not answers.vocab:  # no answer has a word (bm25s cannot index that): no candidates
        return [[] for _ in query_rows]
    retriever = bm25s.BM25()
    retriever.index(answers, show_progress=False)
    questions = bm25s.tokenize([pairs[row].question for row in query_rows], stopwords=None,
                               return_ids=False, show_progress=False)
    k = min(top_k + 1, len(pairs))
    documents, scores = retriever.retrieve(questions, k=k, show_progress=False, n_threads=1)
    result = []
    for row, docs, doc_scores in zip(query_rows, documents, scores, strict=True):
        result.append([int(d) for d, s in zip(docs, doc_scores, strict=True) if s > 0 and d != row][:top_k])
    return result


def settings_key(scorer_name: str, params: MiningParams) -> str:
    """What every line of a run depends on besides its candidates: the scorer and the parameters."""
    blob = json.dumps([scorer_name, params.as_dict()], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def mining_key(settings: str, query_id: str, candidate_ids: Sequence[str]) -> str:
    """``<settings key>-<hash of the query id and its candidate id set>``: equal keys, equal lines."""
    blob = json.dumps([query_id, sorted(candidate_ids)], separators=(",", ":"))
    return f"{settings}-{hashlib.sha256(blob.encode()).hexdigest()}"


def candidate_prefixes(candidate_ids: Sequence[str]) -> str:
    """The candidates a line was mined from, compactly: sorted ``PREFIX_CHARS``-character id prefixes."""
    return "".join(sorted(pid[:PREFIX_CHARS] for pid in candidate_ids))


def _prefix_set(line: Mapping[str, Any]) -> set[str]:
    text = line.get("candidates")
    if not isinstance(text, str):
        return set()
    return {text[at:at + PREFIX_CHARS] for at in range(0, len(text), PREFIX_CHARS)}


def false_negative_reason(positive: RetrievalPair, candidate: RetrievalPair, *,
                          near_duplicates: NearDuplicateCheck, twins: Mapping[str, frozenset[str]],
                          excluded_origins: frozenset[str]) -> str | None:
    """Why ``candidate`` may not be a negative of ``positive`` (a drop reason), or ``None``."""
    if candidate.origin in excluded_origins:
        return "excluded_origin"
    if candidate.id in twins.get(positive.id, ()):
        return "aligned_twin"
    if (normalized_text(candidate.question) == normalized_text(positive.question)
            or normalized_text(candidate.answer) == normalized_text(positive.answer)):
        return "same_text"
    if near_duplicates(positive, candidate):
        return "near_duplicate"
    return None


@dataclass(slots=True)
class _Pending:
    """A query to score: all its candidates, the ones to score, and the previous line it extends."""

    positive: RetrievalPair
    candidates: list[RetrievalPair]
    to_score: list[RetrievalPair]
    key: str
    base: Mapping[str, Any] | None = None


def _rescore(scorer: Scorer, pending: list[_Pending], params: MiningParams,
             stats: MiningStats) -> list[dict[str, Any]]:
    queries: list[str] = []
    documents: list[str] = []
    for item in pending:
        own = [] if item.base is not None else [item.positive.answer]
        queries += [item.positive.question] * (len(own) + len(item.to_score))
        documents += own + [c.answer for c in item.to_score]
    scores = np.round(scorer.score(queries, documents), SCORE_DECIMALS) if queries else np.zeros(0)
    lines, at = [], 0
    for item in pending:
        if item.base is None:
            positive_score, kept = float(scores[at]), []
            at += 1
        else:
            positive_score, kept = float(item.base["positive_score"]), list(item.base["negatives"])
        for candidate, score in zip(item.to_score, scores[at:at + len(item.to_score)], strict=True):
            if score > positive_score - params.margin:
                stats.dropped["margin"] += 1
            elif params.min_score is not None and score < params.min_score:
                stats.dropped["easy_floor"] += 1
            else:
                kept.append({"id": candidate.id, "text": candidate.answer, "score": float(score)})
        at += len(item.to_score)
        kept.sort(key=lambda n: (-n["score"], n["id"]))
        if len(kept) > params.keep:
            stats.dropped["easy_rank"] += len(kept) - params.keep
        positive = item.positive
        lines.append({"query_id": positive.id, "query": positive.question, "positive_id": positive.id,
                      "positive": positive.answer, "positive_score": positive_score,
                      "negatives": kept[:params.keep], "key": item.key,
                      "candidates": candidate_prefixes([c.id for c in item.candidates])})
    return lines


def _plan(positive: RetrievalPair, candidates: list[RetrievalPair], key: str,
          previous: Mapping[str, Any] | None) -> _Pending | dict[str, Any]:
    """Reuse ``previous`` whole (same key), extend it (every kept negative is still a candidate: only
    the new candidates need scores, the others were dropped whatever else is added), or mine afresh."""
    if previous is None or previous.get("query_id") != positive.id or previous.get("positive_id") != positive.id:
        return _Pending(positive, candidates, candidates, key)
    if previous.get("key") == key:
        return dict(previous)
    settings = key.split("-", 1)[0]
    kept_ids = {n.get("id") for n in previous.get("negatives", [])}
    if str(previous.get("key", "")).split("-", 1)[0] != settings \
            or not kept_ids <= {c.id for c in candidates}:
        return _Pending(positive, candidates, candidates, key)
    seen = _prefix_set(previous)
    fresh = [c for c in candidates if c.id[:PREFIX_CHARS] not in seen and c.id not in kept_ids]
    return _Pending(positive, candidates, fresh, key, base=previous)


def mine_language(pairs: Sequence[RetrievalPair], query_ids: Sequence[str], *, scorer: Scorer,
                  near_duplicates: NearDuplicateCheck, twins: Mapping[str, frozenset[str]],
                  params: MiningParams, excluded_origins: frozenset[str] = frozenset(),
                  previous: Mapping[str, Mapping[str, Any]] | None = None
                  ) -> tuple[list[dict[str, Any]], MiningStats]:
    """Hard negatives of ``query_ids`` among ``pairs`` (module docstring); ``previous``: lines by query id."""
    previous = previous or {}
    settings = settings_key(scorer.name, params)
    row_of = {pair.id: row for row, pair in enumerate(pairs)}
    query_rows = sorted({row_of[qid] for qid in query_ids if qid in row_of}, key=lambda r: pairs[r].id)
    stats = MiningStats(queries=len(query_rows))
    lines: list[dict[str, Any]] = []
    pending: list[_Pending] = []
    for row, candidate_rows in zip(query_rows, bm25_candidates(pairs, query_rows, params.top_k), strict=True):
        positive = pairs[row]
        candidates = []
        for candidate in (pairs[c] for c in candidate_rows):
            reason = false_negative_reason(positive, candidate, near_duplicates=near_duplicates, twins=twins,
                                           excluded_origins=excluded_origins)
            if reason is None:
                candidates.append(candidate)
            else:
                stats.dropped[reason] += 1
        plan = _plan(positive, candidates, mining_key(settings, positive.id, [c.id for c in candidates]),
                     previous.get(positive.id))
        if isinstance(plan, dict):
            lines.append(plan)
            stats.reused += 1
            continue
        stats.extended += plan.base is not None
        pending.append(plan)
        if len(pending) >= SCORE_CHUNK_QUERIES:
            lines += _rescore(scorer, pending, params, stats)
            pending = []
    lines += _rescore(scorer, pending, params, stats) if pending else []
    stats.mined = stats.queries - stats.reused - stats.extended
    stats.negatives = sum(len(line["negatives"]) for line in lines)
    lines.sort(key=lambda line: line["query_id"])
    return lines, stats
