"""HTML to plain text, the way WebFAQ's expected pairs are written (fixtures README).

Contract:
- :func:`fold_whitespace` (str -> str): zero-width characters and soft hyphens removed, every run of
  whitespace (NBSP included) collapsed to one space, result trimmed.
- :func:`html_to_text` (str -> str): tags stripped, entities decoded (also entity-escaped tags such as
  ``&lt;p&gt;`` inside JSON-LD strings), block-level boundaries (p, li, div, br, headings, table cells,
  details, summary, dt, dd, ...) become whitespace, inline tags are joined without a space,
  ``script``/``style``/comments dropped, then :func:`fold_whitespace`. Never raises on bad markup.
- :func:`element_text` (lxml element -> str): the same text rules applied to a parsed element.
- :func:`page_title_and_description` (bytes, ``FoldedPage`` -> (title, description)): ``<title>`` and
  ``<meta name="description">`` read straight from the bytes (no DOM), both cleaned.
"""

from __future__ import annotations

import html
import re

import lxml.etree
import lxml.html

from webfaq_stream.extract.scan import FoldedPage

#: Elements whose boundaries separate words (HTML block-level and the README's list).
BLOCK_TAGS = frozenset((
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul", "option", "legend",
))
#: Elements whose content is never text.
SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head"})

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_ESCAPED_TAG = re.compile(r"&lt;/?[a-zA-Z]")


def fold_whitespace(text: str) -> str:
    """Drop zero-width characters and soft hyphens, collapse whitespace (NBSP included), trim."""
    if not text.isascii():  # O(1) on CPython: only non-ASCII text can hold the invisible characters
        text = _INVISIBLE.sub("", text)
    # str.split() splits on exactly the characters that the re module's \s matches (NBSP included)
    return " ".join(text.split())


def element_text(element: lxml.etree._Element) -> str:
    """Text of a parsed element: block boundaries as spaces, inline tags joined, whitespace folded."""
    parts: list[str] = []
    skip_depth = 0
    for event, node in lxml.etree.iterwalk(element, events=("start", "end")):
        tag = node.tag if isinstance(node.tag, str) else ""
        if event == "start":
            if skip_depth or tag in SKIPPED_TAGS or not tag:
                skip_depth += 1
                continue
            if tag in BLOCK_TAGS:
                parts.append(" ")
            if node.text:
                parts.append(node.text)
        else:
            if skip_depth:
                skip_depth -= 1
            elif tag in BLOCK_TAGS:
                parts.append(" ")
            if node is not element and node.tail and not skip_depth:
                parts.append(node.tail)
    return fold_whitespace("".join(parts))


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (or of plain text with entities); see the module contract."""
    if "<" not in fragment and "&" not in fragment:
        return fold_whitespace(fragment)
    if _ESCAPED_TAG.search(fragment):
        fragment = html.unescape(fragment)
    if "<" not in fragment:
        return fold_whitespace(html.unescape(fragment))
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return fold_whitespace(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    return element_text(root)


_TITLE = re.compile(rb"<title\b[^>]*>(.*?)</title[^>]*>", re.DOTALL)
_ATTRIBUTE = re.compile(rb"""([a-z:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)


def _attributes(tag: bytes) -> dict[bytes, bytes]:
    return {m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or b"" for m in _ATTRIBUTE.finditer(tag)}


def _decode_text(raw: bytes, charset: str) -> str:
    return fold_whitespace(html.unescape(raw.decode(charset, errors="replace")))


def page_title_and_description(page: bytes, folded: FoldedPage, charset: str = "utf-8") -> tuple[str, str]:
    """``<title>`` and meta description of a page, cleaned; ``""`` where absent.

    ``folded`` is the page's :class:`~webfaq_stream.extract.scan.FoldedPage` (made once by the caller):
    tag starts come from its index, and only the part before ``<body`` is searched when there is one.
    """
    lowered = folded.bytes
    bodies = folded.find_all(b"<body")
    head_end = bodies[0] if bodies else len(lowered)
    title = ""
    for start in folded.find_all(b"<title"):
        if start >= head_end:
            break
        match = _TITLE.match(lowered, start)
        if match:
            title = _decode_text(page[match.start(1):match.end(1)], charset)
            break
    description = ""
    # visit the few "description" words of the head, not every meta element
    word = lowered.find(b"description", 0, head_end)
    while word >= 0:
        tag_start = lowered.rfind(b"<", 0, word)
        tag_end = lowered.find(b">", word)
        if tag_start >= 0 and tag_end >= 0 and lowered.startswith(b"<meta", tag_start) \
                and lowered.find(b">", tag_start, word) < 0:
            attributes = _attributes(page[tag_start:tag_end + 1])
            if attributes.get(b"name", b"").strip().lower() == b"description":
                description = _decode_text(attributes.get(b"content", b""), charset)
                break
        word = lowered.find(b"description", word + 1, head_end)
    return title, description
