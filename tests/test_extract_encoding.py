"""Encodings as browsers decide them: BOM, HTTP charset, ``<meta charset>``, detection.

Real fixture pages (Russian, Japanese, Polish, French) are re-encoded at test time, with their own
declaration removed or replaced; each must still give exactly its expected pairs.
"""

from __future__ import annotations

import codecs
import json
import re

import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.extract.encoding import sniffed_encoding, transport_encoding
from webfaq_stream.extract.page import extract_faq
from webfaq_stream.extract.text import fold_whitespace

FIXTURES = SHARED_FIXTURES / "faq-pages"
URL = "https://example.com/faq"
PAGES = {"ru": "breedfinder.org__ru_poodle", "ja": "breedfinder.org__ja_beagle",
         "pl": "breedfinder.org__pl_beagle", "fr": "netsalaire.com__fr_faq"}
LEGACY = {"ru": ["windows-1251", "koi8-r"], "ja": ["shift_jis", "euc-jp"], "pl": ["iso-8859-2"],
          "fr": ["windows-1252"]}


def page_text(language: str) -> str:
    """The page without its own charset declaration."""
    text = (FIXTURES / f"{PAGES[language]}.html").read_text(encoding="utf-8")
    return re.sub(r"(?i)<meta[^>]*charset[^>]*>", "", text)


def expected(language: str) -> list[tuple[str, str]]:
    items = json.loads((FIXTURES / "expected" / f"{PAGES[language]}.json").read_text(encoding="utf-8"))
    return [(fold_whitespace(item["question"]), fold_whitespace(item["answer"])) for item in items]


def pairs(page: bytes, charset: str | None = None) -> list[tuple[str, str]]:
    return [(fold_whitespace(p.question), fold_whitespace(p.answer))
            for p in extract_faq(page, URL, charset=charset).pairs]


@pytest.mark.parametrize("language", sorted(PAGES))
@pytest.mark.parametrize("bom", [codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8],
                         ids=["utf-16-le", "utf-16-be", "utf-8"])
def test_a_byte_order_mark_decides_even_against_the_http_charset(language: str, bom: bytes) -> None:
    name = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be", codecs.BOM_UTF8: "utf-8"}[bom]
    page = bom + page_text(language).encode(name)
    assert pairs(page, charset="windows-1252") == expected(language)


def test_utf16_named_by_http_without_a_bom_is_html() -> None:
    assert pairs(page_text("ru").encode("utf-16-le"), charset="UTF-16LE") == expected("ru")


@pytest.mark.parametrize(("language", "encoding"), [(lang, enc) for lang, encs in LEGACY.items() for enc in encs])
def test_http_charset_then_meta_then_detection(language: str, encoding: str) -> None:
    text = page_text(language)
    raw = text.encode(encoding, errors="xmlcharrefreplace")  # what a legacy page writes
    assert pairs(raw, charset=encoding) == expected(language)  # HTTP charset
    declared = text.replace("<head>", f'<head><meta charset="{encoding}">', 1).encode(encoding, "xmlcharrefreplace")
    assert sniffed_encoding(declared).source == "meta"
    assert pairs(declared) == expected(language)  # <meta charset>
    assert sniffed_encoding(raw).source == "detected"
    assert pairs(raw) == expected(language)  # nothing declared: detection


def test_http_charset_beats_meta() -> None:
    text = page_text("ru").replace("<head>", '<head><meta charset="iso-8859-5">', 1)
    assert pairs(text.encode("windows-1251", "xmlcharrefreplace"), charset="windows-1251") == expected("ru")


def test_a_meta_that_says_utf16_means_utf8() -> None:
    text = page_text("fr").replace("<head>", '<head><meta charset="utf-16">', 1)
    assert sniffed_encoding(text.encode()).name == "utf-8"
    assert pairs(text.encode()) == expected("fr")


@pytest.mark.parametrize(("label", "name"), [("latin1", "cp1252"), ("US-ASCII", "cp1252"), ("gb2312", "gbk"),
                                             ("UTF8", "utf-8"), ("cp437", "cp437"), ("no-such-charset", None),
                                             ("base64", None), ("", None)])
def test_http_labels_map_as_the_web_maps_them(label: str, name: str | None) -> None:
    found = transport_encoding(b"<html>", label)
    assert (found.name if found else None) == name
