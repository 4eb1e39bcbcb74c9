"""The one reader of WARC files: records as they are in the file, broken framing reported, reading resumed.

``read_warc_file(stream) -> Iterator[WarcFileRecord | FramingError]`` over a binary stream of a WARC
file, plain or gzip-compressed (one gzip member per record, or the whole file as one stream):

- every record whose framing holds is yielded as a :class:`WarcFileRecord`: its bytes exactly as in the
  (inflated) file (version line, header block, ``Content-Length`` bytes of block, the blank-line
  trailer), its ``WARC-Type`` and ``WARC-Target-URI`` (read without the angle brackets that WARC/1.1
  drafts and wget write around it: :func:`target_uri`) and its file offset; any WARC version
  (0.17, 0.18, 1.0, 1.1), CRLF or bare LF line ends;
- a record that cannot be framed is reported as a :class:`FramingError` (file offset, what was wrong)
  and reading resumes at the next record where it can be found: the next ``WARC/<digits>.<digits>``
  version line at a line start after the broken record's version line (so a ``Content-Length`` that
  runs into the next record loses only the broken one), or, for a corrupt or truncated gzip member,
  the next gzip member that inflates. What lies between is reported, never silently skipped;
- a record whose block (``Content-Length``) is larger than ``max_record_bytes`` is not held in memory: it is yielded with
  ``data = None`` (and its ``size``), so that callers count it as too large.
Offsets are byte offsets in the file; for gzip files, the offset of the member that holds the
record's start (``offset_in_member`` is then the offset inside the inflated member). Framing errors
are what the reader cannot frame; the content of a record (headers' values, HTTP, payload) is left to
:func:`webfaq_stream.decode.records.decode_record`. Never raises for any bytes; I/O errors of the
stream itself propagate.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

try:  # ISA-L inflates gzip 2-3x faster than zlib, with zlib's API and errors
    from isal.isal_zlib import decompressobj as _inflater
    from isal.isal_zlib import error as _isal_error

    # isal's stubs declare its ``error`` class as an instance
    _INFLATE_ERRORS: tuple[type[Exception], ...] = (cast("type[Exception]", _isal_error),)
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    from zlib import decompressobj as _inflater  # type: ignore[assignment]

    _INFLATE_ERRORS = (zlib.error,)

GZIP_MAGIC = b"\x1f\x8b\x08"
CHUNK_BYTES = 1 << 20
#: Compressed bytes handed to the inflater at a time.
INFLATE_INPUT_BYTES = 64 << 10
#: Longest WARC header block the reader accepts (real ones are under 2 KB).
MAX_HEADER_BYTES = 1 << 20
DEFAULT_MAX_RECORD_BYTES = 64 << 20
_VERSION_LINE = re.compile(rb"WARC/\d+\.\d+\r?\n")
_NEXT_VERSION_LINE = re.compile(rb"\nWARC/\d+\.\d+\r?\n")
_TRAILERS = (b"\r\n\r\n", b"\n\n", b"\r\n", b"\n")


@dataclass(frozen=True, slots=True)
class WarcFileRecord:
    """One framed record: its bytes as in the file (``None`` when over the size limit) and what the
    reader needed to frame it."""

    offset: int
    offset_in_member: int | None
    warc_type: str | None
    target_uri: str | None
    data: bytes | None
    size: int


@dataclass(frozen=True, slots=True)
class FramingError:
    """Bytes at ``offset`` that do not frame as a record (``detail`` says why); reading went on after."""

    offset: int
    offset_in_member: int | None
    detail: str


class _Source:
    """The file's inflated bytes with a read position, push-back, and the file offset of each position.

    For a gzip file, :meth:`file_offset` gives the offset of the member holding a position and the
    position inside that member's inflated bytes. A corrupt or truncated member, or bytes between
    members that are not gzip, end the data like the end of the file until :meth:`resume`: ``gap``
    says where and why, and :meth:`resume` drops the unread bytes from before the gap (the rest of a
    record that the gap cut) and goes on with the next gzip member.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        head = stream.read(len(GZIP_MAGIC))
        self.gzip = head == GZIP_MAGIC
        self._raw = bytearray(head)  # compressed bytes not yet inflated (gzip) / file bytes (plain)
        self._raw_offset = 0  # file offset of self._raw[0]
        self._buffer = bytearray()
        self.position = 0  # inflated position of self._buffer[0]
        self._inflater: Any = None  # the gzip member being inflated
        self._members: list[tuple[int, int]] = []  # (inflated position, file offset) of recent members
        self._line_start = True  # is the buffer's first byte at the start of a line?
        self._end = False
        self.gap: tuple[int, str] | None = None

    def file_offset(self, position: int) -> tuple[int, int | None]:
        if not self.gzip:
            return position, None
        for start, offset in reversed(self._members):
            if start <= position:
                return offset, position - start
        return 0, position

    def resume(self) -> None:
        """Past a gap: drop the bytes read before it, continue at the next member (a line start)."""
        self.consume(len(self._buffer))
        self._line_start = True
        self.gap = None

    def _fill_raw(self) -> bool:
        chunk = self.stream.read(CHUNK_BYTES)
        if chunk:
            self._raw += chunk
        return bool(chunk)

    def _drop_raw(self, count: int) -> None:
        del self._raw[:count]
        self._raw_offset += count

    def _break(self, offset: int, detail: str) -> bool:
        self.gap = (offset, detail)
        return False

    def _more(self) -> bool:
        """Append inflated (or plain) bytes to the buffer; False at the end of the data (or at a gap)."""
        if self._end or self.gap is not None:
            return False
        if not self.gzip:
            if not self._raw and not self._fill_raw():
                self._end = True
                return False
            self._buffer += self._raw
            self._drop_raw(len(self._raw))
            return True
        while True:
            if not self._raw and not self._fill_raw():
                self._end = True
                if self._inflater is not None:
                    self._inflater = None
                    return self._break(self._members[-1][1], "truncated gzip member: the file ends inside it")
                return False
            if self._inflater is None:
                if len(self._raw) < len(GZIP_MAGIC) and self._fill_raw():
                    continue
                if not self._raw.startswith(GZIP_MAGIC):
                    return self._break(*self._skip_to_member())
                self._inflater = _inflater(31)
                self._members = [*self._members[-7:], (self.position + len(self._buffer), self._raw_offset)]
            raw = bytes(self._raw[:INFLATE_INPUT_BYTES])  # bounded: unused_data copies what is left
            try:
                out = self._inflater.decompress(raw)
            except _INFLATE_ERRORS as exc:
                self._inflater = None
                self._drop_raw(1)  # look for the next member after this one's magic
                self._skip_to_member()
                return self._break(self._members[-1][1], f"corrupt gzip member: {exc}")
            if self._inflater.eof:
                used = len(raw) - len(self._inflater.unused_data)
                self._inflater = None
            else:
                used = len(raw)
            self._drop_raw(used)
            if out:
                self._buffer += out
                return True

    def _skip_to_member(self) -> tuple[int, str]:
        """Drop compressed bytes up to the next gzip magic; (their offset, what they were)."""
        start = self._raw_offset
        while True:
            found = self._raw.find(GZIP_MAGIC)
            if found >= 0:
                self._drop_raw(found)
                break
            self._drop_raw(max(0, len(self._raw) - (len(GZIP_MAGIC) - 1)))
            if not self._fill_raw():
                self._drop_raw(len(self._raw))
                break
        return start, f"{self._raw_offset - start} bytes that are not a gzip member"

    def peek(self, count: int) -> bytes:
        while len(self._buffer) < count and self._more():
            pass
        return bytes(self._buffer[:count])

    def read(self, count: int) -> bytes:
        data = self.peek(count)
        self.consume(len(data))
        return data

    def consume(self, count: int) -> None:
        if count:
            del self._buffer[:count]
            self.position += count
            self._line_start = False

    def readline(self, limit: int) -> bytes:
        """Up to and including the next ``\\n`` (or ``limit`` bytes, or what is left)."""
        scanned = 0
        while True:
            end = self._buffer.find(b"\n", scanned, limit)
            if end >= 0:
                return self.read(end + 1)
            scanned = len(self._buffer)
            if scanned >= limit or not self._more():
                return self.read(min(limit, len(self._buffer)))

    def skip(self, count: int) -> int:
        """Consume ``count`` bytes without keeping them; returns how many there were."""
        skipped = 0
        while skipped < count:
            if not self._buffer and not self._more():
                break
            step = min(count - skipped, len(self._buffer))
            self.consume(step)
            skipped += step
        return skipped

    def push_back(self, data: bytes) -> None:
        """Put bytes just read back in front (the caller read them at a position not at a line start)."""
        self._buffer[:0] = data
        self.position -= len(data)
        self._line_start = False

    def seek_version_line(self) -> bool:
        """Move to the next ``WARC/x.y`` line at a line start; False at the end of the data (or a gap)."""
        if self._line_start and _VERSION_LINE.match(self.peek(16)):
            return True
        while True:
            match = _NEXT_VERSION_LINE.search(self._buffer)
            if match:
                self.consume(match.start() + 1)
                return True
            self.consume(max(0, len(self._buffer) - 16))  # a version line may straddle two chunks
            if not self._more():
                self.consume(len(self._buffer))
                return False


