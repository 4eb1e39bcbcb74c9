"""A page's character encoding, decided in the order browsers decide it (HTML standard, 13.2.3).

Contract:
- :func:`transport_encoding` (page bytes, HTTP charset or None -> :class:`Encoding` or None): the byte
  order mark (UTF-8, UTF-16 LE/BE) first, then the HTTP ``charset`` mapped by the WHATWG label table
  (``latin1``/``ascii`` -> windows-1252, ``gb2312`` -> GBK, ``utf-16`` -> UTF-16LE...); a label
  that table lacks but Python reads as a text encoding (``cp437``, ``mac_roman``) is taken as Python
  reads it (a browser would ignore it and guess: the server's word is the better guess); None when
  neither says anything (a label nobody knows says nothing).
- :func:`sniffed_encoding` (page bytes -> :class:`Encoding`): for pages the transport left undecided:
  the ``<meta charset>`` / ``http-equiv`` / XML declaration in the first 4 KB (a declared UTF-16 means
  UTF-8, as the standard says: a page that can declare it in ASCII is not UTF-16), else UTF-8 when the
  bytes are valid UTF-8 (their first and last 64 KB), else uchardet's guess (resiliparse, WebFAQ's tool; WHATWG names), else
  windows-1252.
- :func:`decoded` (page bytes, :class:`Encoding` -> bytes or str): what the HTML parser is fed: the
  UTF-8 bytes as they are (BOM removed), or the text decoded with U+FFFD for invalid bytes.
Names are Python codec names. Never raises for any bytes.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5
from w3lib.encoding import html_body_declared_encoding

_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
#: How much of the page the ``<meta>`` prescan reads (the standard says 1024 bytes; pages with long
#: inline styles before their meta are common, and w3lib reads 4096).
PRESCAN_BYTES = 4096
#: How much of a page's start and of its end must be valid UTF-8 for it to be read as UTF-8 (a full
#: check of a 1 MB page costs a millisecond; pages that are not UTF-8 show it in their text early).
UTF8_CHECK_BYTES = 64 * 1024
#: How much of a page uchardet reads (both ends); it decides in well under a millisecond.
DETECT_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Encoding:
    """A decided encoding: Python codec ``name``, the length of the BOM to skip, what decided it."""

    name: str
    bom_length: int = 0
    source: str = "default"

    @property
    def is_utf8(self) -> bool:
        return self.name == "utf-8"

    @property
    def is_utf16(self) -> bool:
        return self.name.startswith("utf-16")


def _codec_name(label: str) -> str | None:
    """Python's name of a text encoding, or None (unknown, or a bytes codec such as ``base64``)."""
    try:
        codec = codecs.lookup(label)
    except LookupError:
        return None
    return codec.name if getattr(codec, "_is_text_encoding", True) else None


def _web_name(label: str | None, *, python_labels: bool = False) -> str | None:
    """The WHATWG encoding for a label, as a Python codec name (with ``python_labels``, else the
    encoding Python knows by that label); None for unknown labels."""
    if not label or not label.strip():
        return None
    name = map_encoding_to_html5(label.strip(), fallback_utf8=False)
    if name is not None:
        return _codec_name(name)
    return _codec_name(label.strip()) if python_labels else None


def transport_encoding(page: bytes, http_charset: str | None) -> Encoding | None:
    """The BOM, else the HTTP charset; None when neither decides (see the module contract)."""
    for bom, name in _BOMS:
        if page.startswith(bom):
            return Encoding(name, len(bom), "bom")
    http_name = _web_name(http_charset, python_labels=True)
    return Encoding(http_name, 0, "http") if http_name else None


def _looks_utf8(page: bytes) -> bool:
    """Are the first and last ``UTF8_CHECK_BYTES`` valid UTF-8 (a character cut by the split allowed)?"""
    whole = len(page) <= 2 * UTF8_CHECK_BYTES
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(page if whole else page[:UTF8_CHECK_BYTES], final=whole)
        if not whole:
            tail = page[-UTF8_CHECK_BYTES:]
            cut = next((index for index, byte in enumerate(tail[:4]) if byte & 0xC0 != 0x80), 4)
            decoder.reset()
            decoder.decode(tail[cut:], final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniffed_encoding(page: bytes) -> Encoding:
    """The declared, else valid UTF-8, else detected encoding (see the module contract)."""
    declared = _web_name(html_body_declared_encoding(page[:PRESCAN_BYTES]), python_labels=True)
    if declared:
        return Encoding("utf-8" if declared.startswith("utf-16") else declared, 0, "meta")
    if _looks_utf8(page):
        return Encoding("utf-8", 0, "valid-utf-8")
    detected = _web_name(detect_encoding(page, max_len=DETECT_BYTES))
    if detected and not detected.startswith("utf-16"):
        return Encoding(detected, 0, "detected")
    return Encoding("cp1252", 0, "default")


def decoded(page: bytes, encoding: Encoding) -> bytes | str:
    """The parser's input: UTF-8 bytes without their BOM, or decoded text (see the module contract)."""
    body = page[encoding.bom_length:] if encoding.bom_length else page
    if encoding.is_utf8:
        return body
    return body.decode(encoding.name, errors="replace")
