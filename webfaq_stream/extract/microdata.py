"""Microdata and RDFa FAQPage items, parsed from the FAQPage element's own bytes, bounded in time and size.

``dom_items(page, url, charset, microdata_tags=, rdfa_tags=, deadline=) -> list[dict]``: the FAQPage
items of the page in JSON-LD shape (``@type``, ``@id``, properties), ready for
``extract_graph.faq_pairs``. ``microdata_tags`` / ``rdfa_tags`` are the byte offsets of the start tags
whose ``itemtype`` / ``typeof`` names an FAQPage (found by ``extract_scan``), in document order.

No full-page DOM in the common case: lxml's HTML push parser is fed the page from the FAQPage start
tag on, a chunk at a time, and stops as soon as that element is closed, so a 400 KB page with a 10 KB
FAQ costs the 10 KB. Microdata items come from extruct's microdata extractor run on that subtree; text
values are the elements' text by ``htmltext.element_text`` (block boundaries as spaces, inline tags
joined), so that all syntaxes clean text the same way. RDFa Lite (``vocab``/``prefix``/``typeof``/
``property``/``resource``/``content``) is read by ``extract_rdfa``. The whole page is parsed only where
the subtree needs what lies outside it: microdata ``itemref``, or full RDFa (``about``, ``rel`` chains,
``datatype``, ...), which then goes through pyRdfa.

Bounds, checked before any extractor runs: the parsed tree may not reach libxml2's nesting cap
(``PageDropped("too_deep")``; libxml2 silently flattens deeper documents), a FAQPage subtree may hold at
most ``MAX_SUBTREE_ELEMENTS`` elements and ``MAX_SUBTREE_PROPERTIES`` itemprops (full RDFa through
pyRdfa: ``MAX_RDFA_ELEMENTS``) (``PageDropped("too_complex")``), and the deadline is checked between chunks,
subtrees and syntaxes (``PageDropped("too_slow")``).
"""

from __future__ import annotations

import codecs
import collections
import re
import time
from collections.abc import Callable
from typing import Any

import lxml.etree
import lxml.html
from extruct.w3cmicrodata import MicrodataExtractor

from webfaq_stream.domain.model import PageDropped
from webfaq_stream.extract import text as htmltext
from webfaq_stream.extract.rdfa import needs_full_rdfa, rdfa_lite_items, rdfa_subtree_items

#: Largest FAQPage subtree (in elements) handed to extruct's microdata extractor.
MAX_SUBTREE_ELEMENTS = 100_000
#: Most ``itemprop`` elements in one microdata FAQPage subtree (extruct's cost grows with their square:
#: 3,000 take about 0.05 s, 18,000 about 1.3 s on one core).
MAX_SUBTREE_PROPERTIES = 6_000
#: Largest FAQPage subtree handed to pyRdfa for full RDFa (40-50x slower than microdata); RDFa Lite,
#: read in one pass, has the microdata bound.
MAX_RDFA_ELEMENTS = 10_000
#: Nesting at which libxml2's HTML parser starts flattening the document (it caps at 256).
MAX_DEPTH = 250
#: First chunk fed to the push parser; each next chunk is twice as large.
FIRST_CHUNK_BYTES = 16 * 1024

_FAQ_ITEMTYPE = lxml.etree.XPath(
    "//*[@itemscope][contains(translate(@itemtype, 'FAQPGE', 'faqpge'), 'faqpage')]")
_FAQ_TYPEOF = lxml.etree.XPath("//*[contains(translate(@typeof, 'FAQPGE', 'faqpge'), 'faqpage')]")
_NESTED_ITEMTYPE = lxml.etree.XPath(
    "count(descendant::*[@itemscope][contains(translate(@itemtype, 'FAQPGE', 'faqpge'), 'faqpage')])")
_NESTED_TYPEOF = lxml.etree.XPath(
    "count(descendant::*[contains(translate(@typeof, 'FAQPGE', 'faqpge'), 'faqpage')])")
