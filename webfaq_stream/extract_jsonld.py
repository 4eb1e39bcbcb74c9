"""JSON-LD blocks of a page, found in the bytes and parsed leniently.

Contract:
- :func:`jsonld_blocks` (page bytes, its ``FoldedPage``, charset -> list of str): the text of every
  ``<script type="application/ld+json">`` element, in document order. Script elements end at the first
  ``</script`` as in HTML, and a start tag inside another script's content or a comment is not a tag,
  so JSON-LD quoted inside JavaScript state (``self.__next_f.push``, escaped strings) or commented out
  is never taken for a block. No DOM is built.
- :func:`parse_jsonld` (str[, list to collect every JSON object into] -> list of JSON values): strict JSON first, then the lenient fallback that
  extruct uses (raw control characters such as newlines inside strings, leading HTML/JS comment lines,
  ``<!-- -->`` and CDATA wrappers, trailing commas through ``jstyleson``). A block that still does not
  parse yields ``[]``. Nesting deeper than Python's recursion limit raises ``PageDropped("too_deep")``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jstyleson

from .exceptions import PageDropped
from .extract_scan import FoldedPage, in_raw_text

_LD_JSON_TYPE = re.compile(rb"""\btype\s*=\s*["']?\s*application/ld\+json""", re.IGNORECASE)
_COMMENT_LINE = re.compile(r"^\s*(//.*|<!--.*-->)")  # extruct's HTML_OR_JS_COMMENTLINE
#: What jstyleson accepts and JSON does not: a comment (not the "//" of a URL) or a trailing comma.
_JSTYLE_ONLY = re.compile(r"(?:^|[\s,\[{])(?://|/\*)|,\s*[}\]]", re.MULTILINE)
_WRAPPERS = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?://\s*\]\]>|\]\]>|-->)\s*$")


def jsonld_blocks(page: bytes, folded: FoldedPage, charset: str = "utf-8") -> list[str]:
    """Texts of the page's ``application/ld+json`` script elements, in document order.

    ``folded`` is the page's :class:`FoldedPage`. Only the few ``ld+json`` occurrences are visited:
    each must stand in the start tag of a ``<script>`` element that is itself not inside another
    script's content or a comment; the block runs to the first ``</script``.
    """
    lowered = folded.bytes
    blocks: list[str] = []
    block_end = -1
    for position in folded.find_all(b"ld+json"):
        if position < block_end:
            continue
        tag_start = lowered.rfind(b"<", 0, position)
        tag_end = lowered.find(b">", position)
        is_script_tag = (tag_start >= 0 and tag_end >= 0 and lowered.startswith(b"<script", tag_start)
                         and lowered.find(b">", tag_start, position) < 0)
        if is_script_tag and _LD_JSON_TYPE.search(page, tag_start, tag_end) \
                and not in_raw_text(folded, tag_start):
            block_end = lowered.find(b"</script", tag_end)
            if block_end < 0:
                block_end = len(page)
            blocks.append(page[tag_end + 1:block_end].decode(charset, errors="replace"))
    return blocks


def parse_jsonld(text: str, nodes: list[dict[str, Any]] | None = None) -> list[Any]:
    """The top-level JSON values of one JSON-LD block (a top-level array gives its items).

    With ``nodes``, every JSON object of the block is also appended to it, in the order in which the
    objects end (collected by the C parser's object hook: no second walk over the values).
    """
    text = text.lstrip("\ufeff")
    found: list[dict[str, Any]] = []

    def collect(node: dict[str, Any]) -> dict[str, Any]:
        found.append(node)
        return node

    def loads(source: str, parse: Any = json.loads) -> Any:
        found.clear()  # a failed attempt may have collected objects already
        return parse(source, strict=False, object_hook=collect)

    try:
        try:
            data = loads(text)
        except ValueError:
            cleaned = _WRAPPERS.sub("", _COMMENT_LINE.sub("", text.strip()))
            try:
                data = loads(cleaned)
            except ValueError:
                # jstyleson walks the text in Python (about 2 ms per 3 KB): only where it can help
                if not _JSTYLE_ONLY.search(cleaned):
                    return []
                try:
                    data = loads(cleaned, jstyleson.loads)
                except (ValueError, TypeError, IndexError):
                    return []
    except RecursionError:
        raise PageDropped("too_deep", "JSON-LD nesting exceeds the recursion limit") from None
    if nodes is not None:
        nodes.extend(found)
    if isinstance(data, list):
        return data
    return [data]
