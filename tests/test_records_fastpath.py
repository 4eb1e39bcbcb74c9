"""The fast WARC path (:func:`decode_plain_warc`) gives exactly what warcio gives, or steps aside."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webfaq_stream.adapters.crawl_files import Page, warc_response_bytes
from webfaq_stream.decode.records import decode_plain_warc, decode_record, decode_warc_with_warcio
from webfaq_stream.domain.model import PageDropped
from webfaq_stream.errors import RecordError

MAX_BYTES = 1 << 20


def outcome(decode: object, value: bytes) -> tuple[str, object]:
    """``("ok", record)`` or ``(error type, reason)``; a date that fell back to the decode time (which
    differs between two calls) is compared by its fallback alone."""
    try:
        record = decode(value, MAX_BYTES)  # type: ignore[operator]
    except (RecordError, PageDropped) as exc:
        return type(exc).__name__, exc.reason
    if record.warc_date_fallback == "decode-time":
        record = dataclasses.replace(record, warc_date="(decode time)")
    return "ok", record


def via_decode_record(value: bytes, max_bytes: int) -> object:
    return decode_record(value, max_bytes=max_bytes)


@pytest.fixture(scope="module")
def records(fixture_pages: Path) -> list[bytes]:
    pages = sorted(fixture_pages.glob("*.html"))[:6]
    out = []
    for index, path in enumerate(pages):
        content_type = ["text/html; charset=ISO-8859-1", "text/html", "application/xhtml+xml"][index % 3]
        out.append(warc_response_bytes(Page(f"https://Example.org:8443/{path.stem}?q=1", path.read_bytes(),
                                            "2026-03-04T05:06:07+02:00", content_type), compress=False))
    return out


def test_fast_path_takes_common_records_and_agrees_with_warcio(records: list[bytes]) -> None:
    for value in records:
        fast = decode_plain_warc(value, MAX_BYTES)
        assert fast is not None
        assert fast == decode_warc_with_warcio(value, MAX_BYTES)
        assert fast.warc_date == "2026-03-04T03:06:07Z"


@pytest.mark.parametrize(("edit", "expected"), [
    ((b"200 OK", b"404 Not Found"), ("PageDropped", "http_status")),
    ((b"WARC-Type: response", b"WARC-Type: request"), ("RecordError", "not_response")),
    ((b"https://Example.org", b"ftp://Example.org"), ("PageDropped", "not_http")),
    ((b"Content-Type: text/html", b"Transfer-Encoding: chunked\r\nContent-Type: text/html"), None),
])
def test_records_the_fast_path_leaves_to_warcio(records: list[bytes], edit: tuple[bytes, bytes],
                                                expected: tuple[str, str] | None) -> None:
    value = records[1].replace(*edit, 1)
    assert decode_plain_warc(value, MAX_BYTES) is None
    result = outcome(via_decode_record, value)
    assert result == outcome(decode_warc_with_warcio, value)
    if expected is not None:
        assert result == expected


def test_truncated_and_oversized_records_keep_warcio_reasons(records: list[bytes]) -> None:
    value = records[0]
    assert outcome(via_decode_record, value[:len(value) // 2]) == ("RecordError", "invalid_warc")
    assert decode_plain_warc(value, 1000) is None
    assert outcome(lambda v, _: decode_record(v, max_bytes=len(value) - 1000), value) == \
        ("RecordError", "too_large")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_edit_of_a_record_decodes_as_warcio_does(records: list[bytes], data: st.DataObject) -> None:
    """Byte edits anywhere in the headers (and a little past them): same record or same error."""
    value = bytearray(data.draw(st.sampled_from(records)))
    header_end = value.find(b"<") + 40
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, header_end))
        action = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        chunk = data.draw(st.sampled_from([b"\r\n", b"\n", b":", b" ", b"<", b"2", b"x", b"\xff", b"\r\n\r\n",
                                           b"Content-Encoding: gzip\r\n", b"HTTP/1.1 ", b"WARC/1.0"]))
        if action == "replace":
            value[at:at + len(chunk)] = chunk
        elif action == "insert":
            value[at:at] = chunk
        else:
            del value[at:at + len(chunk)]
    edited = bytes(value)
    assert outcome(via_decode_record, edited)[0] in ("ok", "RecordError", "PageDropped")
    if edited.startswith((b"WARC/", b"\x1f\x8b")):
        assert outcome(lambda v, m: decode_plain_warc(v, m) or decode_warc_with_warcio(v, m), edited) == \
            outcome(decode_warc_with_warcio, edited)
