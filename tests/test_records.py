"""Decoding raw topic messages (WARC records, JSON envelopes, garbage) into CrawlRecords."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.decode.records import decode_record, iso_utc
from webfaq_stream.domain.model import PageDropped
from webfaq_stream.errors import RecordError

PAGE = "mailchimp.com__features-email.html"
URL = "https://Mailchimp.com:443/features/email/"


@pytest.fixture(scope="module")
def html(fixture_pages: Path) -> bytes:
    return (fixture_pages / PAGE).read_bytes()


@pytest.mark.parametrize("compress", [True, False])
def test_warc_record_round_trip(html: bytes, compress: bool) -> None:
    value = warc_response_bytes(Page(URL, html, "2026-03-04T05:06:07Z",
                                     "text/html; charset=ISO-8859-1"), compress)
    record = decode_record(value, [("content-type", b"application/warc")])
    assert record.url == URL
    assert record.origin == "https://mailchimp.com"
    assert record.warc_date == "2026-03-04T05:06:07Z"
    assert record.charset == "iso-8859-1"
    assert record.html == html
    assert decode_record(value).html == html  # sniffed without the header


def test_envelope_with_optional_fields() -> None:
    envelope = {"url": "https://example.org/de/faq", "warc_date": "2026-01-02T03:04:05+01:00",
                "html": "<html></html>", "title": "T", "description": "D", "language": "deu",
                "json_ld": [{"@type": "FAQPage"}], "faq": [{"question": "Q?", "answer": "A."}]}
    record = decode_record(json.dumps(envelope).encode(), [("content-type", b"application/json")])
    assert record.origin == "https://example.org"
    assert record.warc_date == "2026-01-02T02:04:05Z"
    assert (record.title, record.description, record.language) == ("T", "D", "deu")
    assert record.json_ld == ('{"@type": "FAQPage"}',)
    assert record.faq == (("Q?", "A."),)


@pytest.mark.parametrize("value, reason", [
    (b"", "empty"),
    (b"\x00\x01\x02 random", "unknown_format"),
    (b"<html><body>no url</body></html>", "missing_url"),
    (b"{not json", "invalid_json"),
    (b"[1, 2]", "unknown_format"),
    (b'{"url": "ftp://x.org/a", "warc_date": "2026-01-01", "html": "x"}', "invalid_url"),
    (b'{"warc_date": "2026-01-01", "html": "x"}', "missing_url"),
    (b'{"url": "https://x.org/", "warc_date": "yesterday", "html": "x"}', "invalid_date"),
    (b'{"url": "https://x.org/", "warc_date": "2026-01-01"}', "invalid_envelope"),
    (b'{"url": "https://x.org/", "warc_date": "2026-01-01", "faq": [{"question": 1}]}', "invalid_envelope"),
    (b"WARC/1.0\r\nWARC-Type: request\r\nContent-Length: 0\r\n\r\n\r\n\r\n", "not_response"),
    (b"WARC/1.0\r\nfoo\r\n\r\n", "invalid_warc"),
])
def test_bad_messages_have_named_reasons(value: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as caught:
        decode_record(value)
    assert caught.value.reason == reason


def test_truncated_records_are_rejected(html: bytes) -> None:
    zipped = warc_response_bytes(Page(URL, html), compress=True)
    plain = warc_response_bytes(Page(URL, html), compress=False)
    for value in (zipped[: len(zipped) // 2], plain[:-100]):
        with pytest.raises(RecordError) as caught:
            decode_record(value)
        assert caught.value.reason == "invalid_warc"


def test_size_limit_and_gzip_bomb() -> None:
    big = warc_response_bytes(Page(URL, b"<p>" + b"x" * 100_000 + b"</p>"), compress=True)
    assert len(big) < 10_000  # compresses well
    with pytest.raises(RecordError) as caught:
        decode_record(big, max_bytes=50_000)
    assert caught.value.reason == "too_large"


def test_non_2xx_response_is_a_dropped_page() -> None:
    value = warc_response_bytes(Page(URL, b"gone", status="404 Not Found"))
    with pytest.raises(PageDropped) as caught:
        decode_record(value)
    assert caught.value.reason == "http_status"


def test_iso_utc_normalises() -> None:
    assert iso_utc("2026-01-02T03:04:05.123Z") == "2026-01-02T03:04:05Z"
    assert iso_utc("2026-01-02") == "2026-01-02T00:00:00Z"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.binary(max_size=200).map(lambda b: gzip.compress(b"WARC/1.1\r\n" + b))
       | st.binary(max_size=200).map(lambda b: b"{" + b))
def test_any_bytes_decode_or_raise_a_named_error(value: bytes) -> None:
    try:
        record = decode_record(value)
    except (RecordError, PageDropped) as exc:
        assert exc.reason
    else:
        assert record.url.startswith("http")


def test_random_bytes_never_crash() -> None:
    for _ in range(200):
        value = os.urandom(300)
        with pytest.raises(RecordError):
            decode_record(value)
