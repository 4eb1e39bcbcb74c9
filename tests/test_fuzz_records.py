"""Property-based fuzzing (hypothesis) of record decoding and extraction.

Properties, for any bytes and headers (random, or valid WARC / gzip WARC / JSON envelope / FAQ
pages mutated by flips, cuts, splices and insertions):
- ``decode_record`` returns a record with an http(s) URL or raises ``RecordError`` /
  ``PageDropped``, nothing else;
- ``Pipeline.run`` never raises and gives each message exactly one outcome (a dead letter, a
  counted drop, or a page with pairs), every kept pair cleaned (question >= 10, answer >= 30 chars);
- ``extract_faq`` on mutated FAQ markup returns string pairs or raises ``PageDropped``.

CI runs ``WEBFAQ_FUZZ_EXAMPLES`` cases per property (default 300); ``make test-long`` runs the
``slow`` variant with 20 times as many (or ``WEBFAQ_FUZZ_EXAMPLES`` x 20).
"""

from __future__ import annotations

import json
import os

import pytest
from bad_inputs.corpus import DATE, URL, envelope, faq_jsonld, page_html, warc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webfaq_stream.decode.records import decode_record
from webfaq_stream.domain.langid import LanguageTagger
from webfaq_stream.domain.model import PageDropped
from webfaq_stream.domain.pipeline import Pipeline, RawMessage
from webfaq_stream.errors import RecordError
from webfaq_stream.extract.page import extract_faq

EXAMPLES = int(os.environ.get("WEBFAQ_FUZZ_EXAMPLES", "300"))
LONG_EXAMPLES = EXAMPLES * 20
PIPELINE = Pipeline(LanguageTagger(), max_record_bytes=256 * 1024, page_time_budget_s=2.0)

MICRODATA = (b'<html><body itemscope itemtype="https://schema.org/FAQPage"><div itemscope itemprop="mainEntity" '
             b'itemtype="https://schema.org/Question"><h3 itemprop="name">How long is the warranty on bikes</h3>'
             b'<div itemscope itemprop="acceptedAnswer" itemtype="https://schema.org/Answer"><div itemprop="text">'
             b"Every bike has a two year warranty on the frame and parts.</div></div></div></body></html>")
RDFA = (b'<html><body vocab="https://schema.org/" typeof="FAQPage"><div property="mainEntity" typeof="Question">'
        b'<h3 property="name">Can I cancel my booking for free</h3><div property="acceptedAnswer" typeof="Answer">'
        b'<p property="text">You can cancel for free up to two days before the rental starts.</p></div></div>'
        b"</body></html>")
JSONLD_PAGE = page_html(f'<script type="application/ld+json">{faq_jsonld(3)}</script>')
PAGES = [JSONLD_PAGE, MICRODATA, RDFA]
SEEDS: list[tuple[bytes, list[tuple[str, bytes]]]] = [
    warc(JSONLD_PAGE), warc(MICRODATA, compress=False), warc(RDFA, compress=False),  # type: ignore[list-item]
    envelope({"url": URL, "warc_date": DATE, "html": JSONLD_PAGE.decode()}),  # type: ignore[list-item]
    envelope({"url": URL, "warc_date": DATE, "faq": [{"question": "What is the fuzzing about here",
                                                     "answer": "It feeds broken records to the decoder."}],
              "json_ld": [faq_jsonld(1)]}),  # type: ignore[list-item]
]
HEADER_VALUES = [b"application/warc", b"application/json", b"text/html", b"", b"application/warc+gzip",
                 b"\xff\xfe", b"application/json; charset=latin-1"]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with 1-6 mutations: bit flips, cuts, insertions of random or structural bytes, splices."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "splice", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.one_of(
                st.binary(max_size=32),
                st.sampled_from([b"\r\n\r\n", b"<", b"{", b"[", b"\x1f\x8b", b"\"", b"&lol;", b"<!--", b"]]>",
                                 b"WARC/1.1\r\n", b"Content-Length: 99999999\r\n", b"\xed\xa0\x80", b"\x00"])))
        elif kind == "splice":
            other = draw(st.sampled_from(seeds))
            start = draw(st.integers(0, len(other)))
            data[at:at] = other[start:start + draw(st.integers(1, 256))]
        else:
            del data[at:]
    return bytes(data)


