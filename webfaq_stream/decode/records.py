"""Decode one raw message from the crawl topic into a :class:`~webfaq_stream.domain.model.CrawlRecord`.

A message is either the bytes of one WARC ``response`` record (optionally one gzip member) or a
JSON envelope ``{"url", "warc_date", "html", ...}`` (README, "Records on the topic"). The ``content-type``
header tells them apart (``application/warc`` / ``application/json``); sniffing the first bytes
is the fallback.

Contract of :func:`decode_record`:
- returns a ``CrawlRecord`` whose ``url`` is http(s), ``origin`` is ``ids.origin_of(url)`` and
  ``warc_date`` is ISO-8601 UTC (``YYYY-MM-DDTHH:MM:SSZ``);
- raises :class:`RecordError` with a short ``reason`` when the bytes are not a decodable record
  (the worker sends those to the dead-letter topic): ``empty``, ``too_large``, ``unknown_format``,
  ``missing_url``, ``invalid_url``, ``invalid_warc``, ``not_response``, ``invalid_date``,
  ``invalid_json``, ``invalid_envelope``;
- raises :class:`PageDropped` for a well-formed response that is not a page: ``http_status`` (HTTP
  status other than 2xx), ``not_http`` (a ``dns:``, ``file:`` or other non-HTTP target URI): not an
  error of the producer, a dropped item, counted;
- a quirk in a WARC record's metadata costs that field, not the page: an unreadable or missing
  ``WARC-Date`` falls back to the HTTP ``Date`` header, else to the time of decoding, and the record
  says so in ``warc_date_fallback`` (``"http-date"`` / ``"decode-time"``); a target URI written in
  angle brackets (``<http://...>``) is read without them; a ``Content-Encoding`` that does not decode
  leaves the payload as it was sent.
Never raises anything else for any input bytes.

Provenance and opt-outs: ``record_id`` is the ``WARC-Record-ID`` (``<urn:uuid:X>`` read as ``X``, as
OWI writes it) or the envelope's ``record_id``; ``ows_index`` / ``ows_genai`` come from OWLer's
``OWS.INDEX`` / ``OWS.GENAI`` WARC headers (``true``/``false``) or the envelope's booleans.

Speed: the common record, a plain (not gzipped) WARC/1.0 or 1.1 ``response`` whose HTTP body has
no transfer or content encoding, is read by :func:`decode_plain_warc` with bytes operations and
no copy of the headers' text (about 10x cheaper than warcio); anything else, including every
malformed record, goes through warcio, so errors and their reasons are warcio's. Gzip members
are inflated with ISA-L (``isal``, 2-3x faster than zlib) when it is installed.
"""

from __future__ import annotations

import io
import json
import re
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

from webfaq_stream.decode.warc_file import target_uri
from webfaq_stream.domain.ids import origin_of
from webfaq_stream.domain.model import CrawlRecord, PageDropped, iso_time
from webfaq_stream.domain.reasons import Reason
from webfaq_stream.errors import RecordError

WARC_CONTENT_TYPE = "application/warc"
JSON_CONTENT_TYPE = "application/json"
GZIP_MAGIC = b"\x1f\x8b"

#: Page drop of a response whose target is not an HTTP(S) URL (``dns:``, ``file:``, ``ftp:``...).
NOT_HTTP = Reason.NOT_HTTP
#: Values of ``CrawlRecord.warc_date_fallback``.
DATE_FROM_HTTP = "http-date"
DATE_FROM_DECODE_TIME = "decode-time"
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
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
    return iso_time(moment)


def _checked_origin(url: str | None) -> tuple[str, str]:
    if not url or not url.strip():
        raise RecordError("missing_url")
    try:
        return url.strip(), origin_of(url)
    except ValueError as exc:
        raise RecordError("invalid_url", str(exc)) from None


