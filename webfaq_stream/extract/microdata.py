"""Microdata items of a parsed page, in JSON-LD shape, read from the lexbor tree.

Contract:
- :func:`microdata_items` (tree, base URL, deadline -> list of nodes): every item of the page as a
  JSON-LD-shaped node (``@type`` the ``itemtype`` tokens, ``@id`` the ``itemid``, one key per property
  name), in document order, as extruct's microdata extractor gives them (every ``itemscope`` element
  that is not already a property value of an earlier item is an item; nested items are property
  values). The page calls it when an ``itemscope`` element names an FAQPage.
  Properties follow the microdata standard: an item's properties are the ``itemprop`` elements below
  it that no nested ``itemscope`` element holds, then those of the elements its ``itemref`` names;
  multi-token ``itemprop`` gives each name the value. Values: a nested item; ``meta`` -> ``content``;
  ``audio``/``embed``/``iframe``/``img``/``source``/``track``/``video`` -> ``src``, ``a``/``area``/
  ``link`` -> ``href``, ``object`` -> ``data`` (absolute URLs); ``data``/``meter`` -> ``value``;
  ``time`` -> ``datetime`` (else its text); any other element with ``content`` -> ``content``; else
  the element's text by :func:`webfaq_stream.extract.text.element_text`. An item without properties
  gets its own value as ``text``. Cycles through ``itemref`` are cut.
- :func:`extruct_items_to_jsonld` (extruct-shaped items -> nodes): the same shape from the output of
  extruct's microdata extractor (``{"type", "id", "properties"}``), as crawlers that ran extruct supply it.
Bounds: more than ``MAX_PROPERTIES`` ``itemprop`` elements on the page, or more than
``MAX_PROPERTY_VISITS`` property visits (nested items are visited once per enclosing item), raise
``PageDropped("too_complex")``; nesting past Python's recursion limit raises ``PageDropped("too_deep")``;
past ``deadline``, ``PageDropped("too_slow")``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from webfaq_stream.domain.model import PageDropped
from webfaq_stream.extract.text import element_text

Node = dict[str, Any]

#: Most ``itemprop`` elements a page may hold for its microdata to be read.
MAX_PROPERTIES = 20_000
#: Most property visits (each ``itemprop`` element once per enclosing item) for one page.
MAX_PROPERTY_VISITS = 200_000
_DEADLINE_CHECK_EVERY = 256
_URL_ATTRIBUTE = {"audio": "src", "embed": "src", "iframe": "src", "img": "src", "source": "src",
                  "track": "src", "video": "src", "a": "href", "area": "href", "link": "href",
                  "object": "data"}
_VALUE_ATTRIBUTE = {"data": "value", "meter": "value"}
_HTML_WHITESPACE = " \t\n\r\f"


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise PageDropped("too_slow", "page time budget exceeded during microdata extraction")


class _Reader:
    """The items of one page: which ``itemprop`` elements each ``itemscope`` element owns."""

    def __init__(self, tree: LexborHTMLParser, scopes: list[LexborNode], url: str,
                 deadline: float | None) -> None:
        self.tree = tree
        self.url = url
        self.deadline = deadline
        self.scope_ids = {scope.mem_id for scope in scopes}
        self.owner: dict[int, int] = {}  # itemprop element -> its innermost itemscope ancestor
        self.owned: dict[int, list[LexborNode]] = {scope.mem_id: [] for scope in scopes}
        self.visits = 0
        properties = tree.css("[itemprop]")
        if len(properties) > MAX_PROPERTIES:
            raise PageDropped("too_complex", f"{len(properties)} itemprop elements > {MAX_PROPERTIES}")
        # every scope in document order claims the itemprop elements below it; the last claim is the
        # innermost scope (the latest ancestor in document order)
        below: dict[int, list[LexborNode]] = {}
        for scope in scopes:
            found = [node for node in scope.css("[itemprop]") if node.mem_id != scope.mem_id]
            self._count(len(found))
            below[scope.mem_id] = found
            for node in found:
                self.owner[node.mem_id] = scope.mem_id
        for scope_id, found in below.items():
            self.owned[scope_id] = [node for node in found if self.owner[node.mem_id] == scope_id]
        self._ids: dict[str, LexborNode] | None = None
        self.used: set[int] = set()

    def _count(self, visits: int) -> None:
        before = self.visits
        self.visits += visits
        if self.visits > MAX_PROPERTY_VISITS:
            raise PageDropped("too_complex", f"microdata nesting needs over {MAX_PROPERTY_VISITS} property visits")
        if before // _DEADLINE_CHECK_EVERY != self.visits // _DEADLINE_CHECK_EVERY:
            _check_deadline(self.deadline)

    def _by_id(self, identifier: str) -> LexborNode | None:
        if self._ids is None:
            self._ids = {}
            for node in self.tree.css("[id]"):
                self._ids.setdefault(node.attributes.get("id") or "", node)
        return self._ids.get(identifier)

    def _referenced(self, scope: LexborNode) -> list[LexborNode]:
        """The properties an ``itemref`` brings in: each named element (when it has ``itemprop``) and,
        unless it is an item itself, the ``itemprop`` elements below it that no item inside it holds."""
        found: list[LexborNode] = []
        for identifier in (scope.attributes.get("itemref") or "").split():
            element = self._by_id(identifier)
            if element is None or element.mem_id == scope.mem_id:
                continue
            attributes = element.attributes
            if "itemprop" in attributes:
                found.append(element)
            if "itemscope" in attributes:
                continue
            inner = {node.mem_id for node in element.css("[itemscope]")}
            below = [node for node in element.css("[itemprop]") if node.mem_id != element.mem_id]
            self._count(len(below))
            found.extend(node for node in below if self.owner.get(node.mem_id) not in inner)
        return found

    def item(self, scope: LexborNode, building: frozenset[int] = frozenset()) -> Node:
        """The JSON-LD-shaped node of the item ``scope``."""
        self.used.add(scope.mem_id)
        attributes = scope.attributes
        node: Node = {}
        types = (attributes.get("itemtype") or "").split()
        if types:
            node["@type"] = types[0] if len(types) == 1 else types
            itemid = (attributes.get("itemid") or "").strip()
            if itemid:
                node["@id"] = itemid
        inside = building | {scope.mem_id}
        values: dict[str, list[Any]] = {}
        properties = self.owned.get(scope.mem_id, [])
        if attributes.get("itemref"):
            properties = properties + self._referenced(scope)
        for element in properties:
            names = (element.attributes.get("itemprop") or "").split()
            if not names or element.mem_id in inside:
                continue
            value = self.value(element, inside)
            for name in names:
                values.setdefault(name, []).append(value)
        for name, found in values.items():
            node[name] = found[0] if len(found) == 1 else found
        if not values:
            node.setdefault("text", self.value(scope, inside, as_item=False))
        return node

    def value(self, element: LexborNode, building: frozenset[int], as_item: bool = True) -> Any:
        """A property value (see the module contract)."""
        attributes = element.attributes
        if as_item and "itemscope" in attributes:
            return self.item(element, building)
        tag = element.tag
        if tag == "meta":
            return attributes.get("content") or ""
        if tag in _URL_ATTRIBUTE:
            return urljoin(self.url, (attributes.get(_URL_ATTRIBUTE[tag]) or "").strip(_HTML_WHITESPACE))
        if tag in _VALUE_ATTRIBUTE:
            return attributes.get(_VALUE_ATTRIBUTE[tag]) or ""
        if tag == "time" and attributes.get("datetime") is not None:
            return attributes.get("datetime") or ""
        if attributes.get("content"):
            return attributes.get("content")
        return element_text(element)


def microdata_items(tree: LexborHTMLParser, url: str, deadline: float | None = None) -> list[Node]:
    """Every microdata item of the page (see the module contract)."""
    scopes = tree.css("[itemscope]")
    reader = _Reader(tree, scopes, url, deadline)
    items: list[Node] = []
    try:
        for scope in scopes:
            if scope.mem_id not in reader.used:
                items.append(reader.item(scope))
    except RecursionError:
        raise PageDropped("too_deep", "microdata items nested deeper than the recursion limit") from None
    return items


def extruct_items_to_jsonld(item: Any) -> Any:
    """extruct's microdata item(s) ``{type, id, properties[, value]}`` -> JSON-LD-shaped node(s)."""
    if isinstance(item, list):
        return [extruct_items_to_jsonld(value) for value in item]
    if not isinstance(item, dict):
        return item
    node: Node = {}
    if "type" in item:
        node["@type"] = item["type"]
    if "id" in item:
        node["@id"] = item["id"]
    for name, value in (item.get("properties") or {}).items():
        node[name] = extruct_items_to_jsonld(value)
    if "value" in item and not node.get("text"):
        node.setdefault("text", item["value"])
    return node
