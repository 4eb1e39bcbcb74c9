"""Apply a batch of tagged pairs and their vectors to a :class:`PairStore` (docs/architecture.md,
"Invariants").

``PairIndexer(store, near_duplicate_threshold, alignment_threshold, align_rule=..., wide=...,
known_languages=...).apply(pairs, vectors)`` (``vectors``: the store vectors, question and answer as
:func:`~webfaq_stream.domain.align.question_answer_vectors` builds them):

- **Exact dedup**: one point per WebFAQ id. A re-seen pair keeps ``first_seen = min`` (exact),
  ``last_seen = max`` rounded down to ``last_seen_resolution_s`` (:func:`last_seen_at`; a UTC day
  by default) and the page fields (url, origin, language, score, title, description) of the
  record whose ``(url, language, title, description, language_score)`` sorts first, so the
  result does not depend on arrival order. A stored pair keeps its stored vector. Its ``labels``
  are the batch's (the labelling stage hands a re-seen pair its stored labels unless it relabelled it).
- **Wide vectors** (with ``wide``, the alignment model: :class:`WideVectors`): a pair gets one when its
  origin holds two or more languages, or when its language is not in ``known_languages`` (the
  languages of the store vectors' model); an origin's older pairs get theirs, from their stored
  question, in the batch that brings its second language. Once computed a wide vector is kept.
- **semantic_similarity_score**: the cosine of the question's and the answer's halves of the store
  vector (:func:`~webfaq_stream.domain.align.question_answer_similarity`), ``None`` for a language
  outside ``known_languages``.
- **Near-duplicates and alignment** are recomputed for every (origin, language) the batch
  touches, as :mod:`webfaq_stream.domain.align` defines them: near-duplicates on the store vectors,
  or on the wide vectors for a language outside ``known_languages``; alignment under ``align_rule``
  on the wide vectors when there is an alignment model (the store vectors are its veto's check),
  else on the store vectors. Groups of at most
  :data:`FULL_RECOMPUTE_MAX` pairs, and groups that lost a pair, are computed from scratch; larger
  groups that only gained pairs are updated exactly from the stored maxima. Alignment is
  recomputed from scratch for every language pair that involves a touched language (every language
  pair of the origin when the rule has a pivot weight).
- **Write only what changed** (:func:`pair_write`, the one write decision): a re-seen pair whose
  stored fields would not change is not written (a sighting within the ``last_seen`` period of
  the stored one costs nothing; floats are compared as stored, :func:`same_stored_value`); a
  stored pair whose payload changed gets only the changed fields (``set_payload``: no vector, no
  unchanged text); new pairs, and pairs given a wide vector, are upserted whole. The field updates
  go first, then one ``upsert`` of the whole points with the optional meta documents (the
  worker's checkpoint), so a batch interrupted between the two is completed exactly by its
  replay, and a replayed batch writes nothing.
- **Provenance** (``record_id``, ``source_topic/partition/offset``) is that of the batch's latest
  sighting of a pair (largest ``seen``, then source), set only when the pair's record fields are
  written anyway (a new pair, or changed record fields): it never causes a write by itself.

``remove(ids)`` deletes pairs (forget) and recomputes what they took part in with the same code:
near-duplicates of their groups and alignments of their languages, as a batch without them gives.

Input rows whose vector is not finite or is all zero, or whose id is not 32 hex digits, are
skipped and counted as ``invalid``. A store failure is raised as the store's own ``StoreError``
(transient or permanent, as the adapter classified it); a batch whose vectors do not match the pairs
raises :class:`IndexInputError`; any other exception is a bug and propagates as it is (never as a
``StoreError``, which would have it retried as an outage). Nothing is written unless ``apply`` returns.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from webfaq_stream.domain.align import (
    MAX_PAIRS_PER_LANGUAGE,
    AlignItem,
    AlignRule,
    align_origin,
    near_duplicate_similarities,
    normalize_rows,
    question_answer_similarity,
    similarity_matrix,
    stack_vectors,
)
from webfaq_stream.domain.model import StoredPair, TaggedPair
from webfaq_stream.errors import WebFAQError
from webfaq_stream.ports import PairStore

#: Groups up to this size get their near-duplicate similarities recomputed from scratch.
FULL_RECOMPUTE_MAX = 512
#: Payload fields that come from the crawl record (the rest is maintained by the store).
RECORD_FIELDS = ("origin", "url", "language", "language_score", "question", "answer", "title",
                 "description", "first_seen", "last_seen", "labels")
#: The default ``last_seen`` resolution: one (UTC) day.
DAY_S = 86_400
#: Relative difference under which two stored floats are the same value: the engines' JSON round
#: trip can move a double by one unit in the last place (qdrant-edge reads back 0.9170157313346864
#: for 0.9170157313346863), which must not count as a change.
FLOAT_TOLERANCE = 1e-12
_HEX_ID = re.compile(r"[0-9a-f]{32}")
_SEEN_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class IndexInputError(WebFAQError):
    """The batch handed to ``apply`` is malformed (vectors do not match the pairs): permanent."""


@dataclass(frozen=True)
class WideVectors:
    """The alignment model as the indexer uses it: ``encode(questions)`` -> unit vectors (rows),
    deterministic per text, and its near-duplicate threshold (for the languages it flags)."""

    encode: Callable[[Sequence[str]], Any]
    near_duplicate_threshold: float


@dataclass(slots=True)
class IndexStats:
    """What one ``apply`` did: pairs new to the store, re-seen pairs whose record fields changed or
    did not, points whose ``aligned`` / ``near_duplicate_similarity`` changed, rows skipped as
    invalid, points written, and points removed (``remove``)."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    aligned_pairs_changed: int = 0
    near_duplicates_changed: int = 0
    invalid: int = 0
    points_written: int = 0
    removed: int = 0
    wide_vectors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def representative_key(pair: TaggedPair | StoredPair) -> tuple[Any, ...]:
    """Order of the records of one pair: the smallest one supplies the page fields."""
    return (pair.url, pair.language, pair.title, pair.description, float(pair.language_score), pair.origin)


