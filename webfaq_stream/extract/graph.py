"""The schema.org FAQPage graph walk, over JSON-LD-shaped nodes from any syntax.

Input: the top-level JSON values of a page (JSON-LD blocks, microdata and RDFa items converted to the
same shape by ``extract_dom``). Output: ``(question_markup, answer_markup)`` string pairs, in document
order, for every Question reachable from an FAQPage; the strings still hold HTML/entities.

Shapes handled: ``@graph`` containers and top-level arrays; ``@id`` references anywhere (resolved
against every node on the page); ``@type`` as a string or list, with ``http(s)://schema.org/``,
``schema:`` and other prefixes, compared case-insensitively; property names with the same prefixes;
``mainEntity`` single, list or nested lists, or an ItemList (``itemListElement``, ``ListItem.item``);
an FAQPage without ``mainEntity`` whose questions hang off an ItemList whose ``mainEntityOfPage`` (or
``isPartOf``) points back to it; ``acceptedAnswer`` single or list (first wins), ``suggestedAnswer``
only where no ``acceptedAnswer`` exists; ``{"@value": ...}`` literals (RDFa). Cycles are cut; a walk
longer than ``deadline`` raises ``PageDropped("too_slow")``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from typing import Any

from webfaq_stream.domain.model import PageDropped

Node = dict[str, Any]
_DEADLINE_CHECK_EVERY = 256
_REFERENCE_KEYS = frozenset(("@id", "@type", "@context"))
#: Properties by which a node says which page it belongs to.
_OWNER_PROPERTIES = ("mainentityofpage", "ispartof")


@functools.lru_cache(maxsize=4096)
def local_name(name: str) -> str:
    """``https://schema.org/FAQPage`` / ``schema:FAQPage`` / ``FAQPage`` -> ``faqpage`` (cached: pages
    repeat the same few names)."""
    if name.startswith("@"):
        return name
    for separator in ("/", "#", ":"):
        if separator in name:
            name = name.rsplit(separator, 1)[1]
    return name.strip().lower()


def _as_list(value: Any) -> list[Any]:
    """A property's values: ``None`` -> ``[]``, a JSON-LD ``{"@list": ...}``/``{"@set": ...}`` -> its items."""
    if isinstance(value, dict) and len(value) == 1:
        for container in ("@list", "@set"):
            if container in value:
                return _as_list(value[container])
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


class _Graph:
    """All nodes (dicts) of a page in document order, an ``@id`` index, and lazily normalised views.

    Nodes are not copied: a node's properties are reduced to local names only when the walk
    visits it (:meth:`props`), so big unrelated graphs (recipes, breadcrumbs) cost one pass. Nodes
    that share an ``@id`` describe one thing (JSON-LD node merging): the view of each holds the
    properties of all of them, its own first.
    """

    def __init__(self, nodes: list[Node], deadline: float | None) -> None:
        self.deadline = deadline
        self.steps = 0
        self.nodes = nodes
        self.by_id: dict[str, list[Node]] = {}
        for node in nodes:
            node_id = node.get("@id")
            if isinstance(node_id, str) and node_id:
                self.by_id.setdefault(node_id, []).append(node)
        self._views: dict[int, Node] = {}
        self._types: dict[int, frozenset[str]] = {}

    def tick(self) -> None:
        """One step of a walk; every ``_DEADLINE_CHECK_EVERY`` steps the deadline is checked."""
        self.steps += 1
        if self.steps % _DEADLINE_CHECK_EVERY == 0:
            self.check_deadline()

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise PageDropped("too_slow", "FAQPage graph walk exceeded the page time budget")

    def props(self, node: Node) -> Node:
        """``node`` with property names reduced to local names (the first spelling wins)."""
        view = self._views.get(id(node))
        if view is None:
            view = {}
            node_id = node.get("@id")
            same = self.by_id.get(node_id, ()) if isinstance(node_id, str) else ()
            for source in (node, *(other for other in same if other is not node)):
                for name, value in source.items():
                    if isinstance(name, str):
                        view.setdefault("@type" if name in ("@type", "type") else local_name(name), value)
            self._views[id(node)] = view
        return view

    def resolve(self, value: Any) -> Any:
        """A reference (``@id`` with at most ``@type``/``@context``) -> the fullest other node with that
        id (its view holds the properties of all of them); the reference itself when there is none."""
        if isinstance(value, dict) and isinstance(value.get("@id"), str) and value.keys() <= _REFERENCE_KEYS:
            others = [node for node in self.by_id.get(value["@id"], ()) if node is not value]
            if others:
                return max(others, key=len)
        return value

    def types(self, node: Node) -> frozenset[str]:
        """Local type names of a node (from the nodes sharing its ``@id`` when it has none itself)."""
        known = self._types.get(id(node))
        if known is None:
            raw = node.get("@type", node.get("type"))
            node_id = node.get("@id")
            if raw is None and isinstance(node_id, str) and len(self.by_id.get(node_id, ())) > 1:
                raw = self.props(node).get("@type")
            known = frozenset(local_name(t) for t in _as_list(raw) if isinstance(t, str))
            self._types[id(node)] = known
        return known


