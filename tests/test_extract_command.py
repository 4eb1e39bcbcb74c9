"""``webfaq-stream extract`` on a real page and on a WARC written with warcio."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from shared_fixtures import SHARED_FIXTURES
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from webfaq_stream.cli.main import main

FIXTURES = SHARED_FIXTURES / "faq-pages"
PAGE = FIXTURES / "indoorskydive.lu__faq_lb.html"
URL = "https://indoorskydive.lu/lb/faq.html"


def _lines(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[dict[str, object]]:
    assert main(argv) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_html_file_prints_question_answer_lines(capsys: pytest.CaptureFixture[str]) -> None:
    expected = json.loads((FIXTURES / "expected" / f"{PAGE.stem}.json").read_text(encoding="utf-8"))
    lines = _lines(capsys, ["extract", str(PAGE), "--url", URL])
    assert [(x["question"], x["answer"]) for x in lines] == [(e["question"], e["answer"]) for e in expected]


def test_filtered_adds_id_and_language(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys, ["extract", str(PAGE), "--url", URL, "--filtered"])
    assert len(lines) == 13
    assert {x["language"] for x in lines} == {"deu"}
    assert all(len(str(x["id"])) == 32 and float(x["language_score"]) >= 0.25 for x in lines)  # type: ignore[arg-type]


def test_warc_every_response_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warc = tmp_path / "crawl.warc.gz"
    with warc.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, body in [(URL, PAGE.read_bytes()), ("https://example.com/bin", b"\x00\x01" * 500)]:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
        writer.write_record(writer.create_warc_record("https://example.com/", "request",
                                                      payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n")))
    lines = _lines(capsys, ["extract", str(warc), "--filtered"])
    assert [x["url"] for x in lines] == [URL] * 13 + ["https://example.com/bin"]
    assert lines[-1]["dropped"] == "not_html"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    assert main(["extract", str(tmp_path / "nope.html")]) == 2
