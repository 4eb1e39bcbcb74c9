"""The hostile and broken record corpus: generators and files, each with its expected outcome.

``EXPECTED.tsv`` (beside this module) is the table: ``name``, ``source`` (``generator`` or the file
under ``tests/bad_inputs/``), ``outcome`` (``dead_letter`` or ``dropped``) and ``reason`` (the
dead-letter reason, or the drop reason the page is counted under). :func:`cases` joins the table
with :data:`GENERATORS` and the files; ``tests/test_bad_input_corpus.py`` checks that table and
code agree, runs every case through decoding and the pipeline, and runs the whole corpus through
the real worker between good records.

Big inputs (gzip bombs, 100 MB records, a million questions) are generated at test time, never
committed. Every generator is deterministic.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from webfaq_stream.adapters.crawl_files import JSON_HEADERS, WARC_HEADERS, Page, warc_response_bytes

HERE = Path(__file__).resolve().parent
TABLE = HERE / "EXPECTED.tsv"
MiB = 1024 * 1024
#: The worker's default ``max_record_bytes`` (Settings); generators aim past it.
MAX_RECORD_BYTES = 8 * MiB
DATE = "2026-11-20T12:00:00Z"
URL = "https://hostile.example/faq"

Headers = list[tuple[str, bytes]]
Record = tuple[bytes | None, Headers]


@dataclass(frozen=True)
class BadInput:
    """One corpus entry: how to make it and what must become of it."""

    name: str
    source: str
    outcome: str
    reason: str
    make: Callable[[], Record]


# --- building blocks ---------------------------------------------------------------------------
def faq_jsonld(pairs: int = 2, answer: str = "This answer is long enough to pass every WebFAQ filter.") -> str:
    return json.dumps({"@context": "https://schema.org", "@type": "FAQPage", "mainEntity": [
        {"@type": "Question", "name": f"What is question number {i} about here",
         "acceptedAnswer": {"@type": "Answer", "text": answer}} for i in range(pairs)]})


def page_html(body: str = "", head: str = "") -> bytes:
    return f"<!DOCTYPE html><html><head><title>FAQ</title>{head}</head><body>{body}</body></html>".encode()


def warc(html: bytes, url: str = URL, content_type: str = "text/html; charset=utf-8",
         status: str = "200 OK", compress: bool = True) -> Record:
    return warc_response_bytes(Page(url, html, DATE, content_type, status), compress), list(WARC_HEADERS)


def raw_warc(headers: dict[str, str], block: bytes) -> bytes:
    """A WARC/1.1 record written by hand (for records warcio's writer would not make)."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"WARC/1.1\r\n{lines}\r\n".encode() + block + b"\r\n\r\n"


def http_block(body: bytes, extra: str = "", status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def typed_warc(rec_type: str, block: bytes = b"", url: str = URL, **extra: str) -> Record:
    headers = {"WARC-Type": rec_type, "WARC-Record-ID": f"<urn:uuid:{rec_type}-0000>", "WARC-Date": DATE,
               "WARC-Target-URI": url, "Content-Length": str(len(block)), **extra}
    return raw_warc(headers, block), list(WARC_HEADERS)


def envelope(document: object, raw: bytes | None = None) -> Record:
    return (raw if raw is not None else json.dumps(document).encode()), list(JSON_HEADERS)


def good_faq_warc() -> bytes:
    return warc(page_html(f'<script type="application/ld+json">{faq_jsonld()}</script>'))[0]  # type: ignore[return-value]


def _gzip(data: bytes, level: int = 9) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


def _streamed_gzip(prefix: bytes, filler: bytes, size: int, suffix: bytes = b"") -> bytes:
    """gzip of ``prefix + filler * (size // len(filler)) + suffix`` without holding it inflated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [compressor.compress(prefix)]
    chunk = filler * (MiB // len(filler))
    for _ in range(size // len(chunk)):
        out.append(compressor.compress(chunk))
    out.append(compressor.compress(suffix))
    out.append(compressor.flush())
    return b"".join(out)


# --- generators --------------------------------------------------------------------------------
def gzip_truncated() -> Record:
    return good_faq_warc()[:200], list(WARC_HEADERS)


def gzip_corrupt_deflate() -> Record:
    data = bytearray(good_faq_warc())
    for offset in range(40, len(data) - 20, 37):
        data[offset] ^= 0x5A
    return bytes(data), list(WARC_HEADERS)


def gzip_bad_crc() -> Record:
    data = bytearray(good_faq_warc())
    data[-8] ^= 0xFF  # CRC32 of the member
    return bytes(data), list(WARC_HEADERS)


def gzip_only_magic() -> Record:
    return b"\x1f\x8b", list(WARC_HEADERS)


def gzip_bomb_warc() -> Record:
    """~40 KB that inflate to a 40 MB WARC record."""
    header = (f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Date: {DATE}\r\nWARC-Target-URI: {URL}\r\n"
              f"Content-Length: {40 * MiB}\r\n\r\n").encode()
    return _streamed_gzip(header, b"\0", 40 * MiB), list(WARC_HEADERS)


def gzip_bomb_http_body() -> Record:
    """A small WARC whose HTTP body is ``Content-Encoding: gzip`` of 64 MB of spaces."""
    body = _streamed_gzip(b"<html><body>FAQPage", b" ", 64 * MiB, b"</body></html>")
    block = http_block(body, extra="Content-Encoding: gzip\r\n")
    return typed_warc("response", block, **{"Content-Type": "application/http; msgtype=response"})


def gzip_of_gzip() -> Record:
    return _gzip(_gzip(good_faq_warc())), list(WARC_HEADERS)


def zero_bytes() -> Record:
    return b"", list(WARC_HEADERS)


def null_value() -> Record:
    return None, []


def hundred_megabytes() -> Record:
    """A 100 MB WARC record (past every size limit; the producer refuses it too)."""
    body = b"<html><body>" + b"x" * (100 * MiB) + b"</body></html>"
    return warc(body, compress=False)


def just_over_the_limit() -> Record:
    """An envelope of 8.5 MB: under the producer's limit, over the worker's ``max_record_bytes``."""
    html = "<html><body>" + "FAQPage " * (MAX_RECORD_BYTES // 8 + 64 * 1024) + "</body></html>"
    return envelope({"url": URL, "warc_date": DATE, "html": html})


def random_bytes() -> Record:
    return random.Random(1).randbytes(4096), []


def nul_bytes() -> Record:
    return b"\0" * 1000, []


def whitespace_only() -> Record:
    return b" \r\n\t  \n", []


def html_without_envelope() -> Record:
    return page_html(f'<script type="application/ld+json">{faq_jsonld()}</script>'), []


def invalid_utf8_envelope() -> Record:
    return b'{"url": "' + URL.encode() + b'", "warc_date": "' + DATE.encode() + b'", "html": "\xff\xfe\xc3("}', list(
        JSON_HEADERS)


def latin1_envelope() -> Record:
    """An envelope in Latin-1 (not UTF-8, as JSON must be)."""
    text = f'{{"url": "{URL}", "warc_date": "{DATE}", "html": "<p>Häufige Fragen: Grüße</p>"}}'
    return text.encode("latin-1"), list(JSON_HEADERS)


def envelope_lone_surrogates() -> Record:
    """Valid JSON whose strings hold lone UTF-16 surrogates: escaped, UTF-8-encoded, and in UTF-16."""
    escaped = b'{"url": "' + URL.encode() + b'", "warc_date": "' + DATE.encode() + b'", "html": "<p>\\ud800 FAQPage</p>"}'
    return escaped, list(JSON_HEADERS)


def envelope_utf16_lone_surrogate() -> Record:
    text = '{"url": "%s", "warc_date": "%s", "html": "<p>FAQPage</p>", "title": "\ud800"}'
    return text.replace("%s", URL, 1).replace("%s", DATE, 1).encode("utf-16-le", "surrogatepass"), list(JSON_HEADERS)


def invalid_utf8_page() -> Record:
    """A page that declares UTF-8 and is mostly invalid UTF-8, with a broken FAQPage script."""
    junk = random.Random(2).randbytes(3000).replace(b"<", b"")
    return warc(b"<html><head><script type='application/ld+json'>{\"@type\": \"FAQPage\", " + junk
                + b"</script></head><body>" + junk + b"</body></html>")


def charset_lie_utf16() -> Record:
    """Declares UTF-8, is UTF-16-LE: its FAQPage is not readable as declared."""
    html = page_html(f'<script type="application/ld+json">{faq_jsonld()}</script>').decode()
    return warc(html.encode("utf-16-le"), content_type="text/html; charset=utf-8")


def charset_lie_mixed() -> Record:
    """Declares Shift_JIS; UTF-8, Latin-1 and cp1252 bytes mixed; the answers are too short."""
    script = faq_jsonld(answer="Oui, très ")
    html = (b"<html><head><meta charset='shift_jis'><script type='application/ld+json'>" + script.encode()
            + b"</script></head><body>caf\xe9 \x93quoted\x94 \xe2\x82\xac</body></html>")
    return warc(html, content_type="text/html; charset=shift_jis")


def unknown_charset_no_faq() -> Record:
    return warc(b"<html><body>FAQ: no markup here, only text about faqpage</body></html>",
                content_type="text/html; charset=x-no-such-charset")


def jsonld_nested_100k() -> Record:
    depth = 100_000
    script = '{"@type": "FAQPage", "mainEntity": ' + "[" * depth + "]" * depth + "}"
    return warc(page_html(f'<script type="application/ld+json">{script}</script>'))


def jsonld_nested_objects_100k() -> Record:
    depth = 100_000
    script = '{"@type": "FAQPage", "mainEntity": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    return warc(page_html(f'<script type="application/ld+json">{script}</script>'))


def envelope_nested_100k() -> Record:
    depth = 100_000
    return envelope(None, raw=b'{"url": "' + URL.encode() + b'", "warc_date": "' + DATE.encode()
                    + b'", "html": "<p>x</p>", "extra": ' + b"[" * depth + b"]" * depth + b"}")


def jsonld_million_questions() -> Record:
    """A FAQPage with about a million questions (~95 MB of page) as a gzip-encoded HTTP body of ~1 MB."""
    item = b'{"@type":"Question","name":"Is this question number many?","acceptedAnswer":{"text":"No."}},'
    prefix = b'<html><head><script type="application/ld+json">{"@type":"FAQPage","mainEntity":['
    suffix = b'{"@type":"Question","name":"last"}]}</script></head><body></body></html>'
    body = _streamed_gzip(prefix, item, len(item) * 1_000_000, suffix)
    block = http_block(body, extra="Content-Encoding: gzip\r\n")
    return typed_warc("response", block, **{"Content-Type": "application/http; msgtype=response"})


def jsonld_hundred_thousand_questions() -> Record:
    """100,000 questions in 7 MB: under the size limit, over the extraction budget."""
    items = [{"@type": "Question", "name": f"Question {i}?", "acceptedAnswer": {"text": "Short."}}
             for i in range(100_000)]
    script = json.dumps({"@type": "FAQPage", "mainEntity": items}, separators=(",", ":"))
    return warc(page_html(f'<script type="application/ld+json">{script}</script>'))


_LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))


def xml_billion_laughs_xhtml() -> Record:
    """XHTML with RDFa and an internal DTD whose entities would expand to 10^9 'lol's."""
    doc = (f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY lol0 "lol">{_LAUGHS}]>'
           '<html xmlns="http://www.w3.org/1999/xhtml"><body vocab="https://schema.org/" typeof="FAQPage">'
           '<div property="mainEntity" typeof="Question"><h3 property="name">What does this entity expand to'
           '</h3><div property="acceptedAnswer" typeof="Answer"><p property="text">&lol9;</p></div></div>'
           "</body></html>")
    return warc(doc.encode(), content_type="application/xhtml+xml; charset=utf-8")


def xml_external_entity_rdfa() -> Record:
    """RDFa whose answer is an external entity naming a local file (XXE): never read."""
    doc = ('<?xml version="1.0"?><!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           '<html xmlns="http://www.w3.org/1999/xhtml"><body vocab="https://schema.org/" typeof="FAQPage">'
           '<div property="mainEntity" typeof="Question"><h3 property="name">Which file does this entity read'
           '</h3><div property="acceptedAnswer" typeof="Answer"><p property="text">&xxe;</p></div></div>'
           "</body></html>")
    return warc(doc.encode(), content_type="application/xhtml+xml; charset=utf-8")


def svg_entity_expansion_microdata() -> Record:
    """Microdata page with an inline SVG carrying a billion-laughs DTD; the answer is an entity."""
    doc = (f'<!DOCTYPE html [<!ENTITY lol0 "lol">{_LAUGHS}]><html><body itemscope '
           'itemtype="https://schema.org/FAQPage"><div itemscope itemprop="mainEntity" '
           'itemtype="https://schema.org/Question"><h3 itemprop="name">What does the entity become here</h3>'
           '<div itemscope itemprop="acceptedAnswer" itemtype="https://schema.org/Answer">'
           '<div itemprop="text">&lol9;</div></div></div><svg><text>&lol9;</text></svg></body></html>')
    return warc(doc.encode())


def target(url: str) -> Callable[[], Record]:
    def make() -> Record:
        return warc(page_html(f'<script type="application/ld+json">{faq_jsonld()}</script>'), url=url)
    return make


def envelope_target(url: object) -> Callable[[], Record]:
    def make() -> Record:
        return envelope({"url": url, "warc_date": DATE, "faq": [{"question": "What is this question about",
                                                                  "answer": "An answer that is long enough."}]})
    return make


def warc_type(rec_type: str) -> Callable[[], Record]:
    def make() -> Record:
        block = http_block(page_html(f'<script type="application/ld+json">{faq_jsonld()}</script>'))
        if rec_type == "request":
            block = b"GET /faq HTTP/1.1\r\nHost: hostile.example\r\n\r\n"
        extra = {"WARC-Refers-To": "<urn:uuid:original>", "WARC-Payload-Digest": "sha1:AAAA"} \
            if rec_type == "revisit" else {}
        return typed_warc(rec_type, block, **extra)
    return make


def warc_no_type() -> Record:
    block = http_block(b"<html>FAQPage</html>")
    return raw_warc({"WARC-Record-ID": "<urn:uuid:x>", "WARC-Date": DATE, "WARC-Target-URI": URL,
                     "Content-Length": str(len(block))}, block), list(WARC_HEADERS)


def warc_no_target() -> Record:
    block = http_block(b"<html>FAQPage</html>")
    return raw_warc({"WARC-Type": "response", "WARC-Record-ID": "<urn:uuid:x>", "WARC-Date": DATE,
                     "Content-Length": str(len(block))}, block), list(WARC_HEADERS)


def warc_bad_date() -> Record:
    return typed_warc("response", http_block(b"<html>FAQPage</html>"), **{"WARC-Date": "yesterday at noon"})


def warc_truncated_block() -> Record:
    value, headers = typed_warc("response", http_block(page_html("x" * 5000)))
    return value[: len(value) - 3000], headers  # type: ignore[index]


def warc_garbage_length() -> Record:
    block = http_block(b"<html>FAQPage</html>")
    return raw_warc({"WARC-Type": "response", "WARC-Record-ID": "<urn:uuid:x>", "WARC-Date": DATE,
                     "WARC-Target-URI": URL, "Content-Length": "-12e9"}, block), list(WARC_HEADERS)


def warc_bad_version_line() -> Record:
    value, headers = typed_warc("response", http_block(b"<html>FAQPage</html>"))
    return value.replace(b"WARC/1.1", b"WARC/9.9x", 1), headers  # type: ignore[union-attr]


def http_status(status: str) -> Callable[[], Record]:
    def make() -> Record:
        return warc(page_html(f'<script type="application/ld+json">{faq_jsonld()}</script>'), status=status)
    return make


def header_says_json_value_is_warc() -> Record:
    return good_faq_warc(), list(JSON_HEADERS)


def header_says_warc_value_is_json() -> Record:
    value, _ = envelope({"url": URL, "warc_date": DATE, "html": "<p>x</p>"})
    return value, list(WARC_HEADERS)


def binary_page() -> Record:
    """A PNG served as the page: not HTML."""
    return warc(b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(6000) + b"faqpage",
                content_type="image/png")


def deep_html_elements() -> Record:
    return warc(page_html("<div>" * 100_000 + "FAQPage" + "</div>" * 100_000))


def envelope_json_ld_not_text() -> Record:
    return envelope({"url": URL, "warc_date": DATE, "html": "<p>x</p>", "json_ld": {"@type": "FAQPage"}})


GENERATORS: dict[str, Callable[[], Record]] = {
    "gzip_truncated": gzip_truncated,
    "gzip_corrupt_deflate": gzip_corrupt_deflate,
    "gzip_bad_crc": gzip_bad_crc,
    "gzip_only_magic": gzip_only_magic,
    "gzip_bomb_warc": gzip_bomb_warc,
    "gzip_bomb_http_body": gzip_bomb_http_body,
    "gzip_of_gzip": gzip_of_gzip,
    "zero_bytes": zero_bytes,
    "null_value": null_value,
    "hundred_megabytes": hundred_megabytes,
    "just_over_the_limit": just_over_the_limit,
    "random_bytes": random_bytes,
    "nul_bytes": nul_bytes,
    "whitespace_only": whitespace_only,
    "html_without_envelope": html_without_envelope,
    "invalid_utf8_envelope": invalid_utf8_envelope,
    "latin1_envelope": latin1_envelope,
    "envelope_lone_surrogates": envelope_lone_surrogates,
    "envelope_utf16_lone_surrogate": envelope_utf16_lone_surrogate,
    "invalid_utf8_page": invalid_utf8_page,
    "charset_lie_utf16": charset_lie_utf16,
    "charset_lie_mixed": charset_lie_mixed,
    "unknown_charset_no_faq": unknown_charset_no_faq,
    "jsonld_nested_100k": jsonld_nested_100k,
    "jsonld_nested_objects_100k": jsonld_nested_objects_100k,
    "envelope_nested_100k": envelope_nested_100k,
    "jsonld_million_questions": jsonld_million_questions,
    "jsonld_hundred_thousand_questions": jsonld_hundred_thousand_questions,
    "xml_billion_laughs_xhtml": xml_billion_laughs_xhtml,
    "xml_external_entity_rdfa": xml_external_entity_rdfa,
    "svg_entity_expansion_microdata": svg_entity_expansion_microdata,
    "target_javascript_url": target("javascript:alert(document.cookie)"),
    "target_data_url": target("data:text/html;base64,PGgxPkZBUTwvaDE+"),
    "target_file_url": target("file:///etc/passwd"),
    "target_ftp_url": target("ftp://hostile.example/faq.html"),
    "target_no_host": target("http:///faq"),
    "target_relative": target("/faq/index.html"),
    "envelope_javascript_url": envelope_target("javascript:fetch('http://169.254.169.254/')"),
    "envelope_url_not_text": envelope_target(["https://hostile.example/"]),
    "warc_request": warc_type("request"),
    "warc_metadata": warc_type("metadata"),
    "warc_revisit": warc_type("revisit"),
    "warc_warcinfo": warc_type("warcinfo"),
    "warc_resource": warc_type("resource"),
    "warc_no_type": warc_no_type,
    "warc_no_target": warc_no_target,
    "warc_bad_date": warc_bad_date,
    "warc_truncated_block": warc_truncated_block,
    "warc_garbage_length": warc_garbage_length,
    "warc_bad_version_line": warc_bad_version_line,
    "http_500": http_status("500 Internal Server Error"),
    "http_301": http_status("301 Moved Permanently"),
    "header_says_json_value_is_warc": header_says_json_value_is_warc,
    "header_says_warc_value_is_json": header_says_warc_value_is_json,
    "binary_page": binary_page,
    "deep_html_elements": deep_html_elements,
    "envelope_json_ld_not_text": envelope_json_ld_not_text,
}


def _file_record(relative: str) -> Callable[[], Record]:
    def make() -> Record:
        return (HERE / relative).read_bytes(), []
    return make


def cases() -> list[BadInput]:
    """Every row of ``EXPECTED.tsv`` with its generator or file; KeyError for an unknown name."""
    with TABLE.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t"))
    out = []
    for row in rows:
        make = GENERATORS[row["name"]] if row["source"] == "generator" else _file_record(row["source"])
        out.append(BadInput(row["name"], row["source"], row["outcome"], row["reason"], make))
    return out
