"""The schema.org FAQPage graph walk, over JSON-LD-shaped nodes from any syntax.

Input: the top-level JSON values of a page (JSON-LD blocks, microdata and RDFa items converted to the
same shape by :mod:`~webfaq_stream.extract.microdata` and :mod:`~webfaq_stream.extract.rdfa`). Output: ``(question_markup, answer_markup)`` string pairs, in document
order, for every Question reachable from an FAQPage; the strings still hold HTML/entities.

Shapes handled: ``@graph`` containers and top-level arrays; ``@id`` references anywhere (resolved
against every node on the page); ``@type`` as a string or list, with ``http(s)://schema.org/``,
``schema:`` and other prefixes, compared case-insensitively; property names with the same prefixes,
in any letter case;
``mainEntity`` single, list or nested lists, or an ItemList (``itemListElement``, ``ListItem.item``);
an FAQPage without ``mainEntity`` whose questions hang off an ItemList whose ``mainEntityOfPage`` (or
``isPartOf``) points back to it; ``acceptedAnswer`` single or list (first wins), ``suggestedAnswer``
only where no ``acceptedAnswer`` exists; ``{"@value": ...}`` literals (RDFa). Cycles are cut; a walk
longer than ``deadline`` raises ``PageDropped("too_slow")``.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from webfaq_stream.domain.model import PageDropped

Node = dict[str, Any]
_DEADLINE_CHECK_EVERY = 256
_REFERENCE_KEYS = frozenset(("@id", "@type", "@context"))
#: Properties by which a node says which page it belongs to.
_OWNER_PROPERTIES = ("mainEntityOfPage", "isPartOf")
#: The properties the walk reads, as schema.org spells them. A view holds each under this spelling,
#: whatever prefix and letter case the markup wrote; any other property under its local name.
_WALK_PROPERTIES = frozenset(("@type", "@id", "name", "text", "mainEntity", "acceptedAnswer", "suggestedAnswer",
                              "itemListElement", "item", *_OWNER_PROPERTIES))
_SPELLINGS = {name.lower(): name for name in _WALK_PROPERTIES}


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


@functools.lru_cache(maxsize=4096)
def _view_key(name: Any) -> Any:
    """A property name as a view holds it: ``type`` as ``@type``, a property the walk reads as schema.org
    spells it, any other as its local name (cached)."""
    if not isinstance(name, str):
        return name
    if name in ("@type", "type"):
        return "@type"
    local = local_name(name)
    return _SPELLINGS.get(local, local)


@functools.lru_cache(maxsize=4096)
def _is_own_view(names: tuple[Any, ...]) -> bool:
    """Is a node with these property names its own view? Yes when each name that a view would hold under
    a property the walk reads is written so already (cached: pages repeat a few shapes of node)."""
    return all(name == key or key not in _WALK_PROPERTIES for name, key in zip(names, map(_view_key, names)))


@functools.lru_cache(maxsize=4096)
def _type_names(raw: str) -> frozenset[str]:
    """The local type names of a plain string ``@type`` (cached: pages repeat a few types)."""
    return frozenset((local_name(raw),))


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

    A node is read only when the walk visits it (:meth:`read`), so big unrelated graphs (recipes,
    breadcrumbs) cost one pass. Its view holds the properties the walk reads under schema.org's
    spelling: a node that spells them so already (most do) is its own view, nothing copied; any other
    gets a copy with each name respelled (:func:`_view_key`). Nodes that share an ``@id`` describe one
    thing (JSON-LD node merging): the view of each holds the properties of all of them, its own first.
    """

    def __init__(self, nodes: list[Node], deadline: float | None) -> None:
        self.deadline = deadline
        self.steps = 0
        self.nodes = nodes
        self.by_id: dict[str, list[Node]] = {}
        #: The nodes whose type may name an FAQPage, in document order: a plain string type that does
        #: not (most nodes of big recipe or product graphs) rules a node out in this one pass.
        self.page_candidates: list[Node] = []
        for node in nodes:
            node_id = node.get("@id")
            if isinstance(node_id, str) and node_id:
                self.by_id.setdefault(node_id, []).append(node)
            raw_type = node.get("@type")
            if raw_type is None:
                raw_type = node.get("type")
            if not isinstance(raw_type, str) or "faqpage" in _type_names(raw_type):
                self.page_candidates.append(node)
        self._reads: dict[int, tuple[frozenset[str], Node]] = {}

    def tick(self) -> None:
        """One step of a walk; every ``_DEADLINE_CHECK_EVERY`` steps the deadline is checked."""
        self.steps += 1
        if self.steps % _DEADLINE_CHECK_EVERY == 0 and self.deadline is not None and time.monotonic() > self.deadline:
            raise PageDropped("too_slow", "FAQPage graph walk exceeded the page time budget")

    def read(self, node: Node) -> tuple[frozenset[str], Node]:
        """The local type names of ``node`` and its view (see the class contract; where two names of a
        node give one property, the first wins). Cached per node."""
        known = self._reads.get(id(node))
        if known is None:
            node_id = node.get("@id")
            if isinstance(node_id, str) and len(self.by_id.get(node_id, ())) > 1:
                view: Node = {}
                for source in (node, *(other for other in self.by_id[node_id] if other is not node)):
                    for name, value in source.items():
                        view.setdefault(_view_key(name), value)
            elif _is_own_view(tuple(node)):  # the common case: the walk reads the node as it is
                view = node
            else:  # built in reverse, so that the first spelling is written last
                view = {_view_key(name): value for name, value in reversed(node.items())}
            raw_type = view.get("@type")
            if isinstance(raw_type, str):
                known = (_type_names(raw_type), view)
            else:
                known = (frozenset(local_name(t) for t in _as_list(raw_type) if isinstance(t, str)), view)
            self._reads[id(node)] = known
        return known

    def resolve(self, value: Node) -> Node:
        """A reference (``@id`` with at most ``@type``/``@context``) -> the fullest other node with that
        id (its view holds the properties of all of them); the reference itself when there is none."""
        node_id = value.get("@id")
        if isinstance(node_id, str) and value.keys() <= _REFERENCE_KEYS:
            others = [node for node in self.by_id.get(node_id, ()) if node is not value]
            if others:
                return max(others, key=len)
        return value


