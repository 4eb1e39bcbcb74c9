"""JSON-LD blocks of a page, found in the bytes and parsed leniently.

Contract:
- :func:`jsonld_blocks` (page bytes, its ASCII-lowered copy, charset -> list of str): the text of every
  ``<script type="application/ld+json">`` element, in document order. Script elements are tokenised
  as HTML does (a script ends at the first ``</script``), so JSON-LD quoted inside JavaScript state
  (``self.__next_f.push``, escaped strings) is never taken for a block. No DOM is built.
- :func:`parse_jsonld` (str -> list of JSON values): strict JSON first, then the lenient fallback that
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

_LD_JSON_TYPE = re.compile(rb"""\btype\s*=\s*["']?\s*application/ld\+json""")
_COMMENT_LINE = re.compile(r"^\s*(//.*|<!--.*-->)")  # extruct's HTML_OR_JS_COMMENTLINE
_WRAPPERS = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?://\s*\]\]>|\]\]>|-->)\s*$")


def jsonld_blocks(page: bytes, lowered: bytes, charset: str = "utf-8") -> list[str]:
    """Texts of the page's ``application/ld+json`` script elements, in document order."""
    blocks: list[str] = []
    position = lowered.find(b"<script")
    while position >= 0:
        tag_end = lowered.find(b">", position)
        if tag_end < 0:
            break
        close = lowered.find(b"</script", tag_end)
        if close < 0:
            close = len(page)
        if _LD_JSON_TYPE.search(lowered, position, tag_end):
            blocks.append(page[tag_end + 1:close].decode(charset, errors="replace"))
        position = lowered.find(b"<script", close)
    return blocks


def parse_jsonld(text: str) -> list[Any]:
    """The top-level JSON values of one JSON-LD block (a top-level array gives its items)."""
    try:
        try:
            data = json.loads(text, strict=False)
        except ValueError:
            cleaned = _WRAPPERS.sub("", _COMMENT_LINE.sub("", text.strip()))
            try:
                data = jstyleson.loads(cleaned, strict=False)
            except (ValueError, TypeError, IndexError):
                return []
    except RecursionError:
        raise PageDropped("too_deep", "JSON-LD nesting exceeds the recursion limit") from None
    if isinstance(data, list):
        return data
    return [data]
