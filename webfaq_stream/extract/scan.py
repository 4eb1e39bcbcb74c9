"""Byte-level scans of a page that only decide whether the HTML5 parse is worth running, or affordable.

Neither scan decides what is extracted, nor whether markup stands inside a comment, a script or an
element: the tree built by the parser (:mod:`webfaq_stream.extract.page`) decides that.

Contract:
- :func:`has_marker` (page bytes -> bool): the prefilter, ``faqpage`` in the bytes in any letter case,
  searched front to back and left at the first match. A page up to 64 KB, and the first 8 KB of a
  bigger one, are searched as a string; the rest in chunks of 512 KB, vectorised (numpy). Each piece
  is folded (every byte OR ``0x20``: ASCII letters lower-cased) into this thread's scratch buffer
  first, so that nothing is allocated per page and a chunk stays in the CPU's cache. A 300 KB page
  without the word costs tens of microseconds.
- :func:`open_element_bounds` (page bytes -> :class:`TreeBounds`): an estimate, from the tag bytes,
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
#: Where in the marker the two bytes compared as one 16-bit word stand ("qp", rare in HTML), and that
#: word. Two bytes, not four: of the word's alignments only the first is aligned in memory, and numpy
#: compares a misaligned view at about half the speed (measured: 16-bit words at two alignments cost
#: 20% less than 32-bit words at four).
_ANCHOR_AT = 2
_ANCHOR = int(np.frombuffer(MARKER[_ANCHOR_AT:_ANCHOR_AT + 2], dtype=np.uint16)[0])
#: Bytes at the start of a page searched for the marker as a string. Measured: the string search costs
#: about 0.4 ns a byte and leaves at the first match; the vectorised scan about 0.16 ns a byte over its
#: whole chunk, plus some microseconds of set-up a chunk. Half the fixture pages name FAQPage in their
#: first 5 KB; on pages without the word the head costs about 3 us more than scanning it vectorised.
_HEAD_BYTES = 8 * 1024
#: A page up to this size is searched as a string whole: there the vectorised scan's set-up costs as
#: much as the string search, and more where its code has left the CPU's caches (pages in a crawl).
_SMALL_PAGE_BYTES = 64 * 1024
#: The vectorised chunks after the head: big enough that their set-up is small next to their scan,
#: small enough that a chunk, its folded copy and its flags stay in the CPU's cache.
_CHUNK_BYTES = 512 * 1024
#: Bytes counted per numpy call by the bound's first pass (the same cache argument).
_COUNT_CHUNK_BYTES = 256 * 1024
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
_FOLD_WORD = np.uint64(0x2020202020202020)


def _scratch(name: str, size: int, dtype: Any) -> Any:
    """A reusable array of ``size`` for this thread (a fresh array per page costs page faults: measured
    about 10% of the time of a page without FAQ markup)."""
    array = getattr(_SCRATCH, name, None)
    if array is None or len(array) < size:
        array = np.empty(max(size, 1 << 20), dtype=dtype)
        setattr(_SCRATCH, name, array)
    return array[:size]


def _folded(page: bytes, start: int, stop: int) -> Any:
    """``page[start:stop]`` OR ``0x20``, in this thread's scratch buffer (valid until the next call)."""
    out = _scratch("folded", stop - start, np.uint8)
    np.bitwise_or(np.frombuffer(page, dtype=np.uint8, count=stop - start, offset=start), 0x20, out=out)
    return out


def has_marker(page: bytes) -> bool:
    """Does the page hold ``faqpage`` in any letter case? (See the module contract.)"""
    head = len(page) if len(page) <= _SMALL_PAGE_BYTES else _HEAD_BYTES
    if _MARKER_PATTERN.search(_folded(page, 0, head)) is not None:
        return True
    overlap = len(MARKER) - 1
    for start in range(head - overlap, len(page) - overlap, _CHUNK_BYTES):
        if _holds_marker(_folded(page, start, min(start + _CHUNK_BYTES + overlap, len(page)))):
            return True
    return False


def _words16(data: Any, alignment: int) -> Any:
    """``data`` from byte ``alignment`` (0 or 1) on, read as little-endian 16-bit words (the byte pairs
    that start at the even, or at the odd, offsets)."""
    return data[alignment:alignment + (len(data) - alignment) // 2 * 2].view(np.uint16)


def _holds_marker(chunk: Any) -> bool:
    """Does a folded chunk hold ``faqpage``? Two of its bytes are compared as one 16-bit word at each of
    the two alignments; the whole word is checked only where those match."""
    word, anchor_at, anchor = MARKER, _ANCHOR_AT, _ANCHOR
    if len(chunk) < len(word):
        return False
    for alignment in range(2):
        words = _words16(chunk, alignment)
        matches = np.equal(words, anchor, out=_scratch("flags", len(words), bool))
        if not matches.any():
            continue
        starts = np.flatnonzero(matches) * 2 + (alignment - anchor_at)
        starts = starts[(starts >= 0) & (starts <= len(chunk) - len(word))]
        for index, byte in enumerate(word):
            if len(starts) and not anchor_at <= index < anchor_at + 2:
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
    past its slash(es). The words are folded (OR ``0x20`` each byte): name bytes are then letters and
    digits, ``0x30`` and up, not ``>``."""
    usable = openers < len(page) - 9
    windows = np.ndarray(shape=(len(page) - 7,), dtype="<u8", buffer=page, strides=(1,))
    words = windows[np.where(usable, openers + 1, 0)] | _FOLD_WORD
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


def _count(data: Any, value: int, dtype: Any = np.uint8) -> int:
    """How many items of ``data`` (bytes as ``dtype`` items) equal ``value``, counted chunk by chunk."""
    items = data.view(dtype)
    step = _COUNT_CHUNK_BYTES // items.itemsize
    total = 0
    for at in range(0, len(items), step):
        part = items[at:at + step]
        total += int(np.count_nonzero(np.equal(part, value, out=_scratch("flags", len(part), bool))))
    return total


def _count_pairs(data: Any, pair: bytes) -> int:
    """How many times the two bytes ``pair`` stand one after the other in ``data`` (16-bit words at
    both alignments)."""
    value = int(np.frombuffer(pair, dtype=np.uint16)[0])
    return sum(_count(_words16(data, alignment), value, np.uint16) for alignment in range(2))


def open_element_bounds(page: bytes, few_tags: int = 0) -> TreeBounds:
    """Estimated stack depth and tree-building work of a page (see the module contract).

    A page with at most ``few_tags`` ``<`` bytes not followed by ``/`` (an end tag opens nothing) is
    not scanned further: it gets the bounds that hold for any page with that many start tags (every
    one open at once; each walking all of them), which are never below the full scan's."""
    if len(page) < 16:
        return TreeBounds(0, 0)
    data = np.frombuffer(page, dtype=np.uint8)
    starts = _count(data[:-2], 0x3C)
    if starts > few_tags:
        starts -= _count_pairs(data[:-1], b"</")  # end tags open nothing
    if starts <= few_tags:
        return TreeBounds(starts, starts * (starts - 1) // 2)
    openers = np.flatnonzero(data[:-2] == 0x3C)
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
