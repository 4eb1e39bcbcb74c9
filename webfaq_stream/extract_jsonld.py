"""JSON-LD blocks of a page, found in the bytes and parsed leniently.

Contract:
- :func:`jsonld_blocks` (page bytes, its case-folded copy, charset -> list of str): the text of every
  ``<script type="application/ld+json">`` element, in document order. Script elements end at the first
  ``</script`` as in HTML, and a start tag inside another script's content or a comment is not a tag,
  so JSON-LD quoted inside JavaScript state (``self.__next_f.push``, escaped strings) or commented out
  is never taken for a block. No DOM is built.
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
from .extract_scan import in_raw_text

_LD_JSON_TYPE = re.compile(rb"""\btype\s*=\s*["']?\s*application/ld\+json""", re.IGNORECASE)
_COMMENT_LINE = re.compile(r"^\s*(//.*|<!--.*-->)")  # extruct's HTML_OR_JS_COMMENTLINE
_WRAPPERS = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?://\s*\]\]>|\]\]>|-->)\s*$")


def jsonld_blocks(page: bytes, folded: bytes, charset: str = "utf-8") -> list[str]:
    """Texts of the page's ``application/ld+json`` script elements, in document order.

    ``folded`` is ``extract_scan.fold_case(page)``. Only the few ``ld+json`` occurrences are visited:
    each must stand in the start tag of a ``<script>`` element that is itself not inside another
    script's content or a comment; the block runs to the first ``</script``.
    """
    blocks: list[str] = []
    position = folded.find(b"ld+json")
    while position >= 0:
        tag_start = folded.rfind(b"<", 0, position)
        tag_end = folded.find(b">", position)
        is_script_tag = (tag_start >= 0 and tag_end >= 0 and folded.startswith(b"<script", tag_start)
                         and folded.find(b">", tag_start, position) < 0)
        if is_script_tag and _LD_JSON_TYPE.search(page, tag_start, tag_end) \
                and not in_raw_text(folded, tag_start):
            close = folded.find(b"</script", tag_end)
            if close < 0:
                close = len(page)
            blocks.append(page[tag_end + 1:close].decode(charset, errors="replace"))
            position = folded.find(b"ld+json", close)
        else:
            position = folded.find(b"ld+json", position + 1)
    return blocks


def parse_jsonld(text: str) -> list[Any]:
    """The top-level JSON values of one JSON-LD block (a top-level array gives its items)."""
    text = text.lstrip("\ufeff")
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
