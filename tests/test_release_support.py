"""Shared material for the release tests: real FAQ pairs and a real embedded store.

``fixture_pairs()`` turns the expected extractions of the real pages in
``shared/fixtures/faq-pages`` into ``StoredPair``s the way the store holds them: WebFAQ ids,
origins, ISO 639-3 languages, one point per id (the URL that sorts first wins), and the
indoorskydive.lu FAQ (translated question by question) aligned en/de/fr by position. Vectors are
unit vectors derived from the id (the release never reads them). ``open_store(dir)`` opens the real
qdrant-edge store through ``webfaq_stream.adapters.qdrant.opener.open_pair_store``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.domain.ids import origin_of, pair_id
from webfaq_stream.domain.langid import to_iso639_3
from webfaq_stream.domain.model import Label, PairLabels, StoredPair
from webfaq_stream.domain.question_words import question_word_type
from webfaq_stream.ports import PairStore

FIXTURES = SHARED_FIXTURES / "faq-pages"
DIM = 8
ALIGNED_PAGES = ("indoorskydive.lu__faq_en.html", "indoorskydive.lu__faq_de.html",
                 "indoorskydive.lu__faq_fr.html")


def vector_for(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    raw = [b / 255.0 + 0.01 for b in digest[:DIM]]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


def make_pair(question: str, answer: str, url: str, language: str, seen: str,
              near: float | None = None) -> StoredPair:
    """A stored pair with the labels a worker gives it: its question-word type, and a topic label on
    pairs whose id ends in 0-7 (the others as if labelled without a topic model)."""
    pid = pair_id(question, answer)
    topic = (Label(f"topic-{int(pid[-1], 16) % 3}", 0.5 + int(pid[-2], 16) / 32, "tiny@0123456789ab")
             if pid[-1] in "01234567" else None)
    return StoredPair(id=pid, origin=origin_of(url), url=url, language=language, language_score=0.93,
                      question=question, answer=answer, title="FAQ", description="",
                      first_seen=seen, last_seen=seen, near_duplicate_similarity=near,
                      vector=vector_for(pid),
                      labels=PairLabels(question_word_type=question_word_type(question, language), topic=topic))


def fixture_pairs() -> list[StoredPair]:
    """The real pages' pairs, deduplicated by id, with the parallel indoorskydive FAQ aligned."""
    by_id: dict[str, StoredPair] = {}
    by_page: dict[str, list[str]] = {}
    with (FIXTURES / "PROVENANCE.tsv").open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            expected = json.loads((FIXTURES / row["expected_json"]).read_text())
            language = to_iso639_3(row["language"])
            assert language, f"{row['file']}: unknown language {row['language']!r}"
            for n, qa in enumerate(expected):
                pair = make_pair(qa["question"], qa["answer"], row["original_url"], language,
                                 "2026-11-20T10:00:00Z", near=round(0.5 + (n % 5) / 10, 2))
                by_page.setdefault(row["file"], []).append(pair.id)
                if pair.id not in by_id or pair.url < by_id[pair.id].url:
                    by_id[pair.id] = pair
    pages = [by_page[name] for name in ALIGNED_PAGES]
    for position in range(min(len(ids) for ids in pages)):
        group = [by_id[ids[position]] for ids in pages]
        for pair in group:
            for other in group:
                if other is not pair:
                    pair.aligned[other.language] = {"id": other.id, "similarity": 0.9 + position / 1000}
    return sorted(by_id.values(), key=lambda p: p.id)


def open_store(directory: Path) -> PairStore:
    store = open_pair_store(url=None, api_key=None, path=directory, collection="webfaq")
    store.open(DIM)
    return store