_HAS_ITEMREF = lxml.etree.XPath("boolean(descendant-or-self::*[@itemref])")
_TOO_DEEP = lxml.etree.XPath("count(/*" + "/*" * MAX_DEPTH + ") > 0")
_COUNT_ELEMENTS = lxml.etree.XPath("count(descendant-or-self::*)")
_COUNT_PROPERTIES = lxml.etree.XPath("count(descendant-or-self::*[@itemprop])")
_TAG_NAME = re.compile(rb"<([A-Za-z][^\s/>]*)")


class _TextMicrodataExtractor(MicrodataExtractor):
    """extruct's microdata extractor with the project's text rules for element text."""

    def _extract_textContent(self, node: Any) -> str:
        return htmltext.element_text(node)


def _check_deadline(deadline: float, step: str) -> None:
    if time.monotonic() > deadline:
        raise PageDropped("too_slow", f"page time budget exceeded during {step}")


def _check_size(element: Any, max_elements: int, max_properties: int | None = None) -> None:
    elements = int(_COUNT_ELEMENTS(element))
    if elements > max_elements:
        raise PageDropped("too_complex", f"FAQPage subtree of {elements} elements > {max_elements}")
    if max_properties is not None:
        properties = int(_COUNT_PROPERTIES(element))
        if properties > max_properties:
            raise PageDropped("too_complex", f"FAQPage subtree of {properties} itemprops > {max_properties}")


def _check_depth(element: Any) -> None:
    if _TOO_DEEP(element):
        raise PageDropped("too_deep", f"elements nested deeper than {MAX_DEPTH}")


def _subtree_at(page: bytes, tag_start: int, charset: str, deadline: float) -> Any | None:
    """The element whose start tag is at ``tag_start``, parsed from there until it closes.

    ``None`` where no element of that name opens the parse (the offset was not a start tag after all).
    Only start events of that tag name reach Python (the first one is the element); the element has
    closed once it or one of its ancestors has a next sibling, which is checked after each chunk.
    """
    name = _TAG_NAME.match(page, tag_start)
    if name is None:
        return None
    tag = name.group(1).decode("ascii", errors="replace").lower()
    try:
        parser = lxml.etree.HTMLPullParser(events=("start",), tag=tag, encoding=charset)
        decode = None
    except LookupError:  # a charset that Python knows and libxml2 does not: decode here, feed text
        parser = lxml.etree.HTMLPullParser(events=("start",), tag=tag)
        decode = codecs.getincrementaldecoder(charset)(errors="replace").decode
    root = None
    position, chunk = tag_start, FIRST_CHUNK_BYTES
    try:
        while position < len(page):
            piece = page[position:position + chunk]
            parser.feed(piece if decode is None else decode(piece))
            position += chunk
            chunk *= 2
            events = parser.read_events()
            if root is None:
                root = next((element for _, element in events), None)
                if root is None:
                    return None  # the first chunk opened no such element
            collections.deque(events, maxlen=0)  # drop the other start events, in C
            if _has_closed(root):
                return root
            _check_deadline(deadline, "HTML parsing")
        parser.close()
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError, LookupError) as exc:
        raise PageDropped("not_html", f"lxml cannot parse the page: {exc}") from None
    return root


def _has_closed(element: Any) -> bool:
    """Has the parser gone past ``element`` (does it or an ancestor have a next sibling)?"""
    while element is not None:
        if element.getnext() is not None:
            return True
        element = element.getparent()
    return False


def _parse_page(page: bytes, charset: str) -> Any:
    try:
        try:
            root = lxml.html.fromstring(page, parser=lxml.html.HTMLParser(encoding=charset))
        except LookupError:  # a charset that Python knows and libxml2 does not
            root = lxml.html.fromstring(page.decode(charset, errors="replace"))
    except (lxml.etree.ParserError, ValueError, LookupError) as exc:
        raise PageDropped("not_html", f"lxml cannot parse the page: {exc}") from None
    _check_depth(root)
    return root


