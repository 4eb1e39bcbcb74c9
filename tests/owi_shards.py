"""OWI metadata shards for tests, built as the Open Web Index's preprocessing (resilipipe) writes them.

``page_row(page)`` is one row of resilipipe's metadata schema for a fetched page: ``id`` (sha256 of the
URL), ``record_id`` (the WARC record UUID), ``url`` and its parts, ``warc_date``, ``title``,
``plain_text``, ``json-ld`` and ``microdata`` as resilipipe stores extruct's output (``str()`` of the
Python list, ``None`` when empty or when extruct fails on the page), ``language``, the ``ows_*`` flags;
``html`` (FAQ shards) on request. ``provenance_pages(fixtures)`` lists the fixture pages with their
PROVENANCE rows. ``write_shard(path, rows)`` writes them with that schema (and a
``faq`` column when a row has one). Pages come from ``../shared/fixtures/faq-pages`` (PROVENANCE.tsv).
"""

from __future__ import annotations

import csv
import hashlib
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import extruct
import lxml.html
import pyarrow as pa
import pyarrow.parquet as pq

from webfaq_stream.adapters.crawl_files import Page

#: resilipipe's base schema (resilipipe/conf/config.py), plus the FAQ shards' ``faq`` and ``html``.
OWI_SCHEMA = pa.schema([
    ("id", pa.string()), ("record_id", pa.string()), ("title", pa.string()), ("plain_text", pa.string()),
    ("json-ld", pa.string()), ("microdata", pa.string()), ("warc_date", pa.string()), ("warc_ip", pa.string()),
    ("url", pa.string()), ("url_scheme", pa.string()), ("url_path", pa.string()), ("url_params", pa.string()),
    ("url_query", pa.string()), ("url_fragment", pa.string()), ("url_subdomain", pa.string()),
    ("url_domain", pa.string()), ("url_suffix", pa.string()), ("url_is_private", pa.bool_()),
    ("mime_type", pa.string()), ("charset", pa.string()), ("content_type_other", pa.map_(pa.string(), pa.string())),
    ("http_server", pa.string()), ("language", pa.string()), ("valid", pa.bool_()), ("warc_file", pa.string()),
    ("ows_canonical", pa.string()), ("ows_resource_type", pa.string()), ("ows_curlielabel", pa.string()),
    ("ows_index", pa.bool_()), ("ows_genai", pa.bool_()), ("ows_genai_details", pa.string()),
    ("ows_fetch_response_time", pa.int32()), ("ows_fetch_num_errors", pa.string()),
    ("schema_metadata", pa.map_(pa.string(), pa.string())),
])
FAQ_FIELD = pa.field("faq", pa.list_(pa.struct([("question", pa.string()), ("answer", pa.string()),
                                                 ("language", pa.string())])))
HTML_FIELD = pa.field("html", pa.string())


def provenance_pages(fixtures: Path) -> list[tuple[dict[str, str], Page]]:
    """Every fixture page with its PROVENANCE row, as a fetched page at its original URL."""
    with (fixtures / "PROVENANCE.tsv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [(row, Page(row["original_url"], (fixtures / row["file"]).read_bytes(), "2026-11-20T10:00:00Z"))
            for row in rows]


def extruct_strings(html: str) -> tuple[str | None, str | None]:
    """``json-ld`` and ``microdata`` as resilipipe stores them (``str()`` of extruct's lists; ``None``
    when a list is empty, both ``None`` when extruct fails on the page)."""
    try:
        found = extruct.extract(html, syntaxes=["json-ld", "microdata"])
    except Exception:  # noqa: BLE001 - resilipipe's apply_extruct_extractors does the same
        return None, None
    return (str(found["json-ld"]) if found["json-ld"] else None,
            str(found["microdata"]) if found["microdata"] else None)


def page_row(page: Page, *, with_html: bool = False, ows_index: bool | None = True,
             ows_genai: bool | None = True, language: str = "eng") -> dict[str, Any]:
    """One resilipipe metadata row for ``page`` (see the module docstring)."""
    text = page.html.decode("utf-8", "replace")
    json_ld, microdata = extruct_strings(text)
    try:
        tree = lxml.html.fromstring(page.html)
        title, plain_text = tree.findtext(".//title"), tree.text_content()
    except (ValueError, lxml.etree.ParserError):
        title, plain_text = None, ""
    parts = urlsplit(page.url)
    host = (parts.hostname or "").split(".")
    row: dict[str, Any] = {
        "id": hashlib.sha256(page.url.encode()).hexdigest(),
        "record_id": str(uuid.uuid5(uuid.NAMESPACE_URL, page.url + " " + page.warc_date)),
        "title": title, "plain_text": plain_text, "json-ld": json_ld, "microdata": microdata,
        "warc_date": page.warc_date, "warc_ip": "192.0.2.1", "url": page.url, "url_scheme": parts.scheme,
        "url_path": parts.path or None, "url_params": None, "url_query": parts.query or None,
        "url_fragment": parts.fragment or None, "url_subdomain": ".".join(host[:-2]) or None,
        "url_domain": host[-2] if len(host) > 1 else None, "url_suffix": host[-1], "url_is_private": False,
        "mime_type": "text/html", "charset": "utf-8", "content_type_other": None, "http_server": None,
        "language": language, "valid": True, "warc_file": "crawl.warc.gz", "ows_canonical": None,
        "ows_resource_type": "html", "ows_curlielabel": None, "ows_index": ows_index, "ows_genai": ows_genai,
        "ows_genai_details": None if ows_genai is not False else "noai", "ows_fetch_response_time": 120,
        "ows_fetch_num_errors": None, "schema_metadata": [("schema_version", "0.1.0")],
    }
    if with_html:
        row["html"] = text
    return row


def write_shard(path: Path, rows: list[dict[str, Any]], *, row_group_size: int = 16) -> Path:
    """Write ``rows`` as an OWI metadata shard (resilipipe's schema, plus ``faq``/``html`` when used)."""
    fields = list(OWI_SCHEMA)
    if any("faq" in row for row in rows):
        fields.append(FAQ_FIELD)
    if any("html" in row for row in rows):
        fields.append(HTML_FIELD)
    schema = pa.schema(fields)
    table = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path
