"""Both PairStore adapters through the factory (qdrant-edge on disk, qdrant-client local mode) and the
in-memory fake of ``webfaq_stream.testing`` held to the same contract; failures say what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from webfaq_stream.adapters.qdrant.failures import engine_failure
from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.domain.align import normalize_rows
from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import StoredPair, TaggedPair
from webfaq_stream.errors import StoreError, StoreLockedError, StoreRejectedError, StoreUnavailableError
from webfaq_stream.store.indexer import PairIndexer
from webfaq_stream.testing import MemoryPairStore

DIM = 8
KINDS = ["edge", "local", "memory", "fake"]


def url_for(kind: str, tmp_path: Path) -> str | None:
    return {"edge": None, "local": f"local:{tmp_path / 'local'}", "memory": ":memory:"}[kind]


def make_pair(n: int, language: str = "eng", origin: str = "https://a.example") -> StoredPair:
    vector = normalize_rows(np.random.default_rng(n).normal(size=(1, DIM)))[0]
    question, answer = f"Question number {n}?", f"This is the answer number {n} in full."
    return StoredPair(id=pair_id(question, answer), origin=origin, url=f"{origin}/{language}/faq",
                      language=language, language_score=0.9, question=question, answer=answer, title="T",
                      description="D", first_seen="2026-01-01T00:00:00Z", last_seen="2026-01-02T00:00:00Z",
                      near_duplicate_similarity=None, aligned={}, vector=vector.tolist())


@pytest.fixture(params=KINDS)
def store(request, tmp_path):
    opened = (MemoryPairStore() if request.param == "fake" else
              open_pair_store(url=url_for(request.param, tmp_path), api_key=None, path=tmp_path, collection="c"))
    opened.open(DIM)
    yield opened
    opened.close()


def test_round_trip_keeps_payload_and_exact_vector_bits(store):
    pairs = [make_pair(n, language) for n, language in enumerate(["eng", "deu", "eng"])]
    store.upsert(pairs)
    got = store.get([p.id for p in pairs] + ["0" * 32], with_vectors=True)
    assert set(got) == {p.id for p in pairs}
    for pair in pairs:
        assert got[pair.id].payload() == pair.payload()
        assert np.array_equal(np.asarray(got[pair.id].vector, dtype=np.float32),
                              np.asarray(pair.vector, dtype=np.float32))
    assert store.count() == 3 and store.count("eng") == 2
    assert [p.id for p in store.origin_pairs("https://a.example", "deu")] == [pairs[1].id]
    assert store.origin_pairs("https://other.example") == []


def test_delete_removes_points_and_ignores_unknown_ids(store):
    pairs = [make_pair(n) for n in range(4)]
    store.upsert(pairs, meta={"checkpoint": {"offsets": {}}})
    store.delete([pairs[1].id, pairs[3].id, "0" * 32])
    assert sorted(p.id for p in store.scroll()) == sorted([pairs[0].id, pairs[2].id])
    assert store.count() == 2 and store.get([pairs[1].id]) == {}
    assert store.get_meta("checkpoint") == {"offsets": {}}
    store.delete([])


def test_meta_documents_are_kept_apart_from_pairs(store):
    pair = make_pair(1)
    store.upsert([pair], meta={"checkpoint": {"offsets": {"0": 41}}})
    assert store.get_meta("checkpoint") == {"offsets": {"0": 41}}
    store.set_meta("checkpoint", {"offsets": {"0": 42}})
    assert store.get_meta("checkpoint") == {"offsets": {"0": 42}}
    assert store.get_meta("missing") is None
    assert store.count() == 1
    assert [p.id for p in store.scroll()] == [pair.id]
    hits = store.search(pair.vector, limit=5)
    assert [(p.id, round(score, 4)) for p, score in hits] == [(pair.id, 1.0)]


def test_scroll_pages_through_every_pair_in_id_order(store):
    pairs = [make_pair(n) for n in range(25)]
    store.upsert(pairs)
    ids = [p.id for p in store.scroll(batch_size=7)]
    assert ids == sorted(p.id for p in pairs)


def test_a_pair_without_its_vector_is_refused(store):
    pair = make_pair(3)
    pair.vector = None
    with pytest.raises(StoreError):
        store.upsert([pair])


def test_a_malformed_point_is_rejected_for_good_and_nothing_is_written(store):
    good, short = make_pair(4), make_pair(5)
    short.vector = short.vector[:-1]
    with pytest.raises(StoreRejectedError) as caught:
        store.upsert([good, short], meta={"checkpoint": {"n": 1}})
    assert not caught.value.transient
    assert store.count() == 0 and store.get_meta("checkpoint") is None


@pytest.mark.parametrize("bad", ["not unit", "nan", "text", "nested"])
def test_a_vector_that_is_not_unit_numbers_is_rejected(bad):
    from webfaq_stream.adapters.qdrant.opener import require_vector

    pair = make_pair(7)
    assert require_vector(pair.id, pair.vector, DIM) == pytest.approx(list(pair.vector))
    vector = {"not unit": [2 * x for x in pair.vector], "nan": [float("nan")] * DIM,
              "text": ["0.5"] * (DIM - 1) + ["x"], "nested": [[0.1]] * DIM}[bad]
    with pytest.raises(StoreRejectedError):
        require_vector(pair.id, vector, DIM)


@pytest.mark.parametrize("kind", ["edge", "local"])
def test_the_engine_s_own_refusal_is_permanent(kind, tmp_path):
    """Past the adapters' own checks, what the engine refuses (a vector of the wrong size) is a
    ``StoreRejectedError`` too: retrying the same request cannot help."""
    from qdrant_client import models
    from qdrant_edge import Point, UpdateOperation

    from webfaq_stream.adapters.qdrant.opener import VECTOR_NAME
    from webfaq_stream.domain.ids import point_id

    store = open_pair_store(url=url_for(kind, tmp_path), api_key=None, path=tmp_path, collection="c")
    store.open(DIM)
    point, vector = point_id(make_pair(6).id), {VECTOR_NAME: [0.5] * (DIM - 1)}
    try:
        with pytest.raises(StoreRejectedError) as caught:
            if kind == "edge":
                store._call("upsert", store.shard.update, UpdateOperation.upsert_points([Point(point, vector, {})]))
            else:
                store._call("upsert", "upsert", points=[models.PointStruct(id=point, vector=vector)], wait=True)
        assert not caught.value.transient and store.count() == 0
    finally:
        store.close()


@pytest.mark.parametrize(("failure", "transient"), [
    (OSError(28, "No space left on device"), True),
    (TimeoutError("timed out"), True),
    (Exception("Service runtime error: failed to open WAL: Can't init WAL: Kind(WouldBlock)"), True),
    (Exception("Service internal error: task panicked"), True),
    (Exception("Vector dimension error: expected dim: 8, got 7"), False),
    (ValueError("failed to parse zz as UUID: invalid character"), False),
    (Exception("Wrong input: payload too large"), False),
])
def test_engine_failures_are_transient_only_for_outages(failure, transient):
    error = engine_failure("embedded store upsert", failure)
    assert error.transient is transient
    assert isinstance(error, StoreUnavailableError if transient else StoreRejectedError)
    assert "embedded store upsert failed" in str(error)


@pytest.mark.parametrize(("status", "transient"), [(500, True), (502, True), (503, True), (408, True),
                                                   (429, True), (400, False), (404, False), (422, False)])
def test_server_answers_are_transient_for_5xx_timeouts_and_throttling(status, transient):
    import httpx
    from qdrant_client.http.exceptions import UnexpectedResponse

    from webfaq_stream.adapters.qdrant.server import client_failure

    answer = UnexpectedResponse(status, "reason", b'{"status": {"error": "..."}}', httpx.Headers())
    assert client_failure("Qdrant upsert", answer).transient is transient


def test_no_answer_from_the_server_is_transient():
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException

    from webfaq_stream.adapters.qdrant.server import client_failure

    refused = ResponseHandlingException(httpx.ConnectError("[Errno 111] Connection refused"))
    assert isinstance(client_failure("Qdrant retrieve", refused), StoreUnavailableError)
    assert isinstance(client_failure("Qdrant retrieve", ConnectionRefusedError(111, "refused")),
                      StoreUnavailableError)


@pytest.mark.parametrize("kind", ["edge", "local"])
def test_reopened_store_keeps_data_and_refuses_another_size(kind, tmp_path):
    url = url_for(kind, tmp_path)
    first = open_pair_store(url=url, api_key=None, path=tmp_path, collection="c")
    first.open(DIM)
    first.upsert([make_pair(1)], meta={"checkpoint": {"n": 1}})
    first.close()
    again = open_pair_store(url=url, api_key=None, path=tmp_path, collection="c")
    again.open(DIM)
    assert again.count() == 1 and again.get_meta("checkpoint") == {"n": 1}
    again.close()
    with pytest.raises(StoreError):
        open_pair_store(url=url, api_key=None, path=tmp_path, collection="c").open(DIM + 1)


@pytest.mark.parametrize("kind", ["edge", "local"])
def test_a_held_store_raises_store_locked_error(kind, tmp_path):
    url = url_for(kind, tmp_path)
    holder = open_pair_store(url=url, api_key=None, path=tmp_path, collection="c")
    holder.open(DIM)
    holder.upsert([make_pair(1)])
    try:
        with pytest.raises(StoreLockedError) as caught:
            open_pair_store(url=url, api_key=None, path=tmp_path, collection="c").open(DIM)
        assert caught.value.transient  # another process holds it: it may let go
    finally:
        holder.close()
    reopened = open_pair_store(url=url, api_key=None, path=tmp_path, collection="c")
    reopened.open(DIM)
    assert reopened.count() == 1
    reopened.close()


def test_another_process_gets_store_locked_error_on_the_edge_directory(tmp_path):
    holder = open_pair_store(url=None, api_key=None, path=tmp_path, collection="c")
    holder.open(DIM)
    holder.upsert([make_pair(1)])
    script = ("import sys; from pathlib import Path; from webfaq_stream.adapters.qdrant.opener import open_pair_store\n"
              "from webfaq_stream.errors import StoreLockedError\n"
              "try:\n open_pair_store(url=None, api_key=None, path=Path(sys.argv[1]), collection='c').open(8)\n"
              "except StoreLockedError as e:\n print('locked', e); sys.exit(3)\n")
    try:
        result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=False, capture_output=True,
                                text=True, cwd=Path(__file__).resolve().parents[1], timeout=60)
    finally:
        holder.close()
    assert result.returncode == 3, result.stderr
    assert "held by another process" in result.stdout


def test_closed_store_raises_store_error(tmp_path):
    store = open_pair_store(url=None, api_key=None, path=tmp_path, collection="c")
    with pytest.raises(StoreError):
        store.count()


def test_indexer_writes_pairs_and_checkpoint_together_and_a_worker_restart_continues(tmp_path):
    vector = normalize_rows([[1.0, 0.5, 0, 0, 0, 0, 0, 0]])

    def tagged(url: str, seen: str) -> TaggedPair:
        return TaggedPair(pair_id("Q one?", "The answer one."), "https://a.example", url, "eng", 0.9,
                          "Q one?", "The answer one.", "", "", seen)

    store = open_pair_store(url=None, api_key=None, path=tmp_path, collection="c")
    store.open(DIM)
    PairIndexer(store, 0.9, 0.5).apply([tagged("https://a.example/z", "2026-01-05T00:00:00Z")], vector,
                                       meta={"checkpoint": {"offset": 10}})
    store.close()
    restarted = open_pair_store(url=None, api_key=None, path=tmp_path, collection="c")
    restarted.open(DIM)
    stats = PairIndexer(restarted, 0.9, 0.5).apply(
        [tagged("https://a.example/a", "2026-01-09T00:00:00Z"), tagged("https://a.example/b", "2026-01-01T00:00:00Z")],
        np.vstack([vector, vector]), meta={"checkpoint": {"offset": 12}})
    (pair,) = list(restarted.scroll())
    assert (stats.new, stats.updated) == (0, 1)
    assert (pair.url, pair.first_seen, pair.last_seen) == (
        "https://a.example/a", "2026-01-01T00:00:00Z", "2026-01-09T00:00:00Z")
    assert restarted.get_meta("checkpoint") == {"offset": 12}
    restarted.close()


@pytest.mark.parametrize("kind", KINDS)
def test_named_vectors_round_trip_and_a_pair_may_lack_the_wide_one(kind, tmp_path):
    store = (MemoryPairStore() if kind == "fake" else
             open_pair_store(url=url_for(kind, tmp_path), api_key=None, path=tmp_path, collection="c"))
    store.open(DIM, 3)
    try:
        with_wide, without = make_pair(1), make_pair(2)
        with_wide.wide_vector = normalize_rows([[1.0, 2.0, 2.0]])[0].tolist()
        with_wide.semantic_similarity_score = 0.4375
        store.upsert([with_wide, without])
        got = store.get([with_wide.id, without.id], with_vectors=True)
        assert got[with_wide.id].wide_vector == with_wide.wide_vector
        assert got[with_wide.id].vector == with_wide.vector
        assert got[with_wide.id].semantic_similarity_score == 0.4375
        assert got[without.id].wide_vector is None and got[without.id].vector == without.vector
        assert {p.id: p.wide_vector for p in store.origin_pairs("https://a.example")} == {
            with_wide.id: with_wide.wide_vector, without.id: None}
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["edge", "local"])
def test_a_store_made_with_the_old_single_vector_layout_gets_a_clear_error(kind, tmp_path):
    url = url_for(kind, tmp_path)
    old = open_pair_store(url=url, api_key=None, path=tmp_path, collection="c")
    old.open(DIM)
    old.upsert([make_pair(1)])
    old.close()
    with pytest.raises(StoreError, match="was made with the vectors {'qa': 8}.*needs {'qa': 8, 'wide': 3}"):
        open_pair_store(url=url, api_key=None, path=tmp_path, collection="c").open(DIM, 3)
    again = open_pair_store(url=url, api_key=None, path=tmp_path, collection="c")
    again.open(DIM)  # the old layout itself still opens, its data intact
    assert again.count() == 1
    again.close()
