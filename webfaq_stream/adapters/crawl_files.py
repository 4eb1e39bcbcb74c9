"""Read crawl files into topic messages: WARC / WARC.gz (warcio) and JSON-lines envelopes.

Also writes WARC files of response records (:func:`write_warc_file`) for samples and tests.

Contract of :func:`read_messages`: yields one :class:`Message` per WARC ``response`` record
(re-serialised with warcio's ``WARCWriter``, optionally as one gzip member) or per non-empty
JSON line, with the key ``origin_of(url)`` (UTF-8) and the ``content-type`` header
(``application/warc`` or ``application/json``). Other WARC record types (request, metadata,
warcinfo, revisit) are skipped and counted in ``FileStats.skipped``. A line or record whose URL is
missing or invalid is still yielded, with key ``None``, so the worker dead-letters it with its
reason. A file that is not a readable WARC or JSON-lines file raises :class:`CrawlFileError`.
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
    """What reading the files produced: messages per format and skipped WARC records by type."""

    warc_records: int = 0
    envelopes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def _key(url: str | None) -> bytes | None:
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


def warc_messages(path: Path, stats: FileStats, compress: bool = True) -> Iterator[Message]:
    """Each response record of a WARC file as one re-serialised record."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed
    from warcio.warcwriter import WARCWriter

    try:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, check_digests=False):
                if record.rec_type != "response":
                    stats.skipped[record.rec_type] = stats.skipped.get(record.rec_type, 0) + 1
                    continue
                buffer = io.BytesIO()
                WARCWriter(buffer, gzip=compress).write_record(record)
                stats.warc_records += 1
                yield Message(buffer.getvalue(), _key(record.rec_headers.get_header("WARC-Target-URI")),
                              list(WARC_HEADERS))
    except ArchiveLoadFailed as exc:
        raise CrawlFileError(f"{path}: not a readable WARC file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise CrawlFileError(f"{path}: corrupt WARC file: {exc}") from None


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
                yield Message(line, _key(url if isinstance(url, str) else None), list(JSON_HEADERS))
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