def _warc_target(uri: str | None) -> tuple[str, str]:
    """URL and origin of a WARC-Target-URI (angle brackets dropped); ``PageDropped("not_http")`` for
    other schemes, ``RecordError`` (``missing_url`` / ``invalid_url``) for what is no URL at all."""
    text = target_uri(uri) or ""
    scheme, colon, _ = text.partition(":")
    if colon and _URI_SCHEME.fullmatch(scheme) and scheme.lower() not in ("http", "https"):
        raise PageDropped(NOT_HTTP, f"{scheme.lower()}: target, not an HTTP page")
    return _checked_origin(text)


def _record_date(warc_date: str | None, http_date: str | None) -> tuple[str, str | None]:
    """The record's fetch time and, when the WARC-Date could not be read, the fallback that gave it."""
    try:
        return iso_utc(warc_date or ""), None
    except RecordError:
        pass
    if http_date:
        try:
            moment = parsedate_to_datetime(http_date)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), DATE_FROM_HTTP
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), DATE_FROM_DECODE_TIME


def _charset_of(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1).lower() if match else None


def record_id_of(value: str | None) -> str | None:
    """A WARC-Record-ID as OWI keeps it: ``<urn:uuid:X>`` -> ``X``; other ids without their angle
    brackets; ``None`` when absent or empty."""
    text = (value or "").strip().removeprefix("<").removesuffix(">").strip()
    return text.removeprefix("urn:uuid:") or None


def _ows_flag(value: str | None) -> bool | None:
    """An ``OWS.*`` WARC header flag: ``true``/``false`` (any case); anything else is not stated."""
    text = (value or "").strip().lower()
    return True if text == "true" else False if text == "false" else None


def _warc_extras(get: Any) -> dict[str, Any]:
    """Record id and opt-out flags from a WARC header lookup ``get(name) -> value | None``."""
    return {"record_id": record_id_of(get("WARC-Record-ID")), "ows_index": _ows_flag(get("OWS.INDEX")),
            "ows_genai": _ows_flag(get("OWS.GENAI"))}


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


try:  # ISA-L inflates gzip 2-3x faster than zlib, with zlib's API and errors
    from isal.isal_zlib import decompressobj as _inflater
    from isal.isal_zlib import error as _isal_error

    # isal's stubs declare its ``error`` class as an instance
    _INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, cast("type[Exception]", _isal_error))
except ImportError:  # pragma: no cover - isal is a dependency; zlib is the fallback
    from zlib import decompressobj as _inflater  # type: ignore[assignment]

    _INFLATE_ERRORS = (zlib.error,)
#: What a bad gzip member raises while it is inflated.
_GZIP_ERRORS: tuple[type[Exception], ...] = (OSError, EOFError, *_INFLATE_ERRORS)

_WARC_STARTS = (b"WARC/1.0\r\n", b"WARC/1.1\r\n")
_BLANK_LINE = b"\r\n\r\n"


def _header_fields(block: bytes) -> dict[str, str] | None:
    """``name: value`` lines as ``{lower-case name: stripped value}`` (first one wins); None when a
    line is not a plain field (continuation lines, no colon, non-UTF-8): warcio decides those."""
    fields: dict[str, str] = {}
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\n" in text.replace("\r\n", ""):
        return None
    for line in text.split("\r\n"):
        name, colon, field_value = line.partition(":")
        if not colon or not name or name != name.strip() or "\r" in line:
            return None
        fields.setdefault(name.lower(), field_value.strip())
    return fields


