"""Calibration on real multilingual data with the default models and thresholds (issue 14's targets),
reading ``../shared/fixtures`` at run time."""

from __future__ import annotations

import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.cli.calibrate import (
    MIN_LANGUAGE_ENTRIES,
    evaluate,
    iter_pages,
    multilingual_gold,
    page_urls,
    read_gold,
    score,
    tag_pages,
)
from webfaq_stream.cli.main import main
from webfaq_stream.cli.multilingual import multilingual_pages
from webfaq_stream.embed.models import configured_models
from webfaq_stream.settings import Settings

FIXTURES = SHARED_FIXTURES
PAGES = FIXTURES / "faq-pages"
MULTILINGUAL = FIXTURES / "multilingual-faq"
SITES = ("indoorskydive.lu", "caladeibalcani.it")


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    models = configured_models(Settings())
    pages, gold = multilingual_gold(MULTILINGUAL)
    page_gold = read_gold(PAGES / "ALIGNED.tsv", PAGES / "ALIGNED_QUESTIONS.tsv")
    gold.merge(page_gold)
    pages += list(iter_pages([p for site in SITES for p in sorted(PAGES.glob(f"{site}__*.html"))],
                             page_urls(PAGES / "PROVENANCE.tsv")))
    tagged, units = tag_pages(pages)
    return models, evaluate(tagged, units, gold, models, tmp_path_factory.mktemp("store"))


def test_pages_are_built_for_every_site_and_language_of_the_folder():
    pages = multilingual_pages(MULTILINGUAL)
    sites = {p.name for p in MULTILINGUAL.iterdir() if p.is_dir()}
    assert {page.site for page in pages} == sites
    assert len(pages) == sum(len(list((MULTILINGUAL / site).glob("*.json"))) for site in sites)
    assert {page.kind for page in pages} == {"translated", "localized"}
    assert all(page.html.count(b'"@type": "Question"') == len(page.keys) for page in pages)


def test_gold_labels_follow_positions_identical_pages_and_topics():
    gold = read_gold(PAGES / "ALIGNED.tsv", PAGES / "ALIGNED_QUESTIONS.tsv")
    assert gold.labels[("indoorskydive.lu__faq_en.html", 3)] == gold.labels[("indoorskydive.lu__faq_lb.html", 3)]
    assert gold.labels[("caladeibalcani.it__faq_it.html", 6)] & gold.labels[("caladeibalcani.it__faq_en.html", 1)]
    assert not gold.labels.get(("caladeibalcani.it__faq_it.html", 1))  # a question without counterpart
    assert gold.kinds["https://caladeibalcani.it"] == "localized"


def multilingual_origins(evaluation, kind: str) -> list[str]:
    """The origins of the shared multilingual folder (not the labelled fixture pages) of ``kind``."""
    return [o for o, k in evaluation.kinds.items() if k == kind and not o.endswith(SITES)]


def test_default_models_meet_issue_14s_targets_on_the_translated_sites(calibration):
    """Per translated site precision >= 0.98 and recall >= 0.95, every language with 20+ entries >= 0.90."""
    models, evaluation = calibration
    threshold = models.align_rule().threshold
    translated = multilingual_origins(evaluation, "translated")
    assert len(translated) >= 4
    for origin in translated:
        result, recall = score(evaluation, origin, threshold)
        assert result.precision >= 0.98 and result.recall >= 0.95, (origin, result)
        assert all(value >= 0.90 for value in recall.values()), (origin, recall)
    languages = {evaluation.languages[i] for i in evaluation.languages}
    assert {"ben", "kat", "mal", "fas", "ara", "zho"} <= languages


def test_default_models_keep_localized_sites_precise(calibration):
    """The localized site of the folder at precision >= 0.95 (issue 14); the labelled localized
    fixture pages (caladeibalcani.it: 0.84 measured, README) and the translated ones above a floor."""
    models, evaluation = calibration
    threshold = models.align_rule().threshold
    localized = multilingual_origins(evaluation, "localized")
    assert localized
    for origin in localized:
        result, _ = score(evaluation, origin, threshold)
        assert result.predicted > 10 and result.precision >= 0.95, (origin, result)
    for origin in (o for o in evaluation.kinds if o.endswith(SITES)):
        result, _ = score(evaluation, origin, threshold)
        floor = 0.80 if evaluation.kinds[origin] == "localized" else 0.98
        assert result.predicted > 10 and result.precision >= floor, (origin, result)


def test_calibrate_command_prints_the_sweep_per_site_kind(capsys):
    pages = [str(p) for p in sorted(PAGES.glob("caladeibalcani.it__*.html"))]
    code = main(["calibrate", *pages, "--gold", str(PAGES / "ALIGNED.tsv"), "--thresholds", "1.0:1.2:0.1"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("caladeibalcani.it")]
    assert [row[2] for row in rows] == ["1.000", "1.100", "1.200"]
    assert all(row[1] == "localized" and 0.0 <= float(row[5]) <= 1.0 for row in rows)
    assert any(line.startswith("(localized)") for line in out.splitlines())
    assert f">= {MIN_LANGUAGE_ENTRIES} entries" in out


def test_calibrate_command_reports_a_missing_gold_file(capsys):
    assert main(["calibrate", str(PAGES), "--gold", str(PAGES / "NO_SUCH.tsv")]) == 2
    assert "--gold" in capsys.readouterr().err
