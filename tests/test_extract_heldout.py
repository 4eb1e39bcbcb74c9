"""Realistic pages in shapes the shared fixtures do not hold: no pair may be missed, none invented.

Each page is a whole document (head with scripts and styles, navigation, footer) written the way
CMS themes and SEO plugins emit FAQ markup; the expected pairs are what the markup states.
"""

from __future__ import annotations

import json

import pytest

from webfaq_stream.extract.page import extract_faq

URL = "https://shop.example.org/help/faq"
Q1 = "How long does delivery take within Germany?"
A1 = "Orders placed before 2 pm usually arrive within two working days."
Q2 = "Can I return an item after thirty days?"
A2 = "Returns are accepted for sixty days when the item is unused and in its box."
Q3 = "Do you ship to Switzerland and Norway?"
A3 = "Yes, both countries are served by our partner carrier with customs prepaid."

HEAD = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Help &amp; FAQ | Shop</title>\n'
    '<meta name="description" content="Answers about delivery and returns.">\n'
    "<style>.faq h3{font-weight:600} /* FAQPage styles */ body>nav{display:flex}</style>\n"
    '<script>window.dataLayer=window.dataLayer||[];var tpl="<style>.x{}";'
    'function gtag(){dataLayer.push(arguments)}</script>\n'
)
NAV = '<nav><a href="/">Home</a> <a href="/help/faq" class="faqpage-link">FAQ</a></nav>\n'
FOOT = '<footer><p>&copy; 2025 Shop</p><script src="/app.js" defer></script></footer>\n</body>\n</html>\n'


def _document(head_extra: str = "", body: str = "", body_tag: str = "<body>") -> bytes:
    return (HEAD + head_extra + "</head>\n" + body_tag + "\n" + NAV + body + FOOT).encode("utf-8")


def _ld(data: object, attributes: str = 'type="application/ld+json"') -> str:
    return f"<script {attributes}>\n{json.dumps(data, indent=2)}\n</script>\n"


def _question(q: str, a: str, **extra: object) -> dict[str, object]:
    return {"@type": "Question", "name": q, "acceptedAnswer": {"@type": "Answer", "text": a}, **extra}


def _pairs(page: bytes) -> list[tuple[str, str]]:
    return [(pair.question, pair.answer) for pair in extract_faq(page, URL).pairs]


def _microdata_question(q: str, a: str, itemtype: str = "https://schema.org/Question") -> str:
    return (f'<div itemprop="mainEntity" itemscope itemtype="{itemtype}">\n'
            f'  <h3 itemprop="name">{q}</h3>\n'
            '  <div itemprop="acceptedAnswer" itemscope itemtype="https://schema.org/Answer">\n'
            f'    <div itemprop="text"><p>{a}</p></div>\n  </div>\n</div>\n')


PAGES: dict[str, tuple[bytes, list[tuple[str, str]]]] = {}

# Yoast-style: a WebPage+FAQPage node whose mainEntity are @id references to Questions that another
# plugin prints in a second block, in the body, after the FAQ.
PAGES["type_list_with_id_references_into_a_later_block"] = (_document(
    head_extra=_ld({"@context": "https://schema.org", "@graph": [
        {"@type": "Organization", "@id": "https://shop.example.org/#org", "name": "Shop"},
        {"@type": ["WebPage", "FAQPage"], "@id": URL + "#webpage", "url": URL,
         "mainEntity": [{"@id": URL + "#q-delivery"}, {"@id": URL + "#q-returns"}]},
    ]}),
    body="<main><h1>FAQ</h1></main>\n" + _ld([
        {"@context": "https://schema.org", "@id": URL + "#q-returns", **_question(Q2, A2)},
        {"@context": "https://schema.org", "@id": URL + "#q-delivery", "@type": "Question", "name": Q1,
         "acceptedAnswer": {"@id": URL + "#a-delivery"}},
        {"@context": "https://schema.org", "@id": URL + "#a-delivery", "@type": "Answer", "text": A1},
    ])),
    [(Q1, A1), (Q2, A2)])

