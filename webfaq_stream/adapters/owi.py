"""Open Web Index metadata shards (Parquet, resilipipe's schema) read as JSON envelopes for the crawl topic.

OWI publishes its crawl every day as Parquet shards per data centre, date and language (owilix keeps
them under ``.../year=YYYY/month=M/day=D/language=LLL/metadata_N.parquet``): one row per page with
``id`` (sha256 of the URL), ``record_id`` (the WARC record UUID), ``url`` and its parts,
``warc_date``, ``title``, ``plain_text``, ``json-ld`` and ``microdata`` (extruct's output as a
string: resilipipe writes ``str()`` of the Python list, so single quotes, ``True``/``None``; JSON is
accepted too), ``language`` (ISO 639-3), ``ows_index``, ``ows_genai``, ``ows_genai_details``,
``ows_resource_type``, and in FAQ shards ``faq`` (list of ``{question, answer, language}``) and
``html``.

Contract of :func:`owi_rows` (``path``, ``start_row``, ``batch_rows``, ``name``, ``faq_only``):
- reads only the columns in :data:`COLUMN_MAP` (never ``plain_text``), a record batch at a time
  (memory bounded by ``batch_rows``, whatever the shard's size), from row ``start_row`` on (whole
  row groups before it are skipped unread);
- yields one :class:`OwiRow` per row, in row order, numbered from 0 in the file: a ``message`` (a
  JSON envelope, key = the URL's origin or ``None`` when the URL is missing or invalid, so the
  worker dead-letters it with its reason; headers ``content-type``, ``owi-file`` = ``name`` and
  ``owi-row``), or an ``error`` saying why the row cannot be read (a ``json-ld`` or ``microdata``
  value that is neither JSON nor a Python literal, a value of the wrong type, a row group that
  cannot be decoded), or, with ``faq_only``, ``skipped`` = :data:`NO_FAQ_MARKUP` for a row that
  declares no FAQ (no ``faq`` list and no ``faqpage``, in any letter case, in its ``html``,
  ``json-ld`` or ``microdata``: decided by Arrow on the whole batch, so such rows, most of a crawl,
  are never turned into Python values); never skips a row silently;
- raises :class:`CrawlFileError` when the file is not a readable Parquet file or has no ``url``.
The envelope (README, "Records on the topic"): ``url``, ``warc_date`` (ISO text), ``record_id``, ``title``,
``language``, ``json_ld`` and ``microdata`` (lists of the page's declared blocks and items),
``faq`` (only when non-empty), ``html``, and the ``ows_*`` fields.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from webfaq_stream.adapters.crawl_files import JSON_HEADERS, Message, origin_key
from webfaq_stream.domain.model import iso_time
from webfaq_stream.errors import CrawlFileError

#: OWI column -> envelope field, for every column read.
COLUMN_MAP = {
    "url": "url", "warc_date": "warc_date", "record_id": "record_id", "title": "title",
    "language": "language", "json-ld": "json_ld", "microdata": "microdata", "faq": "faq", "html": "html",
    "ows_index": "ows_index", "ows_genai": "ows_genai", "ows_genai_details": "ows_genai_details",
    "ows_resource_type": "ows_resource_type",
}
PARQUET_MAGIC = b"PAR1"
#: Why a row was not turned into a message under ``faq_only``.
NO_FAQ_MARKUP = "no_faq_markup"
_MARKUP_COLUMNS = ("html", "json-ld", "microdata")
_TEXT_FIELDS = ("url", "record_id", "title", "language", "html", "ows_genai_details", "ows_resource_type")


class OwiRow(NamedTuple):
    """One row of a shard: its number, and its message, or why it cannot be read, or why it was skipped."""

    row: int
    message: Message | None = None
    error: str | None = None
    skipped: str | None = None


class RowError(ValueError):
    """A row's value cannot be read (the message names the column)."""


def is_parquet(path: Path) -> bool:
    """Whether ``path`` starts with the Parquet magic bytes."""
    try:
        with Path(path).open("rb") as handle:
            return handle.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def row_count(path: Path) -> int:
    """Rows in the shard, from its footer (``CrawlFileError`` when it is not readable Parquet)."""
    return _open(path).metadata.num_rows


