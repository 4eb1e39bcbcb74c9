"""Calibration on the real multilingual fixture pages with the default model and its threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from webfaq_stream.cli.calibrate import evaluate, iter_pages, page_urls, read_gold, score, tag_pages
from webfaq_stream.cli.main import main
from webfaq_stream.embed.models import load_embedder
from webfaq_stream.settings import Settings

PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "faq-pages"
SITES = ("indoorskydive.lu", "caladeibalcani.it")


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    gold = read_gold(PAGES / "ALIGNED.tsv", PAGES / "ALIGNED_QUESTIONS.tsv")
    pages = [p for site in SITES for p in sorted(PAGES.glob(f"{site}__*.html"))]
    tagged, units = tag_pages(iter_pages(pages, page_urls(PAGES / "PROVENANCE.tsv")))
    embedder = load_embedder(Settings().embedding_model)
    links, labels, gold_links = evaluate(tagged, units, gold, embedder, tmp_path_factory.mktemp("store"))
    return embedder, links, labels, gold_links


def test_gold_labels_follow_positions_identical_pages_and_topics():
    gold = read_gold(PAGES / "ALIGNED.tsv", PAGES / "ALIGNED_QUESTIONS.tsv")
    assert gold.labels[("indoorskydive.lu__faq_en.html", 3)] == gold.labels[("indoorskydive.lu__faq_lb.html", 3)]
    assert gold.labels[("caladeibalcani.it__faq_it.html", 6)] & gold.labels[("caladeibalcani.it__faq_en.html", 1)]
    assert not gold.labels.get(("caladeibalcani.it__faq_it.html", 1))  # a question without counterpart


def test_default_model_aligns_the_translated_site(calibration):
    embedder, links, labels, gold_links = calibration
    origin = "https://indoorskydive.lu"
    result = score(links[origin], embedder.alignment_threshold, labels, gold_links[origin])
    assert result.gold == 39  # 13 questions x (eng-deu, eng-fra, deu-fra); lb and nl pages are duplicates
    assert result.precision >= 0.95 and result.recall >= 0.9


def test_default_model_invents_no_link_between_topics_on_the_localized_site(calibration):
    embedder, links, labels, gold_links = calibration
    origin = "https://caladeibalcani.it"
    result = score(links[origin], embedder.alignment_threshold, labels, gold_links[origin])
    assert result.predicted > 10 and result.correct == result.predicted


def test_calibrate_command_prints_the_sweep(capsys):
    pages = [str(p) for p in sorted(PAGES.glob("indoorskydive.lu__*.html"))]
    code = main(["calibrate", *pages, "--gold", str(PAGES / "ALIGNED.tsv"), "--thresholds", "0.5:0.7:0.1"])
    out = capsys.readouterr().out
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("indoorskydive.lu")]
    assert [row[1] for row in rows] == ["0.500", "0.600", "0.700"]
    assert all(0.0 <= float(row[4]) <= 1.0 and 0.0 <= float(row[5]) <= 1.0 for row in rows)


def test_calibrate_command_reports_a_missing_gold_file(capsys):
    assert main(["calibrate", str(PAGES), "--gold", str(PAGES / "NO_SUCH.tsv")]) == 2
    assert "--gold" in capsys.readouterr().err
