"""Byte-level scanning of a page: the ``faqpage`` prefilter and where markup stands, without a DOM.

Contract:
- :func:`marker_positions` (page bytes -> sorted offsets): where ``faqpage`` occurs in any letter case.
  The prefilter of every page: vectorised (numpy) over this thread's scratch buffers, so a 300 KB page
  without the word costs tens of microseconds and allocates nothing.
- :class:`FoldedPage` (page bytes[, its marker offsets]): the page with every byte OR ``0x20``, as a
  numpy array and as a bytearray. For ASCII letters this is exact lower-casing (``X | 0x20`` is a
  given lower-case letter only for that letter in either case), so a lower-case word made of letters
  and ``<``, ``/``, ``!``, ``-``, ``>``, ``+`` (which the fold keeps) is found in any letter case, at
  the same offsets. Whitespace is *not* kept (``\\n`` becomes ``*``): use the original bytes where
  whitespace matters. :meth:`FoldedPage.find_all` (lower-case word of 4+ bytes -> sorted offsets,
  cached) costs a few numpy passes, not a Python loop per candidate; words with ``<`` share one index
  of the page's ``<`` bytes. :meth:`FoldedPage.last_before` (word, offset -> offset or -1).
- :func:`in_raw_text` (``FoldedPage``, offset -> bool): whether the offset lies inside the content of a
  script, style, textarea, iframe, xmp, noembed or noframes element or of an HTML comment, where
  markup is text, not tags (as in browsers).
- :func:`attribute_at` (page bytes, offset -> (tag offset, attribute name) | None): the start tag and
  the lower-cased attribute whose value holds ``offset``, or ``None`` where the offset is not inside an
  attribute value of a start tag.
"""

from __future__ import annotations

import bisect
import re
import threading
from typing import Any

import numpy as np

MARKER = b"faqpage"
#: How far back from a marker its attribute's name is looked for.
TAG_LOOKBEHIND = 2000
_ATTRIBUTE_BEFORE = re.compile(
    rb"""([^\s"'<>/=]+)\s*=\s*(?:"[^"]*|'[^']*|[^\s"'>]*)\Z""")


_SCRATCH = threading.local()


def _scratch(name: str, size: int, dtype: Any) -> Any:
    """A reusable array of ``size`` for this thread (a fresh array per page or per compare costs page
    faults: measured about 10% of the time of a FAQ page, and of a page without FAQ markup)."""
    array = getattr(_SCRATCH, name, None)
    if array is None or len(array) < size:
        array = np.empty(max(size, 1 << 20), dtype=dtype)
        setattr(_SCRATCH, name, array)
    return array[:size]


def _search(folded: Any, word: bytes) -> list[int]:
    """Offsets of ``word`` in the folded ``uint8`` array (see :meth:`FoldedPage.find_all`)."""
    if len(folded) < len(word):
        return []
    # Four bytes of the word (those before its last one, as rare as that gets) are compared as one
    # 32-bit word at each of the four alignments (a quarter of the page each); offsets are computed
    # only where one matches, then the whole word is checked there.
    anchor_at = max(0, len(word) - 5)
    anchor = int(np.frombuffer(word[anchor_at:anchor_at + 4], dtype=np.uint32)[0])
    hits = []
    for alignment in range(4):
        words = (len(folded) - alignment) // 4
        matches = np.equal(folded[alignment:alignment + 4 * words].view(np.uint32), anchor,
                           out=_scratch("flags", words, bool))
        if matches.any():
            hits.append(np.flatnonzero(matches) * 4 + (alignment - anchor_at))
    if not hits:
        return []
    return _at_candidates(folded, np.sort(np.concatenate(hits)), word, anchor_at, anchor_at + 4)


def _at_candidates(folded: Any, starts: Any, word: bytes, checked_from: int, checked_to: int) -> list[int]:
    """The ``starts`` (sorted) where ``word`` stands, knowing ``word[checked_from:checked_to]`` matches."""
    starts = starts[(starts >= 0) & (starts <= len(folded) - len(word))]
    for index, byte in enumerate(word):  # byte by byte, keeping only the candidates still standing
        if len(starts) and not checked_from <= index < checked_to:
            starts = starts[folded[starts + index] == byte]
    return starts.tolist()


def marker_positions(page: bytes) -> list[int]:
    """Offsets of every case-insensitive ``faqpage`` in ``page``, ascending.

    The prefilter of every page: folded into this thread's scratch buffer, nothing allocated per page.
    """
    folded = _scratch("folded", len(page), np.uint8)
    np.bitwise_or(np.frombuffer(page, dtype=np.uint8), 0x20, out=folded)
    return _search(folded, MARKER)


