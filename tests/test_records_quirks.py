"""Quirks of real WARC records cost a field, not the page (decode_record).

Records are real fixture pages written with warcio and then edited the way real crawlers get them
wrong, plus the real records of ``shared/fixtures/crawls`` that carry such quirks.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.adapters.crawl_files import Page, read_messages, warc_response_bytes
from webfaq_stream.decode.records import DATE_FROM_DECODE_TIME, DATE_FROM_HTTP, NOT_HTTP, decode_record
from webfaq_stream.domain.model import PageDropped
from webfaq_stream.extract.page import extract_faq

CRAWLS = SHARED_FIXTURES / "crawls"
URL = "https://www.example.org/hilfe/faq"
DATE = b"WARC-Date: 2026-03-04T05:06:07Z"


@pytest.fixture(scope="module")
def record(fixture_pages: Path) -> bytes:
    html = (fixture_pages / "indoorskydive.lu__faq_de.html").read_bytes()
    return warc_response_bytes(Page(URL, html, "2026-03-04T05:06:07Z"), compress=False)


def with_http_date(value: bytes, date: bytes) -> bytes:
    return value.replace(b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nDate: " + date + b"\r\n", 1)


@pytest.mark.parametrize("bad", [b"WARC-Date: 2009-03-67T01:02:03-0700", b"WARC-Date: 2008-10-294T05:21:46-0700",
                                 b"WARC-Date: yesterday", b"WARC-Date:"])
def test_an_impossible_warc_date_falls_back_to_the_http_date(record: bytes, bad: bytes) -> None:
    value = with_http_date(record.replace(DATE, bad, 1), b"Wed, 28 Jan 2009 17:05:56 GMT")
    decoded = decode_record(value)
    assert (decoded.warc_date, decoded.warc_date_fallback) == ("2009-01-28T17:05:56Z", DATE_FROM_HTTP)
    assert extract_faq(decoded.html, decoded.url).pairs  # the page is not lost


def test_without_any_date_the_decode_time_is_used_and_flagged(record: bytes) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    decoded = decode_record(with_http_date(record.replace(DATE, b"WARC-Date: 2009-13-45", 1), b"not a date"))
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert decoded.warc_date_fallback == DATE_FROM_DECODE_TIME
    assert before <= datetime.fromisoformat(decoded.warc_date) <= after


def test_a_readable_warc_date_is_not_flagged(record: bytes) -> None:
    decoded = decode_record(with_http_date(record, b"Wed, 28 Jan 2009 17:05:56 GMT"))
    assert (decoded.warc_date, decoded.warc_date_fallback) == ("2026-03-04T05:06:07Z", None)


@pytest.mark.parametrize("target", ["dns:www.example.org", "file:///screenshot.png", "ftp://example.org/faq",
                                    "whois://example.org", "javascript:alert(1)"])
def test_a_non_http_target_is_a_counted_drop_not_a_dead_letter(record: bytes, target: str) -> None:
    value = record.replace(f"WARC-Target-URI: {URL}".encode(), f"WARC-Target-URI: {target}".encode(), 1)
    with pytest.raises(PageDropped) as caught:
        decode_record(value)
    assert caught.value.reason == NOT_HTTP


def test_a_target_in_angle_brackets_is_read_without_them(record: bytes) -> None:
    value = record.replace(f"WARC-Target-URI: {URL}".encode(), f"WARC-Target-URI: <{URL}>".encode(), 1)
    assert decode_record(value).url == URL


def test_real_dns_records_are_not_http() -> None:
    messages = list(read_messages([CRAWLS / "aut__example.warc.gz"], compress=False))
    dns = [m for m in messages if re.search(rb"WARC-Target-URI: dns:", m.value[:2000])]
    assert dns
    for message in dns:
        with pytest.raises(PageDropped) as caught:
            decode_record(message.value, message.headers)
        assert caught.value.reason == NOT_HTTP


def test_a_brotli_payload_is_decoded_whatever_brotli_version_warcio_meets() -> None:
    messages = list(read_messages([CRAWLS / "replaywebpage__netpreserve-twitter.warc"], compress=False))
    brotli = [m for m in messages if re.search(rb"(?i)\r\ncontent-encoding: br\r\n", m.value[:20000])]
    assert brotli
    for message in brotli:
        decoded = decode_record(message.value, message.headers)
        assert decoded.html[:200].isascii()  # text, not brotli bytes
