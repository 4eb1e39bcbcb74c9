"""RDFa items of a parsed page in JSON-LD shape: RDFa Lite read from the lexbor tree, full RDFa via pyRdfa.

Contract of :func:`rdfa_items` (tree, the elements whose ``typeof`` names an FAQPage, base URL,
deadline -> list of nodes):
- RDFa Lite (``vocab``, ``prefix``, ``typeof``, ``property``, ``resource``, plus ``content``), read in one
  pass over the page's ``typeof``/``property`` elements, without pyRdfa (which costs 40-50x more):
  each ``typeof`` element is a node (``@type`` its tokens, ``@id`` its ``resource``/``href``/``src``);
  with ``property`` it is that property's value on the node of its nearest ``typeof`` ancestor, else a
  top-level node. A ``property`` element without ``typeof`` gives its ``content`` attribute, else
  ``{"@id": resource|href|src}``, else its text by :func:`webfaq_stream.extract.text.element_text`.
  Names stay as written (``schema:name``, full IRIs): the graph walk compares local names. The
  FAQPage may stand on any element, ``<html>`` included.
- Where an FAQPage element's subtree uses RDFa beyond Lite in a way that changes subjects or values
  (``about``, ``rev``, ``inlist``, ``datatype``, or ``rel`` on an element that holds ``property``/
  ``typeof`` markup), each such subtree (as the tree serialises it, with the ``vocab``/``prefix`` of
  its ancestors) goes through pyRdfa (extruct), with property values sorted back into document order.
Bounds: more than ``MAX_VISITS`` claims of an element by a typed ancestor (Lite), or a subtree of
more than ``MAX_FULL_RDFA_ELEMENTS`` elements for pyRdfa: ``PageDropped("too_complex")``; past
``deadline``: ``PageDropped("too_slow")``.
"""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import urljoin

import lxml.html
from extruct.rdfa import RDFaExtractor
from extruct.utils import parse_xmldom_html
from selectolax.lexbor import LexborHTMLParser, LexborNode

from webfaq_stream.domain.model import PageDropped
from webfaq_stream.extract.text import element_text

Node = dict[str, Any]

_MARKED = ":is([typeof],[property])"
_BEYOND_LITE = ":is([about],[rev],[inlist],[datatype])"
_IRI_ATTRIBUTES = ("resource", "href", "src")
_SUBJECT_ATTRIBUTES = ("about", "resource", "href", "src")
_NODE_IRI = "urn:webfaq:node:"
_DEADLINE_CHECK_EVERY = 256
#: Most (typed ancestor, marked element) claims while reading RDFa Lite.
MAX_VISITS = 200_000
#: Largest FAQPage subtree handed to pyRdfa (40-50x slower than reading RDFa Lite).
MAX_FULL_RDFA_ELEMENTS = 10_000


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise PageDropped("too_slow", "page time budget exceeded during RDFa extraction")


def needs_full_rdfa(element: LexborNode) -> bool:
    """Does the subtree use RDFa that RDFa Lite reading would get wrong? (see the module contract)"""
    if element.css_first(_BEYOND_LITE) is not None:
        return True
    return any(linked.css_first(_MARKED) is not None for linked in element.css("[rel]"))


def _iri_of(attributes: Any) -> str | None:
    for name in _IRI_ATTRIBUTES:
        value = attributes.get(name)
        if value is not None:
            return value
    return None


def rdfa_lite_items(marked: list[LexborNode], deadline: float | None = None) -> list[Node]:
    """The top-level RDFa Lite nodes of a page, from its ``typeof``/``property`` elements in document
    order (see the module contract)."""
    typed = [element for element in marked if "typeof" in element.attributes]
    # every typed element in document order claims the marked elements below it: the last claim is
    # the nearest typed ancestor
    subject_of: dict[int, int] = {}
    visits = 0
    for count, element in enumerate(typed):
        below = element.css(_MARKED)
        visits += len(below)
        if visits > MAX_VISITS:
            raise PageDropped("too_complex", f"RDFa nesting needs over {MAX_VISITS} visits")
        for marked_below in below:
            if marked_below.mem_id != element.mem_id:
                subject_of[marked_below.mem_id] = element.mem_id
        if count % _DEADLINE_CHECK_EVERY == _DEADLINE_CHECK_EVERY - 1:
            _check_deadline(deadline)
    top: list[Node] = []
    nodes: dict[int, Node] = {}
    for element in marked:
        attributes = element.attributes
        subject = nodes.get(subject_of.get(element.mem_id, -1))
        properties = (attributes.get("property") or "").split()
        typeof = attributes.get("typeof")
        if typeof is not None:
            node: Node = {"@type": typeof.split()}
            identifier = _iri_of(attributes)
            if identifier:
                node["@id"] = identifier
            nodes[element.mem_id] = node
            if properties and subject is not None:
                for name in properties:
                    subject.setdefault(name, []).append(node)
            else:
                top.append(node)
        elif properties and subject is not None:
            value: Any = attributes.get("content")
            if value is None:
                identifier = _iri_of(attributes)
                value = {"@id": identifier} if identifier is not None else element_text(element)
            for name in properties:
                subject.setdefault(name, []).append(value)
    return top


