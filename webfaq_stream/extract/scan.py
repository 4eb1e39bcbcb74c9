"""Byte-level scans of a page that only decide whether the HTML5 parse is worth running, or affordable.

Neither scan decides what is extracted, nor whether markup stands inside a comment, a script or an
element: the tree built by the parser (:mod:`webfaq_stream.extract.page`) decides that.

Contract:
- :func:`folded` (page bytes -> ``uint8`` array): the page with every byte OR ``0x20`` (ASCII letters
  lower-cased; ``<``, ``/``, ``>`` and digits kept), in this thread's scratch buffer: valid until the
  next call in the same thread. Nothing is allocated per page.
- :func:`has_marker` (folded page -> bool): the prefilter, a case-insensitive ``faqpage`` in the bytes,
  searched front to back and left at the first match: the first 32 KB as a string, the rest vectorised
  (numpy) in chunks that double. A 300 KB page without the word costs tens of microseconds.
- :func:`open_element_bounds` (folded page -> :class:`TreeBounds`): an estimate, from the tag bytes,
  of the deepest stack of open elements the tree builder will hold and of its work (the stack depth
  summed over the start tags: HTML5 tree construction walks the stack for most start tags, and lexbor
  does so without a depth cap, so 100,000 nested ``<div>`` take it 20 s). Per element name, an end
  tag closes only an open element of its name (a stray ``</span>`` closes nothing); void elements,
  elements whose end tag may be omitted (``p``, ``li``, ``td``, ``option``...) and the SVG leaves that
  pages write self-closed (``<path/>``) are not counted; names are compared on their first six
  letters and digits. Tags written
  inside scripts or comments are counted as tags, so the estimate can only be too high where a page
  writes thousands of unclosed tags in its scripts; JSON-escaped end tags (``<\\/div>``) count as end tags.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

MARKER = b"faqpage"
_MARKER_PATTERN = re.compile(re.escape(MARKER))
#: Where in the marker the four bytes compared as one 32-bit word start ("qpag"), and that word.
_ANCHOR_AT = len(MARKER) - 5
_ANCHOR = int(np.frombuffer(MARKER[_ANCHOR_AT:_ANCHOR_AT + 4], dtype=np.uint32)[0])
#: Bytes at the start of a page searched for the marker as a string. Measured: the string search costs
#: about 0.4 ns a byte and leaves at the first match; the vectorised scan about 0.3 ns a byte over its
#: whole chunk, plus about 10 us of set-up a chunk. Half the fixture pages name FAQPage in their first
#: 5 KB; on pages without the word the head costs about 6 us more than scanning it vectorised.
_HEAD_BYTES = 32 * 1024
#: The first vectorised chunk after the head (chunks double: a page with FAQ markup leaves early, one
#: without pays a few calls more than one scan of the whole page).
_FIRST_CHUNK_BYTES = 512 * 1024
_SCRATCH = threading.local()
#: Elements that never stay open (void) or are closed by their next sibling or parent (optional end tag).
_NOT_COUNTED = (
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input", "keygen",
    "link", "meta", "param", "source", "track", "wbr", "image",
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup",
    "caption", "rb", "rt", "rtc", "rp", "html", "head", "body",
    # SVG leaves, written self-closed (<path/>): the scan does not read where a tag ends
    "path", "circle", "rect", "line", "polyline", "polygon", "ellipse", "stop", "use",
)
_NAME_BYTES = 6
_BACKSLASH = 0x5C | 0x20  # "\\" as folded ("|"): "<\\/div>" is a JSON-escaped end tag


def _scratch(name: str, size: int, dtype: Any) -> Any:
    """A reusable array of ``size`` for this thread (a fresh array per page costs page faults: measured
    about 10% of the time of a page without FAQ markup)."""
    array = getattr(_SCRATCH, name, None)
    if array is None or len(array) < size:
        array = np.empty(max(size, 1 << 20), dtype=dtype)
        setattr(_SCRATCH, name, array)
    return array[:size]


def folded(page: bytes) -> Any:
    """The page OR ``0x20``, in this thread's scratch buffer (see the module contract)."""
    out = _scratch("folded", len(page), np.uint8)
    np.bitwise_or(np.frombuffer(page, dtype=np.uint8), 0x20, out=out)
    return out


def has_marker(page: Any) -> bool:
    """Does the folded page hold ``faqpage``? Searched front to back, leaving at the first match: the
    first ``_HEAD_BYTES`` as a string (FAQ markup mostly stands early, and a string search is cheap to
    leave), the rest vectorised in chunks that double in size from ``_FIRST_CHUNK_BYTES``."""
    if _MARKER_PATTERN.search(page, 0, _HEAD_BYTES) is not None:
        return True
    overlap = len(MARKER) - 1
    start, size = _HEAD_BYTES - overlap, _FIRST_CHUNK_BYTES
    while start + overlap < len(page):
        if _holds_marker(page[start:start + size + overlap]):
            return True
        start, size = start + size, size * 2
    return False


