"""Extraction of schema.org FAQPage question-answer pairs from one page (DESIGN section 4).

``extract_faq(html, url, ...) -> PageFAQ``: pairs in document order, deduplicated within the page,
text cleaned by :mod:`webfaq_stream.htmltext`, with the page's title and meta description.

Order of work, cheapest first, so that most pages cost microseconds:
1. limits: a page over ``max_bytes`` raises ``PageDropped("too_large")``; a page whose first bytes are
   binary (NUL or many control bytes) raises ``PageDropped("not_html")``;
2. prefilter: no case-insensitive ``faqpage`` in the bytes (or in the supplied ``json_ld`` blocks)
   returns an empty ``PageFAQ`` at once;
3. JSON-LD: ``<script type="application/ld+json">`` blocks found in the bytes (no DOM), parsed leniently;
4. microdata / RDFa: only when ``faqpage`` stands in an ``itemtype`` / ``typeof`` attribute, the page is
   parsed with lxml and extruct's extractors run on the FAQPage subtrees only (``extract_dom``);
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

from .exceptions import PageDropped
from .extract_graph import faq_pairs
from .extract_jsonld import jsonld_blocks, parse_jsonld
from .htmltext import html_to_text, page_title_and_description
from .model import PageFAQ, RawPair

#: Page-level drop reasons raised as ``PageDropped.reason`` (counted in metrics).
PAGE_DROP_REASONS = ("too_large", "not_html", "too_slow", "too_deep", "too_complex")

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_TIME_BUDGET_S = 2.0
_SNIFF_BYTES = 1024
_MARKER = b"faqpage"
_P = (b"p", b"P")
_CONTROL_BYTES = bytes((*range(1, 9), 11, 12, *range(14, 32)))
_DOM_MARKERS = (b"itemtype", b"typeof")
_ATTRIBUTE_LOOKBEHIND = 400


def has_faq_marker(page: bytes) -> bool:
    """The prefilter: does ``faqpage`` occur in the bytes, in any letter case?"""
    # Look for the rare letter q with memchr, then compare the word around it; measured faster than
    # page.lower().find(...) or a case-insensitive regex (see bench/bench_extract.py).
    find = page.find
    for q in (0x71, 0x51):  # q, Q
        position = find(q, 2)
        while position >= 0:
            if page[position + 1:position + 2] in _P and page[position - 2:position + 5].lower() == _MARKER:
                return True
            position = find(q, position + 1)
    return False


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


def _dom_syntaxes(lowered: bytes) -> tuple[bool, bool]:
    """Whether ``faqpage`` stands in an ``itemtype`` (microdata) / ``typeof`` (RDFa) attribute."""
    microdata = rdfa = False
    position = lowered.find(_MARKER)
    while position >= 0 and not (microdata and rdfa):
        window = lowered[max(0, position - _ATTRIBUTE_LOOKBEHIND):position]
        tag_start = window.rfind(b"<")
        if tag_start >= 0 and window.rfind(b">") < tag_start:
            attributes = window[tag_start:]
            microdata = microdata or _DOM_MARKERS[0] in attributes
            rdfa = rdfa or _DOM_MARKERS[1] in attributes
        position = lowered.find(_MARKER, position + 1)
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
    in_page = has_faq_marker(page)
    if not in_page and not any("faqpage" in block.lower() for block in supplied):
        return PageFAQ(pairs=())

    lowered = page.lower()
    encoding = _charset_of(page, charset)
    roots: list[Any] = []
    blocks = supplied + (jsonld_blocks(page, lowered, encoding) if in_page else [])
    for block in blocks:
        roots.extend(parse_jsonld(block))
        _check_deadline(deadline, "JSON-LD parsing")
    microdata, rdfa = _dom_syntaxes(lowered) if in_page else (False, False)
    if microdata or rdfa:
        from .extract_dom import dom_items  # lxml/extruct DOM work only for the few pages that need it

        roots.extend(dom_items(page, url, encoding, microdata=microdata, rdfa=rdfa, deadline=deadline))
    pairs: list[RawPair] = []
    seen: set[tuple[str, str]] = set()
    for question_markup, answer_markup in faq_pairs(roots, deadline):
        pair = (html_to_text(question_markup), html_to_text(answer_markup))
        if pair not in seen:
            seen.add(pair)
            pairs.append(RawPair(*pair))
    _check_deadline(deadline, "text cleaning")
    title, description = page_title_and_description(page, lowered, encoding)
    return PageFAQ(pairs=tuple(pairs), title=title, description=description)
