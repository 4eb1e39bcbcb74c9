"""Pathological pages come back as a dropped page with a named reason, within the time budget."""

from __future__ import annotations

import os
import threading
import time

import pytest

from webfaq_stream.domain.model import PageDropped
from webfaq_stream.extract.microdata import MAX_PROPERTIES
from webfaq_stream.extract.page import MAX_DEPTH, MAX_TREE_WORK, extract_faq
from webfaq_stream.extract.scan import open_element_bounds

BUDGET_S = 2.0
URL = "https://example.com/faq"
QUESTION = (b'<div itemscope itemprop="mainEntity" itemtype="https://schema.org/Question">'
            b'<h3 itemprop="name">How deep can this page go?</h3>'
            b'<div itemscope itemprop="acceptedAnswer" itemtype="https://schema.org/Answer">'
            b'<p itemprop="text">Deeper than any parser should be asked to follow.</p></div></div>')


def _dropped(page: bytes, **limits: float) -> tuple[PageDropped, float]:
    started = time.monotonic()
    with pytest.raises(PageDropped) as caught:
        extract_faq(page, URL, time_budget_s=BUDGET_S, **limits)
    return caught.value, time.monotonic() - started


def test_fifty_megabyte_page_is_dropped_as_too_large() -> None:
    page = b'<html><body><script type="application/ld+json">{"@type":"FAQPage"}</script>'
    page += b"<p>filler</p>" * (50 * 1024 * 1024 // 13)
    error, elapsed = _dropped(page)
    assert error.reason == "too_large"
    assert elapsed < BUDGET_S


def test_binary_garbage_is_dropped_as_not_html() -> None:
    page = os.urandom(1024 * 1024) + b"FAQPage"
    error, elapsed = _dropped(page)
    assert error.reason == "not_html"
    assert elapsed < BUDGET_S


def test_hundred_thousand_nested_elements_are_dropped_as_too_deep() -> None:
    depth = 100_000
    page = (b'<html><body><div itemscope itemtype="https://schema.org/FAQPage">' + QUESTION
            + b"<div>" * depth + b"x" + b"</div>" * depth + b"</div></body></html>")
    error, elapsed = _dropped(page)
    assert error.reason == "too_deep"
    assert elapsed < BUDGET_S


def test_deeply_nested_json_ld_is_dropped_as_too_deep() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    page = b'<script type="application/ld+json">{"@type":"FAQPage","x":' + nested + b"}</script>"
    error, elapsed = _dropped(page)
    assert error.reason == "too_deep"
    assert elapsed < BUDGET_S


def test_huge_microdata_subtree_is_dropped_as_too_complex() -> None:
    questions = MAX_PROPERTIES // QUESTION.count(b"itemprop=") + 1
    page = (b'<html><body><div itemscope itemtype="https://schema.org/FAQPage">' + QUESTION * questions
            + b"</div></body></html>")
    error, elapsed = _dropped(page)
    assert error.reason == "too_complex"
    assert elapsed < BUDGET_S


def test_exhausted_budget_drops_the_page_as_too_slow_from_a_worker_thread() -> None:
    page = (b'<html><body><div itemscope itemtype="https://schema.org/FAQPage">' + QUESTION
            + b"</div></body></html>")
    outcome: list[BaseException] = []

    def work() -> None:
        try:
            extract_faq(page, URL, time_budget_s=0.0)
        except PageDropped as exc:
            outcome.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=BUDGET_S)
    assert [getattr(exc, "reason", None) for exc in outcome] == ["too_slow"]


def test_max_bytes_setting_is_honoured() -> None:
    page = b'<script type="application/ld+json">{"@type":"FAQPage"}</script>' + b" " * 2000
    with pytest.raises(PageDropped) as caught:
        extract_faq(page, URL, max_bytes=1000)
    assert caught.value.reason == "too_large"
    assert extract_faq(page, URL, max_bytes=10_000).pairs == ()


def test_page_without_marker_is_empty_even_when_huge_in_nesting() -> None:
    page = b"<div>" * 100_000 + b"no faq here" + b"</div>" * 100_000
    assert extract_faq(page, URL).pairs == ()


def test_deep_nesting_hidden_by_stray_end_tags_is_still_too_deep() -> None:
    # a stray </span> closes nothing in a browser: the divs stay open
    page = (b'<html><body><div itemscope itemtype="https://schema.org/FAQPage">' + QUESTION
            + b"<div></span>" * 50_000 + b"</div></body></html>")
    error, elapsed = _dropped(page)
    assert error.reason == "too_deep"
    assert elapsed < BUDGET_S


@pytest.mark.parametrize("shape", [b"<select>" + b"<option>choice" * 100_000 + b"</select>",
                                   b"<ul>" + b"<li>item" * 100_000 + b"</ul>",
                                   b"<table>" + b"<tr><td>cell" * 50_000 + b"</table>",
                                   b"<p>" + b"<b>bold</b><i>it</i>" * 100_000])
def test_big_flat_pages_are_parsed_within_the_budget(shape: bytes) -> None:
    page = (b'<html><body><div itemscope itemtype="https://schema.org/FAQPage">' + QUESTION
            + b"</div>" + shape + b"</body></html>")
    started = time.monotonic()
    assert len(extract_faq(page, URL, time_budget_s=BUDGET_S).pairs) == 1
    assert time.monotonic() - started < BUDGET_S


def test_no_fixture_page_comes_near_the_parse_bounds(fixture_pages) -> None:
    for path in sorted(fixture_pages.glob("*.html")):
        bounds = open_element_bounds(path.read_bytes())
        assert bounds.depth < MAX_DEPTH // 10 and bounds.work < MAX_TREE_WORK // 10, path.name
