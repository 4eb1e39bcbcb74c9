"""Microdata and RDFa FAQPage items through extruct, bounded in time and size.

``dom_items(page, url, charset, microdata=, rdfa=, deadline=) -> list[dict]``: the FAQPage items of the
page in JSON-LD shape (``@type``, ``@id``, properties), ready for ``extract_graph.faq_pairs``. Text
values are the elements' text by ``htmltext.element_text`` (block boundaries as spaces, inline tags
joined), not extruct's own text, so that all syntaxes clean text the same way.

Only the FAQPage subtrees are handed to extruct (its microdata and RDFa extractors are known to take
minutes on some multi-megabyte pages). Bounds, checked before any extractor runs: the parsed tree may
not reach libxml2's nesting cap (``PageDropped("too_deep")``; libxml2 silently flattens deeper
documents), a FAQPage subtree may hold at most ``MAX_SUBTREE_ELEMENTS`` elements and
``MAX_SUBTREE_PROPERTIES`` itemprops (RDFa: ``MAX_RDFA_ELEMENTS``) (``PageDropped("too_complex")``), and the deadline is checked between subtrees and syntaxes
(``PageDropped("too_slow")``).
"""

from __future__ import annotations

import time
from typing import Any

import lxml.etree
import lxml.html
from extruct.rdfa import RDFaExtractor
from extruct.utils import parse_xmldom_html
from extruct.w3cmicrodata import MicrodataExtractor

from . import htmltext
from .exceptions import PageDropped

#: Largest FAQPage subtree (in elements) handed to extruct's microdata extractor.
MAX_SUBTREE_ELEMENTS = 100_000
#: Most ``itemprop`` elements in one microdata FAQPage subtree (extruct's cost grows with their square:
#: 3,000 take about 0.05 s, 18,000 about 1.3 s on one core).
MAX_SUBTREE_PROPERTIES = 6_000
#: Largest FAQPage subtree handed to the RDFa extractor (pyRdfa is 40-50x slower than microdata).
MAX_RDFA_ELEMENTS = 10_000
#: Nesting at which libxml2's HTML parser starts flattening the document (it caps at 256).
MAX_DEPTH = 250

_FAQ_ITEMTYPE = lxml.etree.XPath(
    "//*[@itemscope][contains(translate(@itemtype, 'FAQPGE', 'faqpge'), 'faqpage')]")
_FAQ_TYPEOF = lxml.etree.XPath("//*[contains(translate(@typeof, 'FAQPGE', 'faqpge'), 'faqpage')]")
_TOO_DEEP = lxml.etree.XPath("count(/*" + "/*" * MAX_DEPTH + ") > 0")


class _TextMicrodataExtractor(MicrodataExtractor):
    """extruct's microdata extractor with the project's text rules for element text."""

    def _extract_textContent(self, node: Any) -> str:
        return htmltext.element_text(node)


def _outermost(elements: list[Any]) -> list[Any]:
    chosen: list[Any] = []
    for element in elements:
        if not any(element in set(ancestor.iterdescendants()) for ancestor in chosen):
            chosen.append(element)
    return chosen


_COUNT_ELEMENTS = lxml.etree.XPath("count(descendant-or-self::*)")
_COUNT_PROPERTIES = lxml.etree.XPath("count(descendant-or-self::*[@itemprop])")


def _check_size(element: Any, max_elements: int, max_properties: int | None = None) -> None:
    elements = int(_COUNT_ELEMENTS(element))
    if elements > max_elements:
        raise PageDropped("too_complex", f"FAQPage subtree of {elements} elements > {max_elements}")
    if max_properties is not None:
        properties = int(_COUNT_PROPERTIES(element))
        if properties > max_properties:
            raise PageDropped("too_complex", f"FAQPage subtree of {properties} itemprops > {max_properties}")


def _check_deadline(deadline: float, step: str) -> None:
    if time.monotonic() > deadline:
        raise PageDropped("too_slow", f"page time budget exceeded during {step}")


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


def _parse(page: bytes, charset: str) -> Any:
    try:
        root = lxml.html.fromstring(page, parser=lxml.html.HTMLParser(encoding=charset))
    except (lxml.etree.ParserError, ValueError) as exc:
        raise PageDropped("not_html", f"lxml cannot parse the page: {exc}") from None
    if _TOO_DEEP(root):
        raise PageDropped("too_deep", f"elements nested deeper than {MAX_DEPTH}")
    return root


def dom_items(
    page: bytes, url: str, charset: str, *, microdata: bool, rdfa: bool, deadline: float
) -> list[dict[str, Any]]:
    """FAQPage items of the page from microdata and/or RDFa, in JSON-LD shape (see module)."""
    root = _parse(page, charset)
    _check_deadline(deadline, "HTML parsing")
    items: list[dict[str, Any]] = []
    if microdata:
        extractor = _TextMicrodataExtractor()
        for element in _outermost(_FAQ_ITEMTYPE(root)):
            _check_size(element, MAX_SUBTREE_ELEMENTS, MAX_SUBTREE_PROPERTIES)
            items.extend(_microdata_to_jsonld(extractor.extract_items(element, base_url=url)))
            _check_deadline(deadline, "microdata extraction")
    if rdfa:
        items.extend(_rdfa_items(root, url, deadline))
    return items


def _rdfa_items(root: Any, url: str, deadline: float) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for element in _outermost(_FAQ_TYPEOF(root)):
        _check_size(element, MAX_RDFA_ELEMENTS)
        items.extend(_rdfa_subtree(element, url))
        _check_deadline(deadline, "RDFa extraction")
    return items


_NODE_IRI = "urn:webfaq:node:"


def _rdfa_subtree(element: Any, url: str) -> list[dict[str, Any]]:
    """RDFa of one FAQPage subtree, with ``vocab``/``prefix`` inherited from its ancestors.

    RDF has no order, so every typed element without its own subject gets a ``resource`` IRI that
    carries its document position, and property values are sorted back into document order.
    """
    context = {}
    for ancestor in element.iterancestors():
        for name in ("vocab", "prefix"):
            if name not in context and ancestor.get(name):
                context[name] = ancestor.get(name)
    copy = lxml.html.fromstring(lxml.html.tostring(element))
    copy.tail = None
    for position, typed in enumerate(copy.xpath("descendant-or-self::*[@typeof]")):
        if not any(typed.get(name) for name in ("resource", "about", "href", "src")):
            typed.set("resource", f"{_NODE_IRI}{position}")
    wrapper = lxml.html.Element("div", **context)
    wrapper.append(copy)
    document = "<html><body>" + lxml.html.tostring(wrapper, encoding="unicode") + "</body></html>"
    items = RDFaExtractor().extract_items(parse_xmldom_html(document, encoding="utf-8"), base_url=url)
    for item in items:
        for name, values in item.items():
            if isinstance(values, list) and not name.startswith("@"):
                values.sort(key=_document_position)
    return items


def _document_position(value: Any) -> int:
    node_id = value.get("@id") if isinstance(value, dict) else None
    if isinstance(node_id, str) and node_id.startswith(_NODE_IRI):
        return int(node_id[len(_NODE_IRI):])
    return -1
