"""HTML to plain text, the way WebFAQ's expected pairs are written (fixtures README).

Contract:
- :func:`fold_whitespace` (str -> str): zero-width characters and soft hyphens removed, every run of
  whitespace (NBSP included) collapsed to one space, result trimmed.
- :func:`html_to_text` (str -> str): tags stripped, entities decoded (also entity-escaped tags such as
  ``&lt;p&gt;`` inside JSON-LD strings), block-level boundaries (p, li, div, br, headings, table cells,
  details, summary, dt, dd, ...) become whitespace, inline tags are joined without a space,
  ``script``/``style``/comments dropped, then :func:`fold_whitespace`. Never raises on bad markup.
- :func:`element_text` (lxml element -> str): the same text rules applied to a parsed element.
- :func:`page_title_and_description` (bytes -> (title, description)): ``<title>`` and
  ``<meta name="description">`` read straight from the bytes (no DOM), both cleaned.
"""

from __future__ import annotations

import html
import re

import lxml.etree
import lxml.html

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
_WHITESPACE = re.compile(r"\s+")
_ESCAPED_TAG = re.compile(r"&lt;/?[a-zA-Z]")


def fold_whitespace(text: str) -> str:
    """Drop zero-width characters and soft hyphens, collapse whitespace (NBSP included), trim."""
    # two C-level regex passes; str.translate with a dict costs a lookup per character
    return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


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
_META = re.compile(rb"<meta\b[^>]*>")
_ATTRIBUTE = re.compile(rb"""([a-z:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)


def _attributes(tag: bytes) -> dict[bytes, bytes]:
    return {m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or b"" for m in _ATTRIBUTE.finditer(tag)}


def _decode_text(raw: bytes, charset: str) -> str:
    return fold_whitespace(html.unescape(raw.decode(charset, errors="replace")))


def page_title_and_description(page: bytes, lowered: bytes, charset: str = "utf-8") -> tuple[str, str]:
    """``<title>`` and meta description of a page, cleaned; ``""`` where absent.

    ``lowered`` is a copy of ``page`` with ASCII letters lower-cased at the same offsets, computed once
    by the caller (``page.lower()`` or ``extract_scan.fold_case(page)``; only letters and ``<>/`` are
    searched in it, never whitespace).
    Only the part before ``<body`` is searched when there is one.
    """
    body_at = lowered.find(b"<body")
    head = lowered if body_at < 0 else lowered[:body_at]
    title = ""
    match = _TITLE.search(head)
    if match:
        title = _decode_text(page[match.start(1):match.end(1)], charset)
    description = ""
    for meta in _META.finditer(head):
        attributes = _attributes(page[meta.start():meta.end()])
        if attributes.get(b"name", b"").strip().lower() == b"description":
            description = _decode_text(attributes.get(b"content", b""), charset)
            break
    return title, description
