"""RDFa FAQPage items in JSON-LD shape: RDFa Lite read directly from the tree, full RDFa through pyRdfa.

Contract:
- :func:`needs_full_rdfa` (lxml element -> bool): whether the subtree uses RDFa beyond Lite in a way
  that changes subjects or values (``about``, ``rev``, ``inlist``, ``datatype``, or ``rel`` on an element
  that holds ``property``/``typeof`` markup). Such subtrees need pyRdfa and the page's context.
- :func:`rdfa_lite_items` (FAQPage element -> list of nodes): RDFa Lite (``typeof``, ``property``,
  ``resource``, plus ``content``) as JSON-LD-shaped dicts, in document order, without pyRdfa (which
  costs 40-50x more). Each ``typeof`` element is a node (``@type`` its tokens, ``@id`` its
  ``resource``/``href``/``src``); with ``property`` it is that property's value on the enclosing node,
  else a top-level node. A ``property`` element without ``typeof`` gives its ``content`` attribute, else
  ``{"@id": resource|href|src}``, else its text by ``htmltext.element_text``. Names stay as written
  (``schema:name``, full IRIs): ``extract_graph`` compares local names.
- :func:`rdfa_subtree_items` (element, base URL -> list of nodes): pyRdfa on one subtree, with the
  ``vocab``/``prefix`` of its ancestors, values in document order.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html
from extruct.rdfa import RDFaExtractor
from extruct.utils import parse_xmldom_html

from webfaq_stream.extract import text as htmltext

Node = dict[str, Any]

_BEYOND_LITE = lxml.etree.XPath(
    "boolean(descendant-or-self::*[@about or @rev or @inlist or @datatype"
    " or (@rel and (@property or @typeof or descendant::*[@property or @typeof]))])")
_IRI_ATTRIBUTES = ("resource", "href", "src")
_MARKED = lxml.etree.XPath("descendant-or-self::*[@typeof or @property]")
_NEAREST_TYPED_ANCESTOR = lxml.etree.XPath("ancestor::*[@typeof][1]")


def needs_full_rdfa(element: Any) -> bool:
    """Does the subtree use RDFa that RDFa Lite reading would get wrong? (see module)"""
    return bool(_BEYOND_LITE(element))


def _iri_of(element: Any) -> str | None:
    for name in _IRI_ATTRIBUTES:
        value = element.get(name)
        if value is not None:
            return value
    return None


def rdfa_lite_items(element: Any) -> list[Node]:
    """The top-level RDFa Lite nodes of ``element``'s subtree, in document order (see module).

    Only the elements with ``typeof`` or ``property`` are visited (selected by XPath, in C); each one's
    subject is the node of its nearest ``typeof`` ancestor inside the subtree.
    """
    top: list[Node] = []
    typed_nodes: dict[Any, Node] = {}
    for current in _MARKED(element):
        subject = None
        if current is not element:
            typed_ancestor = _NEAREST_TYPED_ANCESTOR(current)
            subject = typed_nodes.get(typed_ancestor[0]) if typed_ancestor else None
        typeof = current.get("typeof")
        properties = (current.get("property") or "").split()
        if typeof is not None:
            node: Node = {"@type": typeof.split()}
            identifier = _iri_of(current)
            if identifier:
                node["@id"] = identifier
            typed_nodes[current] = node
            if properties and subject is not None:
                for name in properties:
                    subject.setdefault(name, []).append(node)
            else:
                top.append(node)
        elif properties and subject is not None:
            value: Any = current.get("content")
            if value is None:
                identifier = _iri_of(current)
                value = {"@id": identifier} if identifier is not None else htmltext.element_text(current)
            for name in properties:
                subject.setdefault(name, []).append(value)
    return top


_NODE_IRI = "urn:webfaq:node:"
_SUBJECT_ATTRIBUTES = ("about", "resource", "href", "src")


def rdfa_subtree_items(element: Any, url: str) -> list[Node]:
    """RDFa of one FAQPage subtree through pyRdfa, with ``vocab``/``prefix`` inherited from its ancestors.

    RDF has no order, so every typed element without its own subject gets a ``resource`` IRI, the
    document position of every typed element is noted under its subject IRI, and property values
    are sorted back into document order.
    """
    context = {}
    for ancestor in element.iterancestors():
        for name in ("vocab", "prefix"):
            if name not in context and ancestor.get(name):
                context[name] = ancestor.get(name)
    copy = lxml.html.fromstring(lxml.html.tostring(element))
    copy.tail = None
    positions: dict[str, int] = {}
    for position, typed in enumerate(copy.xpath("descendant-or-self::*[@typeof]")):
        subject = next((typed.get(name) for name in _SUBJECT_ATTRIBUTES if typed.get(name)), None)
        if subject is None:
            subject = f"{_NODE_IRI}{position}"
            typed.set("resource", subject)
        positions.setdefault(urljoin(url, subject), position)
    wrapper = lxml.html.Element("div", **context)
    wrapper.append(copy)
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