def decode_plain_warc(value: bytes, max_bytes: int) -> CrawlRecord | None:
    """The fast path of :func:`decode_warc`: a plain WARC response record with an ``application/http``
    block, a 2xx status and an unencoded body, read with bytes operations; ``None`` for anything
    else (warcio then decodes it, with its errors). When it returns a record, it is the record
    warcio would give."""
    if not value.startswith(_WARC_STARTS):
        return None
    warc_end = value.find(_BLANK_LINE)
    warc = _header_fields(value[10:warc_end]) if warc_end > 10 else None
    if (warc is None or warc.get("warc-type") != "response"
            or not warc.get("content-type", "").startswith("application/http")):
        return None
    length = warc.get("content-length", "")
    block_start = warc_end + 4
    if not length.isascii() or not length.isdigit() or block_start + int(length) > len(value):
        return None
    block_end = block_start + int(length)
    http_end = value.find(_BLANK_LINE, block_start, block_end)
    status_end = value.find(b"\r\n", block_start, max(http_end, block_start))
    uri = warc.get("warc-target-uri", "")
    if http_end < 0 or status_end < 0 or not uri.startswith(("http:", "https:")) or any(
            char in uri for char in " <>"):
        return None
    status_line = value[block_start:status_end].split(b" ", 2)
    http = _header_fields(value[status_end + 2:http_end]) if http_end > status_end else {}
    if (http is None or len(status_line) < 2 or status_line[0] not in (b"HTTP/1.0", b"HTTP/1.1")
            or not status_line[1].startswith(b"2") or "transfer-encoding" in http
            or "content-encoding" in http or block_end - http_end - 4 > max_bytes):
        return None
    try:
        url, origin = _checked_origin(uri)
        date = iso_utc(warc.get("warc-date") or "")
    except RecordError:
        return None
    return CrawlRecord(url=url, origin=origin, warc_date=date, html=value[http_end + 4:block_end],
                       charset=_charset_of(http.get("content-type")),
                       **_warc_extras(lambda name: warc.get(name.lower())))


def decode_warc(value: bytes, max_bytes: int) -> CrawlRecord:
    """Decode one WARC response record (plain or one gzip member)."""
    if value.startswith(GZIP_MAGIC):
        try:
            value = _gunzip_one(value, max_bytes)
        except _GZIP_ERRORS as exc:
            raise RecordError("invalid_warc", f"bad gzip member: {exc}") from None
    if not value[:64].lstrip(b" \t\r\n").startswith(b"WARC/"):  # warcio would read ARC, even JSON, as ARC
        raise RecordError("invalid_warc", "not a WARC record: no WARC/ version line")
    return decode_plain_warc(value, max_bytes) or decode_warc_with_warcio(value, max_bytes)