def _literal(value: Any) -> str | None:
    """The text of a property value: a string, a number, ``{"@value": ...}``, or the first of a list."""
    if isinstance(value, str):
        return value
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
    A Question reachable from several FAQPages (or twice from one) gives its pair once.
    """
    graph = _Graph(collect_nodes(roots, deadline) if nodes is None else nodes, deadline)
    pairs: list[tuple[str, str]] = []
    visited: set[int] = set()
    for types, page in map(graph.read, graph.page_candidates):
        if "faqpage" in types:
            _walk_entities(graph, _entities_of(graph, page), visited, pairs)
    return pairs


def _entities_of(graph: _Graph, page: Node) -> list[Any]:
    """What an FAQPage view lists: its ``mainEntity``, else the ItemLists and Questions that name it as
    theirs (``mainEntityOfPage``/``isPartOf``)."""
    entities = list(_as_list(page.get("mainEntity")))
    if not entities:
        page_id = page.get("@id")
        if isinstance(page_id, str) and page_id:
            for node in graph.nodes:
                types, view = graph.read(node)
                if not types & {"itemlist", "question"}:
                    continue
                owners = [o for name in _OWNER_PROPERTIES for o in _as_list(view.get(name))]
                if any(isinstance(o, dict) and o.get("@id") == page_id for o in owners):
                    entities.append(node)
    return entities


def _walk_entities(graph: _Graph, values: list[Any], visited: set[int], pairs: list[tuple[str, str]]) -> None:
    """Append to ``pairs`` the pair of every Question reachable from ``values`` through lists, ItemLists
    and ListItems, in document order, skipping nodes in ``visited`` (and adding those it visits)."""
    read, resolve, tick = graph.read, graph.resolve, graph.tick
    stack = list(reversed(values))
    while stack:
        tick()
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(reversed(value))
            continue
        if not isinstance(value, dict):
            continue
        if "@id" in value:
            value = resolve(value)
        if id(value) in visited:
            continue
        visited.add(id(value))
        types, view = read(value)
        if "question" in types:
            pair = _pair_of(graph, view)
            if pair is not None:
                pairs.append(pair)
        elif "itemlist" in types or "itemListElement" in view:
            stack.extend(reversed(_as_list(view.get("itemListElement"))))
        elif "listitem" in types:
            stack.extend(reversed(_as_list(view.get("item"))))


def _pair_of(graph: _Graph, question: Node) -> tuple[str, str] | None:
    """A Question view's name (or text) and its first answer's text (or name); None without both."""
    name = _literal(question.get("name"))
    if name is None:
        name = _literal(question.get("text"))
        if name is None:
            return None
    answer = question.get("acceptedAnswer")
    if not isinstance(answer, dict) or (len(answer) == 1 and ("@list" in answer or "@set" in answer)):
        answers = _as_list(answer) or _as_list(question.get("suggestedAnswer"))
        if not answers:
            return None
        answer = answers[0]  # the first answer wins, even when it is empty
        if isinstance(answer, list):
            answer = answer[0] if answer else None
    if isinstance(answer, dict):
        view = graph.read(graph.resolve(answer) if "@id" in answer else answer)[1]
        text = _literal(view.get("text"))
        if text is None:
            text = _literal(view.get("name"))
    else:
        text = _literal(answer)
    return None if text is None else (name, text)
