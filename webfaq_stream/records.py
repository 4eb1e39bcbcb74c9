"""Decode one raw message from the crawl topic into a :class:`~webfaq_stream.model.CrawlRecord`.

A message is either the bytes of one WARC ``response`` record (optionally one gzip member) or a
JSON envelope ``{"url", "warc_date", "html", ...}`` (DESIGN section 3). The ``content-type``
header tells them apart (``application/warc`` / ``application/json``); sniffing the first bytes
is the fallback.

Contract of :func:`decode_record`:
- returns a ``CrawlRecord`` whose ``url`` is http(s), ``origin`` is ``ids.origin_of(url)`` and
  ``warc_date`` is ISO-8601 UTC (``YYYY-MM-DDTHH:MM:SSZ``);
- raises :class:`RecordError` with a short ``reason`` when the bytes are not a decodable record
  (the worker sends those to the dead-letter topic): ``empty``, ``too_large``, ``unknown_format``,
  ``missing_url``, ``invalid_url``, ``invalid_warc``, ``not_response``, ``invalid_date``,
  ``invalid_json``, ``invalid_envelope``;
- raises :class:`PageDropped` (``http_status``) for a well-formed response that is not a page
  (HTTP status other than 2xx): not an error of the producer, a dropped item.
Never raises anything else for any input bytes.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .exceptions import PageDropped, RecordError
from .ids import origin_of
from .model import CrawlRecord

WARC_CONTENT_TYPE = "application/warc"
JSON_CONTENT_TYPE = "application/json"
GZIP_MAGIC = b"\x1f\x8b"

_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:\-]+)", re.IGNORECASE)


def header_value(headers: Iterable[tuple[str, bytes | str]] | None, name: str) -> str | None:
    """The value of header ``name`` (case-insensitive, last one wins) as text, or None."""
    found: str | None = None
    for key, value in headers or ():
        if key.lower() == name:
            found = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return found


def iso_utc(value: str) -> str:
    """Normalise an ISO-8601 / WARC date to ``YYYY-MM-DDTHH:MM:SSZ``; naive times are UTC.

    Raises ``RecordError("invalid_date")``.
    """
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RecordError("invalid_date", repr(value[:60])) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _checked_origin(url: str | None) -> tuple[str, str]:
    if not url or not url.strip():
        raise RecordError("missing_url")
    try:
        return url.strip(), origin_of(url)
    except ValueError as exc:
        raise RecordError("invalid_url", str(exc)) from None


def _charset_of(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1).lower() if match else None


def message_format(value: bytes, content_type: str | None) -> str:
    """``"warc"`` or ``"json"`` from the content-type header, else by sniffing the bytes."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in (WARC_CONTENT_TYPE, "application/warc+gzip"):
        return "warc"
    if kind == JSON_CONTENT_TYPE:
        return "json"
    head = value[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((GZIP_MAGIC, b"WARC/")):
        return "warc"
    if head.startswith(b"{"):
        return "json"
    if head[:1] == b"<":
        raise RecordError("missing_url", "an HTML document without a WARC header or JSON envelope")
    raise RecordError("unknown_format", "neither a WARC record nor a JSON envelope")


def decode_warc(value: bytes, max_bytes: int) -> CrawlRecord:
    """Decode one WARC response record (plain or one gzip member)."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    if value.startswith(GZIP_MAGIC):
        try:
            value = _gunzip_one(value, max_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            raise RecordError("invalid_warc", f"bad gzip member: {exc}") from None
    try:
        records = ArchiveIterator(io.BytesIO(value), check_digests=False)
        record = next(iter(records), None)
        if record is None:
            raise RecordError("invalid_warc", "no WARC record in the message")
        if record.rec_type is None:
            raise RecordError("invalid_warc", "no WARC-Type header")
        if record.rec_type != "response":
            raise RecordError("not_response", f"WARC-Type {record.rec_type}")
        url, origin = _checked_origin(record.rec_headers.get_header("WARC-Target-URI"))
        date = record.rec_headers.get_header("WARC-Date")
        if not date:
            raise RecordError("invalid_date", "missing WARC-Date")
        http = record.http_headers
        charset = None
        if http is not None:
            status = (http.get_statuscode() or "").strip()
            if not status.startswith("2"):
                raise PageDropped("http_status", f"HTTP status {status or '?'}")
            charset = _charset_of(http.get_header("Content-Type"))
        body = record.content_stream().read(max_bytes + 1)
        if len(body) <= max_bytes and getattr(record.raw_stream, "limit", 0) > 0:
            raise RecordError("invalid_warc", "truncated record: shorter than its Content-Length")
    except (RecordError, PageDropped):
        raise
    except ArchiveLoadFailed as exc:
        raise RecordError("invalid_warc", str(exc)[:200]) from None
    except Exception as exc:  # noqa: BLE001 - warcio raises assorted errors on malformed input
        raise RecordError("invalid_warc", f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if len(body) > max_bytes:
        raise RecordError("too_large", f"payload over {max_bytes} bytes")
    return CrawlRecord(url=url, origin=origin, warc_date=iso_utc(date), html=body, charset=charset)


def _gunzip_one(value: bytes, max_bytes: int) -> bytes:
    """Inflate the first gzip member, refusing more than ``max_bytes`` (gzip bombs)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(value, max_bytes + 64 * 1024)
    if inflater.unconsumed_tail:
        raise RecordError("too_large", f"decompressed record over {max_bytes} bytes")
    if not inflater.eof:
        raise EOFError("truncated gzip member")
    return out


def _text_list(value: Any, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
                     for item in value)
    raise RecordError("invalid_envelope", f"{field} must be a list")


def _faq_pairs(value: Any) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RecordError("invalid_envelope", "faq must be a list of {question, answer}")
    pairs = []
    for item in value:
        if not isinstance(item, dict):
            raise RecordError("invalid_envelope", "faq items must be objects")
        question, answer = item.get("question"), item.get("answer")
        if not isinstance(question, str) or not isinstance(answer, str):
            raise RecordError("invalid_envelope", "faq items need string question and answer")
        pairs.append((question, answer))
    return tuple(pairs)


def _optional_text(document: dict[str, Any], field: str) -> str | None:
    value = document.get(field)
    if value is None or isinstance(value, str):
        return value
    raise RecordError("invalid_envelope", f"{field} must be a string")


def decode_envelope(value: bytes, max_bytes: int) -> CrawlRecord:
    """Decode one JSON envelope (fields as in DESIGN section 3)."""
    try:
        document = json.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RecordError("invalid_json", str(exc)[:200]) from None
    if not isinstance(document, dict):
        raise RecordError("invalid_envelope", "the envelope must be a JSON object")
    url, origin = _checked_origin(_optional_text(document, "url"))
    date = _optional_text(document, "warc_date")
    if not date:
        raise RecordError("invalid_date", "missing warc_date")
    html = _optional_text(document, "html") or ""
    faq = _faq_pairs(document.get("faq"))
    if not html and faq is None:
        raise RecordError("invalid_envelope", "neither html nor faq")
    body = html.encode("utf-8")
    if len(body) > max_bytes:
        raise RecordError("too_large", f"html over {max_bytes} bytes")
    return CrawlRecord(
        url=url, origin=origin, warc_date=iso_utc(date), html=body, charset="utf-8",
        title=_optional_text(document, "title"), description=_optional_text(document, "description"),
        language=_optional_text(document, "language"),
        json_ld=_text_list(document.get("json_ld"), "json_ld"), faq=faq)


def decode_record(value: bytes | None, headers: Iterable[tuple[str, bytes | str]] | None = None,
                  *, max_bytes: int = 8 * 1024 * 1024) -> CrawlRecord:
    """Decode a raw message (value + headers) into a ``CrawlRecord``; see the module contract."""
    if not value:
        raise RecordError("empty", "message without a value")
    if len(value) > max_bytes:
        raise RecordError("too_large", f"message over {max_bytes} bytes")
    kind = message_format(value, header_value(headers, "content-type"))
    if kind == "warc":
        return decode_warc(value, max_bytes)
    return decode_envelope(value, max_bytes)