def _literal(value: Any) -> str | None:
    """The text of a property value: a string, a number, ``{"@value": ...}``, or the first of a list."""
    for item in _as_list(value):
        if isinstance(item, str):
            return item
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return str(item)
        if isinstance(item, dict) and "@value" in item:
            return _literal(item["@value"])
    return None


def collect_nodes(roots: list[Any], deadline: float | None = None) -> list[Node]:
    """Every dict inside ``roots``, in document order (pre-order; iterative, so that deep nesting
    cannot exhaust the Python stack). Raises ``PageDropped("too_slow")`` past ``deadline``."""
    nodes: list[Node] = []
    stack: list[Any] = list(reversed(roots))
    visited = 0
    while stack:
        item = stack.pop()
        visited += 1
        if deadline is not None and visited % _DEADLINE_CHECK_EVERY == 0 and time.monotonic() > deadline:
            raise PageDropped("too_slow", "FAQPage graph walk exceeded the page time budget")
        if isinstance(item, dict):
            nodes.append(item)
            stack.extend(reversed([v for v in item.values() if isinstance(v, (dict, list))]))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return nodes


def faq_pairs(
    roots: list[Any], deadline: float | None = None, *, nodes: list[Node] | None = None
) -> list[tuple[str, str]]:
    """``(question, answer)`` markup strings of every Question reachable from an FAQPage.

    ``nodes``, when the caller has them already (``extract_jsonld.parse_jsonld`` collects them while
    parsing), are every dict inside ``roots``; otherwise they are collected by :func:`collect_nodes`.
    """
    graph = _Graph(collect_nodes(roots, deadline) if nodes is None else nodes, deadline)
    pairs: list[tuple[str, str]] = []
    seen: set[int] = set()
    pages = [graph.props(node) for node in graph.nodes if _may_name_faq_page(node) and "faqpage" in graph.types(node)]
    for page in pages:
        for question in _questions_of(graph, page):
            if id(question) in seen:
                continue
            seen.add(id(question))
            pair = _pair_of(graph, question)
            if pair is not None:
                pairs.append(pair)
    return pairs


def _may_name_faq_page(node: Node) -> bool:
    """Cheap test before :meth:`_Graph.types`: a plain string type that does not hold the word rules the
    node out (most nodes of big recipe or product graphs)."""
    raw = node.get("@type", node.get("type"))
    return not isinstance(raw, str) or "faqpage" in raw.lower()


def _questions_of(graph: _Graph, page: Node) -> Iterator[Node]:
    entities = list(_as_list(page.get("mainentity")))
    if not entities:
        # no mainEntity: the ItemLists and Questions that name this page as theirs
        page_id = page.get("@id")
        if isinstance(page_id, str) and page_id:
            for node in graph.nodes:
                if not graph.types(node) & {"itemlist", "question"}:
                    continue
                view = graph.props(node)
                owners = [o for name in _OWNER_PROPERTIES for o in _as_list(view.get(name))]
                if any(isinstance(o, dict) and o.get("@id") == page_id for o in owners):
                    entities.append(node)
    yield from _walk_entities(graph, entities, set())


def _walk_entities(graph: _Graph, values: list[Any], visiting: set[int]) -> Iterator[Node]:
    stack = list(reversed(values))
    while stack:
        graph.tick()
        value = graph.resolve(stack.pop())
        if isinstance(value, list):
            stack.extend(reversed(value))
            continue
        if not isinstance(value, dict) or id(value) in visiting:
            continue
        visiting.add(id(value))
        types = graph.types(value)
        view = graph.props(value)
        if "question" in types:
            yield view
        elif "itemlist" in types or "itemlistelement" in view:
            stack.extend(reversed(_as_list(view.get("itemlistelement"))))
        elif "listitem" in types:
            stack.extend(reversed(_as_list(view.get("item"))))


def _pair_of(graph: _Graph, question: Node) -> tuple[str, str] | None:
    name = _literal(question.get("name"))
    if name is None:
        name = _literal(question.get("text"))
    answers = _as_list(question.get("acceptedanswer")) or _as_list(question.get("suggestedanswer"))
    for answer in answers:
        answer = graph.resolve(answer)
        if isinstance(answer, list):
            answer = graph.resolve(answer[0]) if answer else None
        if isinstance(answer, dict):
            view = graph.props(answer)
            text = _literal(view.get("text"))
            if text is None:
                text = _literal(view.get("name"))
        else:
            text = _literal(answer)
        if name is not None and text is not None:
            return name, text
        break  # the first answer wins, even when it is empty
    return None