# An FAQPage as hasPart of a WebPage, with an ItemList as its main entity; a stray Question next to
# it (a "related question" widget) is not reachable from the FAQPage and must not be taken.
PAGES["has_part_faq_page_with_item_list"] = (_document(head_extra=_ld({
    "@context": "https://schema.org", "@type": "WebPage", "name": "Help",
    "hasPart": {"@type": "FAQPage", "mainEntity": {"@type": "ItemList", "itemListElement": [
        {"@type": "ListItem", "position": 1, "item": _question(Q1, A1)},
        {"@type": "ListItem", "position": 2, "item": _question(Q2, A2)}]}},
    "about": _question(Q3, A3)})),
    [(Q1, A1), (Q2, A2)])

# acceptedAnswer as a list (the first wins), a Question with only suggestedAnswer, text as a list and
# as @value objects, a Question that has text but no name.
PAGES["answer_lists_suggested_only_value_objects_and_text_instead_of_name"] = (_document(
    head_extra=_ld({"@context": {"@vocab": "http://schema.org/"}, "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": {"@value": Q1, "@language": "en"},
         "acceptedAnswer": [{"@type": "Answer", "text": [A1, "An older answer that is superseded."]},
                            {"@type": "Answer", "text": "A second accepted answer is ignored."}]},
        {"@type": "Question", "name": Q2,
         "suggestedAnswer": [{"@type": "Answer", "text": {"@value": A2}}]},
        {"@type": "Question", "text": Q3, "acceptedAnswer": {"@type": "Answer", "text": A3}},
    ]})),
    [(Q1, A1), (Q2, A2), (Q3, A3)])

# Old themes: JSON wrapped in CDATA markers, another block inside an HTML comment wrapper, uppercase
# tags and a single-quoted type; a block that is commented out in the HTML is not markup.
_CDATA_BLOCK = json.dumps({"@context": "http://schema.org", "@type": "FAQPage",
                           "mainEntity": [_question(Q1, A1)]})
_COMMENT_BLOCK = json.dumps({"@type": "FAQPage", "mainEntity": _question(Q2, A2)})
PAGES["cdata_and_comment_wrapped_json_ld"] = (_document(
    head_extra=(f"<SCRIPT TYPE='application/ld+json'>//<![CDATA[\n{_CDATA_BLOCK}\n//]]></SCRIPT>\n"
                f'<script type="application/ld+json"><!--\n{_COMMENT_BLOCK}\n--></script>\n'),
    body=("<!-- old markup, disabled:\n" + _ld({"@type": "FAQPage", "mainEntity": _question(Q3, A3)})
          + "-->\n")),
    [(Q1, A1), (Q2, A2)])

# Microdata on the body element itself, http and https types mixed, an answer given by a content
# attribute, and a name given by a meta element.
PAGES["microdata_on_body_with_content_attributes"] = (_document(
    body_tag='<body class="page" itemscope itemtype="http://schema.org/FAQPage">',
    body=(_microdata_question(Q1, A1, "http://schema.org/Question")
          + '<section itemprop="mainEntity" itemscope itemtype="https://schema.org/Question">\n'
          + f'  <meta itemprop="name" content="{Q2}"><h3>Returns</h3>\n'
          + '  <div itemprop="acceptedAnswer" itemscope itemtype="https://schema.org/Answer">\n'
          + f'    <meta itemprop="text" content="{A2}"><p>See our returns policy.</p>\n  </div>\n</section>\n')),
    [(Q1, A1), (Q2, A2)])

# An FAQPage that is itself a property (mainEntity of a WebPage), unquoted and upper-case
# attributes, a question list split by itemref into an element outside the FAQPage element.
PAGES["microdata_nested_in_web_page_with_itemref"] = (_document(body=(
    '<div itemscope itemtype="https://schema.org/WebPage"><h1 itemprop="name">Help</h1>\n'
    '<DIV ITEMPROP=mainEntity ITEMSCOPE ITEMTYPE=https://schema.org/FAQPage ITEMREF="more-questions">\n'
    + _microdata_question(Q1, A1) + "</DIV></div>\n"
    '<aside id="more-questions">' + _microdata_question(Q2, A2) + "</aside>\n")),
    [(Q1, A1), (Q2, A2)])

