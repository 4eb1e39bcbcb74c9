"""Damaged real pages never crash extraction: a result or a named drop, never another exception.

The byte-level scanning (``extract_scan``) and the FAQPage-only DOM parse work with offsets into the
page, so truncations, spliced fragments and odd letter case are the inputs most likely to break them.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.domain.model import PageDropped, PageFAQ
from webfaq_stream.extract import scan
from webfaq_stream.extract.page import extract_faq
from webfaq_stream.extract.scan import has_marker as has_faq_marker

FIXTURES = SHARED_FIXTURES / "faq-pages"
# one page per syntax: JSON-LD with @graph, microdata, RDFa Lite, JSON-LD with broken blocks
PAGES = [(FIXTURES / f"{stem}.html").read_bytes() for stem in (
    "madsvin.com__pandekager", "damcogroup.com__data-analytics-services", "darkmode.maju.systems__faq",
    "freightwaves.com__movers-new-york")]
URL = "https://example.com/faq"
FRAGMENTS = [b"<script", b"</script>", b'<script type="application/ld+json">', b"<!--", b"-->", b"<",
             b">", b'"', b"itemscope", b' itemtype="https://schema.org/FAQPage"', b'typeof="FAQPage"',
             b"FAQPAGE", b"\x00", b"\xff\xfe", b"{", b"}", b"]", b"<![CDATA[", b"</div>", b"<body"]


def _extract(page: bytes) -> PageFAQ | None:
    try:
        return extract_faq(page, URL, time_budget_s=5.0)
    except PageDropped:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(PAGES) - 1), st.data())
def test_cut_and_spliced_pages_give_a_result_or_a_named_drop(index: int, data: st.DataObject) -> None:
    page = PAGES[index]
    start = data.draw(st.integers(0, len(page)), label="start")
    end = data.draw(st.integers(start, len(page)), label="end")
    insert_at = data.draw(st.integers(0, end - start), label="insert_at")
    fragment = data.draw(st.sampled_from(FRAGMENTS), label="fragment")
    piece = page[start:end]
    damaged = piece[:insert_at] + fragment + piece[insert_at:]
    result = _extract(damaged)
    assert result is None or all(isinstance(pair.question, str) and isinstance(pair.answer, str)
                                 for pair in result.pairs)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([b"faqpage", b"FAQPage", b"fAqPaGe", b"faqpag", b"aqpage"]),
       st.binary(max_size=64))
def test_prefilter_agrees_with_a_case_insensitive_search(before: bytes, word: bytes, after: bytes) -> None:
    page = before + word + after
    assert has_faq_marker(page) == (b"faqpage" in page.lower())


def _boundaries() -> list[int]:
    """Offsets where the prefilter's search changes method or chunk: the end of a small page searched
    whole, the end of a big page's head, the ends of its first two chunks."""
    small, head, chunk = scan._SMALL_PAGE_BYTES, scan._HEAD_BYTES, scan._CHUNK_BYTES
    return [small, head, head + chunk, head + 2 * chunk]


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(_boundaries()), st.integers(-9, 9), st.sampled_from([b"faqpage", b"FAQPage", b"faqpag"]),
       st.integers(0, 9), st.booleans())
def test_prefilter_finds_the_word_across_its_chunk_boundaries(boundary: int, shift: int, word: bytes,
                                                              tail: int, big: bool) -> None:
    at = boundary + shift
    page = b"x" * at + word + b"y" * tail + (b"z" * scan._SMALL_PAGE_BYTES if big else b"")
    assert has_faq_marker(page) == (word.lower() == b"faqpage")
    # a page that ends inside the word
    assert not has_faq_marker(page[:at + len(word) - 1])