def _holds_marker(chunk: Any) -> bool:
    """Does a folded chunk hold ``faqpage``? Four of its bytes are compared as one 32-bit word at each of
    the four alignments; the whole word is checked only where those match."""
    word, anchor_at, anchor = MARKER, _ANCHOR_AT, _ANCHOR
    if len(chunk) < len(word):
        return False
    for alignment in range(4):
        words = (len(chunk) - alignment) // 4
        matches = np.equal(chunk[alignment:alignment + 4 * words].view(np.uint32), anchor,
                           out=_scratch("flags", words, bool))
        if not matches.any():
            continue
        starts = np.flatnonzero(matches) * 4 + (alignment - anchor_at)
        starts = starts[(starts >= 0) & (starts <= len(chunk) - len(word))]
        for index, byte in enumerate(word):
            if len(starts) and not anchor_at <= index < anchor_at + 4:
                starts = starts[chunk[starts + index] == byte]
        if len(starts):
            return True
    return False


def _name_key(name: str) -> int:
    raw = name.encode("ascii")[:_NAME_BYTES].ljust(8, b"\0")
    return int(np.frombuffer(raw, dtype=np.uint64)[0])


_NOT_COUNTED_KEYS = np.array(sorted({_name_key(name) for name in _NOT_COUNTED}), dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class TreeBounds:
    """Estimated deepest stack of open elements and tree-building work (see the module contract)."""

    depth: int
    work: int


#: The low ``n`` bytes of a little-endian word, for name lengths 0..6.
_KEEP = np.array([(1 << (8 * n)) - 1 for n in range(_NAME_BYTES + 1)], dtype=np.uint64)


def _tag_keys(page: Any, openers: Any) -> tuple[Any, Any, Any]:
    """For the ``<`` at ``openers``: whether a tag name follows (after ``/`` or ``\\/`` for end tags),
    whether it is an end tag, and its first six bytes as a key (bytes after the name masked out).

    The eight bytes after each ``<`` are read as one little-endian word; an end tag's word is shifted
    past its slash(es). Name bytes are letters and digits (folded: ``0x30`` and up, not ``>``)."""
    usable = openers < len(page) - 9
    windows = np.ndarray(shape=(len(page) - 7,), dtype="<u8", buffer=page, strides=(1,))
    words = windows[np.where(usable, openers + 1, 0)]
    first = (words & np.uint64(0xFF)).astype(np.uint8)
    second = ((words >> np.uint64(8)) & np.uint64(0xFF)).astype(np.uint8)
    closing = first == 0x2F
    escaped = (first == _BACKSLASH) & (second == 0x2F)
    words >>= (closing.astype(np.uint64) + escaped) << np.uint64(3)
    closing |= escaped
    raw = words.view(np.uint8).reshape(-1, 8)
    alive = (raw[:, 0] >= 0x61) & (raw[:, 0] <= 0x7A)
    valid = alive & usable
    length = alive.astype(np.uint8)
    for column in range(1, _NAME_BYTES):
        values = raw[:, column]
        alive &= (values >= 0x30) & (values != 0x3E)
        length += alive
    return valid, closing, words & _KEEP[length]


def open_element_bounds(page: Any, few_tags: int = 0) -> TreeBounds:
    """Estimated stack depth and tree-building work of a folded page (see the module contract).

    A page with at most ``few_tags`` ``<`` bytes not followed by ``/`` (an end tag opens nothing) is
    not scanned further: it gets the bounds that hold for any page with that many start tags (every
    one open at once; each walking all of them), which are never below the full scan's."""
    if len(page) < 16:
        return TreeBounds(0, 0)
    is_opener = np.equal(page[:-2], 0x3C, out=_scratch("flags", len(page) - 2, bool))
    starts = int(np.count_nonzero(is_opener))
    if starts <= few_tags:
        return TreeBounds(starts, starts * (starts - 1) // 2)
    openers = np.flatnonzero(is_opener)
    starts -= int(np.count_nonzero(page[openers + 1] == 0x2F))  # end tags open nothing
    if starts <= few_tags:
        return TreeBounds(starts, starts * (starts - 1) // 2)
    valid, closing, key = _tag_keys(page, openers)
    known = np.minimum(np.searchsorted(_NOT_COUNTED_KEYS, key), len(_NOT_COUNTED_KEYS) - 1)
    counted = valid & (_NOT_COUNTED_KEYS[known] != key)
    if not counted.any():
        return TreeBounds(0, 0)
    steps = np.where(closing[counted], -1, 1).astype(np.int64)
    names = key[counted]
    # each name's open count, never below zero (a reflected walk): per name, in document order
    order = np.argsort(names, kind="stable")
    grouped, group = steps[order], names[order]
    running = np.cumsum(grouped)
    first = np.empty(len(group), dtype=bool)
    first[0] = True
    np.not_equal(group[1:], group[:-1], out=first[1:])
    start_index = np.flatnonzero(first)
    before_group = np.zeros(len(start_index), dtype=running.dtype)
    before_group[1:] = running[start_index[1:] - 1]
    group_number = np.cumsum(first) - 1
    within = running - before_group[group_number]
    spread = 2 * len(within) + 1
    lowest = np.minimum.accumulate(within - spread * group_number) + spread * group_number
    open_count = within - np.minimum(lowest, 0)
    previous = np.zeros_like(open_count)
    previous[1:] = open_count[:-1]
    previous[start_index] = 0
    change = np.empty_like(open_count)
    change[order] = open_count - previous
    depth = np.cumsum(change)
    depth_before = depth - change
    return TreeBounds(int(depth.max()), int(depth_before[change > 0].sum()))
