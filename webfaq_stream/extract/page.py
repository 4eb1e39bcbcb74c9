"""Extraction of schema.org FAQPage question-answer pairs from one page (DESIGN section 4).

``extract_faq(html, url, ...) -> PageFAQ``: pairs in document order, deduplicated within the page,
text cleaned by :mod:`webfaq_stream.extract.text`, with the page's title and meta description.

Order of work, cheapest first, so that most pages cost microseconds:
1. limits: a page over ``max_bytes`` raises ``PageDropped("too_large")``; a page whose first bytes are
   binary (NUL or many control bytes) raises ``PageDropped("not_html")``;
2. prefilter: no case-insensitive ``faqpage`` in the bytes (or in the supplied ``json_ld`` blocks)
   returns an empty ``PageFAQ`` at once (vectorised, ``extract_scan.marker_positions``);
3. JSON-LD: ``<script type="application/ld+json">`` blocks found in the bytes (no DOM), parsed leniently;
4. microdata / RDFa: only where ``faqpage`` stands in the ``itemtype`` / ``typeof`` attribute of a start
   tag (outside scripts and comments), that element alone is parsed with lxml, from its start tag until
   it closes, and read by extruct's microdata extractor or the RDFa Lite reader (``extract_dom``);
5. the FAQPage graph walk (``extract_graph``) over all of it; text cleaning; dedup.

The time budget is enforced without signals (usable from any thread): the deadline is checked between
steps, between JSON-LD blocks, while walking the graph and between DOM subtrees, and the DOM work is
bounded up front (nesting depth, subtree size), so no single step can run long. Over budget:
``PageDropped("too_slow")``. Other drops: ``too_deep``, ``too_complex``.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Sequence
from typing import Any

from w3lib.encoding import html_body_declared_encoding

from webfaq_stream.domain.model import PageDropped, PageFAQ, RawPair
from webfaq_stream.extract.graph import collect_nodes, faq_pairs
from webfaq_stream.extract.jsonld import jsonld_blocks, parse_jsonld
from webfaq_stream.extract.scan import FoldedPage, attribute_at, in_raw_text, marker_positions
from webfaq_stream.extract.text import html_to_text, page_title_and_description

#: Page-level drop reasons raised as ``PageDropped.reason`` (counted in metrics).
PAGE_DROP_REASONS = ("too_large", "not_html", "too_slow", "too_deep", "too_complex")

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_TIME_BUDGET_S = 2.0
_SNIFF_BYTES = 1024
_CONTROL_BYTES = bytes((*range(1, 9), 11, 12, *range(14, 32)))


def has_faq_marker(page: bytes) -> bool:
    """The prefilter: does ``faqpage`` occur in the bytes, in any letter case?"""
    return bool(marker_positions(page))


def _check_is_html(page: bytes) -> None:
    head = page[:_SNIFF_BYTES]
    if b"\x00" in head:
        raise PageDropped("not_html", "NUL bytes at the start of the page")
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if head and control * 10 > len(head):
        raise PageDropped("not_html", f"{control} control bytes in the first {len(head)}")


def _charset_of(page: bytes, charset: str | None) -> str:
    for candidate in (charset, html_body_declared_encoding(page[:4096])):
        if candidate:
            try:
                return codecs.lookup(candidate).name
            except LookupError:
                continue
    return "utf-8"


def _dom_tags(page: bytes, folded: FoldedPage, markers: list[int]) -> tuple[list[int], list[int]]:
    """Offsets of the start tags whose ``itemtype`` (microdata) / ``typeof`` (RDFa) names an FAQPage."""
    microdata: list[int] = []
    rdfa: list[int] = []
    for marker in markers:
        found = attribute_at(page, marker)
        if found is None or found[1] not in ("itemtype", "typeof"):
            continue
        tag_start, attribute = found
        tags = microdata if attribute == "itemtype" else rdfa
        if (not tags or tags[-1] != tag_start) and not in_raw_text(folded, tag_start):
            tags.append(tag_start)
    return microdata, rdfa


def _check_deadline(deadline: float, step: str) -> None:
    if time.monotonic() > deadline:
        raise PageDropped("too_slow", f"page time budget exceeded during {step}")


def extract_faq(
    html: bytes | str,
    url: str,
    *,
    charset: str | None = None,
    json_ld: Sequence[str] | None = None,
    max_bytes: int | None = None,
    time_budget_s: float | None = None,
) -> PageFAQ:
    """The FAQPage pairs of one page, with its title and description; see the module contract.

    ``json_ld`` are raw JSON-LD blocks supplied by a JSON envelope; they are used in addition to the
    blocks found in ``html``. Raises ``PageDropped(reason, detail)``; never returns partial results.
    """
    started = time.monotonic()
    deadline = started + (DEFAULT_TIME_BUDGET_S if time_budget_s is None else time_budget_s)
    page = html.encode("utf-8", errors="replace") if isinstance(html, str) else bytes(html)
    if isinstance(html, str):
        charset = "utf-8"
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if len(page) > limit:
        raise PageDropped("too_large", f"{len(page)} bytes > {limit}")
    _check_is_html(page)
    supplied = [block for block in (json_ld or ()) if isinstance(block, str)]
    markers = marker_positions(page)
    if not markers and not any("faqpage" in block.lower() for block in supplied):
        return PageFAQ(pairs=())

    folded = FoldedPage(page, markers)
    encoding = _charset_of(page, charset)
    roots: list[Any] = []
    nodes: list[dict[str, Any]] = []
    blocks = supplied + (jsonld_blocks(page, folded, encoding) if markers else [])
    for block in blocks:
        roots.extend(parse_jsonld(block, nodes))
        _check_deadline(deadline, "JSON-LD parsing")
    microdata_tags, rdfa_tags = _dom_tags(page, folded, markers)
    if microdata_tags or rdfa_tags:
        from webfaq_stream.extract.microdata import (
            dom_items,  # lxml/extruct DOM work only for the few pages that need it
        )

        items = dom_items(page, url, encoding, microdata_tags=microdata_tags, rdfa_tags=rdfa_tags,
                          deadline=deadline)
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
    title, description = page_title_and_description(page, folded, encoding)
    return PageFAQ(pairs=tuple(pairs), title=title, description=description)
