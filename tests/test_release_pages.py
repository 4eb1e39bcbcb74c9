"""The release's page path: payload pages from the real stores, the point-in-time view's pages,
``DataWriter.add_page`` (order check, malformed values, files independent of page sizes) and the
read-ahead thread."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_release_support import fixture_pairs, make_pair, open_store

from webfaq_stream.adapters.qdrant import edge
from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.errors import ReleaseError
from webfaq_stream.release.scroll import read_ahead
from webfaq_stream.release.writer import DataWriter, data_row
from webfaq_stream.store.gate import ReleaseGate
from webfaq_stream.store.pages import payload_pages


@pytest.fixture()
def store(tmp_path: Path):
    store = open_store(tmp_path / "store")
    store.upsert(fixture_pairs())
    store.set_meta("checkpoint", {"offsets": {}, "time": "2026-11-20T10:00:05Z"})
    yield store
    store.close()


def flat(pages) -> list[dict]:
    return [payload for page in pages for payload in page]


def test_edge_pages_equal_the_scroll_in_id_order(store) -> None:
    expected = [pair.payload() for pair in store.scroll()]
    pages = list(payload_pages(store, 7))
    assert flat(pages) == expected and len(expected) > 7
    assert [p["id"] for p in flat(pages)] == sorted(p["id"] for p in expected)
    assert max(len(page) for page in pages) <= 7


def test_edge_pages_over_several_engine_calls(store, monkeypatch) -> None:
    monkeypatch.setattr(edge, "SCROLL_CALL_POINTS", 10)  # calls of 10 points, cut into pages of 3
    expected = [pair.payload() for pair in store.scroll()]
    pages = list(payload_pages(store, 3))
    assert flat(pages) == expected and len(expected) > 20
    assert max(len(page) for page in pages) <= 3


def test_payload_files_are_read_ahead_only_where_they_fit(store) -> None:
    files = [path for path in store.directory.glob("segments/*/payload_storage/*") if path.is_file()]
    assert files
    assert edge.prefetch_payloads(store.directory) == sum(path.stat().st_size for path in files)
    assert edge.prefetch_payloads(store.directory, share_of_available=1e-12) == 0


def test_server_store_takes_the_generic_path(tmp_path: Path) -> None:
    server = open_pair_store(url=":memory:", api_key=None, path=tmp_path, collection="webfaq")
    server.open(8)
    server.upsert(fixture_pairs()[:30])
    pages = list(payload_pages(server, 4))
    assert flat(pages) == [pair.payload() for pair in server.scroll()]
    assert [len(page) for page in pages][:-1] == [4] * (len(pages) - 1)


def test_point_in_time_pages_hide_later_writes(store) -> None:
    gate = ReleaseGate(store)
    before = [pair.payload() for pair in store.scroll()]
    changed, removed_later = before[3]["id"], make_pair("A question asked after the cut?",
                                                        "An answer written after the release cut began.",
                                                        "https://late.example/faq", "eng", "2026-11-21T00:00:00Z")
    with gate.cut() as view:
        with gate.batch():
            seen_again = dataclasses.replace(store.get([changed], with_vectors=True)[changed],
                                             last_seen="2026-11-22T00:00:00Z")
            gate.upsert([seen_again, removed_later])
        assert flat(view.payload_pages(5)) == before
    assert store.get([changed])[changed].last_seen == "2026-11-22T00:00:00Z"


def write(tmp: Path, payloads: list[dict], page: int, part_rows: int = 25) -> dict[str, bytes]:
    writer = DataWriter(tmp, part_rows)
    for start in range(0, len(payloads), page):
        writer.add_page(payloads[start:start + page])
    files = writer.close()
    return {name: (tmp / "data" / name).read_bytes() for lang in files.values() for name in lang}


def test_files_do_not_depend_on_page_sizes(store, tmp_path: Path) -> None:
    payloads = flat(payload_pages(store, 1000))
    by_page = {page: write(tmp_path / str(page), payloads, page) for page in (1, 7, 1000)}
    assert by_page[1] == by_page[7] == by_page[1000]
    english = sorted(name for name in by_page[1] if name.startswith("eng-"))
    assert len(english) > 1  # split into parts of 25 rows, each part one row group
    first = pq.ParquetFile(tmp_path / "1" / "data" / english[0])
    assert first.metadata.num_rows == 25 and first.metadata.num_row_groups == 1


def test_pages_must_ascend(store, tmp_path: Path) -> None:
    payloads = flat(payload_pages(store, 1000))[:10]
    writer = DataWriter(tmp_path, 100)
    with pytest.raises(ReleaseError, match="ascending"):
        writer.add_page([payloads[1], payloads[0]])
    writer.add_page(payloads[:5])
    for page in (payloads[4:6], payloads[6:7] * 2, payloads[2:3]):
        with pytest.raises(ReleaseError, match="ascending"):
            writer.add_page(page)


def test_malformed_values_are_normalised_or_named(store, tmp_path: Path) -> None:
    pair = next(store.scroll())
    odd = {**pair.payload(), "language_score": "0.5", "near_duplicate_similarity": "high", "title": None,
           "language": "not a code"}
    writer = DataWriter(tmp_path, 100)
    writer.add_page([odd])
    (rows,) = writer.close()["und"].values()
    table = pq.read_table(tmp_path / "data" / "und.parquet")
    assert rows == 1
    assert tuple(table.to_pylist()[0].values()) == data_row(dataclasses.replace(pair, title=None,
                                                                                 language_score="0.5",
                                                                                 near_duplicate_similarity="high"))
    assert table.column("language_score")[0].as_py() == 0.5 and table.column("title")[0].as_py() == ""
    with pytest.raises(ReleaseError, match="malformed"):
        DataWriter(tmp_path / "bad", 100).add_page([{**pair.payload(), "question": 5}])


def test_read_ahead_passes_errors_and_stops_when_closed() -> None:
    def failing():
        yield 1
        raise ValueError("scroll broke")

    with pytest.raises(ValueError, match="scroll broke"):
        list(read_ahead(failing()))
    produced = []

    def endless():
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    before = threading.active_count()
    items = read_ahead(endless(), depth=2)
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert threading.active_count() == before and len(produced) <= 6