def _open(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise CrawlFileError(f"{path}: not a readable Parquet file: {exc}") from None


def owi_rows(path: Path, *, start_row: int = 0, batch_rows: int = 1024, name: str | None = None,
             faq_only: bool = False) -> Iterator[OwiRow]:
    """Every row of the shard from ``start_row`` on (see the module contract)."""
    import pyarrow as pa

    shard = _open(path)
    names = set(shard.schema_arrow.names)
    if "url" not in names:
        raise CrawlFileError(f"{path}: not an OWI metadata shard (no url column)")
    columns = [column for column in COLUMN_MAP if column in names]
    label = (name or Path(path).name).encode("utf-8")
    first = 0
    for group in range(shard.num_row_groups):
        size = shard.metadata.row_group(group).num_rows
        if first + size <= start_row:
            first += size
            continue
        row = first
        try:
            for batch in shard.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns):
                skip = max(0, start_row - row)
                if skip >= batch.num_rows:
                    row += batch.num_rows
                    continue
                batch = batch.slice(skip)
                row += skip
                wanted = _declaring_faq(batch) if faq_only else None
                chosen = iter(batch.filter(wanted).to_pylist() if wanted is not None else batch.to_pylist())
                for keep in (wanted.to_pylist() if wanted is not None else [True] * batch.num_rows):
                    yield _row(row, next(chosen), label) if keep else OwiRow(row, skipped=NO_FAQ_MARKUP)
                    row += 1
        except (OSError, pa.ArrowException) as exc:
            for lost in range(max(row, start_row), first + size):
                yield OwiRow(lost, error=f"row group {group} cannot be decoded: {exc}")
        first += size


def _declaring_faq(batch: Any) -> Any:
    """Per row of a record batch: does it hold a ``faq`` list or ``faqpage`` in its markup?"""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = batch.schema.names
    found = pa.array([False] * batch.num_rows)
    for column in _MARKUP_COLUMNS:
        if column in names and pa.types.is_string(batch.column(column).type):
            found = pc.or_(found, pc.fill_null(pc.match_substring(batch.column(column), "faqpage", ignore_case=True),
                                               False))
        elif column in names:  # an unexpected type: let the row be read (and reported) in Python
            found = pc.or_(found, pc.is_valid(batch.column(column)))
    if "faq" in names:
        faq = batch.column("faq")
        has = pc.greater(pc.list_value_length(faq), 0) if pa.types.is_list(faq.type) else pc.is_valid(faq)
        found = pc.or_(found, pc.fill_null(has, False))
    return found


def _row(row: int, values: dict[str, Any], label: bytes) -> OwiRow:
    try:
        envelope = envelope_of(values)
    except RowError as exc:
        return OwiRow(row, error=str(exc))
    try:
        value = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return OwiRow(row, error="text that is not Unicode (lone UTF-16 surrogates)")
    headers = [*JSON_HEADERS, ("owi-file", label), ("owi-row", str(row).encode("ascii"))]
    return OwiRow(row, Message(value, origin_key(envelope.get("url")), headers))


def envelope_of(values: dict[str, Any]) -> dict[str, Any]:
    """The JSON envelope of one OWI row (its columns as Python values); ``RowError`` names a bad value."""
    envelope: dict[str, Any] = {}
    for field in _TEXT_FIELDS:
        value = values.get(field)
        if value is not None:
            if not isinstance(value, str):
                raise RowError(f"{field}: expected text, got {type(value).__name__}")
            envelope[field] = value
    date = values.get("warc_date")
    if isinstance(date, datetime):
        date = iso_time(date)
    if date is not None:
        if not isinstance(date, str):
            raise RowError(f"warc_date: expected text or a timestamp, got {type(date).__name__}")
        envelope["warc_date"] = date
    for column, field in (("json-ld", "json_ld"), ("microdata", "microdata")):
        declared = _extruct_list(values.get(column), column)
        if declared:
            envelope[field] = declared
    faq = _faq(values.get("faq"))
    if faq:
        envelope["faq"] = faq
    for field in ("ows_index", "ows_genai"):
        flag = values.get(field)
        if flag is not None:
            if not isinstance(flag, bool):
                raise RowError(f"{field}: expected true or false, got {flag!r:.40}")
            envelope[field] = flag
    return envelope


def _extruct_list(value: Any, column: str) -> list[Any]:
    """extruct's output for one syntax: a list of blocks/items (from JSON or a Python literal)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)  # resilipipe writes str() of extruct's Python list
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
                raise RowError(f"{column}: neither JSON nor a Python literal ({type(exc).__name__}: "
                               f"{str(exc)[:80]})") from None
        except RecursionError:
            raise RowError(f"{column}: nested too deep") from None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, (dict, list, str)) for item in value):
        raise RowError(f"{column}: expected a list of objects, got {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise RowError(f"{column}: holds a value JSON cannot carry ({exc})") from None
    return value


def _faq(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError(f"faq: expected a list of {{question, answer}}, got {type(value).__name__}")
    pairs = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("question"), str) \
                or not isinstance(item.get("answer"), str):
            raise RowError("faq: every item needs a text question and answer")
        pairs.append({"question": item["question"], "answer": item["answer"]})
    return pairs