def _context_of(element: LexborNode) -> dict[str, str]:
    """``vocab`` / ``prefix`` in force at ``element`` (its own or its nearest ancestors')."""
    context: dict[str, str] = {}
    current: LexborNode | None = element
    while current is not None and current.is_element_node and len(context) < 2:
        attributes = current.attributes
        for name in ("vocab", "prefix"):
            if name not in context and attributes.get(name):
                context[name] = attributes[name] or ""
        current = current.parent
    return context


def rdfa_subtree_items(element: LexborNode, url: str) -> list[Node]:
    """RDFa of one FAQPage subtree through pyRdfa, with ``vocab``/``prefix`` inherited from its ancestors.

    The subtree is what the HTML5 parser built, serialised (so well-formed) into a wrapper ``div`` that
    carries the element's attributes and context. RDF has no order, so every typed element without its
    own subject gets a ``resource`` IRI, the document position of every typed element is noted under
    its subject IRI, and property values are sorted back into document order.
    """
    attributes = {name: value or "" for name, value in element.attributes.items()}
    attributes.update({name: value for name, value in _context_of(element).items() if name not in attributes})
    opening = "".join(f' {name}="{html.escape(value)}"' for name, value in attributes.items()
                      if name.replace("-", "").replace(":", "").isalnum())
    wrapper = lxml.html.fromstring(f"<div{opening}>{element.inner_html or ''}</div>")
    positions: dict[str, int] = {}
    for position, typed in enumerate(wrapper.xpath("descendant-or-self::*[@typeof]")):
        subject = next((typed.get(name) for name in _SUBJECT_ATTRIBUTES if typed.get(name)), None)
        if subject is None:
            subject = f"{_NODE_IRI}{position}"
            typed.set("resource", subject)
        positions.setdefault(urljoin(url, subject), position)
    document = "<html><body>" + lxml.html.tostring(wrapper, encoding="unicode") + "</body></html>"
    items = RDFaExtractor().extract_items(parse_xmldom_html(document, encoding="utf-8"), base_url=url)

    def document_position(value: Any) -> int:
        node_id = value.get("@id") if isinstance(value, dict) else None
        return positions.get(node_id, -1) if isinstance(node_id, str) else -1

    for item in items:
        for name, values in item.items():
            if isinstance(values, list) and not name.startswith("@"):
                values.sort(key=document_position)
    return items


def _outermost(elements: list[LexborNode]) -> list[LexborNode]:
    """The elements (document order) that are not inside another one of them."""
    inner: set[int] = set()
    for element in elements:
        if element.mem_id not in inner:
            inner.update(below.mem_id for below in element.css("[typeof]") if below.mem_id != element.mem_id)
    return [element for element in elements if element.mem_id not in inner]


def rdfa_items(tree: LexborHTMLParser, faq_pages: list[LexborNode], url: str,
               deadline: float | None = None) -> list[Node]:
    """The page's RDFa nodes (see the module contract)."""
    pages = _outermost(faq_pages)
    if not any(needs_full_rdfa(page) for page in pages):
        return rdfa_lite_items(tree.css(_MARKED), deadline)
    items: list[Node] = []
    for page in pages:
        elements = len(page.css("*"))
        if elements > MAX_FULL_RDFA_ELEMENTS:
            raise PageDropped("too_complex", f"RDFa FAQPage subtree of {elements} elements > {MAX_FULL_RDFA_ELEMENTS}")
        items.extend(rdfa_subtree_items(page, url))
        _check_deadline(deadline)
    return items