def sighting_key(pair: TaggedPair) -> tuple[Any, ...]:
    """Order of the sightings of one pair: the largest is its latest (time first, then source)."""
    source = pair.source
    return (pair.seen, source.topic if source else "", source.partition if source else -1,
            source.offset if source else -1, pair.record_id or "")


def _with_provenance(pair: StoredPair, sighting: TaggedPair) -> StoredPair:
    source = sighting.source
    return replace(pair, record_id=sighting.record_id, source_topic=source.topic if source else None,
                   source_partition=source.partition if source else None,
                   source_offset=source.offset if source else None)


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def last_seen_at(seen: str, resolution_s: int) -> str:
    """``seen`` (ISO-8601 UTC, ``YYYY-MM-DDTHH:MM:SSZ``) rounded down to a multiple of
    ``resolution_s`` seconds since the Unix epoch: with a day, the UTC midnight that starts the
    day. ``0`` keeps it as it is; so does a value that is not such a time."""
    if resolution_s <= 0:
        return seen
    try:
        moment = datetime.strptime(seen, _SEEN_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return seen
    epoch_s = int(moment.timestamp())
    return datetime.fromtimestamp(epoch_s - epoch_s % resolution_s, UTC).strftime(_SEEN_FORMAT)


def same_stored_value(left: Any, right: Any) -> bool:
    """Whether two payload values are the same once stored: equal, with numbers equal within
    :data:`FLOAT_TOLERANCE` (relative), through lists and dicts."""
    if _is_number(left) and _is_number(right):
        return math.isclose(float(left), float(right), rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same_stored_value(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(same_stored_value(a, b) for a, b in zip(left, right))
    return bool(left == right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class PairWrite:
    """What one pair of a batch writes: ``whole`` (the point, vectors and payload: a new pair, or
    one whose vectors changed) or only the payload ``fields`` that change."""

    whole: bool
    fields: dict[str, Any]


def pair_write(pair: StoredPair, stored: StoredPair | None) -> PairWrite | None:
    """The write decision for one pair of a batch: ``None`` when ``pair`` is what is stored (as
    :func:`same_stored_value` compares payloads; provenance is part of the payload but moves only
    with a change of the record fields, see :meth:`PairIndexer._merge`), else a :class:`PairWrite`."""
    payload = pair.payload()
    if stored is None or pair.vector != stored.vector or pair.wide_vector != stored.wide_vector:
        return PairWrite(True, payload)
    before = stored.payload()
    changed = {name: value for name, value in payload.items() if not same_stored_value(value, before.get(name))}
    return PairWrite(False, changed) if changed else None


class PairIndexer:
    """Keeps a :class:`PairStore` deduplicated, near-duplicate-flagged and aligned.

    The store keeps each pair's near-duplicate *similarity*; ``near_duplicate_threshold`` is
    carried for callers (metrics, releases) that flag pairs at or above it. ``align_rule`` defaults
    to the cosine rule at ``alignment_threshold``; ``known_languages`` ``None`` means every language.
    """

    def __init__(self, store: PairStore, near_duplicate_threshold: float, alignment_threshold: float,
                 max_pairs_per_language: int = MAX_PAIRS_PER_LANGUAGE,
                 full_recompute_max: int = FULL_RECOMPUTE_MAX, *, align_rule: AlignRule | None = None,
                 wide: WideVectors | None = None, known_languages: frozenset[str] | None = None,
                 last_seen_resolution_s: int = DAY_S) -> None:
        self.store = store
        self.last_seen_resolution_s = last_seen_resolution_s
        self.near_duplicate_threshold = near_duplicate_threshold
        self.alignment_threshold = alignment_threshold
        self.align_rule = align_rule or AlignRule(threshold=alignment_threshold)
        self.wide = wide
        self.known_languages = known_languages
        self.max_pairs_per_language = max_pairs_per_language
        self.full_recompute_max = full_recompute_max

    def knows(self, language: str) -> bool:
        """Whether the store vectors' model knows ``language``."""
        return self.known_languages is None or language in self.known_languages

    def uses_wide_for_near_duplicates(self, language: str) -> bool:
        return self.wide is not None and not self.knows(language)

    # --- public ------------------------------------------------------------------------------
    def apply(self, pairs: Sequence[TaggedPair], vectors: Any,
              meta: Mapping[str, Mapping[str, Any]] | None = None) -> IndexStats:
        """Dedup and store ``pairs`` (row ``i`` of ``vectors`` embeds ``pairs[i]``); idempotent.

        ``meta`` documents are written with the upsert of the whole points, after the field updates
        of stored pairs (:meth:`_write`), even when nothing else changed.
        """
        stats = IndexStats()
        records = self._valid_records(pairs, vectors, stats)
        existing = self.store.get(sorted(records), with_vectors=True)
        merged, moved_from = self._merge(records, existing, stats)
        touched: dict[str, set[str]] = defaultdict(set)
        for pair_id, pair in merged.items():
            old = existing.get(pair_id)
            if old is None or (old.origin, old.language) != (pair.origin, pair.language):
                touched[pair.origin].add(pair.language)
        for origin, language in moved_from:
            touched[origin].add(language)
        to_write = dict(merged)  # and the pairs whose vectors or links change; _write keeps what changed
        before = dict(existing)  # the stored form of every pair in to_write that is stored
        currents = {origin: self._current_pairs(origin, merged) for origin in sorted(touched)}
        self._add_wide_vectors(currents, to_write, stats, before)
        for origin in sorted(touched):
            self._recompute_origin(origin, currents[origin], touched[origin], merged, existing, moved_from,
                                   to_write, stats, before)
        self._write(to_write, before, meta, stats)
        return stats

    def _write(self, to_write: Mapping[str, StoredPair], before: Mapping[str, StoredPair],
               meta: Mapping[str, Mapping[str, Any]] | None, stats: IndexStats) -> None:
        """Field updates of stored pairs first, then one upsert of the whole points with ``meta``;
        ``before`` holds the stored form of every pair of ``to_write`` that is stored."""
        updates: dict[str, dict[str, Any]] = {}
        whole: list[StoredPair] = []
        for pair_id in sorted(to_write):
            write = pair_write(to_write[pair_id], before.get(pair_id))
            if write is None:
                continue
            if write.whole:
                whole.append(to_write[pair_id])
            else:
                updates[pair_id] = write.fields
        if updates:
            self.store.set_payload(updates)
        if whole or meta:
            self.store.upsert(whole, meta=meta)
        stats.points_written = len(updates) + len(whole)

    def remove(self, ids: Sequence[str]) -> IndexStats:
        """Delete the pairs ``ids`` (unknown ids are ignored: idempotent) and recompute, for every
        (origin, language) they left, near-duplicate similarities from scratch and the alignments of
        every language pair involving that language, over the pairs that remain: the store is then
        what a batch computation without them gives. Changed partners are written first, then the
        points are deleted (a failure in between leaves them to a repeated ``remove``)."""
        stats = IndexStats()
        existing = self.store.get(sorted(set(ids)), with_vectors=False)
        touched: dict[str, set[str]] = defaultdict(set)
        for pair in existing.values():
            touched[pair.origin].add(pair.language)
        left = {(origin, language) for origin, languages in touched.items() for language in languages}
        to_write: dict[str, StoredPair] = {}
        for origin in sorted(touched):
            current = self._current_pairs(origin, {}, removed=frozenset(existing))
            self._recompute_origin(origin, current, touched[origin], {}, {}, left, to_write, stats)
        if to_write:
            self.store.upsert([to_write[i] for i in sorted(to_write)])
        if existing:
            self.store.delete(sorted(existing))
        stats.points_written, stats.removed = len(to_write), len(existing)
        return stats

    # --- steps -------------------------------------------------------------------------------
    @staticmethod
    def _valid_records(pairs: Sequence[TaggedPair], vectors: Any,
                       stats: IndexStats) -> dict[str, list[tuple[TaggedPair, np.ndarray]]]:
        """Group usable input rows by id, with their normalised vectors."""
        try:
            matrix = np.asarray(vectors, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise IndexInputError(f"vectors are not a numeric matrix: {exc}") from exc
        if len(pairs) == 0:
            return {}
        if matrix.ndim != 2 or matrix.shape[0] != len(pairs):
            raise IndexInputError(f"expected {len(pairs)} vector rows, got shape {matrix.shape}")
        usable = np.isfinite(matrix).all(axis=1) & (np.abs(matrix).sum(axis=1) > 0)
        unit = normalize_rows(np.where(usable[:, None], matrix, 0.0))
        records: dict[str, list[tuple[TaggedPair, np.ndarray]]] = defaultdict(list)
        for row, pair in enumerate(pairs):
            if not usable[row] or not isinstance(pair.id, str) or not _HEX_ID.fullmatch(pair.id):
                stats.invalid += 1
                continue
            records[pair.id].append((pair, unit[row]))
        return records

    def _merge(self, records: Mapping[str, list[tuple[TaggedPair, np.ndarray]]],
               existing: Mapping[str, StoredPair], stats: IndexStats,
               ) -> tuple[dict[str, StoredPair], set[tuple[str, str]]]:
        """The stored form of every batch id after dedup, and the groups that pairs left."""
        merged: dict[str, StoredPair] = {}
        moved_from: set[tuple[str, str]] = set()
        for pair_id, rows in records.items():
            rep, rep_vector = min(rows, key=lambda row: representative_key(row[0]))
            first_seen = min(row[0].seen for row in rows)
            last_seen = last_seen_at(max(row[0].seen for row in rows), self.last_seen_resolution_s)
            old = existing.get(pair_id)
            if old is not None:
                first_seen, last_seen = min(first_seen, old.first_seen), max(last_seen, old.last_seen)
                if representative_key(old) <= representative_key(rep):
                    merged[pair_id] = replace(old, first_seen=first_seen, last_seen=last_seen,
                                              aligned=dict(old.aligned), labels=rep.labels)
                    continue
            merged[pair_id] = StoredPair(
                id=pair_id, origin=rep.origin, url=rep.url, language=rep.language,
                language_score=float(rep.language_score), question=rep.question, answer=rep.answer,
                title=rep.title, description=rep.description, first_seen=first_seen, last_seen=last_seen,
                near_duplicate_similarity=old.near_duplicate_similarity if old else None,
                aligned=dict(old.aligned) if old else {},
                vector=old.vector if old is not None and old.vector is not None else rep_vector.tolist(),
                wide_vector=old.wide_vector if old is not None else None, labels=rep.labels)
        for pair in merged.values():
            pair.semantic_similarity_score = (question_answer_similarity(pair.vector)
                                              if pair.vector is not None and self.knows(pair.language) else None)
        for pair_id, pair in merged.items():
            old = existing.get(pair_id)
            changed = _record_changed(pair, old)
            if changed:
                merged[pair_id] = _with_provenance(pair, max((row[0] for row in records[pair_id]), key=sighting_key))
            elif old is not None:  # unchanged: the stored provenance stays, whichever record represents it
                merged[pair_id] = replace(pair, **{name: getattr(old, name) for name in StoredPair.PROVENANCE_FIELDS})
            if old is None:
                stats.new += 1
                continue
            if changed:
                stats.updated += 1
            else:
                stats.unchanged += 1
            if (old.origin, old.language) != (pair.origin, pair.language):
                moved_from.add((old.origin, old.language))
        return merged, moved_from

    def _current_pairs(self, origin: str, merged: Mapping[str, StoredPair],
                       removed: frozenset[str] = frozenset()) -> dict[str, StoredPair]:
        """The origin's pairs as they will be after this batch (stored ones, ``removed`` left out, with
        the batch's ``merged`` in place)."""
        current = {pair.id: pair for pair in self.store.origin_pairs(origin, with_vectors=True)
                   if pair.id not in removed}
        for pair_id, pair in merged.items():
            if pair.origin == origin:
                current[pair_id] = pair
            else:
                current.pop(pair_id, None)
        return current

    def _add_wide_vectors(self, currents: Mapping[str, dict[str, StoredPair]], to_write: dict[str, StoredPair],
                          stats: IndexStats, before: dict[str, StoredPair]) -> None:
        """Give every pair that needs a wide vector and lacks one its vector, in one ``encode``; a stored
        pair outside the batch gets its stored form in ``before``."""
        if self.wide is None:
            return
        missing: list[tuple[str, str]] = []
        for origin, current in currents.items():
            multilingual = len({pair.language for pair in current.values()}) >= 2
            missing += [(origin, pair_id) for pair_id, pair in sorted(current.items())
                        if pair.wide_vector is None and (multilingual or not self.knows(pair.language))]
        if not missing:
            return
        questions = [currents[origin][pair_id].question for origin, pair_id in missing]
        vectors = normalize_rows(self.wide.encode(questions))
        if vectors.shape[0] != len(missing) or not np.isfinite(vectors).all():
            raise IndexInputError(f"the alignment model returned {vectors.shape} for {len(missing)} questions")
        for (origin, pair_id), vector in zip(missing, vectors):
            if pair_id not in to_write:
                before.setdefault(pair_id, currents[origin][pair_id])
            pair = replace(to_write.get(pair_id, currents[origin][pair_id]), wide_vector=vector.tolist())
            currents[origin][pair_id] = pair
            to_write[pair_id] = pair
        stats.wide_vectors += len(missing)

    def _recompute_origin(self, origin: str, current: dict[str, StoredPair], touched_languages: set[str],
                          merged: Mapping[str, StoredPair], existing: Mapping[str, StoredPair],
                          moved_from: set[tuple[str, str]], to_write: dict[str, StoredPair],
                          stats: IndexStats, before: dict[str, StoredPair] | None = None) -> None:
        """Recompute near-duplicates of touched languages and alignments involving them; a stored
        pair outside the batch that it adds to ``to_write`` gets its stored form in ``before``."""
        by_language: dict[str, list[StoredPair]] = defaultdict(list)
        for pair_id in sorted(current):
            by_language[current[pair_id].language].append(current[pair_id])

        near_duplicates: dict[str, float | None] = {}
        for language in touched_languages:
            group = by_language.get(language, [])
            newcomers = [i for i, pair in enumerate(group) if pair.id in merged and (
                pair.id not in existing or existing[pair.id].origin != origin
                or existing[pair.id].language != language)]
            lost_pair = (origin, language) in moved_from
            full = lost_pair or len(group) <= self.full_recompute_max
            wide = self.uses_wide_for_near_duplicates(language)
            near_duplicates.update(_group_near_duplicates(group, newcomers, full=full, wide=wide))

        items = align_items(current.values(), wide=self.wide is not None and len(by_language) >= 2)
        language_pairs = [(touched, other) for touched in touched_languages for other in by_language
                          if other != touched]
        if self.align_rule.pivot_weight:
            touched_languages = set(by_language)  # every link depends on every language of the origin
        computed = align_origin(items, self.align_rule, language_pairs, self.max_pairs_per_language)

        for pair_id, pair in current.items():
            if pair.language in touched_languages:
                aligned = computed[pair_id]
            else:
                aligned = {language: link for language, link in pair.aligned.items()
                           if language not in touched_languages}
                aligned.update(computed[pair_id])
            near_duplicate = near_duplicates.get(pair_id, pair.near_duplicate_similarity)
            stored = existing.get(pair_id) if pair_id in merged else pair
            aligned_changed = not same_stored_value(stored.aligned if stored else {}, aligned)
            near_changed = not same_stored_value(stored.near_duplicate_similarity if stored else None,
                                                 near_duplicate)
            if not (aligned_changed or near_changed) and pair_id not in to_write:
                continue
            stats.aligned_pairs_changed += aligned_changed
            stats.near_duplicates_changed += near_changed
            if before is not None and pair_id not in to_write:
                before.setdefault(pair_id, pair)
            to_write[pair_id] = replace(to_write.get(pair_id, pair), aligned=aligned,
                                        near_duplicate_similarity=near_duplicate)


def align_items(pairs: Iterable[StoredPair], wide: bool) -> list[AlignItem]:
    """What alignment reads of an origin's pairs: the wide vectors (checked by the store vectors), or
    the store vectors alone."""
    if wide:
        return [AlignItem(p.id, p.language, p.question, p.answer, np.asarray(p.wide_vector), np.asarray(p.vector))
                for p in pairs]
    return [AlignItem(p.id, p.language, p.question, p.answer, np.asarray(p.vector)) for p in pairs]


def _record_changed(pair: StoredPair, stored: StoredPair | None) -> bool:
    """Whether the record fields of ``pair`` differ from the stored ones, as stored (a new pair: yes)."""
    return stored is None or not same_stored_value(_record_payload(pair), _record_payload(stored))


def _record_payload(pair: StoredPair) -> dict[str, Any]:
    return {**{name: getattr(pair, name) for name in RECORD_FIELDS if name != "labels"}, **pair.labels.payload()}


def _group_near_duplicates(group: Sequence[StoredPair], newcomers: Iterable[int],
                           full: bool, wide: bool = False) -> dict[str, float | None]:
    """Near-duplicate similarity of every pair of one (origin, language) group, on the store
    vectors (or the wide ones).

    From scratch when ``full``; otherwise the stored maxima of the other members are raised by
    their similarity to the newcomers (exact: maxima only grow on insert).
    """
    newcomers = list(newcomers)
    if not group:
        return {}
    vectors = stack_vectors([pair.wide_vector if wide else pair.vector for pair in group])
    if full:
        return {pair.id: value for pair, value in zip(group, near_duplicate_similarities(vectors))}
    if not newcomers:
        return {}
    sims = similarity_matrix(vectors[newcomers], vectors)
    sims[np.arange(len(newcomers)), newcomers] = -np.inf
    result: dict[str, float | None] = {}
    column_max = sims.max(axis=0)
    for index, pair in enumerate(group):
        stored = pair.near_duplicate_similarity
        result[pair.id] = _finite_or_none(max(column_max[index], -np.inf if stored is None else stored))
    for row, index in enumerate(newcomers):
        result[group[index].id] = _finite_or_none(sims[row].max())
    return result