# Two separate microdata FAQ blocks on one page, one inside a table cell, a Question outside both
# (not reachable), and an FAQPage-looking template inside a script that is not markup.
PAGES["two_microdata_faq_blocks_and_a_template_in_a_script"] = (_document(body=(
    '<div itemscope itemtype="https://schema.org/FAQPage">' + _microdata_question(Q1, A1) + "</div>\n"
    + '<table><tr><td><div itemscope itemtype="https://schema.org/FAQPage">'
    + _microdata_question(Q2, A2) + "</div></td></tr></table>\n"
    + '<div itemscope itemtype="https://schema.org/Question"><span itemprop="name">' + Q3
    + '</span><div itemprop="acceptedAnswer" itemscope itemtype="https://schema.org/Answer">'
    + f'<span itemprop="text">{A3}</span></div></div>\n'
    + '<script type="text/template"><div itemscope itemtype="https://schema.org/FAQPage">'
    + _microdata_question("{{question}} template placeholder?", "{{answer}} template placeholder text")
    + "</div></script>\n")),
    [(Q1, A1), (Q2, A2)])

# Full RDFa (not Lite): prefixed terms, about, rel chaining to the answer.
PAGES["full_rdfa_with_prefixes_about_and_rel"] = (_document(
    body_tag='<body prefix="schema: http://schema.org/">',
    body=('<main about="#faq" typeof="schema:FAQPage">\n'
          + "".join(
              f'<div rel="schema:mainEntity"><article about="#q{n}" typeof="schema:Question">'
              f'<h2 property="schema:name">{q}</h2><div rel="schema:acceptedAnswer">'
              f'<div about="#a{n}" typeof="schema:Answer"><p property="schema:text">{a}</p></div></div>'
              "</article></div>\n"
              for n, (q, a) in enumerate([(Q1, A1), (Q2, A2)]))
          + "</main>\n")),
    [(Q1, A1), (Q2, A2)])

# RDFa Lite with the vocabulary on <html>, a property given by content, an answer whose text holds
# a list and a link.
PAGES["rdfa_lite_with_vocab_on_html_and_content"] = (
    (HEAD.replace('<html lang="en">', '<html lang="en" vocab="https://schema.org/">') + "</head><body>"
     + NAV + '<section typeof="FAQPage">\n'
     + f'<div property="mainEntity" typeof="Question"><h3 property="name">{Q1}</h3>'
     + f'<div property="acceptedAnswer" typeof="Answer"><div property="text">{A1}</div></div></div>\n'
     + '<div property="mainEntity" typeof="Question"><meta property="name" content="' + Q2 + '">'
     + '<h3>Returns</h3><div property="acceptedAnswer" typeof="Answer"><div property="text">'
     + "<ul><li>Returns are accepted for sixty days</li><li>when the item is unused and in its"
     + ' <a href="/box">box</a>.</li></ul></div></div></div>\n</section>' + FOOT).encode(),
    [(Q1, A1), (Q2, "Returns are accepted for sixty days when the item is unused and in its box.")])

# The same FAQ in JSON-LD and in microdata (page builders often print both): each pair once.
PAGES["same_faq_in_json_ld_and_microdata"] = (_document(
    head_extra=_ld({"@context": "https://schema.org", "@type": "FAQPage",
                    "mainEntity": [_question(Q1, A1), _question(Q2, A2)]}),
    body=('<div itemscope itemtype="https://schema.org/FAQPage">' + _microdata_question(Q1, A1)
          + _microdata_question(Q2, A2) + "</div>\n")),
    [(Q1, A1), (Q2, A2)])