def _microdata_to_jsonld(item: Any) -> Any:
    """extruct's microdata item ``{type, id, properties}`` -> a JSON-LD-shaped node."""
    if isinstance(item, list):
        return [_microdata_to_jsonld(value) for value in item]
    if not isinstance(item, dict):
        return item
    node: dict[str, Any] = {}
    if "type" in item:
        node["@type"] = item["type"]
    if "id" in item:
        node["@id"] = item["id"]
    for name, value in (item.get("properties") or {}).items():
        node[name] = _microdata_to_jsonld(value)
    if "value" in item and not node.get("text"):
        node.setdefault("text", item["value"])
    return node


def _microdata_items(element: Any, url: str) -> list[dict[str, Any]]:
    _check_size(element, MAX_SUBTREE_ELEMENTS, MAX_SUBTREE_PROPERTIES)
    items = _TextMicrodataExtractor().extract_items(element, base_url=url)
    return [node for node in _microdata_to_jsonld(items) if isinstance(node, dict)]


def _rdfa_items(element: Any) -> list[dict[str, Any]]:
    _check_size(element, MAX_SUBTREE_ELEMENTS)  # RDFa Lite is read in one pass (pyRdfa has its own bound)
    return rdfa_lite_items(element)


def _outermost(elements: list[Any]) -> list[Any]:
    chosen: list[Any] = []
    for element in elements:
        if not any(element in set(ancestor.iterdescendants()) for ancestor in chosen):
            chosen.append(element)
    return chosen


def _subtree_items(
    page: bytes, tags: list[int], charset: str, deadline: float, step: str,
    nested: Callable[[Any], Any], needs_page: Callable[[Any], bool], read: Callable[[Any], list[dict[str, Any]]],
) -> list[dict[str, Any]] | None:
    """Items of each outermost FAQPage subtree; ``None`` where one needs the whole page instead."""
    items: list[dict[str, Any]] = []
    skip = 0
    for tag_start in tags:
        if skip:  # this FAQPage element lies inside the previous one, whose items hold it already
            skip -= 1
            continue
        element = _subtree_at(page, tag_start, charset, deadline)
        if element is None:
            continue
        _check_depth(element)
        if needs_page(element):
            return None
        skip = int(nested(element))
        items.extend(read(element))
        _check_deadline(deadline, step)
    return items


def dom_items(
    page: bytes, url: str, charset: str, *, microdata_tags: list[int], rdfa_tags: list[int], deadline: float
) -> list[dict[str, Any]]:
    """FAQPage items of the page from microdata and/or RDFa, in JSON-LD shape (see module)."""
    items: list[dict[str, Any]] = []
    page_root = None
    if microdata_tags:
        found = _subtree_items(page, microdata_tags, charset, deadline, "microdata extraction",
                               _NESTED_ITEMTYPE, _HAS_ITEMREF, lambda element: _microdata_items(element, url))
        if found is None:
            page_root = _parse_page(page, charset)
            found = []
            for element in _outermost(_FAQ_ITEMTYPE(page_root)):
                found.extend(_microdata_items(element, url))
                _check_deadline(deadline, "microdata extraction")
        items.extend(found)
    if rdfa_tags:
        found = _subtree_items(page, rdfa_tags, charset, deadline, "RDFa extraction",
                               _NESTED_TYPEOF, needs_full_rdfa, _rdfa_items)
        if found is None:
            page_root = _parse_page(page, charset) if page_root is None else page_root
            found = []
            for element in _outermost(_FAQ_TYPEOF(page_root)):
                _check_size(element, MAX_RDFA_ELEMENTS)
                found.extend(rdfa_subtree_items(element, url))
                _check_deadline(deadline, "RDFa extraction")
        items.extend(found)
    return items
