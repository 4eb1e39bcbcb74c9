"""The pure batch pipeline on real fixture pages: exact pairs, named drops, isolated bad records."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.domain.clean import clean_pairs
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.model import RawPair, SourceRef
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.testing import messages_from

WCXB = "Murrough-Foley/web-content-extraction-benchmark"


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(LanguageTagger())


def wcxb_rows(fixture_pages: Path) -> list[dict[str, str]]:
    with (fixture_pages / "PROVENANCE.tsv").open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row["source_repo"] == WCXB]


def expected_ids(fixture_pages: Path, rows: list[dict[str, str]]) -> set[str]:
    """WebFAQ-filtered ids of the pairs the fixtures' expected files list."""
    ids: set[str] = set()
    for row in rows:
        raw = json.loads((fixture_pages / row["expected_json"]).read_text(encoding="utf-8"))
        kept, _ = clean_pairs([RawPair(item["question"], item["answer"]) for item in raw])
        ids |= {pair.id for pair in kept}
    return ids


def test_fixture_pages_give_exactly_the_expected_pairs(pipeline: Pipeline, fixture_pages: Path) -> None:
    rows = wcxb_rows(fixture_pages)
    values = [warc_response_bytes(Page(row["original_url"], (fixture_pages / row["file"]).read_bytes()))
              for row in rows]
    result = pipeline.run(messages_from(values, topic="crawl", partition=2))
    assert {pair.id for pair in result.pairs} == expected_ids(fixture_pages, rows)
    assert result.records == len(rows)
    assert result.pages_with_faq == sum(1 for row in rows if int(row["qa_count"]) > 0)
    assert result.drops["no_faqpage"] == sum(1 for row in rows if int(row["qa_count"]) == 0)
    assert not result.dead_letters
    assert result.offsets == {"crawl:2": len(rows)}
    for pair in result.pairs:
        assert pair.origin in pair.url and pair.seen == "2026-01-01T00:00:00Z"
        assert pair.language == "eng" and pair.language_score >= 0.25


def test_bad_records_become_dead_letters_and_spare_their_neighbours(pipeline: Pipeline,
                                                                     fixture_pages: Path) -> None:
    good = warc_response_bytes(Page("https://mailchimp.com/features/email/",
                                    (fixture_pages / "mailchimp.com__features-email.html").read_bytes()))
    values = [b"\x00garbage", good, good[: len(good) // 2], b"<html><body>FAQPage</body></html>", good, b""]
    result = pipeline.run(messages_from(values))
    assert [(letter.reason, letter.message.source.offset) for letter in result.dead_letters] == [
        ("unknown_format", 0), ("invalid_warc", 2), ("missing_url", 3), ("empty", 5)]
    assert result.pages_with_faq == 2
    assert len(result.pairs) == 2 * len({pair.id for pair in result.pairs}) > 0
    assert result.offsets == {"test:0": 6}


def test_envelope_faq_is_used_as_is_and_filtered(pipeline: Pipeline) -> None:
    envelope = {"url": "https://www.example.org/de/hilfe", "warc_date": "2026-02-03T04:05:06Z",
                "title": "Hilfe", "faq": [
                    {"question": "Wie lange dauert der Versand?",
                     "answer": "Der Versand dauert innerhalb Deutschlands zwei bis drei Werktage."},
                    {"question": "Kurz?", "answer": "Zu kurz."}]}
    message = RawMessage(json.dumps(envelope).encode(), headers=(("content-type", b"application/json"),),
                         source=SourceRef("t", 1, 41))
    result = pipeline.run([message])
    [pair] = result.pairs
    assert (pair.language, pair.title, pair.origin, pair.seen) == (
        "deu", "Hilfe", "https://www.example.org", "2026-02-03T04:05:06Z")
    assert result.drops == {"question_too_short": 1}
    assert result.offsets == {"t:1": 42}


def test_page_level_drops_are_counted(pipeline: Pipeline) -> None:
    values = [warc_response_bytes(Page("https://x.example/a", b"<html>gone</html>", status="404 Not Found")),
              warc_response_bytes(Page("https://x.example/b", b"<html><p>no faq here</p></html>"))]
    result = pipeline.run(messages_from(values))
    assert result.drops == {"http_status": 1, "no_faqpage": 1}
    assert result.pairs == [] and result.dead_letters == []
