"""``webfaq-stream search`` and ``status`` on a real store built from the indoorskydive.lu pages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from webfaq_stream.adapters.qdrant.opener import open_pair_store
from webfaq_stream.cli.main import main
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.embed.models import StoreModels, load_embedder
from webfaq_stream.settings import ENV_PREFIX
from webfaq_stream.worker.batch import pair_indexer

PAGES = {"eng": "indoorskydive.lu__faq_en.html", "deu": "indoorskydive.lu__faq_de.html",
         "fra": "indoorskydive.lu__faq_fr.html"}
URLS = {"eng": "https://indoorskydive.lu/en/faq.html", "deu": "https://indoorskydive.lu/de/faq.html",
        "fra": "https://indoorskydive.lu/fr/faq.html"}


def envelope(url: str, html: bytes) -> RawMessage:
    body = {"url": url, "warc_date": "2026-11-22T10:00:00Z", "html": html.decode("utf-8")}
    return RawMessage(json.dumps(body).encode(), url.encode(), (("content-type", b"application/json"),))


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory, fixture_pages: Path) -> Path:
    """An embedded store holding the English, German and French indoorskydive.lu FAQ (multilingual-e5-small)."""
    directory = tmp_path_factory.mktemp("store")
    messages = [envelope(URLS[lang], (fixture_pages / page).read_bytes()) for lang, page in PAGES.items()]
    result = Pipeline(LanguageTagger()).run(messages)
    assert {pair.language for pair in result.pairs} == set(PAGES)
    models = StoreModels(load_embedder("multilingual-e5-small"))  # one model, as the default
    store = open_pair_store(url=None, api_key=None, path=directory, collection="webfaq")
    store.open(models.dim, models.wide_dim)
    try:
        pair_indexer(store, models).apply(result.pairs, models.pair_vectors(
            [pair.question for pair in result.pairs], [pair.answer for pair in result.pairs]))
    finally:
        store.close()
    return directory


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, store_dir: Path, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WEBFAQ_STORE_DIR", str(store_dir))
    monkeypatch.setenv("WEBFAQ_EMBEDDING_MODEL", "multilingual-e5-small")  # the model store_dir was built with
    monkeypatch.setenv("WEBFAQ_RELEASE_DIR", str(tmp_path / "releases"))
    return monkeypatch


def expected_pairs(fixture_pages: Path, lang: str) -> list[dict[str, str]]:
    stem = PAGES[lang].removesuffix(".html")
    return json.loads((fixture_pages / "expected" / f"{stem}.json").read_text())


def test_search_finds_the_german_twin_of_every_english_pair(env, capsys, fixture_pages):
    english, german = expected_pairs(fixture_pages, "eng"), expected_pairs(fixture_pages, "deu")
    for en, de in zip(english, german, strict=True):  # the site is translated question by question
        assert main(["search", f"{en['question']} {en['answer']}", "--lang", "deu", "--limit", "1",
                     "--format", "json"]) == 0
        (hit,) = json.loads(capsys.readouterr().out)
        assert hit["language"] == "deu" and hit["origin"] == "https://indoorskydive.lu"
        assert hit["question"] == de["question"], en["question"]


def test_search_without_language_is_cross_lingual_and_text_output_is_readable(env, capsys, fixture_pages):
    question = expected_pairs(fixture_pages, "eng")[1]["question"]  # flights per participant
    assert main(["search", question, "--limit", "6", "--format", "json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 6
    assert hits[0]["question"] == question
    assert {hit["language"] for hit in hits[:3]} == {"eng", "deu", "fra"}
    assert [h["similarity"] for h in hits] == sorted((h["similarity"] for h in hits), reverse=True)

    assert main(["search", question, "--lang", "fra", "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(" 1. ") and "[fra]" in text and "https://indoorskydive.lu/fr/faq.html" in text


def test_search_filters_by_origin(env, capsys):
    assert main(["search", "wind tunnel", "--origin", "https://elsewhere.example", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_search_on_a_missing_store_is_a_one_line_error(env, capsys, tmp_path):
    env.setenv("WEBFAQ_STORE_DIR", str(tmp_path / "nothing-here"))
    assert main(["search", "anything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("webfaq-stream search: error: no store at") and err.count("\n") == 1
    assert not (tmp_path / "nothing-here").exists()  # a read-only command creates nothing


def test_status_counts_pairs_per_language_and_reports_missing_release(env, capsys):
    assert main(["status", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    store = report["store"]
    assert store["pairs"] == sum(store["languages"].values())
    assert set(store["languages"]) == set(PAGES)
    assert store["aligned_pairs"] > 0
    assert "no release yet" in report["release"]["note"]
    assert "WEBFAQ_KAFKA_BOOTSTRAP" in report["kafka"]["note"]

    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert "Store" in text and "deu" in text and "Last release" in text


def test_help_of_search_and_status_has_examples(capsys):
    for command in ("search", "status"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:" in capsys.readouterr().out
