"""Provenance on a real qdrant-edge store: each pair keeps the sighting that last changed it, a sighting
that changes nothing writes nothing (provenance included), and releases carry it as typed columns."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from webfaq_stream.adapters.qdrant.edge import EdgePairStore
from webfaq_stream.domain.align import normalize_rows
from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import SourceRef, TaggedPair
from webfaq_stream.release.build import write_release
from webfaq_stream.settings import Settings
from webfaq_stream.store.indexer import PairIndexer

DIM = 4


def sighting(question: str, language: str, seen: str, offset: int, *, url: str | None = None) -> TaggedPair:
    answer = f"The answer to {question} is here."
    return TaggedPair(pair_id(question, answer), "https://a.example", url or f"https://a.example/{language}",
                      language, 0.9, question, answer, "", "", seen, record_id=f"record-{offset}",
                      source=SourceRef("webfaq.crawl", 2, offset))


@pytest.fixture()
def indexer(tmp_path):
    store = EdgePairStore(tmp_path / "store")
    store.open(DIM)
    yield PairIndexer(store, 0.95, 0.8)
    store.close()


def vec(*values: float) -> np.ndarray:
    return normalize_rows([values])


def provenance(indexer: PairIndexer, pair_id_hex: str) -> tuple:
    stored = indexer.store.get([pair_id_hex])[pair_id_hex]
    return stored.record_id, stored.source_topic, stored.source_partition, stored.source_offset


def test_a_pair_keeps_the_sighting_that_last_changed_it(indexer) -> None:
    first = sighting("Price?", "eng", "2026-01-05T00:00:00Z", 10)
    earlier = sighting("Price?", "eng", "2026-01-03T00:00:00Z", 11)
    assert indexer.apply([first, earlier], np.vstack([vec(1, 0, 0, 0)] * 2)).new == 1
    # the latest sighting of the batch (by time), not the last one read
    assert provenance(indexer, first.id) == ("record-10", "webfaq.crawl", 2, 10)

    same = sighting("Price?", "eng", "2026-01-05T00:00:00Z", 12)  # changes nothing
    stats = indexer.apply([same], vec(1, 0, 0, 0))
    assert (stats.unchanged, stats.points_written) == (1, 0)
    assert provenance(indexer, first.id) == ("record-10", "webfaq.crawl", 2, 10)

    later = sighting("Price?", "eng", "2026-01-09T00:00:00Z", 13)  # moves last_seen: written
    stats = indexer.apply([later], vec(1, 0, 0, 0))
    assert (stats.updated, stats.points_written) == (1, 1)
    assert provenance(indexer, first.id) == ("record-13", "webfaq.crawl", 2, 13)


def test_a_write_caused_by_a_partner_does_not_move_the_provenance(indexer) -> None:
    english = sighting("Price?", "eng", "2026-01-05T00:00:00Z", 1)
    indexer.apply([english], vec(1, 0, 0, 0))
    german = sighting("Preis?", "deu", "2026-01-05T00:00:00Z", 2)
    again = sighting("Price?", "eng", "2026-01-05T00:00:00Z", 3)  # re-seen unchanged, in the same batch
    stats = indexer.apply([german, again], np.vstack([vec(1, 0.1, 0, 0), vec(1, 0, 0, 0)]))
    stored = indexer.store.get([english.id])[english.id]
    assert stored.aligned["deu"]["id"] == german.id and stats.aligned_pairs_changed == 2
    assert provenance(indexer, english.id) == ("record-1", "webfaq.crawl", 2, 1)
    assert provenance(indexer, german.id) == ("record-2", "webfaq.crawl", 2, 2)


def test_releases_carry_provenance_and_typed_utc_timestamps(indexer, tmp_path) -> None:
    known = sighting("Price?", "eng", "2026-01-05T10:30:00Z", 7)
    unknown = TaggedPair(pair_id("Hours?", "Open every day from nine to five."), "https://a.example",
                         "https://a.example/eng", "eng", 0.9, "Hours?", "Open every day from nine to five.",
                         "", "", "2026-01-06T00:00:00Z")
    indexer.apply([known, unknown], np.vstack([vec(1, 0, 0, 0), vec(0, 1, 0, 0)]))
    result = write_release(indexer.store, Settings(release_dir=tmp_path / "releases"), progress=False)
    table = pq.read_table(result.path / "data" / "eng.parquet")
    assert table.schema.field("first_seen").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("source_offset").type == pa.int64()
    rows = {row["id"]: row for row in table.to_pylist()}
    row = rows[known.id]
    assert (row["record_id"], row["source_topic"], row["source_partition"], row["source_offset"]) == (
        "record-7", "webfaq.crawl", 2, 7)
    assert row["first_seen"].isoformat() == "2026-01-05T10:30:00+00:00"
    assert {rows[unknown.id][name] for name in ("record_id", "source_topic", "source_partition",
                                                 "source_offset")} == {None}
    card = (result.path / "README.md").read_text()
    assert "| `first_seen` | `timestamp[us, tz=UTC]` | `TIMESTAMPTZ` |" in card
    assert "| `source_offset` | `int64` | `BIGINT` |" in card
    assert "sighting that last changed the stored pair" in card
