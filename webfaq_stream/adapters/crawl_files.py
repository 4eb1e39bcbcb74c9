"""Read crawl files into topic messages: WARC / WARC.gz and JSON-lines envelopes.

Also writes WARC files of response records (:func:`write_warc_file`) for samples and tests.

Contract of :func:`read_messages`: yields one :class:`Message` per WARC ``response`` record (its
bytes as in the file, read by :func:`webfaq_stream.decode.warc_file.read_warc_file`; optionally
as one gzip member) or per non-empty JSON line, with the key ``origin_of(url)`` (UTF-8) and the
``content-type`` header (``application/warc`` or ``application/json``). Every response record is
published, ``dns:`` and other non-HTTP ones included (the worker drops those as ``not_http``, counted).
Other WARC record types (request, metadata, warcinfo, revisit, resource) are skipped and counted in
``FileStats.skipped``; a response record larger than ``max_record_bytes`` is not read into memory and
is counted there as ``too_large``. A record the reader cannot frame is reported in
``FileStats.framing_errors`` (file, offset, what was wrong) and reading goes on with the next record.
A line or record whose URL is missing or invalid is still yielded, with key ``None``, so the worker
dead-letters it with its reason. A file that is not a WARC or JSON-lines file at all raises
:class:`CrawlFileError` (OWI Parquet shards are read by :mod:`webfaq_stream.adapters.owi`).
"""

from __future__ import annotations

import gzip
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from webfaq_stream.decode.warc_file import DEFAULT_MAX_RECORD_BYTES, FramingError, read_warc_file
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.errors import CrawlFileError

WARC_HEADERS = [("content-type", b"application/warc")]
JSON_HEADERS = [("content-type", b"application/json")]


class Page(NamedTuple):
    """One fetched page to write as a WARC response record."""

    url: str
    html: bytes
    warc_date: str = "2026-01-01T00:00:00Z"
    content_type: str = "text/html; charset=utf-8"
    status: str = "200 OK"


class Message(NamedTuple):
    """One message for the crawl topic."""

    value: bytes
    key: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass
class FileStats:
    """What reading the files produced: messages per format, skipped WARC records by type (and
    ``too_large``), and ``"<file>: offset N: <what>"`` for every record that could not be framed."""

    warc_records: int = 0
    envelopes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    framing_errors: list[str] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def origin_key(url: str | None) -> bytes | None:
    """The message key of a page: its origin (UTF-8), or ``None`` when the URL has none."""
    try:
        return origin_of(url or "").encode("utf-8")
    except ValueError:
        return None


def _open(path: Path) -> BinaryIO:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise CrawlFileError(f"cannot open {path}: {exc.strerror or exc}") from None
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw


def file_format(path: Path) -> str:
    """``"warc"`` or ``"jsonl"`` by the file's first bytes (gzip-transparent)."""
    try:
        with _open(path) as stream:
            head = stream.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except (OSError, EOFError) as exc:
        raise CrawlFileError(f"{path}: unreadable: {exc}") from None
    if head.startswith(b"WARC/"):
        return "warc"
    if head.startswith(b"{"):
        return "jsonl"
    raise CrawlFileError(f"{path}: neither a WARC file nor JSON lines")


def warc_messages(path: Path, stats: FileStats, compress: bool = True,
                  max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[Message]:
    """Each response record of a WARC file, as it is in the file (see the module contract)."""
    try:
        with path.open("rb") as stream:
            for item in read_warc_file(stream, max_record_bytes):
                if isinstance(item, FramingError):
                    where = f"offset {item.offset}" + (
                        f" (byte {item.offset_in_member} of its gzip member)" if item.offset_in_member else "")
                    stats.framing_errors.append(f"{path}: {where}: {item.detail}")
                    continue
                if item.warc_type != "response":
                    stats.skip(item.warc_type or "untyped")
                    continue
                if item.data is None:
                    stats.skip("too_large")
                    continue
                stats.warc_records += 1
                value = gzip.compress(item.data, compresslevel=6) if compress else item.data
                yield Message(value, origin_key(item.target_uri), list(WARC_HEADERS))
    except OSError as exc:
        raise CrawlFileError(f"{path}: cannot read: {exc}") from None


def envelope_messages(path: Path, stats: FileStats) -> Iterator[Message]:
    """Each non-empty line of a JSON-lines file as one envelope message (bytes as in the file)."""
    try:
        with _open(path) as stream:
            for line in stream:
                line = line.strip()
                if not line:
                    continue
                try:
                    document = json.loads(line)
                    url = document.get("url") if isinstance(document, dict) else None
                except ValueError:
                    url = None
                stats.envelopes += 1
                yield Message(line, origin_key(url if isinstance(url, str) else None), list(JSON_HEADERS))
    except (OSError, EOFError) as exc:
        raise CrawlFileError(f"{path}: corrupt file: {exc}") from None


def read_messages(paths: list[Path], stats: FileStats | None = None,
                  compress: bool = True) -> Iterator[Message]:
    """Messages of every file in order; see the module contract."""
    stats = stats if stats is not None else FileStats()
    for path in paths:
        if file_format(path) == "warc":
            yield from warc_messages(path, stats, compress)
        else:
            yield from envelope_messages(path, stats)


def _record_id(page: Page) -> str:
    """A deterministic record id (same page, same bytes): a UUID from the URL and date."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, page.url + ' ' + page.warc_date)}>"


def warc_response_bytes(page: Page, compress: bool = True) -> bytes:
    """One WARC/1.1 response record for ``page`` (a gzip member when ``compress``)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compress, warc_version="1.1")
    http_headers = StatusAndHeaders(page.status, [("Content-Type", page.content_type),
                                                  ("Content-Length", str(len(page.html)))],
                                    protocol="HTTP/1.1")
    record = writer.create_warc_record(page.url, "response", payload=io.BytesIO(page.html),
                                       http_headers=http_headers,
                                       warc_headers_dict={"WARC-Date": page.warc_date,
                                                          "WARC-Record-ID": _record_id(page)})
    writer.write_record(record)
    return buffer.getvalue()


def write_warc_file(path: Path, pages: list[Page], compress: bool = True) -> int:
    """Write ``pages`` as a WARC(.gz) file of response records; returns the bytes written."""
    data = b"".join(warc_response_bytes(page, compress) for page in pages)
    path.write_bytes(data)
    return len(data)
