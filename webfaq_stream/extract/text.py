"""HTML to plain text, the way WebFAQ's expected pairs are written (fixtures README), on lexbor trees.

Contract:
- :func:`fold_whitespace` (str -> str): zero-width characters and soft hyphens removed, every run of
  whitespace (NBSP included) collapsed to one space, result trimmed.
- :func:`element_text` (selectolax node -> str): the text of a parsed element: block-level boundaries
  (p, li, div, br, headings, table cells, details, summary, dt, dd, ...) become whitespace, inline
  tags are joined without a space, ``script``/``style``/``noscript``/``template`` content and comments
  dropped, then :func:`fold_whitespace`. Iterative: any nesting depth.
- :func:`html_to_text` (str -> str): the same for an HTML fragment (a JSON-LD string), parsed by the
  same HTML5 parser as the page; entity-escaped tags (``&lt;p&gt;``) are unescaped first. Never raises.
- :func:`page_title_and_description` (tree -> (title, description)): the document's first HTML
  ``<title>`` (not an SVG icon's) and the first ``<meta name="description">``, both folded; ``""``
  where absent.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from selectolax.lexbor import LexborHTMLParser, LexborNode

#: Elements whose boundaries separate words (HTML block-level and the README's list).
BLOCK_TAGS = frozenset((
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "ul", "option", "legend",
))
#: Elements whose content is never text.
SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head"})
#: Namespaced roots whose ``<title>`` is not the document's.
_FOREIGN_ROOTS = frozenset({"svg", "math"})
_TEXT_NODE = "-text"

_INVISIBLE_CHARACTERS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARACTERS}]")
_ESCAPED_TAG = re.compile(r"&lt;/?[a-zA-Z]")


def fold_whitespace(text: str) -> str:
    """Drop zero-width characters and soft hyphens, collapse whitespace (NBSP included), trim."""
    # every whitespace character but the ASCII space, and every character dropped here, is unprintable
    # (Unicode categories Cc, Cf, Zs, Zl, Zp): a printable text without two spaces in a row needs at
    # most its ends trimmed (one C pass over the text instead of building a list of its words)
    if text.isprintable() and "  " not in text:
        return text.strip(" ")
    # isascii() is O(1) on CPython, and so is a search for a character wider than any of the text's
    # (Latin-1 text is tested for the soft hyphen alone): the regex runs only where one occurs
    if not text.isascii() and any(character in text for character in _INVISIBLE_CHARACTERS):
        text = _INVISIBLE.sub("", text)
    # str.split() splits on exactly the characters that the re module's \s matches (NBSP included)
    return " ".join(text.split())


def element_text(element: LexborNode) -> str:
    """Text of a parsed element: block boundaries as spaces, inline tags joined, whitespace folded."""
    first = element.first_child
    if first is None:
        return ""
    if first.next is None and first.tag == _TEXT_NODE:  # the common property value: one text node
        return fold_whitespace(first.text_content or "")
    parts: list[str] = []
    # a stack of nodes still to visit; None stands for the end of a block element
    stack: list[LexborNode | None] = list(element.iter(include_text=True))
    stack.reverse()
    while stack:
        node = stack.pop()
        if node is None:
            parts.append(" ")
            continue
        tag = node.tag
        if tag == _TEXT_NODE:
            parts.append(node.text_content or "")
            continue
        if not tag or tag in SKIPPED_TAGS or tag.startswith("-"):  # comments and other non-elements
            continue
        if tag in BLOCK_TAGS:
            parts.append(" ")
            stack.append(None)
        children = list(node.iter(include_text=True))
        children.reverse()
        stack.extend(children)
    return fold_whitespace("".join(parts))


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (or of plain text with entities); see the module contract."""
    if "<" not in fragment and "&" not in fragment:
        return fold_whitespace(fragment)
    if _ESCAPED_TAG.search(fragment):
        fragment = html.unescape(fragment)
    if "<" not in fragment:
        return fold_whitespace(html.unescape(fragment))
    body = LexborHTMLParser(fragment).body
    return element_text(body) if body is not None else ""


def _is_html_title(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in _FOREIGN_ROOTS:
            return False
        parent = parent.parent
    return True


def _title(scope: LexborNode) -> str | None:
    return next((fold_whitespace(node.text(deep=True)) for node in scope.css("title") if _is_html_title(node)),
                None)


def _description(scope: LexborNode) -> str | None:
    for node in scope.css("meta[name]"):
        attributes = node.attributes
        if (attributes.get("name") or "").strip().lower() == "description":
            return fold_whitespace(attributes.get("content") or "")
    return None


def _first_found(tree: LexborHTMLParser, read: Callable[[LexborNode], str | None]) -> str:
    """What ``read`` finds in the head, else in the whole document (a parser closes the head early at
    the first element that may not stand in it), else ``""``."""
    for scope in (tree.head, tree.root):
        found = read(scope) if scope is not None else None
        if found is not None:
            return found
    return ""


def page_title_and_description(tree: LexborHTMLParser) -> tuple[str, str]:
    """The page's title and meta description, folded; ``""`` where absent (see the module contract)."""
    return _first_found(tree, _title), _first_found(tree, _description)
