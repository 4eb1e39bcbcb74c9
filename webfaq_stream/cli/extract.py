"""``webfaq-stream extract FILE_OR_WARC... [--url URL] [--filtered]``: look inside pages.

Prints one JSON object per line on stdout. For an HTML file: one ``{"url", "question", "answer"}``
per extracted pair. For a WARC / WARC.gz file: the same for every ``response`` record, decoded as the
worker decodes it (URL from ``WARC-Target-URI``, charset from the HTTP ``Content-Type``). A page that
cannot be processed, or a record that is no page (``http_status``, ``not_http``, undecodable), prints
``{"url", "dropped": reason, "detail"}``; a record that cannot be framed prints
``{"file", "offset", "dropped": "invalid_warc", "detail"}``. With ``--filtered``, pairs go through the
worker's pipeline (WebFAQ's filters, then language tagging), one line per extracted pair in document
order: kept pairs add ``id``, ``language`` and ``language_score``; filtered pairs print ``{"url",
"dropped": reason, "question", "answer"}`` (``language_uncertain`` ones with their ``language_score``).
Limits and the language model come from the settings (``WEBFAQ_MAX_RECORD_BYTES``,
``WEBFAQ_PAGE_TIME_BUDGET_S``, ``WEBFAQ_LANGID_MODEL_PATH``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from webfaq_stream.domain.model import PageDropped
from webfaq_stream.domain.reasons import Reason
from webfaq_stream.errors import RecordError
from webfaq_stream.settings import Settings, load_settings

if TYPE_CHECKING:
    from webfaq_stream.domain.pipeline import Pipeline


def _is_warc(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head[:2] == b"\x1f\x8b":  # gzip: a .warc.gz, or a gzipped page
        return ".warc" in path.name.lower()
    return head == b"WARC"


Page = tuple[str, bytes, str | None]


def iter_pages(path: Path, url: str | None, max_bytes: int) -> Iterator[Page | dict[str, Any]]:
    """``(url, payload, charset)`` for an HTML file or every response record of a WARC, or the line
    printed for a record that is no page (see the module docstring)."""
    if not _is_warc(path):
        yield url or path.resolve().as_uri(), path.read_bytes(), None
        return
    from webfaq_stream.decode.records import decode_record
    from webfaq_stream.decode.warc_file import FramingError, read_warc_file

    with path.open("rb") as stream:
        for item in read_warc_file(stream):
            if isinstance(item, FramingError):
                yield {"file": str(path), "offset": item.offset, "dropped": Reason.INVALID_WARC, "detail": item.detail}
                continue
            if item.warc_type != "response":
                continue
            try:
                if item.data is None:
                    raise RecordError(Reason.TOO_LARGE, f"record of {item.size} bytes")
                record = decode_record(item.data, max_bytes=max_bytes)
            except (RecordError, PageDropped) as exc:
                yield {"url": item.target_uri, "dropped": exc.reason, "detail": exc.detail}
                continue
            yield record.url, record.html, record.charset


def page_lines(url: str, payload: bytes, charset: str | None, pipeline: Pipeline,
               filtered: bool) -> Iterator[dict[str, Any]]:
    """The JSON objects printed for one page (see the module docstring)."""
    from webfaq_stream.domain.pipeline import page_record

    record = page_record(url, payload, charset)
    try:
        if not filtered:
            for pair in pipeline.page_faq(record).pairs:
                yield {"url": url, "question": pair.question, "answer": pair.answer}
            return
        page = pipeline.tag_page(record)
    except PageDropped as exc:
        yield {"url": url, "dropped": exc.reason, "detail": exc.detail}
        return
    for outcome in page.outcomes:
        line: dict[str, Any] = {"url": url}
        if outcome.kept is not None:
            line["id"] = outcome.kept.id
        else:
            line["dropped"] = outcome.reason
        line.update(question=outcome.question, answer=outcome.answer)
        if outcome.kept is not None:
            line["language"] = outcome.kept.language
        if outcome.language_score is not None:
            line["language_score"] = round(outcome.language_score, 4)
        yield line


def run_extract(paths: list[Path], url: str | None, filtered: bool, settings: Settings,
                out: TextIO | None = None) -> int:
    """Print the lines for every page of ``paths`` (to stdout by default); returns the pages seen."""
    from webfaq_stream.domain.pipeline import Pipeline

    out = out or sys.stdout
    pipeline = Pipeline.from_settings(settings, language_id=filtered)
    pages = 0
    for path in paths:
        for page in iter_pages(path, url, settings.max_record_bytes):
            pages += 1
            lines = [page] if isinstance(page, dict) else page_lines(*page, pipeline, filtered)
            for line in lines:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return pages


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"webfaq-stream extract: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        run_extract(paths, args.url, args.filtered, settings)
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract", help="print the FAQ pairs of HTML files or WARC response records as JSON lines",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: webfaq-stream extract page.html --url https://example.com/de/faq --filtered")
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_WARC", help="HTML, WARC or WARC.gz files")
    parser.add_argument("--url", help="URL of an HTML file (language hints; default: its file: URI)")
    parser.add_argument("--filtered", action="store_true",
                        help="apply WebFAQ's filters and language tagging (adds id, language)")
    parser.set_defaults(func=run)
