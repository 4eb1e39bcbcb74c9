"""What the HTML5 tree decides, on real fixture pages reshaped at test time.

- JSON-LD standing right after a comment that mentions FAQPage, on a long page with many comments and
  scripts (wikihow.com, 900 KB, its own JSON-LD removed, mailchimp.com's FAQ pairs as the block):
  however the comment is written and closed (``--!>`` and ``<!-->`` close comments in HTML5), the
  block is read;
- RDFa whose FAQPage stands on ``<html>``, on a page with broken nesting (darkmode.maju.systems's
  RDFa Lite FAQ: unclosed ``<div>``s before each question, stray ``</a>``s closing ``<p>``s): every
  question is read;
- markup that a browser does not see as markup (inside a comment, a script's text, a ``<textarea>``,
  a ``<template>``) is not read; the JSON-LD ``type`` is matched in any case with parameters.
"""

from __future__ import annotations

import json
import re

import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.extract.page import extract_faq
from webfaq_stream.extract.text import fold_whitespace

FIXTURES = SHARED_FIXTURES / "faq-pages"
URL = "https://example.com/faq"


def expected(stem: str) -> list[tuple[str, str]]:
    items = json.loads((FIXTURES / "expected" / f"{stem}.json").read_text(encoding="utf-8"))
    return [(fold_whitespace(item["question"]), fold_whitespace(item["answer"])) for item in items]


def pairs(page: str | bytes) -> list[tuple[str, str]]:
    return [(fold_whitespace(p.question), fold_whitespace(p.answer)) for p in extract_faq(page, URL).pairs]


def faq_block(stem: str, script_type: str = "application/ld+json") -> str:
    data = {"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": question, "acceptedAnswer": {"@type": "Answer", "text": answer}}
        for question, answer in expected(stem)]}
    return f'<script type="{script_type}">{json.dumps(data, ensure_ascii=False)}</script>'


@pytest.fixture(scope="module")
def long_page() -> str:
    page = (FIXTURES / "wikihow.com__get-a-flatter-stomach.html").read_text(encoding="utf-8")
    page = re.sub(r"(?is)<script[^>]*ld\+json[^>]*>.*?</script>", "", page)
    assert page.count("<!--") > 5 and page.count("<script") > 20 and pairs(page) == []
    return page


COMMENTS = {
    "plain": "<!-- FAQPage schema (SEO plugin) -->",
    "closed_by_bang": "<!-- FAQPage markup below --!>",
    "abrupt_empty_comment": "<!--> FAQPage -->",
    "dashes_before_close": "<!-- FAQPage ---->",
    "conditional_comment": "<!--[if lt IE 9]><script src='html5shiv.js'></script><![endif]--><!-- FAQPage -->",
    "comment_opener_in_a_script_string": "<script>var opener = '<!--'; var kind = 'FAQPage';</script>",
}


@pytest.mark.parametrize("comment", COMMENTS.values(), ids=COMMENTS.keys())
def test_json_ld_after_a_comment_mentioning_faqpage_is_read(long_page: str, comment: str) -> None:
    page = long_page.replace("</body>", f"{comment}\n{faq_block('mailchimp.com__features-email')}\n</body>", 1)
    assert pairs(page) == expected("mailchimp.com__features-email")


def test_json_ld_type_in_any_case_with_parameters(long_page: str) -> None:
    block = faq_block("mailchimp.com__features-email", "Application/LD+JSON; charset=utf-8")
    assert pairs(long_page.replace("</body>", block + "</body>", 1)) == expected("mailchimp.com__features-email")


@pytest.mark.parametrize("wrapper", [
    "<!-- {block} -->",
    "<script>var template = '{block}';</script>",
    "<textarea>{block}</textarea>",
    "<template>{block}</template>",
    "<noembed>{block}</noembed>",
])
def test_markup_a_browser_does_not_see_as_markup_is_not_read(long_page: str, wrapper: str) -> None:
    block = faq_block("mailchimp.com__features-email").replace("'", "&#39;")
    assert pairs(long_page.replace("</body>", wrapper.format(block=block) + "</body>", 1)) == []


@pytest.fixture(scope="module")
def rdfa_on_html() -> str:
    page = (FIXTURES / "darkmode.maju.systems__faq.html").read_text(encoding="utf-8")
    body = '<body vocab="http://schema.org/" typeof="FAQPage">'
    assert body in page
    page = page.replace(body, "<body>").replace(
        '<html lang="en">', '<html lang="en" vocab="http://schema.org/" typeof="FAQPage">', 1)
    return page


def test_rdfa_faq_page_on_the_html_element(rdfa_on_html: str) -> None:
    assert pairs(rdfa_on_html) == expected("darkmode.maju.systems__faq")


def test_rdfa_on_html_with_broken_nesting(rdfa_on_html: str) -> None:
    broken = rdfa_on_html.replace("<summary>", '<div class="q"><summary>')  # never closed
    broken = broken.replace("</p>", "</a></p>", 5)  # stray end tags
    broken = broken.replace("<p>The more visibility", "<p><a href='#'>The more visibility", 1)  # closed by </p>
    assert broken.count('<div class="q">') == len(expected("darkmode.maju.systems__faq"))
    assert pairs(broken) == expected("darkmode.maju.systems__faq")


def test_microdata_faq_page_on_the_html_element_with_broken_nesting() -> None:
    page = (FIXTURES / "waveapps.com__accounting.html").read_text(encoding="utf-8")
    declaration = re.search(r'\sitemscope(?:="[^"]*")?\s+itemtype="https?://schema\.org/FAQPage"', page)
    assert declaration, "the fixture's FAQPage element"
    moved = page.replace(declaration.group(0), "", 1)
    moved = re.sub(r"<html\b", '<html itemscope itemtype="https://schema.org/FAQPage"', moved, count=1)
    moved = moved.replace("</h3>", "</h3><div>", 3).replace("</p>", "</span></p>", 5)
    assert pairs(moved) == expected("waveapps.com__accounting")