class FoldedPage:
    """A page with ASCII letters lower-cased by ``| 0x20``, offsets kept (see module)."""

    def __init__(self, page: bytes, markers: list[int] | None = None) -> None:
        # folded straight into a bytearray, so that the bytes view needs no second copy
        self._bytes = bytearray(len(page))
        self.array = np.frombuffer(self._bytes, dtype=np.uint8)
        np.bitwise_or(np.frombuffer(page, dtype=np.uint8), 0x20, out=self.array)
        self._found: dict[bytes, list[int]] = {} if markers is None else {MARKER: markers}
        self._openers: tuple[Any, Any] | None = None

    @property
    def bytes(self) -> bytearray:
        """The folded page as a (shared, not to be changed) bytearray: ``find``/``rfind``/regexes."""
        return self._bytes

    def find_all(self, word: bytes) -> list[int]:
        """Offsets of every occurrence of the lower-case ``word`` (4 bytes or more), ascending; cached.

        Words that start with ``<`` (tag words) are checked at the page's ``<`` bytes, found once.
        """
        found = self._found.get(word)
        if found is None:
            if word.startswith(b"<"):
                openers, second_bytes = self._tag_openers()
                found = _at_candidates(self.array, openers[second_bytes == word[1]], word, 0, 2)
            else:
                found = _search(self.array, word)
            self._found[word] = found
        return found

    def _tag_openers(self) -> tuple[Any, Any]:
        """Offsets of the page's ``<`` bytes (one compare and one nonzero pass) and the byte after
        each (one gather): a tag word then costs a compare over these, not a pass over the page."""
        if self._openers is None:
            flags = np.equal(self.array[:-1], 0x3C, out=_scratch("flags", max(0, len(self.array) - 1), bool))
            openers = np.flatnonzero(flags)
            self._openers = (openers, self.array[openers + 1])
        return self._openers

    def last_before(self, word: bytes, offset: int) -> int:
        """Offset of the last occurrence of ``word`` that starts before ``offset``, or -1."""
        found = self.find_all(word)
        index = bisect.bisect_left(found, offset) - 1
        return found[index] if index >= 0 else -1


#: Elements whose content is text to an HTML parser (raw text and escapable raw text), script first.
#: (``<title`` is left out: SVG icons write ``<title/>``, and a title that is never closed breaks a page
#: visibly, so real pages close it.)
_TEXT_ELEMENTS = ((b"<script", b"</script"), (b"<style", b"</style"), (b"<textarea", b"</textarea"),
                  (b"<iframe", b"</iframe"), (b"<xmp", b"</xmp"), (b"<noembed", b"</noembed"),
                  (b"<noframes", b"</noframes"))


def in_raw_text(folded: FoldedPage, offset: int) -> bool:
    """Is ``offset`` inside the content of an element whose content HTML parses as text (script,
    style, textarea, iframe, xmp, noembed, noframes; not self-closed) or inside an HTML comment?

    The last opening before the offset comes from the page's tag index (a backward ``bytes.rfind``
    can cost a millisecond on a 300 KB page); only the stretch from there to the offset is searched
    for the closing tag, which is usually near. An opening written inside a script is not one.
    """
    if _inside(folded, offset, *_TEXT_ELEMENTS[0]):
        return True
    lowered = folded.bytes
    for opening, closing in (*_TEXT_ELEMENTS[1:], (b"<!--", b"-->")):
        start = folded.last_before(opening, offset)
        if start < 0 or lowered.find(closing, start + len(opening), offset) >= 0:
            continue
        tag_end = lowered.find(b">", start, offset)
        self_closed = opening != b"<!--" and tag_end > 0 and lowered[tag_end - 1] == 0x2F  # "/>" (SVG)
        if not self_closed and not _inside(folded, start, *_TEXT_ELEMENTS[0]):
            return True
    return False


def _inside(folded: FoldedPage, offset: int, opening: bytes, closing: bytes) -> bool:
    start = folded.last_before(opening, offset)
    return start >= 0 and folded.bytes.find(closing, start + len(opening), offset) < 0


def attribute_at(page: bytes, offset: int) -> tuple[int, str] | None:
    """``(offset of the tag's "<", attribute name)`` when ``offset`` is inside an attribute value.

    The start tag may be long (inline data attributes): its ``<`` is looked for without a bound
    (a one-byte backward search); the attribute name is read from the last ``TAG_LOOKBEHIND`` bytes.
    """
    tag_start = page.rfind(b"<", 0, offset)
    if tag_start < 0 or not page[tag_start + 1:tag_start + 2].isalpha() or page.find(b">", tag_start, offset) >= 0:
        return None
    match = _ATTRIBUTE_BEFORE.search(page, max(tag_start, offset - TAG_LOOKBEHIND), offset)
    if match is None:
        return None
    return tag_start, match.group(1).decode("ascii", errors="replace").lower()