# JSON-LD as generated by RDF tools: an @list container, references that carry their @type, one
# Question described by two nodes with the same @id (merged), a byte-order mark before the JSON.
PAGES["json_ld_list_container_typed_references_and_split_nodes"] = (_document(head_extra=(
    '<script type="application/ld+json">\ufeff' + json.dumps({"@context": "http://schema.org", "@graph": [
        {"@type": "FAQPage", "@id": "_:faq", "mainEntity": {"@list": [
            {"@id": "_:q1", "@type": "Question"}, {"@id": "_:q2"}, {"@id": "_:q3"}]}},
        {"@id": "_:q1", "name": Q1, "acceptedAnswer": {"@id": "_:a1", "@type": "Answer"}},
        {"@id": "_:a1", "text": A1},
        {"@id": "_:q2", "@type": "Question", "name": Q2},
        {"@id": "_:q2", "acceptedAnswer": {"@type": "Answer", "text": A2}},
        {"@id": "_:q3", "@type": "Question", "name": "A question nobody has answered yet?"},
    ]}) + "</script>\n")),
    [(Q1, A1), (Q2, A2)])

# An FAQPage without mainEntity whose Questions name it as their page (mainEntityOfPage, isPartOf);
# a Question that names another page is not taken.
PAGES["questions_pointing_back_to_their_faq_page"] = (_document(head_extra=_ld({
    "@context": "https://schema.org", "@graph": [
        {"@type": "FAQPage", "@id": URL + "#faq", "name": "Help"},
        {"@id": URL + "#q1", "mainEntityOfPage": {"@id": URL + "#faq"}, **_question(Q1, A1)},
        {"@id": URL + "#q2", "isPartOf": {"@id": URL + "#faq"}, **_question(Q2, A2)},
        {"@id": URL + "#q3", "mainEntityOfPage": {"@id": "https://shop.example.org/other#faq"},
         **_question(Q3, A3)},
    ]})),
    [(Q1, A1), (Q2, A2)])

# Microdata on a definition list: dt holds the name, dd the answer.
PAGES["microdata_definition_list"] = (_document(body=(
    '<dl itemscope itemtype="https://schema.org/FAQPage">\n'
    + "".join(f'<div itemprop="mainEntity" itemscope itemtype="https://schema.org/Question">'
              f'<dt itemprop="name">{q}</dt><dd itemprop="acceptedAnswer" itemscope '
              f'itemtype="https://schema.org/Answer"><span itemprop="text">{a}</span></dd></div>\n'
              for q, a in [(Q1, A1), (Q2, A2)])
    + "</dl>\n")),
    [(Q1, A1), (Q2, A2)])

# Page builders put big JSON props on the FAQ element itself, before its itemtype.
_PROPS = json.dumps({"items": [{"title": f"Item {n}", "html": "&lt;p&gt;x&lt;/p&gt;"} for n in range(200)]})
PAGES["microdata_faq_element_with_a_long_data_attribute"] = (_document(body=(
    f"<section class=\"faq\" data-props='{_PROPS}' itemscope itemtype=\"https://schema.org/FAQPage\">\n"
    + _microdata_question(Q1, A1) + _microdata_question(Q2, A2) + "</section>\n")),
    [(Q1, A1), (Q2, A2)])

# Hand-templated JSON-LD: two objects one after the other (no array), a trailing semicolon, PHP's \'
# escapes, a comment and trailing commas; a broken block of another type is skipped quietly.
_TEMPLATED = (
    '{"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [\n'
    f'  {{"@type": "Question", "name": "{Q1}", "acceptedAnswer": {{"@type": "Answer", "text": "{A1}"}}}},\n'
    '  {"@id": "#returns"},\n]}\n'
    '{"@id": "#returns", "@type": "Question", // added by the returns plugin\n'
    f' "name": "{Q2}", "acceptedAnswer": {{"@type": "Answer", "text": "It\\\'s simple: {A2}"}},}};'
)
PAGES["templated_json_ld_with_several_values_escapes_and_comments"] = (_document(head_extra=(
    f'<script type="application/ld+json">\n{_TEMPLATED}\n</script>\n'
    '<script type="application/ld+json">{"@type": "LocalBusiness", "name": "Shop" "url": "/"}</script>\n')),
    [(Q1, A1), (Q2, f"It's simple: {A2}")])

