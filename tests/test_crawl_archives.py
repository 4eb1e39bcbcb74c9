"""Real crawl archives (``shared/fixtures/crawls``), one test per file: every response record is
published and ends in one named outcome.

The counts are checked against warcio read independently over the same file: the messages the
publisher's reader makes are exactly the file's response records; through the worker's pipeline
(real fastText) each ends as a page with pairs or a counted page drop, and none as a dead letter:
not as ``invalid_date`` (a date the record cannot give costs that field: the ClueWeb09 dates fall
back to the HTTP ``Date``), not as ``invalid_url`` for ``dns:`` or ``file:`` records, which are
dropped as ``not_http``. The end-to-end ingestion of all of them (broker, worker, store, release) is in
``test_e2e_crawl_archives.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_fixtures import SHARED_FIXTURES
from warcio.archiveiterator import ArchiveIterator

from webfaq_stream.adapters.crawl_files import FileStats, read_messages
from webfaq_stream.decode.records import NOT_HTTP, decode_record
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.domain.reasons import PAGE_DROP_REASONS

CRAWLS = SHARED_FIXTURES / "crawls"
FILES = sorted(path for path in CRAWLS.iterdir() if ".warc" in path.name)


def responses(path: Path) -> list[tuple[str, str]]:
    """(target URI, WARC-Date) of every response record, as warcio reads the file."""
    with path.open("rb") as stream:
        return [(record.rec_headers.get_header("WARC-Target-URI") or "",
                 record.rec_headers.get_header("WARC-Date") or "")
                for record in ArchiveIterator(stream, check_digests=False) if record.rec_type == "response"]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(LanguageTagger())


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_every_response_record_is_published_and_ends_named(path: Path, pipeline: Pipeline) -> None:
    expected = responses(path)
    stats = FileStats()
    messages = list(read_messages([path], stats, compress=False))
    assert stats.framing_errors == []
    assert stats.warc_records == len(messages) == len(expected)

    result = pipeline.run(RawMessage(m.value, m.key, tuple(m.headers)) for m in messages)
    page_drops = sum(count for reason, count in result.drops.items() if reason in PAGE_DROP_REASONS)
    assert result.records == len(expected)
    assert result.pages_with_faq + page_drops + len(result.dead_letters) == len(expected)
    assert result.dead_letter_reasons() == {}  # these real records are all decodable
    not_http = [uri for uri, _ in expected if not uri.strip("<>").lower().startswith(("http:", "https:"))]
    assert result.drops[NOT_HTTP] == len(not_http)


def test_clueweb_dates_fall_back_to_the_http_date_and_say_so() -> None:
    path = CRAWLS / "resiliparse__clueweb-quirk.warc.gz"
    assert all(date.startswith("2008-10-294") for _, date in responses(path))  # impossible dates
    records = [decode_record(m.value, m.headers) for m in read_messages([path], compress=False)]
    assert records and {record.warc_date_fallback for record in records} == {"http-date"}
    assert {record.warc_date[:7] for record in records} == {"2009-01"}  # "Date: Wed, 28 Jan 2009 ..."