def decode_warc_with_warcio(value: bytes, max_bytes: int) -> CrawlRecord:
    """Decode one plain (inflated) WARC response record with warcio: any record, exact errors."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    try:
        records = ArchiveIterator(io.BytesIO(value), check_digests=False)
        record = next(iter(records), None)
        if record is None:
            raise RecordError("invalid_warc", "no WARC record in the message")
        if record.rec_type is None:
            raise RecordError("invalid_warc", "no WARC-Type header")
        if record.rec_type != "response":
            raise RecordError("not_response", f"WARC-Type {record.rec_type}")
        url, origin = _warc_target(record.rec_headers.get_header("WARC-Target-URI"))
        http = record.http_headers
        charset = http_date = None
        if http is not None:
            status = (http.get_statuscode() or "").strip()
            if not status.startswith("2"):
                raise PageDropped("http_status", f"HTTP status {status or '?'}")
            charset = _charset_of(http.get_header("Content-Type"))
            http_date = http.get_header("Date")
        date, date_fallback = _record_date(record.rec_headers.get_header("WARC-Date"), http_date)
        try:
            body = record.content_stream().read(max_bytes + 1)
            stream = record.raw_stream
        except Exception:  # noqa: BLE001 - a payload encoding warcio cannot undo: the payload as sent
            body, stream = _payload_as_sent(value, max_bytes)
        if len(body) <= max_bytes and getattr(stream, "limit", 0) > 0:
            raise RecordError("invalid_warc", "truncated record: shorter than its Content-Length")
    except (RecordError, PageDropped):
        raise
    except ArchiveLoadFailed as exc:
        raise RecordError("invalid_warc", str(exc)[:200]) from None
    except Exception as exc:  # noqa: BLE001 - warcio raises assorted errors on malformed input
        raise RecordError("invalid_warc", f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if len(body) > max_bytes:
        raise RecordError("too_large", f"payload over {max_bytes} bytes")
    return CrawlRecord(url=url, origin=origin, warc_date=date, html=body, charset=charset,
                       warc_date_fallback=date_fallback, **_warc_extras(record.rec_headers.get_header))


def _payload_as_sent(value: bytes, max_bytes: int) -> tuple[bytes, Any]:
    """The HTTP payload of a WARC record without warcio's content decoding, and the stream it was
    read from; a ``br`` payload is decompressed here (warcio's brotli hook does not work with
    brotli 1.2), any other encoding is left as sent."""
    from warcio.archiveiterator import ArchiveIterator

    record = next(iter(ArchiveIterator(io.BytesIO(value), check_digests=False)))
    body = record.raw_stream.read(max_bytes + 1)
    encoding = (record.http_headers.get_header("Content-Encoding") or "") if record.http_headers else ""
    if encoding.strip().lower() == "br":
        import brotli

        try:
            body = brotli.decompress(body)
        except brotli.error:
            pass
    return body, record.raw_stream


def _gunzip_one(value: bytes, max_bytes: int) -> bytes:
    """Inflate the first gzip member, refusing more than ``max_bytes`` (gzip bombs)."""
    inflater = _inflater(16 + zlib.MAX_WBITS)
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


def _optional_flag(document: dict[str, Any], field: str) -> bool | None:
    value = document.get(field)
    if value is None or isinstance(value, bool):
        return value
    raise RecordError("invalid_envelope", f"{field} must be true, false or null")


def _has_lone_surrogates(document: Any) -> bool:
    """True when a string in ``document`` holds a lone surrogate (``json`` accepts ``\\ud800`` escapes
    and, from bytes, UTF-8-encoded surrogates; such text cannot be encoded, stored or released)."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def decode_envelope(value: bytes, max_bytes: int) -> CrawlRecord:
    """Decode one JSON envelope (fields as in the README, "Records on the topic")."""
    try:
        document = json.loads(value)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise RecordError("invalid_json", str(exc)[:200]) from None
    # UTF-8 JSON can hold them only as \u escapes or as (CESU) bytes ED A0-BF; UTF-16/32 anywhere
    maybe_surrogates = value[:1] != b"{" or b"\x00" in value[:4] or b"\\u" in value or b"\xed" in value
    if maybe_surrogates and _has_lone_surrogates(document):
        raise RecordError("invalid_json", "lone UTF-16 surrogates: text that is not Unicode")
    if not isinstance(document, dict):
        raise RecordError("invalid_envelope", "the envelope must be a JSON object")
    url, origin = _checked_origin(_optional_text(document, "url"))
    date = _optional_text(document, "warc_date")
    if not date:
        raise RecordError("invalid_date", "missing warc_date")
    html = _optional_text(document, "html") or ""
    faq = _faq_pairs(document.get("faq"))
    json_ld = _text_list(document.get("json_ld"), "json_ld")
    microdata = _text_list(document.get("microdata"), "microdata")
    if not html and faq is None and not json_ld and not microdata:
        raise RecordError("invalid_envelope", "neither html, faq, json_ld nor microdata")
    body = html.encode("utf-8")
    if len(body) > max_bytes:
        raise RecordError("too_large", f"html over {max_bytes} bytes")
    return CrawlRecord(
        url=url, origin=origin, warc_date=iso_utc(date), html=body, charset="utf-8",
        title=_optional_text(document, "title"), description=_optional_text(document, "description"),
        language=_optional_text(document, "language"), json_ld=json_ld, faq=faq, microdata=microdata,
        record_id=record_id_of(_optional_text(document, "record_id")),
        ows_index=_optional_flag(document, "ows_index"), ows_genai=_optional_flag(document, "ows_genai"))


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