def headers_strategy() -> st.SearchStrategy[tuple[tuple[str, bytes], ...]]:
    content_type = st.one_of(st.sampled_from(HEADER_VALUES), st.binary(max_size=16))
    return st.lists(st.tuples(st.sampled_from(["content-type", "Content-Type", "x-other"]), content_type),
                    max_size=2).map(tuple)


RECORD_BYTES = st.one_of(st.binary(max_size=512), mutated([seed for seed, _ in SEEDS]))


def check_decode(value: bytes, headers: tuple[tuple[str, bytes], ...]) -> None:
    try:
        record = decode_record(value, headers, max_bytes=256 * 1024)
    except (RecordError, PageDropped) as exc:
        assert exc.reason and exc.reason.isidentifier()
        return
    assert record.url.lower().startswith(("http://", "https://"))
    assert record.origin.startswith(("http://", "https://")) and record.warc_date.endswith("Z")


def check_pipeline(values: list[bytes], headers: tuple[tuple[str, bytes], ...]) -> None:
    messages = [RawMessage(value, None, headers) for value in values]
    result = PIPELINE.run(messages)
    assert result.records == len(values)
    assert len(result.dead_letters) + result.pages_with_faq <= len(values)
    assert all(letter.reason != "internal_error" for letter in result.dead_letters), result.dead_letters
    for pair in result.pairs:
        assert len(pair.question) >= 10 and len(pair.answer) >= 30 and "?" not in pair.answer


def check_extract(html: bytes) -> None:
    try:
        page = extract_faq(html, URL, charset="utf-8", max_bytes=256 * 1024, time_budget_s=2.0)
    except PageDropped as exc:
        assert exc.reason.isidentifier()
        return
    assert all(isinstance(pair.question, str) and isinstance(pair.answer, str) for pair in page.pairs)


FAST = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(FAST, max_examples=LONG_EXAMPLES)


@FAST
@given(value=RECORD_BYTES, headers=headers_strategy())
def test_fuzz_decode_record(value: bytes, headers: tuple[tuple[str, bytes], ...]) -> None:
    check_decode(value, headers)


@FAST
@given(values=st.lists(RECORD_BYTES, min_size=1, max_size=4), headers=headers_strategy())
def test_fuzz_pipeline_gives_every_message_one_outcome(values: list[bytes],
                                                       headers: tuple[tuple[str, bytes], ...]) -> None:
    check_pipeline(values, headers)


@FAST
@given(html=mutated(PAGES))
def test_fuzz_extract_faq(html: bytes) -> None:
    check_extract(html)


@FAST
@given(document=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["url", "warc_date", "html", "faq", "json_ld", "title", "question", "answer",
                         "@type", "mainEntity", "acceptedAnswer", "name", "text"]), children, max_size=5),
    max_leaves=25))
def test_fuzz_json_envelopes(document: object) -> None:
    value = json.dumps(document).encode()
    check_decode(value, (("content-type", b"application/json"),))
    check_pipeline([value], (("content-type", b"application/json"),))


@pytest.mark.slow
@LONG
@given(value=RECORD_BYTES, headers=headers_strategy())
def test_fuzz_decode_record_long(value: bytes, headers: tuple[tuple[str, bytes], ...]) -> None:
    check_decode(value, headers)


@pytest.mark.slow
@LONG
@given(values=st.lists(RECORD_BYTES, min_size=1, max_size=4), headers=headers_strategy())
def test_fuzz_pipeline_long(values: list[bytes], headers: tuple[tuple[str, bytes], ...]) -> None:
    check_pipeline(values, headers)


@pytest.mark.slow
@LONG
@given(html=mutated(PAGES))
def test_fuzz_extract_faq_long(html: bytes) -> None:
    check_extract(html)
