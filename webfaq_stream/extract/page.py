"""Extraction of schema.org FAQPage question-answer pairs from one page (README, "Extraction, cleaning and
language").

``extract_faq(html, url, ...) -> PageFAQ``: pairs in document order, deduplicated within the page,
text cleaned by :mod:`webfaq_stream.extract.text`, with the page's title and meta description.

Order of work, cheapest first, so that pages without FAQ markup cost microseconds:
1. limits: a page over ``max_bytes`` raises ``PageDropped("too_large")``; a UTF-16 page (BOM or HTTP
   charset, :mod:`~webfaq_stream.extract.encoding`) is transcoded to UTF-8 first; a page whose first
   bytes are binary (NUL or many control bytes) raises ``PageDropped("not_html")``;
2. prefilter: no case-insensitive ``faqpage`` in the bytes (nor in the supplied ``json_ld`` /
   ``microdata``) returns an empty ``PageFAQ`` at once (:func:`~webfaq_stream.extract.scan.has_marker`);
3. parse bounds (:func:`~webfaq_stream.extract.scan.open_element_bounds`): an estimated stack of open
   elements deeper than ``MAX_DEPTH`` raises ``PageDropped("too_deep")``, estimated tree-building work
   over ``MAX_TREE_WORK`` ``PageDropped("too_complex")``, before the parser runs (a C parse cannot be
   stopped half-way);
4. one HTML5 parse of the whole page (lexbor, through selectolax), decoded as a browser decides
   (BOM, HTTP charset, ``<meta charset>``, detection); from that one tree: the JSON-LD blocks
   (:mod:`~webfaq_stream.extract.jsonld`, read leniently), the microdata items
   (:mod:`~webfaq_stream.extract.microdata`), the RDFa (:mod:`~webfaq_stream.extract.rdfa`), the title
   and the meta description (:mod:`~webfaq_stream.extract.text`);
5. the FAQPage graph walk (:mod:`~webfaq_stream.extract.graph`) over all of it; text cleaning; dedup.

``json_ld`` (raw blocks) and ``microdata`` (JSON texts of extruct's microdata output, a list of items
or one item) are markup a producer supplies (JSON envelopes); they are read in addition to the page's.

The time budget is enforced without signals (usable from any thread): the parse is bounded before it
runs (step 3) and the deadline is checked after it, between JSON-LD blocks, inside the microdata and
RDFa readers and while walking the graph. Over budget: ``PageDropped("too_slow")``. Never returns
partial results.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser, SelectolaxError

from webfaq_stream.domain.model import PageDropped, PageFAQ, RawPair
from webfaq_stream.extract.encoding import Encoding, decoded, sniffed_encoding, transport_encoding
from webfaq_stream.extract.graph import collect_nodes, faq_pairs
from webfaq_stream.extract.jsonld import jsonld_blocks, parse_jsonld
from webfaq_stream.extract.microdata import extruct_items_to_jsonld, microdata_items
from webfaq_stream.extract.rdfa import rdfa_items
from webfaq_stream.extract.scan import has_marker, open_element_bounds
from webfaq_stream.extract.text import html_to_text, page_title_and_description

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_TIME_BUDGET_S = 2.0
#: Deepest estimated stack of open elements that is parsed (Blink caps its tree at 512; lexbor has no
#: cap and walks the stack for most start tags: 10,000 nested ``<div>`` cost it 0.1 s, 100,000 20 s).
MAX_DEPTH = 4096
#: Most estimated tree-building work (the stack depth summed over the start tags) that is parsed:
#: about 0.2 s of lexbor's slowest start tags; the fixture pages need at most 0.3 million.
MAX_TREE_WORK = 50_000_000
_SNIFF_BYTES = 1024
_CONTROL_BYTES = bytes((*range(1, 9), 11, 12, *range(14, 32)))
_PARSER_OPTIONS = LexborDocumentOptions.WO_EVENTS  # no <selectedcontent> mirroring: quadratic on big selects
#: Elements whose microdata ``itemtype`` or RDFa ``typeof`` may name an FAQPage (one pass over the tree).
_FAQ_DECLARATIONS = '[itemtype*="faqpage" i],[typeof*="faqpage" i]'


def _check_is_html(page: bytes) -> None:
    head = page[:_SNIFF_BYTES]
    if b"\x00" in head:
        raise PageDropped("not_html", "NUL bytes at the start of the page")
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if head and control * 10 > len(head):
        raise PageDropped("not_html", f"{control} control bytes in the first {len(head)}")


def _check_deadline(deadline: float, step: str) -> None:
    if time.monotonic() > deadline:
        raise PageDropped("too_slow", f"page time budget exceeded during {step}")


def _check_bounds(page: bytes) -> None:
    bounds = open_element_bounds(page, few_tags=MAX_DEPTH)
    if bounds.depth > MAX_DEPTH:
        raise PageDropped("too_deep", f"about {bounds.depth} elements open at once > {MAX_DEPTH}")
    if bounds.work > MAX_TREE_WORK:
        raise PageDropped("too_complex", f"tree building would take {bounds.work} steps > {MAX_TREE_WORK}")


def _parse(page: bytes, encoding: Encoding) -> LexborHTMLParser:
    try:
        return LexborHTMLParser(decoded(page, encoding), options=_PARSER_OPTIONS)
    except (SelectolaxError, ValueError, MemoryError) as exc:
        raise PageDropped("not_html", f"the HTML parser failed: {exc}") from None


def _supplied_microdata(texts: Sequence[str]) -> list[Any]:
    """JSON-LD-shaped nodes of supplied extruct microdata texts (unreadable ones give nothing)."""
    nodes: list[Any] = []
    for text in texts:
        try:
            items = json.loads(text)
        except (ValueError, RecursionError):
            continue
        converted = extruct_items_to_jsonld(items if isinstance(items, list) else [items])
        nodes.extend(node for node in converted if isinstance(node, dict))
    return nodes


def _names_faq_page(value: str | None) -> bool:
    return value is not None and "faqpage" in value.lower()


def _dom_items(tree: LexborHTMLParser, url: str, deadline: float) -> list[list[Any]]:
    """Microdata items (when an item is an FAQPage) and RDFa nodes (when a ``typeof`` names one)."""
    declared = {element.mem_id: element for element in tree.css(_FAQ_DECLARATIONS)}.values()
    found: list[list[Any]] = []
    if any("itemscope" in element.attributes and _names_faq_page(element.attributes.get("itemtype"))
           for element in declared):
        found.append(microdata_items(tree, url, deadline))
    rdfa_pages = [element for element in declared if _names_faq_page(element.attributes.get("typeof"))]
    if rdfa_pages:
        found.append(rdfa_items(tree, rdfa_pages, url, deadline))
    return found


def extract_faq(
    html: bytes | str,
    url: str,
    *,
    charset: str | None = None,
    json_ld: Sequence[str] | None = None,
    microdata: Sequence[str] | None = None,
    max_bytes: int | None = None,
    time_budget_s: float | None = None,
) -> PageFAQ:
    """The FAQPage pairs of one page, with its title and description; see the module contract.

    ``charset`` is the HTTP charset, if any. Raises ``PageDropped(reason, detail)``.
    """
    started = time.monotonic()
    deadline = started + (DEFAULT_TIME_BUDGET_S if time_budget_s is None else time_budget_s)
    page = html.encode("utf-8", errors="replace") if isinstance(html, str) else bytes(html)
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if len(page) > limit:
        raise PageDropped("too_large", f"{len(page)} bytes > {limit}")
    encoding = Encoding("utf-8", 0, "text") if isinstance(html, str) else transport_encoding(page, charset)
    if encoding is not None and encoding.is_utf16:
        page = page[encoding.bom_length:].decode(encoding.name, errors="replace").encode("utf-8", "replace")
        encoding = Encoding("utf-8", 0, encoding.source)
    _check_is_html(page)
    supplied_blocks = [block for block in (json_ld or ()) if isinstance(block, str)]
    supplied_items = [text for text in (microdata or ()) if isinstance(text, str)]
    if not has_marker(page) and not any("faqpage" in text.lower() for text in supplied_blocks + supplied_items):
        return PageFAQ(pairs=())
    _check_bounds(page)

    tree = _parse(page, encoding or sniffed_encoding(page))
    _check_deadline(deadline, "HTML parsing")
    roots: list[Any] = []
    nodes: list[dict[str, Any]] = []
    for block in supplied_blocks + jsonld_blocks(tree):
        roots.extend(parse_jsonld(block, nodes))
        _check_deadline(deadline, "JSON-LD parsing")
    for items in (_supplied_microdata(supplied_items), *_dom_items(tree, url, deadline)):
        roots.extend(items)
        nodes.extend(collect_nodes(items, deadline))
    pairs: list[RawPair] = []
    seen: set[tuple[str, str]] = set()
    for question_markup, answer_markup in faq_pairs(roots, deadline, nodes=nodes):
        pair = (html_to_text(question_markup), html_to_text(answer_markup))
        if pair not in seen:
            seen.add(pair)
            pairs.append(RawPair(*pair))
    _check_deadline(deadline, "text cleaning")
    title, description = page_title_and_description(tree)
    return PageFAQ(pairs=tuple(pairs), title=title, description=description)