# An editor's preview keeps a copy of the FAQ inside a textarea and an iframe fallback (text to a
# browser, not markup); SVG icons with self-closed titles stand before the real FAQ.
_FAQ_COPY = ('<div itemscope itemtype="https://schema.org/FAQPage">'
             + _microdata_question(Q3, A3) + "</div>")
PAGES["faq_copies_inside_textarea_and_iframe_are_not_markup"] = (_document(body=(
    f'<form><textarea name="draft">{_FAQ_COPY}</textarea></form>\n'
    f"<iframe src=\"/preview\">{_FAQ_COPY}</iframe>\n"
    '<svg class="icon"><title/><use href="#q"/></svg><svg><title>Help</title></svg>\n'
    '<div itemscope itemtype="https://schema.org/FAQPage">' + _microdata_question(Q1, A1) + "</div>\n")),
    [(Q1, A1)])

# Pages that mention FAQPage without being one: a class name, text, a QAPage, a Question whose
# page is not an FAQPage. Nothing may come out.
PAGES["faq_page_mentioned_but_no_faq_markup"] = (_document(
    head_extra=_ld({"@context": "https://schema.org", "@type": "QAPage", "mainEntity": _question(Q1, A1)}),
    body=('<div class="faqpage"><p>We use FAQPage markup on other pages.</p>'
          '<div itemscope itemtype="https://schema.org/Question" data-kind="FAQPage">'
          f'<span itemprop="name">{Q2}</span><div itemprop="acceptedAnswer" itemscope '
          f'itemtype="https://schema.org/Answer"><span itemprop="text">{A2}</span></div></div></div>\n')),
    [])


@pytest.mark.parametrize("name", sorted(PAGES))
def test_held_out_shape_gives_exactly_its_pairs(name: str) -> None:
    page, expected = PAGES[name]
    assert _pairs(page) == expected


def test_title_and_description_of_a_realistic_page() -> None:
    result = extract_faq(PAGES["has_part_faq_page_with_item_list"][0], URL)
    assert (result.title, result.description) == ("Help & FAQ | Shop", "Answers about delivery and returns.")


@pytest.mark.parametrize("charset", ["mac_roman", "cp437", "windows-1252"])
def test_microdata_and_rdfa_in_a_charset_that_libxml2_may_not_know(charset: str) -> None:
    question, answer = "Où est la gare, s'il vous plaît?", "Tournez à gauche après le pont, à deux minutes à pied."
    microdata = ('<div itemscope itemtype="https://schema.org/FAQPage">'
                 + _microdata_question(question, answer) + "</div>")
    rdfa = ('<div vocab="https://schema.org/" typeof="FAQPage"><div property="mainEntity" typeof="Question">'
            f'<h3 property="name">{question}</h3><div property="acceptedAnswer" typeof="Answer">'
            f'<p property="text">{answer}</p></div></div></div>')
    for body in (microdata, rdfa):
        page = f"<html><body>{body}</body></html>".encode(charset)
        result = extract_faq(page, URL, charset=charset)
        assert [(pair.question, pair.answer) for pair in result.pairs] == [(question, answer)]


def test_rdfa_lite_on_the_body_of_a_long_page_is_read_not_dropped() -> None:
    # the whole body is the FAQPage subtree: 20,000+ elements, more than full RDFa (pyRdfa) may take
    question = ('<div property="mainEntity" typeof="Question">'
                f'<h3 property="name">{Q1}</h3><div property="acceptedAnswer" typeof="Answer">'
                f'<p property="text">{A1}</p></div></div>')
    filler = '<div class="row"><p>Filler text <a href="/x">with a link</a></p></div>\n' * 7000
    page = (HEAD + '</head><body vocab="https://schema.org/" typeof="FAQPage">' + NAV + filler + question
            + FOOT).encode()
    assert _pairs(page) == [(Q1, A1)]