def target_uri(value: str | None) -> str | None:
    """A ``WARC-Target-URI`` value without surrounding whitespace and ``<...>`` brackets."""
    if value is None:
        return None
    text = value.strip()
    return text[1:-1].strip() if text.startswith("<") and text.endswith(">") else text


def _header_fields(block: bytes) -> dict[str, str]:
    """``name: value`` lines (first one wins, names lower-cased), continuation lines folded in."""
    fields: dict[str, str] = {}
    name = None
    for line in block.decode("utf-8", errors="replace").splitlines():
        if line[:1] in (" ", "\t") and name is not None:
            fields[name] += " " + line.strip()
            continue
        key, colon, value = line.partition(":")
        if colon:
            name = key.strip().lower()
            fields.setdefault(name, value.strip())
    return fields


def read_warc_file(stream: BinaryIO, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
                   ) -> Iterator[WarcFileRecord | FramingError]:
    """Every record of a WARC file, and a report for what cannot be framed; see the module contract."""
    source = _Source(stream)
    while True:
        record = _next_record(source, max_record_bytes)
        if record is not None:
            if isinstance(record, WarcFileRecord) or source.gap is None:  # else the gap is the story
                yield record
            if isinstance(record, WarcFileRecord) or source.seek_version_line():
                continue
        if source.gap is None:
            return
        offset, detail = source.gap
        yield FramingError(offset, None, detail)
        source.resume()


