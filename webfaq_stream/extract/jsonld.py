"""JSON-LD blocks of a page, taken from its parsed tree, and read leniently.

Contract:
- :func:`jsonld_blocks` (lexbor tree -> list of str): the text of every ``<script>`` element whose
  ``type`` is ``application/ld+json`` in any letter case and with any parameters
  (``application/ld+json; charset=utf-8``), in document order. The HTML5 parser has decided what is a
  script element: JSON-LD quoted inside JavaScript state (``self.__next_f.push``, escaped strings) or
  inside a comment is text, not a block.
- :func:`parse_jsonld` (str [, a list to collect every JSON object into] -> list of JSON values):
  strict JSON first, then the lenient fallback that extruct uses (raw control characters such as
  newlines inside strings, leading HTML/JS comment lines, ``<!-- -->`` and CDATA wrappers); then, for
  blocks that hold FAQ vocabulary, several values one after the other, ``\\'`` escapes, comments and
  trailing commas (``jstyleson``). A block that still does not parse yields ``[]``. Nesting deeper
  than Python's recursion limit raises ``PageDropped("too_deep")``.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import jstyleson
from selectolax.lexbor import LexborHTMLParser

from webfaq_stream.domain.model import PageDropped

JSON_LD_TYPE = "application/ld+json"
_COMMENT_LINE = re.compile(r"^\s*(//.*|<!--.*-->)")  # extruct's HTML_OR_JS_COMMENTLINE
#: What jstyleson accepts and JSON does not: a comment (not the "//" of a URL) or a trailing comma.
_JSTYLE_ONLY = re.compile(r"(?:^|[\s,\[{])(?://|/\*)|,\s*[}\]]", re.MULTILINE)
#: The types and properties that the FAQPage walk reads (``extract_graph``); a block without any of them
#: cannot change the pairs of a page.
#: Fragments as written in practice (a case-insensitive regex costs ~30 ns a character here).
_FAQ_VOCABULARY = ("aqpage", "AQPage", "AQpage", "aqPage", "uestion", "UESTION", "nswer", "NSWER",
                   "temList", "temlist", "ITEMLIST", "istItem", "istitem", "LISTITEM")
# extruct's wrapper removal, split into an anchored start and an end test on the last characters
# (one regex with both alternatives is tried at every position of the block)
_WRAPPER_START = re.compile(r"\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)")
_WRAPPER_END = re.compile(r"(?://\s*\]\]>|\]\]>|-->)\s*\Z")
_WRAPPER_END_WINDOW = 64
#: What may stand between top-level values written one after the other.
_SEPARATOR = re.compile(r"[\s,;]*")


def is_jsonld_type(value: str | None) -> bool:
    """Is a ``type`` attribute value the JSON-LD MIME type (any case, any parameters)?"""
    return value is not None and value.split(";", 1)[0].strip().lower() == JSON_LD_TYPE


def jsonld_blocks(tree: LexborHTMLParser) -> list[str]:
    """Texts of the page's ``application/ld+json`` script elements, in document order."""
    return [script.text(deep=True) for script in tree.tags("script")
            if is_jsonld_type(script.attributes.get("type"))]


def _unwrapped(text: str) -> str:
    """``text`` without a leading comment line and without ``<!-- -->`` / CDATA wrappers (as extruct)."""
    text = text.strip()
    for start in (_COMMENT_LINE, _WRAPPER_START):
        match = start.match(text)
        if match:
            text = text[match.end():]
    tail_at = max(0, len(text) - _WRAPPER_END_WINDOW)
    match = _WRAPPER_END.search(text, tail_at)
    return text[:match.start()] if match else text


class _Reader(threading.local):
    """This thread's JSON decoder (made once: a decoder costs microseconds to make) and the objects its
    last reading collected, in the order in which they end (the C parser's object hook)."""

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []
        self.decoder = json.JSONDecoder(strict=False, object_hook=self._collect)

    def _collect(self, node: dict[str, Any]) -> dict[str, Any]:
        self.found.append(node)
        return node

    def loads(self, source: str, consecutive: bool = False) -> Any:
        """One JSON value of ``source`` (with ``consecutive``, the list of its values one after the
        other); raises ``ValueError``. Forgets what an earlier reading collected."""
        self.found.clear()
        return _consecutive_values(source, self.decoder) if consecutive else self.decoder.decode(source)


_READER = _Reader()


def parse_jsonld(text: str, nodes: list[dict[str, Any]] | None = None) -> list[Any]:
    """The top-level JSON values of one JSON-LD block (a top-level array gives its items).

    With ``nodes``, every JSON object of the block is also appended to it, in the order in which the
    objects end (collected by the C parser's object hook: no second walk over the values).
    """
    try:
        values = _lenient_values(text.lstrip("\ufeff"))
    except RecursionError:
        raise PageDropped("too_deep", "JSON-LD nesting exceeds the recursion limit") from None
    if nodes is not None and values:  # objects of a failed reading are not the block's
        nodes.extend(_READER.found)
    return values


def _lenient_values(text: str) -> list[Any]:
    """The block's top-level values, by the first reading that succeeds, cheapest first."""
    loads = _READER.loads
    try:
        return _top_level(loads(text))
    except ValueError:
        pass
    cleaned = _unwrapped(text)
    try:
        return _top_level(loads(cleaned))
    except ValueError:
        pass
    # the slower repairs only for blocks that hold something the FAQPage walk reads, all at once:
    # JavaScript's \' escapes, comments and trailing commas (jstyleson walks the text in Python, about
    # 2 ms per 3 KB: only where there is one), then several values one after the other
    if not any(word in cleaned for word in _FAQ_VOCABULARY):
        return []
    repaired = cleaned.replace("\\'", "'")
    if _JSTYLE_ONLY.search(repaired):
        try:
            repaired = jstyleson.dispose(repaired)
        except (ValueError, TypeError, IndexError):
            return []
    for consecutive in (False, True):
        try:
            return _top_level(loads(repaired, consecutive))
        except ValueError:
            continue
    return []


def _consecutive_values(text: str, decoder: json.JSONDecoder) -> list[Any]:
    """Every JSON value of ``text``, one after the other, separated by whitespace, ``,`` or ``;``."""
    values: list[Any] = []
    position = _SEPARATOR.match(text, 0).end()  # type: ignore[union-attr]
    while position < len(text):
        value, position = decoder.raw_decode(text, position)
        values.append(value)
        position = _SEPARATOR.match(text, position).end()  # type: ignore[union-attr]
    return values


def _top_level(data: Any) -> list[Any]:
    return data if isinstance(data, list) else [data]
