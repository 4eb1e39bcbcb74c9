"""Language tagging with the packaged lid.176.ftz, WebFAQ v2's rule, on real pages."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.domain.clean import clean_pairs
from webfaq_stream.domain.langid import LanguageTagger, decide, default_model_path, load_model, url_hints
from webfaq_stream.errors import ModelError
from webfaq_stream.extract.page import extract_faq

FIXTURES = SHARED_FIXTURES / "faq-pages"


@pytest.fixture(scope="module")
def tagger() -> LanguageTagger:
    return LanguageTagger()


@pytest.mark.parametrize(("stem", "url", "language"), [
    ("indoorskydive.lu__faq_lb", "https://indoorskydive.lu/lb/faq.html", "deu"),
    ("indoorskydive.lu__faq_nl", "https://indoorskydive.lu/nl/faq.html", "fra"),
    ("indoorskydive.lu__faq_en", "https://indoorskydive.lu/en/faq.html", "eng"),
    ("madsvin.com__pandekager", "https://madsvin.com/pandekager/", "dan"),
    ("hogarmania.com__tortilla-patatas",
     "https://www.hogarmania.com/cocina/recetas/huevos/tortilla-patatas-8684.html", "spa"),
])
def test_pages_are_tagged_by_their_content(tagger: LanguageTagger, stem: str, url: str, language: str) -> None:
    page = extract_faq((FIXTURES / f"{stem}.html").read_bytes(), url)
    kept, _ = clean_pairs(page.pairs)
    assert kept
    tags = tagger.tag_many([(p.question, p.answer, url, page.title, page.description) for p in kept])
    assert {code for code, _ in tags} == {language}
    assert all(0.25 <= score <= 1.0 for _, score in tags)


def test_url_hints_from_first_or_second_segment() -> None:
    assert url_hints("https://x.com/de/faq") == ("deu",)
    assert url_hints("https://x.com/de-at/faq") == ("deu",)
    assert url_hints("https://x.com/deu/faq") == ("deu",)
    assert "fra" in url_hints("https://x.com/shop/ch/faq") and "deu" in url_hints("https://x.com/shop/ch/")
    assert url_hints("https://x.com/") == ()


def test_hint_wins_at_the_hint_threshold_else_top_needs_threshold() -> None:
    labels = ["__label__en", "__label__de"]
    assert decide(labels, [0.80, 0.12], ["deu"]) == ("deu", 0.12)
    assert decide(labels, [0.80, 0.11], ["deu"]) == ("eng", 0.80)
    assert decide(labels, [0.25, 0.10], []) == ("eng", 0.25)
    assert decide(labels, [0.24, 0.10], []) == (None, 0.24)


def test_uncertain_text_gives_none(tagger: LanguageTagger) -> None:
    code, score = tagger.tag("1234 5678 90", "++++ ---- //// 0000", "https://x.com/")
    assert code is None and 0.0 < score < 0.25
    # "42" scores English between 0.12 and 0.25: only an /en/ URL hint makes it English
    assert tagger.tag("42", "", "https://x.com/faq/")[0] is None
    assert tagger.tag("42", "", "https://x.com/en/faq/")[0] == "eng"
    assert tagger.tag("", "", "https://x.com/") == (None, 0.0)


def test_model_is_loaded_once_and_shared_across_threads(tagger: LanguageTagger) -> None:
    assert LanguageTagger().model is tagger.model is load_model(default_model_path())
    results: list[tuple[str | None, float]] = []

    def work() -> None:
        results.append(tagger.tag("Wie lange dauert die Lieferung?", "Die Lieferung dauert drei Tage.",
                                  "https://x.com/"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [code for code, _ in results] == ["deu"] * 4


def test_missing_model_path_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        LanguageTagger(tmp_path / "missing.bin")
    broken = tmp_path / "broken.bin"
    broken.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        LanguageTagger(broken)
