"""PairIndexer on a real qdrant-edge store: exact dedup, bad input, partners taken and released."""

from __future__ import annotations

import numpy as np
import pytest

from webfaq_stream.adapters.qdrant.edge import EdgePairStore
from webfaq_stream.domain.align import normalize_rows
from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import TaggedPair
from webfaq_stream.store.indexer import IndexInputError, PairIndexer

DIM = 4


def tagged(question: str, language: str, origin: str = "https://a.example", url: str | None = None,
           seen: str = "2026-01-01T00:00:00Z") -> TaggedPair:
    answer = f"The answer to {question} is here."
    return TaggedPair(pair_id(question, answer), origin, url or f"{origin}/{language}", language, 0.9, question,
                      answer, "", "", seen)


@pytest.fixture()
def indexer(tmp_path):
    store = EdgePairStore(tmp_path / "store")
    store.open(DIM)
    yield PairIndexer(store, 0.95, 0.8)
    store.close()


def vec(*values: float) -> np.ndarray:
    return normalize_rows([values])


def test_a_re_seen_pair_is_one_point_with_widened_seen_times_and_the_first_url(indexer):
    first = tagged("Q1?", "eng", url="https://a.example/m", seen="2026-01-05T00:00:00Z")
    again = tagged("Q1?", "eng", url="https://a.example/b", seen="2026-01-02T00:00:00Z")
    later = tagged("Q1?", "eng", url="https://a.example/z", seen="2026-01-09T00:00:00Z")
    indexer.apply([first], vec(1, 0, 0, 0))
    stats = indexer.apply([again, later], np.vstack([vec(1, 0, 0, 0)] * 2))
    (pair,) = list(indexer.store.scroll())
    assert (stats.new, stats.updated, indexer.store.count()) == (0, 1, 1)
    assert (pair.url, pair.first_seen, pair.last_seen) == (
        "https://a.example/b", "2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z")


def test_bad_rows_are_dropped_and_counted_and_a_mismatched_batch_is_refused(indexer):
    pairs = [tagged("Q1?", "eng"), tagged("Q2?", "eng"), tagged("Q3?", "eng")]
    pairs[2] = TaggedPair("not-an-id", *[getattr(pairs[2], f) for f in TaggedPair.__slots__[1:]])
    vectors = np.vstack([vec(1, 0, 0, 0), [np.nan, 0, 0, 0], vec(0, 1, 0, 0)])
    stats = indexer.apply(pairs, vectors)
    assert (stats.new, stats.invalid, indexer.store.count()) == (1, 2, 1)
    with pytest.raises(IndexInputError):
        indexer.apply(pairs, vectors[:2])
    assert indexer.apply([], np.zeros((0, DIM))).points_written == 0


def test_a_newcomer_takes_the_partner_and_the_old_pair_is_corrected(indexer):
    english, german = tagged("Price?", "eng"), tagged("Preis?", "deu")
    indexer.apply([english, german], np.vstack([vec(1, 0.1, 0, 0), vec(1, 0.3, 0, 0)]))
    assert indexer.store.get([english.id])[english.id].aligned["deu"]["id"] == german.id
    closer = tagged("Kosten?", "deu")
    stats = indexer.apply([closer], vec(1, 0.12, 0, 0))
    stored = indexer.store.get([english.id, german.id, closer.id])
    assert stored[english.id].aligned == {"deu": {"id": closer.id, "similarity": pytest.approx(1.0, abs=1e-3)}}
    assert stored[german.id].aligned == {} and stored[closer.id].aligned["eng"]["id"] == english.id
    assert stats.aligned_pairs_changed == 3


def test_a_pair_that_moves_to_an_origin_that_sorts_first_releases_its_old_partner(indexer):
    english, german = tagged("Price?", "eng", "https://b.example"), tagged("Preis?", "deu", "https://b.example")
    indexer.apply([english, german], np.vstack([vec(1, 0.1, 0, 0), vec(1, 0.3, 0, 0)]))
    moved = tagged("Preis?", "deu", "https://a.example")  # same id, URL sorts first
    indexer.apply([moved], vec(1, 0.3, 0, 0))
    stored = indexer.store.get([english.id, german.id])
    assert stored[german.id].origin == "https://a.example" and stored[german.id].aligned == {}
    assert stored[english.id].aligned == {} and stored[english.id].near_duplicate_similarity is None
