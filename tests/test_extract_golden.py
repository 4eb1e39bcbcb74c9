"""Golden tests (recipe-scrapers style): one test per real page in the shared fixtures.

Each page's extracted pairs must equal ``expected/<page>.json`` after folding whitespace, in order;
pages that hold no static FAQ markup must yield none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_fixtures import SHARED_FIXTURES

from webfaq_stream.extract.page import extract_faq
from webfaq_stream.extract.text import fold_whitespace

FIXTURES = SHARED_FIXTURES / "faq-pages"
PAGES = sorted(FIXTURES.glob("*.html"))


def _provenance_urls() -> dict[str, str]:
    lines = (FIXTURES / "PROVENANCE.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]
    return {Path(row["file"]).stem: row["original_url"] for row in rows}


URLS = _provenance_urls()


def test_fixture_set_is_present() -> None:
    assert PAGES, f"no fixture pages under {FIXTURES}"
    missing = [page.name for page in PAGES if not (FIXTURES / "expected" / f"{page.stem}.json").exists()
               or page.stem not in URLS]
    assert not missing, f"pages without expected/<stem>.json or a PROVENANCE.tsv row: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_page_yields_exactly_its_expected_pairs(page: Path) -> None:
    expected = json.loads((FIXTURES / "expected" / f"{page.stem}.json").read_text(encoding="utf-8"))
    result = extract_faq(page.read_bytes(), URLS[page.stem])
    got = [(fold_whitespace(p.question), fold_whitespace(p.answer)) for p in result.pairs]
    want = [(fold_whitespace(e["question"]), fold_whitespace(e["answer"])) for e in expected]
    assert got == want
