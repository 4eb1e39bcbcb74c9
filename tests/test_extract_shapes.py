"""Unit tests for each JSON-LD / microdata / RDFa shape that extraction must handle."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webfaq_stream.extract.graph import faq_pairs
from webfaq_stream.extract.jsonld import parse_jsonld
from webfaq_stream.extract.page import extract_faq
from webfaq_stream.extract.scan import has_marker as has_faq_marker
from webfaq_stream.extract.text import fold_whitespace, html_to_text

URL = "https://example.com/faq"
Q1, A1 = "What does the first question ask?", "The first answer says something long enough."
Q2, A2 = "What does the second question ask?", "The second answer says something else entirely."


def _page(*blocks: object, body: str = "") -> bytes:
    scripts = "".join(f'<script type="application/ld+json">{json.dumps(b)}</script>' for b in blocks)
    return (f"<html><head><title>T</title>{scripts}</head><body>{body}</body></html>").encode()


def _question(q: str, a: str, **extra: object) -> dict[str, object]:
    return {"@type": "Question", "name": q, "acceptedAnswer": {"@type": "Answer", "text": a}, **extra}


def _pairs(page: bytes | str) -> list[tuple[str, str]]:
    return [(p.question, p.answer) for p in extract_faq(page, URL).pairs]


def test_single_main_entity() -> None:
    assert _pairs(_page({"@context": "https://schema.org", "@type": "FAQPage",
                         "mainEntity": _question(Q1, A1)})) == [(Q1, A1)]


def test_nested_main_entity_lists_keep_document_order() -> None:
    page = _page({"@type": "FAQPage", "mainEntity": [[_question(Q1, A1)], [[_question(Q2, A2)]]]})
    assert _pairs(page) == [(Q1, A1), (Q2, A2)]


def test_graph_with_id_references_and_type_list() -> None:
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": ["WebPage", "FAQPage"], "@id": "#page", "mainEntity": [{"@id": "#q1"}, {"@id": "#q2"}]},
        {"@id": "#q2", **_question(Q2, A2)},
        {"@id": "#q1", "@type": "Question", "name": Q1, "acceptedAnswer": {"@id": "#a1"}},
        {"@id": "#a1", "@type": "Answer", "text": A1},
    ]}
    assert _pairs(_page(graph)) == [(Q1, A1), (Q2, A2)]


def test_references_across_blocks_and_top_level_array() -> None:
    page = _page([{"@type": "FAQPage", "mainEntity": {"@id": "#q"}}], {"@id": "#q", **_question(Q1, A1)})
    assert _pairs(page) == [(Q1, A1)]


def test_prefixed_and_http_type_names() -> None:
    page = _page({"@type": "http://schema.org/FAQPage", "http://schema.org/mainEntity": [
        {"@type": "schema:Question", "schema:name": Q1, "schema:acceptedAnswer": {"@type": "Answer", "text": A1}}]})
    assert _pairs(page) == [(Q1, A1)]


def test_questions_hanging_off_an_item_list() -> None:
    graph = {"@graph": [
        {"@type": ["WebPage", "FAQPage"], "@id": "https://example.com/faq#webpage"},
        {"@type": "ItemList", "mainEntityOfPage": {"@id": "https://example.com/faq#webpage"},
         "itemListElement": [{"@id": "#q1"}]},
        {"@id": "#q1", **_question(Q1, A1)},
    ]}
    assert _pairs(_page(graph)) == [(Q1, A1)]


@pytest.mark.parametrize("spell", [
    str.lower,  # acceptedanswer, mainentity
    lambda name: name[0].upper() + name[1:],  # AcceptedAnswer
    lambda name: "schema:" + name,
    lambda name: "https://schema.org/" + name,
])
def test_property_names_in_any_prefix_and_letter_case(spell: Callable[[str], str]) -> None:
    answer = {"@type": "Answer", spell("text"): A1}
    question = {"@type": "Question", spell("name"): Q1, spell("acceptedAnswer"): answer}
    assert _pairs(_page({"type": "FAQPage", spell("mainEntity"): [question]})) == [(Q1, A1)]


def test_the_first_spelling_of_a_property_wins() -> None:
    first_plain = {"@type": "Question", "name": Q1, "schema:name": Q2, "acceptedAnswer": {"text": A1}}
    first_prefixed = {"@type": "Question", "schema:name": Q2, "name": Q1, "acceptedAnswer": {"text": A1}}
    assert _pairs(_page({"@type": "FAQPage", "mainEntity": first_plain})) == [(Q1, A1)]
    assert _pairs(_page({"@type": "FAQPage", "mainEntity": first_prefixed})) == [(Q2, A1)]


def test_a_question_reachable_twice_gives_its_pair_once() -> None:
    graph = {"@graph": [
        {"@type": "FAQPage", "@id": "#a", "mainEntity": [{"@id": "#q"}, {"@id": "#q"}]},
        {"@type": "FAQPage", "@id": "#b", "mainEntity": {"@id": "#q"}},
        {"@id": "#q", **_question(Q1, A1)},
    ]}
    assert faq_pairs([graph]) == [(Q1, A1)]  # the walk itself, before extraction's dedup of texts
    assert _pairs(_page(graph)) == [(Q1, A1)]


def test_questions_not_reachable_from_a_faq_page_are_ignored() -> None:
    page = _page({"@type": "FAQPage", "name": "no questions"}, _question(Q1, A1))
    assert _pairs(page) == []
    assert _pairs(_page({"@type": "FAQPage", "mainEntity": []})) == []


def test_first_accepted_answer_wins_and_suggested_only_without_accepted() -> None:
    question = {"@type": "Question", "name": Q1,
                "acceptedAnswer": [{"@type": "Answer", "text": A1}, {"@type": "Answer", "text": A2}],
                "suggestedAnswer": {"@type": "Answer", "text": "Suggested answer is never used here."}}
    suggested = {"@type": "Question", "name": Q2, "suggestedAnswer": [{"@type": "Answer", "text": A2}]}
    assert _pairs(_page({"@type": "FAQPage", "mainEntity": [question, suggested]})) == [(Q1, A1), (Q2, A2)]


def test_raw_newlines_inside_json_strings_are_accepted() -> None:
    block = '{"@type": "FAQPage", "mainEntity": {"@type": "Question", "name": "Line one\nline two?",' \
            ' "acceptedAnswer": {"@type": "Answer", "text": "First line\nsecond line of the answer."}}}'
    page = f'<script type="application/ld+json">\n{block}\n</script>'.encode()
    assert _pairs(page) == [("Line one line two?", "First line second line of the answer.")]


def test_html_and_entity_escaped_html_in_text() -> None:
    question = _question("Is &lt;b&gt;bold&lt;/b&gt; &amp; escaped?",
                         "<p>First&nbsp;para</p><p>Second <strong>bo</strong>ld\u200b para.</p>")
    assert _pairs(_page({"@type": "FAQPage", "mainEntity": question})) == [
        ("Is bold & escaped?", "First para Second bold para.")]


_DROPPED = "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width characters and the soft hyphen
_SPACES = " \t\n\r\x0b\x0c\x1c\x85\xa0\u1680\u2002\u2028\u3000"


@given(st.text(alphabet=st.sampled_from([*"ab\u00e9\u4e2d.", *_SPACES, *_DROPPED]), max_size=40))
def test_fold_whitespace_drops_invisible_characters_and_collapses_every_whitespace(text: str) -> None:
    assert fold_whitespace(text) == " ".join(re.sub(f"[{_DROPPED}]", "", text).split())


def test_no_printable_character_but_the_space_is_whitespace_or_dropped() -> None:
    """What the fast path of ``fold_whitespace`` relies on, for every code point."""
    printable = (chr(code) for code in range(sys.maxunicode + 1) if chr(code).isprintable())
    assert [c for c in printable if c != " " and (c.isspace() or c in _DROPPED)] == []


def test_same_pair_twice_and_json_ld_quoted_in_javascript_counted_once() -> None:
    block = {"@type": "FAQPage", "mainEntity": [_question(Q1, A1), _question(Q1, A1)]}
    script = "<script>self.__next_f.push(" + json.dumps(json.dumps(block)) + ")</script>"
    page = _page(block, {"@type": "FAQPage", "mainEntity": _question(Q1, A1)}, body=script)
    assert _pairs(page) == [(Q1, A1)]


def test_microdata_with_multi_token_itemprop_and_http_types() -> None:
    body = ('<div itemscope itemtype="http://schema.org/FAQPage">'
            '<div itemprop="mainEntity hasPart" itemscope itemtype="http://schema.org/Question">'
            f'<h3 itemprop="name">{Q1}</h3><div itemprop="acceptedAnswer" itemscope '
            'itemtype="http://schema.org/Answer"><div itemprop="text"><p>The first answer</p>'
            '<p>says <em>some</em>thing long enough.</p></div></div></div></div>')
    assert _pairs(_page(body=body)) == [(Q1, "The first answer says something long enough.")]


def test_rdfa_lite_in_document_order() -> None:
    items = "".join(
        f'<details property="mainEntity" typeof="Question"><summary property="name">{q}</summary>'
        f'<div property="acceptedAnswer" typeof="Answer"><p property="text">{a}</p></div></details>'
        for q, a in [(Q2, A2), (Q1, A1)])
    page = f'<html><body vocab="http://schema.org/" typeof="FAQPage">{items}</body></html>'
    assert _pairs(page) == [(Q2, A2), (Q1, A1)]


def test_broken_html_nesting_still_extracts() -> None:
    body = ('<div itemscope itemtype="https://schema.org/FAQPage"><p><b>'
            '<div itemprop="mainEntity" itemscope itemtype="https://schema.org/Question">'
            f'<span itemprop="name">{Q1}</i></span><table><div itemprop="acceptedAnswer" itemscope '
            f'itemtype="https://schema.org/Answer"><span itemprop="text">{A1}</div></p>')
    assert _pairs(_page(body=body)) == [(Q1, A1)]


def test_title_and_description_are_returned() -> None:
    page = (b'<html><head><title> My &amp; FAQ </title><meta content="About  things" NAME="Description">'
            b'<script type="application/ld+json">{"@type":"FAQPage","mainEntity":'
            + json.dumps(_question(Q1, A1)).encode() + b"}</script></head></html>")
    result = extract_faq(page, URL)
    assert (result.title, result.description) == ("My & FAQ", "About things")


def test_supplied_json_ld_blocks_are_used() -> None:
    block = json.dumps({"@type": "FAQPage", "mainEntity": _question(Q1, A1)})
    assert [(p.question, p.answer) for p in extract_faq(b"<html></html>", URL, json_ld=[block]).pairs] == [
        (Q1, A1)]


def test_charset_of_the_page_is_honoured() -> None:
    block = json.dumps({"@type": "FAQPage", "mainEntity": _question("Où est la gare, s'il vous plaît?", A1)},
                       ensure_ascii=False)
    page = ('<meta charset="windows-1252"><script type="application/ld+json">' + block + "</script>")
    assert _pairs(page.encode("cp1252"))[0][0] == "Où est la gare, s'il vous plaît?"


def test_prefilter_is_case_insensitive_and_cheap_negative() -> None:
    assert has_faq_marker(b'{"@type": "faqPAGE"}') and has_faq_marker(b"FAQPage")
    assert not has_faq_marker(b"FAQ page qqq QQQ") and not has_faq_marker(b"")
    assert extract_faq(b"<html><body>FAQ page</body></html>", URL).pairs == ()


def test_unparseable_json_ld_is_skipped() -> None:
    page = b'<script type="application/ld+json">{"@type": "FAQPage", oops</script>'
    assert _pairs(page) == []


def test_html_to_text_block_and_inline_rules() -> None:
    assert html_to_text("<ul><li>one</li><li>two</li></ul>a<br>b") == "one two a b"
    assert html_to_text("pre<a href='#'>fix</a>ed <script>x()</script>soft\u00adhyphen") == "prefixed softhyphen"
    assert html_to_text("plain\u00a0 text\n") == "plain text"


def test_supplied_extruct_microdata_is_read_as_the_page_declared_it() -> None:
    items = [{"type": "https://schema.org/FAQPage", "properties": {"mainEntity": [
        {"type": "https://schema.org/Question", "properties": {
            "name": "Where is the shop?", "acceptedAnswer": {
                "type": "https://schema.org/Answer", "properties": {"text": "<p>At the <b>harbour</b>.</p>"}}}},
        {"type": "https://schema.org/Question", "properties": {
            "name": "When is it open?", "acceptedAnswer": {
                "type": "https://schema.org/Answer", "value": "Every day from nine."}}}]}}]
    result = extract_faq(b"<html><head><title>Shop</title></head></html>", URL, microdata=[json.dumps(items)])
    assert [(p.question, p.answer) for p in result.pairs] == [
        ("Where is the shop?", "At the harbour."), ("When is it open?", "Every day from nine.")]
    assert result.title == "Shop"
    assert extract_faq(b"<html></html>", URL, microdata=["not json", json.dumps(items[0])]).pairs == result.pairs


def test_json_ld_read_from_several_threads_at_once_collects_each_blocks_own_objects() -> None:
    blocks = [json.dumps({"@type": "FAQPage", "mainEntity": [_question(f"Q{i}-{j}?", f"A{i}-{j}.") for j in range(20 * i)]})
              for i in range(1, 9)]

    def read(block: str) -> tuple[int, int]:
        nodes: list[dict[str, object]] = []
        parse_jsonld(block, nodes)
        return len(nodes), 1 + 2 * (len(json.loads(block)["mainEntity"]))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns inside the parses
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            counts = list(pool.map(read, blocks * 50))
    finally:
        sys.setswitchinterval(interval)
    assert all(found == expected for found, expected in counts)