def _next_record(source: _Source, max_record_bytes: int) -> WarcFileRecord | FramingError | None:
    """The record at the read position, or the report of why it does not frame (the read position
    then lies after its version line); None at the end of the data."""
    while source.peek(1) in (b"\r", b"\n"):  # blank lines between records
        source.consume(1)
    if not source.peek(1):
        return None
    offset, in_member = source.file_offset(source.position)
    version = source.readline(64)
    if not _VERSION_LINE.fullmatch(version):
        source.push_back(version[1:])
        return FramingError(offset, in_member, f"no WARC version line: {version[:40]!r}")
    header = bytearray()
    while True:
        line = source.readline(MAX_HEADER_BYTES)
        header += line
        if line in (b"\r\n", b"\n") or not line.endswith(b"\n") or len(header) > MAX_HEADER_BYTES:
            break
    fields = _header_fields(bytes(header))
    length_text = fields.get("content-length", "")
    if not header.endswith(b"\n\r\n") and not header.endswith(b"\n\n") and header not in (b"\r\n", b"\n"):
        source.push_back(bytes(header))
        return FramingError(offset, in_member, "unreadable WARC header: the header block does not end")
    if not length_text.isdigit():
        source.push_back(bytes(header))
        return FramingError(offset, in_member, f"unreadable WARC header: Content-Length {length_text[:20]!r}")
    length = int(length_text)
    warc_type, target = fields.get("warc-type"), target_uri(fields.get("warc-target-uri"))
    if length > max_record_bytes:
        size = len(version) + len(header) + source.skip(length)
        return WarcFileRecord(offset, in_member, warc_type, target, None, size + len(_trailer(source) or b""))
    block = source.read(length)
    trailer = _trailer(source)
    if len(block) < length or trailer is None:
        source.push_back(bytes(header) + block)
        why = (f"the data ends after {len(block)} of its {length} bytes" if len(block) < length
               else "its block is not followed by the blank line that ends a record (Content-Length wrong?)")
        return FramingError(offset, in_member, f"broken record framing: {why}")
    data = version + bytes(header) + block + trailer
    return WarcFileRecord(offset, in_member, warc_type, target, data, len(data))


def _trailer(source: _Source) -> bytes | None:
    """The blank line(s) that end a record, consumed; ``b""`` at the end of the data (some tools write
    no trailer after the last record); None when something else follows the block."""
    ahead = source.peek(4)
    if not ahead:
        return b""
    for trailer in _TRAILERS:
        if ahead.startswith(trailer):
            source.consume(len(trailer))
            return trailer
    return None
